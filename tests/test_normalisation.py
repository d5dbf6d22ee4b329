import numpy as np
import pytest
from PIL import Image

from replication import normalisation


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


def test_paper_std_read_as_variance_gives_a_photo_like_std():
    # DESIGN §2: sqrt of the printed values is about 0.29-0.30, like other teams' FashionAI stds.
    np.testing.assert_allclose(np.sqrt(normalisation.PAPER_STD_AS_PRINTED), [0.290, 0.297, 0.299], atol=1e-3)
