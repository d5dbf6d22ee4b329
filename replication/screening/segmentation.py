"""The two small segmentation nets of the screening stage (paper §3.2), trained on the synthetic
set's part masks: the human parser (JPPNet's role, 20 LIP classes) and the person segmenter (Mask
R-CNN's role, person / background).

JPPNet and Mask R-CNN cannot be the offline default (TensorFlow 1 code, weights behind cloud
drives or downloaded at run time; DESIGN §2), so their roles are filled by nets trained here on
the one thing the synthetic set has and the real data lacks: a LIP label mask for every image
(``Truth/masks``). The two nets differ on purpose, so that the cascade's two stages make errors
of their own, as JPPNet's and Mask R-CNN's do:

- :func:`build_parser_net`: an encoder-decoder with skip connections (U-Net shape), one softmax
  over the 20 LIP classes per pixel, at the parser's input size.
- :func:`build_person_net`: a plain fully convolutional net of strided convolutions without skips,
  person / background per pixel, at a smaller input size, upsampled to its input at the end.

Both take float RGB in the uint8 range 0..255 (input ``image``) and scale it themselves
(``preprocess``), the same convention as the recognition models; both end in a layer named
``classes`` giving per-pixel class probabilities at the input resolution. Everything here is
``keras.layers`` only, so it trains on TensorFlow and on JAX.

Masks are resized to the square input with nearest-neighbour sampling, images bilinearly, as the
recognition models resize their inputs; IoU is measured at that resolution.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
from keras import layers
from PIL import Image

N_LIP_CLASSES = 20
PERSON_CLASSES = 2
"""The person segmenter's classes: 0 background (a flat-lay garment included), 1 person."""
IMAGE_INPUT = "image"
OUTPUT = "classes"
MODEL_FILE = "model.keras"
CONFIG_JSON = "config.json"
TRAINING_PROCEDURE = 2
"""Part of every cached net's configuration (:func:`cached_model`): raised whenever
:func:`train_net` trains differently (2: whole batches only), so that a net trained the older
way is trained again rather than reused."""


# --------------------------------------------------------------------------- the two nets


def _conv_bn_relu(x, filters: int, name: str, strides: int = 1):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _input(size: int):
    image = keras.Input((size, size, 3), name=IMAGE_INPUT)
    return image, layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(image)


def _check_size(size: int, stride: int, what: str) -> None:
    if size < stride or size % stride:
        raise ValueError(f"the {what} needs an input size divisible by {stride}, got {size}")


def build_parser_net(size: int, widths: Sequence[int] = (16, 32, 64, 96),
                     n_classes: int = N_LIP_CLASSES) -> keras.Model:
    """The default human parser: an encoder-decoder with skip connections (U-Net shape).

    Encoder: per width two 3x3 conv-BN-ReLU (``enc<k>_a``, ``enc<k>_b``), then 2x2 max pooling,
    except after the last width (the bottleneck). Decoder: per earlier width, 2x upsampling,
    concatenation with the encoder's features at that scale (the skip that keeps thin limbs),
    two conv-BN-ReLU (``dec<k>_a``, ``dec<k>_b``). Head: a 1x1 convolution with a softmax over
    ``n_classes`` (``classes``), at the input resolution.
    """
    stride = 2 ** (len(widths) - 1)
    _check_size(size, stride, "human parser")
    image, x = _input(size)
    skips = []
    for k, width in enumerate(widths):
        x = _conv_bn_relu(x, width, f"enc{k}_a")
        x = _conv_bn_relu(x, width, f"enc{k}_b")
        if k < len(widths) - 1:
            skips.append(x)
            x = layers.MaxPooling2D(2, name=f"enc{k}_pool")(x)
    for k in reversed(range(len(widths) - 1)):
        x = layers.UpSampling2D(2, name=f"dec{k}_up")(x)
        x = layers.Concatenate(name=f"dec{k}_skip")([x, skips[k]])
        x = _conv_bn_relu(x, widths[k], f"dec{k}_a")
        x = _conv_bn_relu(x, widths[k], f"dec{k}_b")
    out = layers.Conv2D(n_classes, 1, activation="softmax", dtype="float32", name=OUTPUT)(x)
    return keras.Model(image, out, name="human_parser")


