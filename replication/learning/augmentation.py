"""The paper's data augmentation (§3.1.2(3)), with imgaug as the paper did, and a fast twin.

The paper builds an imgaug ``Sequential`` of ``Affine``, ``AdditiveGaussianNoise``, a random change
of the colour channels, a horizontal flip and a random rotation. It tried ``Crop`` first and dropped
it, because a careless crop cuts away the very features to be recognised. The paper gives no
ranges. They come here from the code the paper most likely derives from
(the public GitHub repository ``Jeremyczhj/FashionAI_Tianchi_2018``, ``dataset.py``, function
``customizedImgAug``):

- ``Fliplr(0.5)``;
- ``Sometimes(0.5, Affine(scale={"x": (0.9, 1.1), "y": (0.9, 1.1)},
  translate_percent={"x": (-0.1, 0.1), "y": (-0.12, 0)}, rotate=(-10, 10), shear=(-8, 8),
  cval=(0, 255)))``: the paper's "Affine" and its "random rotation" are this one transform;
- ``AdditiveGaussianNoise(scale=(0, 0.05 * 255), per_channel=0.5)``;
- ``AddToHueAndSaturation(value=(-10, 10), per_channel=True)``: the "random colour-channel
  change" (the paper: colour carries no meaning for these attributes).

Names (:data:`AUGMENTERS`) select parts of it. ``"affine"`` is scale, translation and shear;
``"rotate"`` is the rotation. Named together they are the source's one ``Affine`` (one warp, one
coin flip), exactly as above. Named alone, each keeps that coin flip. ``"crop"``
(``Crop(percent=(0, 0.1))``, the size kept) exists because the paper tried it; it is off in
:data:`PAPER_AUGMENTERS`, as the paper decided.

Three choices differ from the source, and the book should say so:

- The source applies its augmenters in random order. Here the order is fixed: flip, crop,
  affine/rotate, colour, noise. Noise goes last, so that its level is the configured one. The
  paper's "Sequential" does not say "random order".
- The source interpolates with nearest or bilinear at random (``order=[0, 1]``). Here it is always
  bilinear, in both engines.
- In the source, the noise is one of 16 optional ops in a ``SomeOf((0, 4), ...)``, and most of
  the others are blurs, dropouts and other ops that the paper never names. Here the noise is
  always applied, and those other ops are not used.

Two engines implement the same augmentation. The ranges they share are the data in
:data:`PARAMETERS`, so both are the same augmentation by construction:

- **imgaug** (:func:`imgaug_sequential`, :func:`imgaug_augment`) runs per image on the CPU, in
  the input pipeline (``inputs.ImageBatches``), as the paper did. imgaug 0.4.0 predates NumPy
  2. :func:`import_imgaug` is the one place that makes it work on the NumPy this project pins.
- **keras** (:func:`keras_layers`) is the fast twin. These layers sit in the model right after
  the input, run on the accelerator, and are active only in training. Keras 3 core's
  ``RandomFlip`` does the flip exactly and is used as it is. Its other augmentation layers were
  measured against this module's and do not do the same job: chained ``RandomZoom``,
  ``RandomTranslation``, ``RandomShear`` and ``RandomRotation`` resample four times, warp every
  image (no per-image coin) and turn XLA off for the whole model; ``GaussianNoise`` has one fixed
  sigma; ``RandomSaturation`` multiplies where imgaug adds. Each layer's docstring gives the
  numbers. So four small layers remain here (:class:`TwinAffine`, :class:`TwinCrop`,
  :class:`TwinHueSaturation`, :class:`TwinGaussianNoise`), written in ``keras.ops`` and
  ``keras.random``. They run on TensorFlow and JAX and load in Keras safe mode, because they are
  registered classes. (keras-cv, the old home of such layers, is TensorFlow-only: it does not
  import without TensorFlow, so it is not a dependency.)

The measurements in the docstrings below: Keras 3.15.1, 2 shared CPU cores, the smoke data set's
128 px images, a batch of 32; times are process CPU time of a forward pass in training mode.
"""

