import numpy as np
import pytest
from PIL import Image

from replication.learning import normalisation


def _write(tmp_path, arrays):
    paths = []
    for i, a in enumerate(arrays):
        path = tmp_path / f"{i}.png"
        Image.fromarray(a).save(path)
        paths.append(path)
    return paths


def test_channel_stats_equal_the_pooled_pixel_statistics(tmp_path):
    rng = np.random.default_rng(0)
    # Images of different sizes: every pixel must weigh the same, not every image.
    arrays = [rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for h, w in [(7, 5), (30, 40), (1, 1)]]
    stats = normalisation.channel_stats(_write(tmp_path, arrays), progress=False)
    pooled = np.concatenate([a.reshape(-1, 3) for a in arrays]).astype(np.float64) / 255
    np.testing.assert_allclose(stats.mean, pooled.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.var, pooled.var(axis=0), rtol=1e-10)
    np.testing.assert_allclose(stats.std, pooled.std(axis=0), rtol=1e-10)
    assert stats.n_pixels == len(pooled) and stats.n_images == 3


def test_channel_stats_do_not_depend_on_the_number_of_workers(tmp_path):
    rng = np.random.default_rng(1)
    paths = _write(tmp_path, [rng.integers(0, 256, size=(9, 11, 3), dtype=np.uint8) for _ in range(12)])
    one = normalisation.channel_stats(paths, workers=1, progress=False)
    four = normalisation.channel_stats(paths, workers=4, progress=False)
    assert one.mean.tobytes() == four.mean.tobytes() and one.var.tobytes() == four.var.tobytes()


def test_channel_stats_separate_channels_and_resize(tmp_path):
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    image[..., 0] = 255  # red all on, green all off, blue half on
    image[:2, :, 2] = 255
    stats = normalisation.channel_stats(_write(tmp_path, [image]), size=8, progress=False)
    np.testing.assert_allclose(stats.mean, [1.0, 0.0, 0.5], atol=0.02)
    assert stats.n_pixels == 64
    assert stats.var[0] == pytest.approx(0.0, abs=1e-12) and stats.var[2] > 0.2


def test_channel_stats_refuse_no_images():
    with pytest.raises(ValueError):
        normalisation.channel_stats([], progress=False)


# --------------------------------------------------------------------------- modes


def _preprocess(mode: str, x: np.ndarray, size: int = 8, **kw) -> np.ndarray:
    import keras

    from replication.learning.models import ModelSpec, preprocessing

    spec = ModelSpec(level="design", backbone="tiny", image_size=size, normalisation=mode, **kw)
    return keras.ops.convert_to_numpy(preprocessing(spec)(x.astype("float32")))


def _per_image_reference(x: np.ndarray) -> np.ndarray:
    """tf.image.per_image_standardization in NumPy: (x - mean) / max(std, 1/sqrt(N)) per image."""
    x = x.astype(np.float64)
    n = np.prod(x.shape[1:])
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = x.std(axis=(1, 2, 3), keepdims=True)
    return (x - mean) / np.maximum(std, 1 / np.sqrt(n))


def test_dataset_mode_is_x_minus_mean_over_std_on_the_unit_scale() -> None:
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3))
    mean, std = (0.6, 0.5, 0.4), (0.3, 0.2, 0.25)
    out = _preprocess("dataset", x, mean=mean, std=std)
    np.testing.assert_allclose(out, (x / 255 - np.array(mean)) / np.array(std), rtol=1e-4,
                               atol=1e-4)


def test_inception_mode_is_the_minus_one_to_one_range() -> None:
    out = _preprocess("inception", np.array([0.0, 127.5, 255.0]).reshape(1, 1, 1, 3))
    np.testing.assert_allclose(out.ravel(), [-1, 0, 1], atol=1e-6)