def build_person_net(size: int, widths: Sequence[int] = (16, 32, 48)) -> keras.Model:
    """The default person segmenter: strided 3x3 conv-BN-ReLU blocks (``down<k>``, stride 2, each
    followed by a stride-1 block ``same<k>``), no skip connections, a 1x1 convolution to person /
    background logits at ``1 / 2**len(widths)`` of the input, bilinear upsampling back to the input
    and a softmax (``classes``). Coarser than the parser by construction: it sees the silhouette,
    not the parts."""
    stride = 2 ** len(widths)
    _check_size(size, stride, "person segmenter")
    image, x = _input(size)
    for k, width in enumerate(widths):
        x = _conv_bn_relu(x, width, f"down{k}", strides=2)
        x = _conv_bn_relu(x, width, f"same{k}")
    x = layers.Conv2D(PERSON_CLASSES, 1, name="logits")(x)
    x = layers.UpSampling2D(stride, interpolation="bilinear", name="upsample")(x)
    out = layers.Softmax(dtype="float32", name=OUTPUT)(x)
    return keras.Model(image, out, name="person_segmenter")


ARCHITECTURES: dict[str, Callable[[int], keras.Model]] = {
    "parser": build_parser_net,
    "person": build_person_net,
}


# --------------------------------------------------------------------------- data


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """A uint8 RGB array of any size (a grey (H, W) array too) as the (size, size, 3) input."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.shape[2] == 4:
        array = array[:, :, :3]
    if array.shape[:2] == (size, size):
        return array.astype(np.uint8, copy=False)
    pil = Image.fromarray(array.astype(np.uint8, copy=False))
    return np.asarray(pil.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def _load_pair(image_path: pathlib.Path, mask_path: pathlib.Path, size: int
               ) -> tuple[np.ndarray, np.ndarray]:
    from replication.data.fashionai import load_image

    image = resize_image(np.asarray(load_image(image_path)), size)
    with Image.open(mask_path) as mask:
        labels = np.asarray(mask.resize((size, size), Image.Resampling.NEAREST), dtype=np.uint8)
    return image, labels


def load_masked_images(root: str | os.PathLike, images: Sequence[str], size: int, *,
                       progress: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, their LIP label masks and their flat-lay truth from a synthetic set's ``Truth/``:
    ``(x uint8 (N, size, size, 3), parts uint8 (N, size, size), flat bool (N,))``.

    ``images`` are paths as ``label.csv`` names them. Loaded in threads (Pillow releases the GIL).
    """
    from tqdm import tqdm

    from replication.data.fashionai import safe_image_path
    from replication.data.truth import read_truth

    truth = read_truth(root)
    missing = [image for image in images if image not in truth]
    if missing:
        raise KeyError(f"{len(missing)} images have no mask under {root} (first: {missing[0]!r})")
    jobs = [(safe_image_path(root, image), truth[image]["mask"]) for image in images]
    x = np.empty((len(images), size, size, 3), dtype=np.uint8)
    parts = np.empty((len(images), size, size), dtype=np.uint8)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        loaded = pool.map(lambda job: _load_pair(*job, size), jobs)
        for i, (image, labels) in enumerate(tqdm(loaded, total=len(jobs), disable=not progress,
                                                 desc="images and masks", unit="img")):
            x[i], parts[i] = image, labels
    flat = np.array([truth[image]["flat"] for image in images], dtype=bool)
    return x, parts, flat