from __future__ import annotations

import math
import sys
import threading
import types
from collections.abc import Callable, Sequence

import keras
import numpy as np
from keras import ops

__all__ = [
    "AUGMENTERS",
    "PAPER_AUGMENTERS",
    "PARAMETERS",
    "ENGINES",
    "import_imgaug",
    "imgaug_sequential",
    "imgaug_augment",
    "keras_layers",
    "sample_grid_images",
    "check_names",
    "TwinAffine",
    "TwinCrop",
    "TwinHueSaturation",
    "TwinGaussianNoise",
]

AUGMENTERS = ("affine", "noise", "channel", "flip", "rotate", "crop")
"""Every augmenter name that :func:`imgaug_sequential` and :func:`keras_layers` understand."""
PAPER_AUGMENTERS = ("affine", "noise", "channel", "flip", "rotate")
"""The paper's augmentation (§3.1.2(3)): everything except ``crop``, which the paper dropped."""
ENGINES = ("imgaug", "keras")
"""Where the augmentation runs: the CPU input pipeline (imgaug) or the model (Keras layers)."""
ORDER = ("flip", "crop", "affine", "rotate", "channel", "noise")
"""The fixed order in which both engines apply the named augmenters."""

PARAMETERS: dict[str, dict] = {
    "affine": {
        "probability": 0.5,  # the source's often = Sometimes(0.5, Affine(...))
        "scale": (0.9, 1.1),  # per axis, drawn independently for x and y
        "translate_x": (-0.1, 0.1),  # a fraction of the width; positive moves right
        "translate_y": (-0.12, 0.0),  # a fraction of the height; negative moves up
        "shear_degrees": (-8.0, 8.0),  # x-axis shear, as imgaug 0.4 reads a plain range
        "fill": (0, 255),  # constant fill, one grey level per image drawn uniformly
    },
    "rotate": {
        "probability": 0.5,  # used when "rotate" is named without "affine"
        "degrees": (-10.0, 10.0),
    },
    "noise": {
        "sigma": (0.0, 0.05 * 255),  # std in 0..255 units, drawn per image
        "per_channel_probability": 0.5,  # else one noise map shared by R, G, B
    },
    "channel": {
        "hue": (-10, 10),  # imgaug units: v/255 of the full hue circle (10 -> 14 degrees)
        "saturation": (-10, 10),  # added to the 0..255 HSV saturation
    },
    "flip": {"probability": 0.5},
    "crop": {"fraction": (0.0, 0.1)},  # per side, drawn independently; size kept
}
"""The ranges both engines share, as data (read-only by convention). Source values:
``Jeremyczhj/FashionAI_Tianchi_2018``'s ``customizedImgAug``. The crop range is this
replication's own, since the source has no crop."""


def check_names(names: Sequence[str]) -> tuple[str, ...]:
    """Validate augmenter names; return them, each once, in the application order :data:`ORDER`."""
    if isinstance(names, str):
        raise TypeError(f"augmenter names must be a sequence of names, not the string {names!r}")
    names = tuple(names)
    unknown = sorted(set(names) - set(AUGMENTERS))
    if unknown:
        raise ValueError(f"unknown augmenters {unknown}; known: {AUGMENTERS}")
    if len(set(names)) != len(names):
        raise ValueError(f"augmenter named twice in {names}")
    return tuple(n for n in ORDER if n in names)


# --------------------------------------------------------------------------- imgaug on NumPy 2

