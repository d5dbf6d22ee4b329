"""Tests for replication.learning.augmentation: imgaug 0.4.0 on NumPy 2 (every augmenter used),
determinism and thread safety, and the fast Keras twin: XLA where the backend compiles it, and
against imgaug, family by family (flip symmetry, rotation range, noise level, hue shift)."""

from __future__ import annotations

import colorsys
import math
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest

from replication.learning import augmentation as aug

N = 48  # draws per engine for the family checks


def pattern(h: int = 40, w: int = 56, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def imgaug_draws(names, image: np.ndarray, n: int = N, seed: int = 0) -> np.ndarray:
    augment = aug.imgaug_augment(names)
    return np.stack([augment(image.copy(), np.random.default_rng([seed, i])) for i in range(n)])


def keras_draws(names, image: np.ndarray, n: int = N, seed: int = 0) -> np.ndarray:
    x = np.repeat(image[None].astype("float32"), n, axis=0)
    for layer in aug.keras_layers(names, seed=seed):
        x = layer(x, training=True)
    return keras.ops.convert_to_numpy(x)


# --------------------------------------------------------------------------- imgaug on NumPy 2


def test_plain_imgaug_import_fails_on_numpy_2_so_the_shim_is_needed() -> None:
    # A fresh interpreter: NumPy 2 lacks the names imgaug 0.4.0 uses, and imgaug fails on import.
    script = textwrap.dedent("""
        import numpy as np
        assert int(np.__version__.split(".")[0]) >= 2, np.__version__
        assert not hasattr(np, "sctypes") and not hasattr(np, "complex")
        try:
            import imgaug
        except AttributeError as error:
            print("FAILS:", error)
        else:
            print("IMPORTS")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("FAILS:") and "sctypes" in done.stdout


def test_import_imgaug_works_without_changing_numpy() -> None:
    iaa = aug.import_imgaug()
    assert aug.import_imgaug() is iaa  # idempotent
    import imgaug
    import imgaug.parameters

    assert imgaug.__version__ == "0.4.0"
    # NumPy itself is untouched; only imgaug's modules see the two extra names.
    assert not hasattr(np, "sctypes") and not hasattr(np, "complex")
    assert sys.modules["numpy"] is np
    assert imgaug.parameters.np.complex is complex and "float" in imgaug.imgaug.np.sctypes
    assert imgaug.parameters.np.ndarray is np.ndarray


@pytest.mark.parametrize("shape", [(32, 32, 3), (45, 70, 3), (97, 61, 3)])
def test_every_augmenter_runs_on_numpy_2_alone_and_together(shape) -> None:
    image = pattern(*shape[:2], seed=shape[0])
    for names in [(n,) for n in aug.AUGMENTERS] + [aug.PAPER_AUGMENTERS, aug.AUGMENTERS]:
        augment = aug.imgaug_augment(names)
        changed = False
        for i in range(4):
            out = augment(image.copy(), np.random.default_rng([i]))
            assert out.dtype == np.uint8 and out.shape == image.shape, names
            changed |= not np.array_equal(out, image)
        assert changed, f"{names} never changed the image"
    # The parameter families that imgaug otherwise reaches only through other ops.
    iaa = aug.import_imgaug()
    for extra in (iaa.AddToHueAndSaturation(value_hue=(-10, 10), value_saturation=(-10, 10)),
                  iaa.Rotate((-10, 10)), iaa.Fliplr(1.0)):
        assert extra(image=image).shape == image.shape


def test_sequential_order_and_crop_off_by_default() -> None:
    assert "crop" not in aug.PAPER_AUGMENTERS and set(aug.PAPER_AUGMENTERS) < set(aug.AUGMENTERS)
    seq = aug.imgaug_sequential(aug.PAPER_AUGMENTERS)
    assert [child.name for child in seq] == ["flip", "affine+rotate", "channel", "noise"]
    assert [layer.name for layer in aug.keras_layers()] == [
        "augment_flip", "augment_affine_rotate", "augment_channel", "augment_noise"]
    assert aug.check_names(["noise", "crop", "flip"]) == ("flip", "crop", "noise")
    with pytest.raises(ValueError, match="unknown"):
        aug.check_names(["blur"])
    with pytest.raises(ValueError, match="twice"):
        aug.check_names(["flip", "flip"])


def test_imgaug_augment_is_deterministic_by_rng_and_thread_safe() -> None:
    image = pattern(64, 64)
    keep = image.copy()
    augment = aug.imgaug_augment()
    serial = [augment(image, np.random.default_rng([7, i])) for i in range(12)]
    np.testing.assert_array_equal(image, keep)  # the input is never changed in place
    again = [augment(image.copy(), np.random.default_rng([7, i])) for i in range(12)]
    assert all(np.array_equal(a, b) for a, b in zip(serial, again))
    assert not np.array_equal(serial[0], serial[1])
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda i: augment(image.copy(), np.random.default_rng([7, i])),
                                 range(12)))
    assert all(np.array_equal(a, b) for a, b in zip(serial, threaded))


def test_sample_grid_images_gives_examples_per_augmenter() -> None:
    image = pattern(30, 30)
    grid = aug.sample_grid_images(image, ("flip", "noise"), 3, seed=1)
    assert list(grid) == ["flip", "noise"] and all(len(v) == 3 for v in grid.values())
    assert all(x.shape == image.shape and x.dtype == np.uint8 for v in grid.values() for x in v)
    again = aug.sample_grid_images(image, ("flip", "noise"), 3, seed=1)
    assert all(np.array_equal(a, b) for k in grid for a, b in zip(grid[k], again[k]))


# --------------------------------------------------------------------------- the Keras twin


def test_keras_twin_is_seeded_and_inactive_outside_training() -> None:
    image = pattern(32, 32)
    a = keras_draws(aug.PAPER_AUGMENTERS, image, n=4, seed=5)
    b = keras_draws(aug.PAPER_AUGMENTERS, image, n=4, seed=5)
    np.testing.assert_array_equal(a, b)
    x = image[None].astype("float32")
    for layer in aug.keras_layers(aug.AUGMENTERS, seed=1):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config


def test_twin_trains_under_xla_where_the_backend_compiles_it() -> None:
    # TensorFlow has no XLA kernel for the warp (ImageProjectiveTransformV3): a model that holds
    # one must refuse XLA there, as Keras's "auto" picks XLA on a GPU; JAX compiles it.
    inputs = keras.Input((24, 24, 3))
    x = inputs
    for layer in aug.keras_layers(aug.AUGMENTERS, seed=0):
        x = layer(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(x))
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    xla = keras.backend.backend() != "tensorflow"
    if xla:
        model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    else:
        with pytest.warns(UserWarning, match="jit_compile"):
            model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    assert model.jit_compile is xla
    images = np.random.default_rng(0).uniform(0, 255, (4, 24, 24, 3)).astype("float32")
    history = model.fit(images, np.zeros(4), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def _flip_share(draws: np.ndarray, image: np.ndarray) -> float:
    same = [np.array_equal(d, image) for d in draws]
    mirror = [np.array_equal(d, image[:, ::-1]) for d in draws]
    assert all(s != m for s, m in zip(same, mirror)), "a flip draw is neither image nor mirror"
    return float(np.mean(mirror))


def test_twin_flip_is_exactly_the_mirror_or_the_identity_about_half_the_time() -> None:
    image = pattern(24, 36)
    share_imgaug = _flip_share(imgaug_draws(("flip",), image).astype("float32"), image)
    share_keras = _flip_share(keras_draws(("flip",), image), image.astype("float32"))
    for share in (share_imgaug, share_keras):
        assert 0.25 <= share <= 0.75  # p = 0.5; 48 draws: 0.25..0.75 is beyond 3.4 sigma


def _angles(draws: np.ndarray, size: int, radius: int) -> np.ndarray:
    """Rotation of a bright dot about the image centre, in degrees, per draw. Only pixels within
    ``radius + 4`` of the centre count, so the fill of the corners never does."""
    yy, xx = np.mgrid[:size, :size]
    c = (size - 1) / 2
    inside = (yy - c) ** 2 + (xx - c) ** 2 <= (radius + 4) ** 2
    out = []
    for d in draws:
        w = np.where(inside, np.clip(d.astype(np.float64).mean(axis=-1) - 128, 0, None), 0)
        y, x = (w * yy).sum() / w.sum() - c, (w * xx).sum() / w.sum() - c
        out.append(math.degrees(math.atan2(y, x)))
    return np.array(out)


def test_twin_rotation_stays_within_the_configured_range() -> None:
    size, radius = 65, 20
    image = np.zeros((size, size, 3), np.uint8)
    c = size // 2
    image[c - 2:c + 3, c + radius - 2:c + radius + 3] = 255  # a dot right of the centre
    low, high = aug.PARAMETERS["rotate"]["degrees"]
    for draws in (imgaug_draws(("rotate",), image), keras_draws(("rotate",), image)):
        angles = _angles(draws, size, radius)
        assert angles.min() >= low - 1.0 and angles.max() <= high + 1.0
        turned = np.abs(angles) > 0.5
        assert 0.2 <= turned.mean() <= 0.8  # Sometimes(0.5)
        assert angles.min() < low / 2 and angles.max() > high / 2  # the range is used


def test_twin_noise_level_matches_sigma() -> None:
    image = np.full((40, 40, 3), 128, np.uint8)
    low, high = aug.PARAMETERS["noise"]["sigma"]
    expected = math.sqrt((low**2 + low * high + high**2) / 3)  # rms of a uniform sigma: 7.36
    for draws in (imgaug_draws(("noise",), image, n=64), keras_draws(("noise",), image, n=64)):
        stds = (draws.astype(np.float64) - 128).reshape(len(draws), -1).std(axis=1)
        assert stds.max() <= high * 1.1 + 0.5
        assert math.sqrt(np.mean(stds**2)) == pytest.approx(expected, rel=0.15)
        # per_channel 0.5: some draws share one noise map across R, G, B, some do not.
        shared = [np.array_equal(d[..., 0], d[..., 1]) for d in draws]
        assert 0 < sum(shared) < len(draws)


def test_twin_hue_shift_stays_within_the_configured_range() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    image[...] = (200, 80, 40)
    h0 = colorsys.rgb_to_hsv(*(image[0, 0] / 255.0))[0]
    bound = 360 * int(aug.PARAMETERS["channel"]["hue"][1] / 255 * 180) / 180  # 14 degrees
    for draws in (imgaug_draws(("channel",), image), keras_draws(("channel",), image)):
        shifts = []
        for d in draws:
            h = colorsys.rgb_to_hsv(*(d.astype(np.float64).mean(axis=(0, 1)) / 255.0))[0]
            shifts.append(((h - h0 + 0.5) % 1.0 - 0.5) * 360)
        shifts = np.abs(shifts)
        assert shifts.max() <= bound + 2.0 and shifts.max() > bound / 2


def test_twin_affine_translates_the_same_way() -> None:
    # Scale, shear and rotation act about the centre, so a dot there moves by the translation
    # alone: x within +-10 % of the width, y within -12 %..0 of the height (up only), in both.
    size = 65
    image = np.zeros((size, size, 3), np.uint8)
    image[30:35, 30:35] = 255
    yy, xx = np.mgrid[:size, :size]
    a = aug.PARAMETERS["affine"]
    for draws in (imgaug_draws(("affine",), image), keras_draws(("affine",), image)):
        w = np.clip(draws.astype(np.float64).mean(axis=-1) - 128, 0, None)
        w[:, (yy - 32) ** 2 + (xx - 32) ** 2 > 20**2] = 0  # never the fill of the corners
        dx = (w * xx).sum(axis=(1, 2)) / w.sum(axis=(1, 2)) - 32
        dy = (w * yy).sum(axis=(1, 2)) / w.sum(axis=(1, 2)) - 32
        assert a["translate_x"][0] * size - 0.6 <= dx.min()
        assert dx.max() <= a["translate_x"][1] * size + 0.6
        assert a["translate_y"][0] * size - 0.6 <= dy.min() and dy.max() <= 0.6
        assert dy.min() < -3 and 0.2 <= np.mean(np.hypot(dx, dy) > 0.3) <= 0.8