def person_targets(parts: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """The person segmenter's truth: every labelled pixel of an on-model image (body and the
    clothes worn on it) is person; a flat-lay image has no person, its garment included."""
    return ((parts > 0) & ~np.asarray(flat, dtype=bool)[:, None, None]).astype(np.uint8)


def class_weights(targets: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class pixel weights ``freq ** -0.5``, scaled to a mean pixel weight of 1 (0 for an
    absent class): without them the small parts (feet: 0.05 % of pixels) would never be learnt,
    with full inverse frequency the background would be drowned."""
    counts = np.bincount(targets.ravel(), minlength=n_classes).astype(np.float64)
    weights = np.zeros(n_classes)
    present = counts > 0
    weights[present] = counts[present] ** -0.5
    weights *= counts.sum() / float((counts * weights).sum())
    return weights.astype(np.float32)


# --------------------------------------------------------------------------- training, prediction


def train_net(model: keras.Model, x: np.ndarray, targets: np.ndarray, *, epochs: int,
              batch_size: int = 16, learning_rate: float = 2e-3, seed: int = 0,
              progress: bool = True) -> list[dict]:
    """Train a segmentation net on in-memory arrays with Adam and a class-weighted per-pixel cross
    entropy (:func:`class_weights`); the epoch order derives from ``seed`` alone, and each epoch
    trains on whole batches only. Returns the per-epoch ``{"epoch", "loss", "acc"}``."""
    from tqdm import tqdm

    n_classes = int(model.output_shape[-1])
    pixel_weights = class_weights(targets, n_classes)[targets]
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")])
    history = []
    for epoch in tqdm(range(1, epochs + 1), disable=not progress, desc=f"train {model.name}",
                      unit="epoch"):
        order = np.random.default_rng([seed, epoch]).permutation(len(x))
        # Whole batches only (other images are left out each epoch): one batch shape, so the
        # training step traces once, not again for a short last batch.
        if len(order) >= batch_size:
            order = order[:len(order) - len(order) % batch_size]
        fit = model.fit(x[order].astype("float32"), targets[order], epochs=1, verbose=0,
                        sample_weight=pixel_weights[order], batch_size=batch_size, shuffle=False)
        history.append({"epoch": epoch, "loss": float(fit.history["loss"][-1]),
                        "acc": float(fit.history["acc"][-1])})
    return history


def input_size(model: keras.Model) -> int:
    """The square side a segmentation model takes (checked: (None, S, S, 3) in, (None, S, S, C)
    out)."""
    shape = tuple(model.input_shape)
    out = tuple(model.output_shape)
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != 3:
        raise ValueError(f"model {model.name!r} takes {shape}; a segmentation model here takes "
                         "(None, size, size, 3) RGB")
    if len(out) != 4 or out[1:3] != shape[1:3]:
        raise ValueError(f"model {model.name!r} gives {out}; expected (None, {shape[1]}, "
                         f"{shape[2]}, classes): per-pixel class scores at the input resolution")
    return int(shape[1])


def predict_probs(model: keras.Model, images: Sequence[np.ndarray] | np.ndarray, *,
                  batch_size: int = 32, size: int | None = None) -> np.ndarray:
    """Per-pixel class scores ``(N, S', S', C)`` for images of any size, each resized to the
    ``size`` x ``size`` input (RGB 0..255; default: the model's :func:`input_size`). ``S'`` is the
    model's output side (``S`` for the nets of this module)."""
    size = size or input_size(model)
    if not len(images):
        return np.zeros((0, size, size, int(model.output_shape[-1])), dtype=np.float32)
    out = []
    for start in range(0, len(images), batch_size):
        batch = np.stack([resize_image(image, size) for image in images[start:start + batch_size]])
        n = len(batch)
        if n < batch_size:  # filled up to one batch shape, so that prediction traces once
            batch = np.concatenate([batch, np.repeat(batch[-1:], batch_size - n, axis=0)])
        probs = model.predict_on_batch(batch.astype("float32"))
        out.append(np.asarray(probs, dtype=np.float32)[:n])
    return np.concatenate(out)


def per_class_iou(predicted: np.ndarray, truth: np.ndarray, n_classes: int) -> np.ndarray:
    """Intersection over union per class over all pixels of all images; NaN for a class that is in
    neither the prediction nor the truth."""
    predicted, truth = np.asarray(predicted).ravel(), np.asarray(truth).ravel()
    both = np.bincount(truth[predicted == truth], minlength=n_classes)[:n_classes]
    union = (np.bincount(truth, minlength=n_classes)[:n_classes]
             + np.bincount(predicted, minlength=n_classes)[:n_classes] - both)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, both / np.maximum(union, 1), np.nan)


def resize_nearest(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """A label map or mask ``(..., H, W)`` at ``height x width`` by nearest-neighbour sampling
    (labels and masks must not be interpolated)."""
    rows = (np.arange(height) * labels.shape[-2]) // height
    cols = (np.arange(width) * labels.shape[-1]) // width
    return labels[..., rows, :][..., cols]


def images_digest(images: Sequence[str]) -> str:
    """A short hash of a list of image paths: part of a cached model's configuration."""
    return hashlib.sha256("\n".join(images).encode()).hexdigest()[:16]


def labels_digest(images: Sequence[str], flags) -> str:
    """A short hash of images with a 0/1 label each (``flags``, one per image): part of the
    classifier's cached configuration, and (its first 8 digits) the name of the dual-channel
    models trained on a set of flat/on-model flags."""
    text = "\n".join(f"{i},{int(f)}" for i, f in zip(images, np.asarray(flags, dtype=bool)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_model(base_dir: str | os.PathLike, name: str, config: Mapping,
                 train: Callable[[], tuple[keras.Model, list[dict]]]) -> pathlib.Path:
    """``<base_dir>/<name>-<hash of config>/model.keras``, trained by ``train()`` (a model and its
    history) the first time and reused afterwards: a changed configuration gets a new folder, so
    a stale model is never reused. ``config.json`` beside it holds the configuration and history."""
    digest = hashlib.sha256(json.dumps(dict(config), sort_keys=True).encode()).hexdigest()[:8]
    folder = pathlib.Path(base_dir) / f"{name}-{digest}"
    path = folder / MODEL_FILE
    if path.exists() and (folder / CONFIG_JSON).exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    model, history = train()
    partial = folder / f".{MODEL_FILE}.partial.keras"
    model.save(partial)
    os.replace(partial, path)
    (folder / CONFIG_JSON).write_text(json.dumps({"config": dict(config), "history": history},
                                                 indent=1) + "\n", encoding="utf-8")
    return path


def train_cached_net(root: str | os.PathLike, images: Sequence[str], *, out_dir, arch: str,
                     build: Callable[[int], keras.Model],
                     targets: Callable[[np.ndarray, np.ndarray], np.ndarray], size: int,
                     epochs: int, batch_size: int, learning_rate: float, seed: int,
                     progress: bool) -> pathlib.Path:
    """Train (or reuse, :func:`cached_model`) one of the two nets on the synthetic truth of
    ``images`` (paths as in ``label.csv``): ``build(size)`` the net, ``targets(parts, flat)`` its
    per-pixel classes from the part masks and flat-lay flags; ``arch`` names it in the folder and
    the cached configuration. The parser and the person segmenter differ only in these three."""
    from replication.data import fashionai

    config = {"data": fashionai.data_fingerprint(root), "images": images_digest(images),
              "size": size, "epochs": epochs, "batch_size": batch_size,
              "learning_rate": learning_rate, "seed": seed, "arch": arch,
              "procedure": TRAINING_PROCEDURE}

    def train():
        x, parts, flat = load_masked_images(root, images, size, progress=progress)
        keras.utils.set_random_seed(seed)
        model = build(size)
        history = train_net(model, x, targets(parts, flat), epochs=epochs, batch_size=batch_size,
                            learning_rate=learning_rate, seed=seed, progress=progress)
        return model, history

    return cached_model(out_dir, arch, config, train)


def read_history(model_path: str | os.PathLike) -> list[dict]:
    """The training history :func:`cached_model` stored beside a model."""
    config = pathlib.Path(model_path).parent / CONFIG_JSON
    return json.loads(config.read_text(encoding="utf-8"))["history"]