# imgaug's third-party imports, loaded before the patched import below. Then the ``numpy`` that
# imgaug sees during its import is never bound by any other module.
_IMGAUG_DEPENDENCIES = (
    "cv2", "imageio", "PIL.Image", "PIL.ImageEnhance", "PIL.ImageFilter", "PIL.ImageOps",
    "PIL.ImagePalette", "scipy.interpolate", "scipy.ndimage", "scipy.optimize", "scipy.spatial",
    "scipy.stats", "shapely.geometry", "six", "six.moves", "skimage.draw", "skimage.exposure",
    "skimage.measure", "skimage.segmentation", "skimage.transform",
)
_IMPORT_LOCK = threading.Lock()


def _numpy_for_imgaug() -> types.ModuleType:
    """A stand-in for the ``numpy`` module. It is NumPy 2 itself, plus the two names imgaug 0.4.0
    uses that NumPy 2 removed.

    - ``np.sctypes``: used at import (``imgaug/imgaug.py`` builds its dtype sets from it). NumPy
      1.x's lists are rebuilt from NumPy 2's types.
    - ``np.complex``: the builtin ``complex``, an alias NumPy removed in 1.24. It is used at call
      time in ``imgaug/parameters.py`` (``Power`` parameters and the frequency noise).

    imgaug also uses ``np.bool`` (``meta.py``, ``polys.py``), which NumPy 2 defines again (as
    ``np.bool_``), and ``np.float128`` (only for float128 images, which are never given here).
    A scan of every ``np.<name>`` in imgaug 0.4.0 against NumPy 2.4 finds only these two missing
    names.
    """
    shim = types.ModuleType("numpy", np.__doc__)
    shim.__dict__.update(np.__dict__)
    shim.sctypes = {
        "int": [np.int8, np.int16, np.int32, np.int64],
        "uint": [np.uint8, np.uint16, np.uint32, np.uint64],
        "float": [np.float16, np.float32, np.float64, np.longdouble],
        "complex": [np.complex64, np.complex128, np.clongdouble],
        "others": [bool, object, bytes, str, np.void],
    }
    shim.complex = complex

    def __getattr__(name: str):  # NumPy's lazy attributes (np.testing, ...)
        return getattr(np, name)

    shim.__getattr__ = __getattr__
    return shim


def import_imgaug() -> types.ModuleType:
    """Import imgaug 0.4.0 on NumPy 2. This is the one place that works around its NumPy 1 names.
    Returns ``imgaug.augmenters``.

    imgaug 0.4.0 (the last release, unmaintained) fails on NumPy 2 at ``import imgaug``, because
    ``np.sctypes`` is gone. At call time it also needs ``np.complex``. This function does not
    change NumPy, and it does not pin NumPy below 2. It imports imgaug's own modules while
    ``sys.modules["numpy"]`` is a stand-in: NumPy 2 itself plus those two names
    (:func:`_numpy_for_imgaug`). imgaug's modules keep that stand-in as their ``np``. Every other
    module sees the real NumPy, unchanged: imgaug's third-party dependencies are imported first,
    and any other module that an import binds to the stand-in meanwhile is bound back to the real
    NumPy. Idempotent and thread-safe. The augmenters that this module uses are tested on the
    pinned NumPy, in ``tests/test_augmentation.py``.
    """
    with _IMPORT_LOCK:
        if "imgaug.augmenters" in sys.modules:
            return sys.modules["imgaug.augmenters"]
        import importlib

        for name in _IMGAUG_DEPENDENCIES:
            importlib.import_module(name)
        real = sys.modules["numpy"]
        shim = _numpy_for_imgaug()
        before = set(sys.modules)
        sys.modules["numpy"] = shim
        try:
            import imgaug  # noqa: F401
            import imgaug.augmenters as iaa
        finally:
            sys.modules["numpy"] = real
        for name in set(sys.modules) - before:  # a module first imported during the swap
            module = sys.modules[name]
            if name == "imgaug" or name.startswith("imgaug.") or module is None:
                continue
            for attr, value in list(vars(module).items()):
                if value is shim:
                    setattr(module, attr, real)
        return iaa