def test_per_image_mode_matches_tensorflow_including_the_floor() -> None:
    rng = np.random.default_rng(1)
    x = np.stack([rng.uniform(0, 255, (4, 4, 3)),  # an ordinary image
                  np.full((4, 4, 3), 77.0),  # constant: std 0, the floor 1/sqrt(48) acts
                  77.0 + rng.uniform(0, 0.01, (4, 4, 3))])  # std below the floor
    out = _preprocess("per_image", x)
    np.testing.assert_allclose(out, _per_image_reference(x), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(out[1], 0.0)
    tf = pytest.importorskip("tensorflow")
    np.testing.assert_allclose(out, tf.image.per_image_standardization(x.astype("float32")).numpy(),
                               rtol=1e-4, atol=1e-4)


def test_paper_literal_mode_uses_the_printed_numbers() -> None:
    x = np.random.default_rng(2).uniform(0, 255, (1, 4, 4, 3))
    expected = (x / 255 - np.array(normalisation.PAPER_MEAN)) / np.array(
        normalisation.PAPER_STD_AS_PRINTED)
    # Eq. 7's floor 1/sqrt(N) is below the printed 0.084 at every allowed size (8 px: 0.072).
    for size in (8, 480):
        np.testing.assert_allclose(_preprocess("paper_literal", x, size=size), expected,
                                   rtol=1e-4, atol=1e-4)


def test_describe_mode_names_the_numbers() -> None:
    stats = normalisation.ChannelStats(mean=np.array([0.64, 0.60, 0.59]),
                                       var=np.array([0.09, 0.0841, 0.16]), n_pixels=10, n_images=1)
    text = normalisation.describe_mode("dataset", stats)
    assert text.startswith("dataset:") and "0.6400" in text
    assert "0.2900" in text and "0.4000" in text  # the std, not the variance
    assert "0.0840" in normalisation.describe_mode("paper_literal")
    for mode in normalisation.MODES:
        assert normalisation.describe_mode(mode).startswith(mode + ":")
    with pytest.raises(ValueError):
        normalisation.describe_mode("imagenet")


# --------------------------------------------------------------------------- dataset_stats


def test_dataset_stats_stream_the_split_and_cache_by_fingerprint(tmp_path, monkeypatch) -> None:
    from replication.data.fashionai import LabelRow

    rng = np.random.default_rng(3)
    root, cache = tmp_path / "data", tmp_path / "cache"
    (root / "Images" / "t").mkdir(parents=True)
    rows = []
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(
            root / "Images" / "t" / f"{i}.png")
        rows.append(LabelRow(image=f"Images/t/{i}.png", task="t", labels="ny", row=i + 1))
    first = normalisation.dataset_stats(root, rows[:3], cache_dir=cache, progress=False)
    direct = normalisation.channel_stats([root / r.image for r in rows[:3]], progress=False)
    np.testing.assert_allclose(first.mean, direct.mean, rtol=1e-12)
    np.testing.assert_allclose(first.var, direct.var, rtol=1e-12)
    assert len(list(cache.glob("*.json"))) == 1

    calls = []
    real = normalisation.channel_stats
    monkeypatch.setattr(normalisation, "channel_stats",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    # The same split, rows in another order and one repeated: read from the cache.
    again = normalisation.dataset_stats(root, rows[2::-1] + rows[:1], cache_dir=cache,
                                        progress=False)
    assert calls == [] and np.array_equal(again.mean, first.mean)
    assert again.n_images == 3 and again.n_pixels == first.n_pixels
    # Another split: computed afresh, and cached beside the first.
    other = normalisation.dataset_stats(root, rows, cache_dir=cache, progress=False)
    assert calls == [1] and other.n_images == 4 and len(list(cache.glob("*.json"))) == 2
    # An image rewritten (size or mtime changed): the fingerprint changes, computed afresh.
    Image.fromarray(rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)).save(root / rows[0].image)
    normalisation.dataset_stats(root, rows, cache_dir=cache, progress=False)
    assert calls == [1, 1]
    # Without a cache folder nothing is written.
    normalisation.dataset_stats(root, rows, progress=False)
    assert len(list(cache.glob("*.json"))) == 3
