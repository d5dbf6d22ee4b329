"""Chapter 1 (the data), from the smoke reproduction."""

import json

import numpy as np
import pytest

from replication.data import fashionai
from replication.data.tasks import TASKS


@pytest.mark.slow
def test_notebook_01_records_the_numbers_of_the_data(smoke_run):
    numbers = json.loads((smoke_run.results_dir / "01_data" / "numbers.json").read_text())
    root = smoke_run.default_data_root()
    rows, problems = fashionai.read_labels(root)
    spec = smoke_run.synthetic
    assert numbers["rows"] == len(rows) == 8 * spec.images_per_task and numbers["skipped"] == 0
    for task in TASKS:
        expected = np.bincount([r.value for r in rows if r.task == task.key], minlength=task.n_values)
        assert numbers["tasks"][task.key]["values"] == expected.tolist()
        assert numbers["tasks"][task.key]["maybe_rows"] == sum(r.has_maybe for r in rows if r.task == task.key)
        flat_share = numbers["tasks"][task.key]["flat_share"]
        assert 0.0 <= flat_share <= 1.0
        if task.level == "length":
            assert 0.0 < flat_share < 1.0  # both flat-lays and on-model images
    assert numbers["m_rate"] == pytest.approx(np.mean([r.has_maybe for r in rows]))

    # The channel statistics, recomputed here from the pixels of the training split.
    train, val = fashionai.stratified_split(rows, val_fraction=numbers["split"]["val_fraction"],
                                            seed=numbers["split"]["seed"])
    assert (numbers["split"]["train"], numbers["split"]["val"]) == (len(train), len(val))
    pixels = np.concatenate([np.asarray(fashionai.load_image(root / r.image), dtype=np.float64).reshape(-1, 3)
                             for r in train]) / 255
    stats = numbers["channel_stats"]
    assert stats["n_images"] == len(train) and stats["n_pixels"] == len(pixels)
    np.testing.assert_allclose(stats["mean"], pixels.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(stats["var"], pixels.var(axis=0), rtol=1e-9)
    np.testing.assert_allclose(stats["std"], pixels.std(axis=0), rtol=1e-9)
    for name in ("value_counts", "samples"):
        assert (smoke_run.results_dir / "01_data" / f"{name}.png").stat().st_size > 10_000