def _imgaug_children(names: Sequence[str]) -> list:
    iaa = import_imgaug()
    names = check_names(names)
    p = PARAMETERS
    children = []
    for name in names:
        if name == "flip":
            children.append(iaa.Fliplr(p["flip"]["probability"], name="flip"))
        elif name == "crop":
            children.append(iaa.Crop(percent=tuple(p["crop"]["fraction"]), keep_size=True,
                                     name="crop"))
        elif name in ("affine", "rotate"):
            if name == "rotate" and "affine" in names:
                continue  # one Affine: added with "affine"
            affine = "affine" in names
            rotate = "rotate" in names
            a = p["affine"]
            kwargs = {}
            if affine:
                kwargs.update(scale={"x": a["scale"], "y": a["scale"]},
                              translate_percent={"x": a["translate_x"], "y": a["translate_y"]},
                              shear=a["shear_degrees"])
            if rotate:
                kwargs.update(rotate=p["rotate"]["degrees"])
            probability = a["probability"] if affine else p["rotate"]["probability"]
            label = "+".join(n for n in ("affine", "rotate") if n in names)
            children.append(iaa.Sometimes(
                probability, iaa.Affine(order=1, cval=a["fill"], mode="constant", **kwargs),
                name=label))
        elif name == "channel":
            c = p["channel"]
            if tuple(c["hue"]) == tuple(c["saturation"]):
                children.append(iaa.AddToHueAndSaturation(value=tuple(c["hue"]),
                                                           per_channel=True, name="channel"))
            else:
                children.append(iaa.AddToHueAndSaturation(value_hue=tuple(c["hue"]),
                                                           value_saturation=tuple(c["saturation"]),
                                                           name="channel"))
        elif name == "noise":
            n = p["noise"]
            children.append(iaa.AdditiveGaussianNoise(loc=0, scale=tuple(n["sigma"]),
                                                      per_channel=n["per_channel_probability"],
                                                      name="noise"))
    return children


def imgaug_sequential(names: Sequence[str] = PAPER_AUGMENTERS):
    """The imgaug ``Sequential`` of the named augmenters, in :data:`ORDER` (see the module doc).

    An ``imgaug.augmenters.Sequential`` holds mutable random state: give each thread its own, or
    use :func:`imgaug_augment`.
    """
    iaa = import_imgaug()
    return iaa.Sequential(_imgaug_children(names), random_order=False, name="paper_augmentation")


def imgaug_augment(names: Sequence[str] = PAPER_AUGMENTERS
                   ) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """The per-image augmentation callable for ``training.train`` / ``ImageBatches``:
    ``(uint8 (H, W, 3) array, numpy Generator) -> uint8 (H, W, 3) array``.

    Deterministic given the generator: each call draws one 32-bit seed from ``rng`` and reseeds
    the augmenters with it before augmenting. Thread-safe: each thread builds and keeps its own
    ``Sequential``, so no mutable augmenter state is shared between threads.
    """
    names = check_names(names)
    if not names:
        return _identity
    local = threading.local()

    def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        seq = getattr(local, "seq", None)
        if seq is None:
            seq = local.seq = imgaug_sequential(names)
        seq.seed_(int(rng.integers(0, 2**31 - 1)))
        return seq(image=np.ascontiguousarray(image, dtype=np.uint8))

    augment.names = names  # type: ignore[attr-defined]
    return augment


def _identity(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return image


def sample_grid_images(image: np.ndarray, names: Sequence[str] = PAPER_AUGMENTERS, n: int = 4,
                       seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Examples for notebook 03: for each named augmenter alone, ``n`` augmented copies of
    ``image`` (uint8 (H, W, 3)), drawn by imgaug as in training.

    The examples keep each augmenter's probability, so an affine or a flip leaves about half of
    them unchanged. ``"affine"`` here is scale, translation and shear without the rotation, as
    named alone. Example ``i`` of augmenter ``k`` uses the generator ``default_rng([seed, k, i])``.
    """
    image = np.asarray(image, dtype=np.uint8)
    grid = {}
    for k, name in enumerate(check_names(names) if names else ()):
        augment = imgaug_augment((name,))
        grid[name] = [augment(image.copy(), np.random.default_rng([seed, k, i]))
                      for i in range(n)]
    return grid


# --------------------------------------------------------------------------- the Keras twin

_PACKAGE = "replication"


def _uniform(shape, low, high, seed_generator):
    low, high = float(low), float(high)
    if low == high:
        return ops.full(shape, low, dtype="float32")
    return keras.random.uniform(shape, minval=low, maxval=high, dtype="float32",
                                seed=seed_generator)


def _randint(shape, low, high, seed_generator):
    """Integers drawn uniformly from ``low..high`` inclusive (imgaug's DiscreteUniform), as
    float32."""
    draws = keras.random.uniform(shape, minval=float(low), maxval=float(high) + 1.0,
                                 dtype="float32", seed=seed_generator)
    return ops.minimum(ops.floor(draws), float(high))


def _spatial(images) -> tuple[int, int]:
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        shape = ops.shape(images)
        height, width = shape[1], shape[2]
    return height, width


def _warp(images, transforms, fill):
    """Bilinear warp of a (B, H, W, 3) batch with keras-style inverse transforms (B, 8). Pixels
    from outside the image take each image's own constant ``fill`` (B,), as imgaug's ``cval``
    does. The image and a channel of ones are warped together, with fill 0. Then the result plus
    ``(1 - coverage) * fill`` is exactly a bilinear warp with constant fill ``fill``."""
    ones = ops.ones_like(images[..., :1])
    warped = ops.image.affine_transform(ops.concatenate([images, ones], axis=-1), transforms,
                                        interpolation="bilinear", fill_mode="constant",
                                        fill_value=0, data_format="channels_last")
    coverage = warped[..., 3:]
    return warped[..., :3] + (1.0 - coverage) * ops.reshape(fill, (-1, 1, 1, 1))


class _TwinLayer(keras.layers.Layer):
    """Common parts: float32 compute, a seed generator, identity outside training."""

    _WARPS = False  # True: the layer calls ops.image.affine_transform

    def __init__(self, seed: int | None = None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # On TensorFlow, affine_transform is ImageProjectiveTransformV3, which has no XLA kernel:
        # a model that holds a warp and is compiled with XLA (Keras's "auto" on a GPU) fails to
        # build its train step. Saying so makes Keras compile that model without XLA. On JAX the
        # warp is jax.scipy's map_coordinates, which XLA compiles.
        self.supports_jit = not (self._WARPS and keras.backend.backend() == "tensorflow")
        self.built = True

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, images, training=True):
        if not training:
            return images
        return self._augment(ops.cast(images, "float32"))

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TwinAffine(_TwinLayer):
    """imgaug's ``Sometimes(p, Affine(scale, translate_percent, rotate, shear, cval, order=1))``
    on a batch, in one bilinear warp per image.

    It builds imgaug's forward matrix: about the centre ``((W-1)/2, (H-1)/2)``, scale
    ``(sx, sy)``, rotation ``r``, x-shear ``s`` and translation ``t``, in skimage's
    ``AffineTransform`` form: ``L = [[sx cos r, -sy (tan s cos r + sin r)],
    [sx sin r, sy (cos r - tan s sin r)]]``. Then it inverts the matrix for
    ``keras.ops.image.affine_transform``. Each image draws its own parameters, its own coin
    (``probability``) and its own fill level.

    Why not Keras core's ``RandomZoom``, ``RandomTranslation``, ``RandomShear`` and
    ``RandomRotation`` in a row (measured; module doc for the setup):

    - Four bilinear resamplings blur: against an order-3 spline warp of the same composed matrix,
      the RMSE is 8.8 grey levels for the four, 3.4 for this one warp, and the four keep 49 % of
      the image's Laplacian energy where one warp keeps 73 %.
    - Four warps cost more: 78 ms against 52 ms per batch on TensorFlow, 347-383 ms against
      97-127 ms on JAX.
    - They do another augmentation: every image is warped (no ``Sometimes(0.5)`` coin), the fill
      is one value for all images, and ``RandomShear`` shears about the top-left corner, not the
      centre. They also set ``supports_jit = False``, so Keras compiles the whole model without
      XLA, on JAX too.
    """

    _WARPS = True

    def __init__(self, probability: float = 0.5, scale=(1.0, 1.0), translate_x=(0.0, 0.0),
                 translate_y=(0.0, 0.0), rotate=(0.0, 0.0), shear=(0.0, 0.0), fill=(0, 255),
                 seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.probability = float(probability)
        self.scale = tuple(float(v) for v in scale)
        self.translate_x = tuple(float(v) for v in translate_x)
        self.translate_y = tuple(float(v) for v in translate_y)
        self.rotate = tuple(float(v) for v in rotate)
        self.shear = tuple(float(v) for v in shear)
        self.fill = tuple(int(v) for v in fill)

    def _augment(self, images):
        height, width = _spatial(images)
        batch = ops.shape(images)[0]
        g = self.seed_generator
        shape = (batch,)
        sx = _uniform(shape, *self.scale, g)
        sy = _uniform(shape, *self.scale, g)
        tx = _uniform(shape, *self.translate_x, g) * ops.cast(width, "float32")
        ty = _uniform(shape, *self.translate_y, g) * ops.cast(height, "float32")
        r = _uniform(shape, *self.rotate, g) * (math.pi / 180.0)
        s = _uniform(shape, *self.shear, g) * (math.pi / 180.0)
        fill = _randint(shape, *self.fill, g)
        apply = _uniform(shape, 0.0, 1.0, g) < self.probability
        cos, sin, tan = ops.cos(r), ops.sin(r), ops.tan(s)
        l00, l01 = sx * cos, -sy * (tan * cos + sin)
        l10, l11 = sx * sin, sy * (cos - tan * sin)
        det = sx * sy  # = l00 * l11 - l01 * l10
        i00, i01, i10, i11 = l11 / det, -l01 / det, -l10 / det, l00 / det
        cx = (ops.cast(width, "float32") - 1.0) / 2.0
        cy = (ops.cast(height, "float32") - 1.0) / 2.0
        # input = L^-1 (output - c - t) + c
        a2 = cx - i00 * (cx + tx) - i01 * (cy + ty)
        b2 = cy - i10 * (cx + tx) - i11 * (cy + ty)
        zeros = ops.zeros_like(sx)
        transforms = ops.stack([i00, i01, a2, i10, i11, b2, zeros, zeros], axis=1)
        warped = _warp(images, transforms, fill)
        return ops.where(ops.reshape(apply, (-1, 1, 1, 1)), ops.clip(warped, 0.0, 255.0), images)

    def get_config(self):
        return {**super().get_config(), "probability": self.probability, "scale": self.scale,
                "translate_x": self.translate_x, "translate_y": self.translate_y,
                "rotate": self.rotate, "shear": self.shear, "fill": self.fill}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TwinCrop(_TwinLayer):
    """imgaug's ``Crop(percent=fraction, keep_size=True)``. Each side loses an independently drawn
    fraction of the image, and the rest is resized back to the full size (bilinear). This is
    done as one warp.

    Keras core has no keep-size crop: ``RandomCrop`` returns a smaller image of a fixed size. A
    crop per side, resized back, would be ``RandomZoom`` then ``RandomTranslation``: two
    resamplings and no XLA (see :class:`TwinAffine` for what they cost). Off in the paper's
    augmentation (:data:`PAPER_AUGMENTERS`)."""

    _WARPS = True

    def __init__(self, fraction=(0.0, 0.1), seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.fraction = tuple(float(v) for v in fraction)

    def _augment(self, images):
        height, width = _spatial(images)
        batch = ops.shape(images)[0]
        g = self.seed_generator
        top, right, bottom, left = (_uniform((batch,), *self.fraction, g) for _ in range(4))
        w, h = ops.cast(width, "float32"), ops.cast(height, "float32")
        # Pixel edges: input x + 0.5 = left * W + (output x + 0.5) * (1 - left - right).
        kx, ky = 1.0 - left - right, 1.0 - top - bottom
        zeros = ops.zeros_like(kx)
        transforms = ops.stack([kx, zeros, left * w + 0.5 * kx - 0.5,
                                zeros, ky, top * h + 0.5 * ky - 0.5, zeros, zeros], axis=1)
        return ops.image.affine_transform(images, transforms, interpolation="bilinear",
                                          fill_mode="nearest", data_format="channels_last")

    def get_config(self):
        return {**super().get_config(), "fraction": self.fraction}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TwinHueSaturation(_TwinLayer):
    """imgaug's ``AddToHueAndSaturation(value=(lo, hi), per_channel=True)``. Per image, a hue value
    ``vh`` and a saturation value ``vs`` are drawn independently as integers in ``lo..hi``. The
    hue turns by ``trunc(vh / 255 * 180)`` OpenCV hue units (2 degrees each). ``vs`` is added
    to the 0..255 saturation, clipped. This runs in float HSV, where imgaug runs in uint8 HSV.

    Keras core's ``RandomHue`` does the hue part (continuously, where imgaug steps by 2
    degrees), but ``RandomSaturation`` multiplies the saturation, where imgaug adds to it, so it
    barely touches the near-grey pixels that imgaug tints. Mean absolute change per image, in
    grey levels (10th percentile / median / 90th, 32 images x 8 draws): imgaug 0.93 / 2.29 /
    3.60, this layer 0.81 / 2.22 / 3.75, ``RandomHue`` + ``RandomSaturation`` (gain 0.92-1.08)
    0.35 / 0.81 / 1.76. ``RandomHue`` followed by an additive saturation layer matches (0.86 /
    2.24 / 3.79) but converts to HSV and back twice: 57-62 ms against 32 ms per batch on
    TensorFlow, 59-75 ms against 26-34 ms on JAX. So one layer does both."""

    def __init__(self, hue=(-10, 10), saturation=(-10, 10), seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.hue = tuple(int(v) for v in hue)
        self.saturation = tuple(int(v) for v in saturation)

    def _augment(self, images):
        batch = ops.shape(images)[0]
        g = self.seed_generator
        vh = _randint((batch,), *self.hue, g)
        vs = _randint((batch,), *self.saturation, g)
        # imgaug: int((v / 255) * 180) in OpenCV units of 1/180 of the circle; truncation to zero.
        units = ops.sign(vh) * ops.floor(ops.abs(vh) / 255.0 * 180.0)
        hsv = ops.image.rgb_to_hsv(ops.clip(images, 0.0, 255.0) / 255.0,
                                   data_format="channels_last")
        h = hsv[..., 0] + ops.reshape(units / 180.0, (-1, 1, 1))
        h = h - ops.floor(h)
        s = ops.clip(hsv[..., 1] + ops.reshape(vs / 255.0, (-1, 1, 1)), 0.0, 1.0)
        rgb = ops.image.hsv_to_rgb(ops.stack([h, s, hsv[..., 2]], axis=-1),
                                   data_format="channels_last")
        return ops.clip(rgb * 255.0, 0.0, 255.0)

    def get_config(self):
        return {**super().get_config(), "hue": self.hue, "saturation": self.saturation}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TwinGaussianNoise(_TwinLayer):
    """imgaug's ``AdditiveGaussianNoise(loc=0, scale=sigma, per_channel=p)``. Each image draws a
    std in ``sigma`` (0..255 units). With probability ``per_channel`` its channels get independent
    noise; otherwise R, G and B share one noise map. The result is clipped to 0..255; imgaug also
    rounds it to uint8.

    Keras core's ``GaussianNoise`` is another augmentation: one fixed stddev for every image
    (and only 0..1, so images in 0..255 would need rescaling around it), channels always
    independent, no clipping. Per-image noise std over 256 draws (10th percentile / median /
    90th): imgaug 1.7 / 6.8 / 11.7, this layer 1.4 / 6.5 / 11.3, ``GaussianNoise`` at the same
    rms sigma 7.3 / 7.4 / 7.5. Draws with one map shared by R, G and B: imgaug 54 %, this layer
    46 %, ``GaussianNoise`` none."""

    def __init__(self, sigma=(0.0, 12.75), per_channel: float = 0.5, seed: int | None = None,
                 **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.sigma = tuple(float(v) for v in sigma)
        self.per_channel = float(per_channel)

    def _augment(self, images):
        batch = ops.shape(images)[0]
        g = self.seed_generator
        sigma = _uniform((batch,), *self.sigma, g)
        per_channel = _uniform((batch,), 0.0, 1.0, g) < self.per_channel
        noise = keras.random.normal(ops.shape(images), dtype="float32", seed=g)
        shared = ops.repeat(noise[..., :1], 3, axis=-1)
        noise = ops.where(ops.reshape(per_channel, (-1, 1, 1, 1)), noise, shared)
        return ops.clip(images + noise * ops.reshape(sigma, (-1, 1, 1, 1)), 0.0, 255.0)

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma, "per_channel": self.per_channel}


def keras_layers(names: Sequence[str] = PAPER_AUGMENTERS, *,
                 seed: int | None = None) -> list[keras.layers.Layer]:
    """The fast twin of :func:`imgaug_sequential`: Keras layers in the same order, with the same
    :data:`PARAMETERS`. They take and give float images in 0..255, act only when called with
    ``training=True`` (as in ``fit``), and are named ``augment_<name>``.

    ``seed`` (optional) seeds layer ``i`` with ``seed + i``. Without it, the layers take their
    seeds from Keras's global seed (``keras.utils.set_random_seed``).
    """
    names = check_names(names)
    p = PARAMETERS
    out: list[keras.layers.Layer] = []

    def next_seed():
        return None if seed is None else int(seed) + len(out)

    for name in names:
        if name == "flip":
            out.append(keras.layers.RandomFlip("horizontal", seed=next_seed(), dtype="float32",
                                               name="augment_flip"))
        elif name == "crop":
            out.append(TwinCrop(p["crop"]["fraction"], seed=next_seed(), name="augment_crop"))
        elif name in ("affine", "rotate"):
            if name == "rotate" and "affine" in names:
                continue
            a = p["affine"]
            affine = "affine" in names
            rotate = "rotate" in names
            out.append(TwinAffine(
                probability=a["probability"] if affine else p["rotate"]["probability"],
                scale=a["scale"] if affine else (1.0, 1.0),
                translate_x=a["translate_x"] if affine else (0.0, 0.0),
                translate_y=a["translate_y"] if affine else (0.0, 0.0),
                shear=a["shear_degrees"] if affine else (0.0, 0.0),
                rotate=p["rotate"]["degrees"] if rotate else (0.0, 0.0),
                fill=a["fill"], seed=next_seed(),
                name="augment_" + "_".join(n for n in ("affine", "rotate") if n in names)))
        elif name == "channel":
            out.append(TwinHueSaturation(p["channel"]["hue"], p["channel"]["saturation"],
                                         seed=next_seed(), name="augment_channel"))
        elif name == "noise":
            out.append(TwinGaussianNoise(p["noise"]["sigma"], p["noise"]["per_channel_probability"],
                                         seed=next_seed(), name="augment_noise"))
    return out
