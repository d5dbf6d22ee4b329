"""Chapter 1 (the data), from the smoke reproduction: the counts and statistics recomputed from
the data, the synthetic world's mechanisms recounted from its truth against the package's
stated rates, and the claim's verdict recomputed from the rows."""

import json

import numpy as np
import pytest

from chapter_checks import check_page_hygiene
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
    for name in ("value_counts", "samples", "mechanisms"):
        assert (smoke_run.results_dir / "01_data" / f"{name}.png").stat().st_size > 10_000
    check_page_hygiene(smoke_run, "01_data")


@pytest.mark.slow
def test_notebook_01_counts_the_synthetic_worlds_mechanisms(smoke_run):
    """Every mechanism of replication.synthetic.mechanisms is counted from Truth/truth.csv, at
    the rate the package states (not a number of the notebook's own), and agrees with it."""
    from replication.data.truth import read_truth
    from replication.synthetic import mechanisms

    numbers = json.loads((smoke_run.results_dir / "01_data" / "numbers.json").read_text())
    root = smoke_run.default_data_root()
    rows, _ = fashionai.read_labels(root)
    truth = read_truth(root)
    short = {t.key: t.short for t in TASKS}
    recorded = numbers["mechanisms"]
    assert [(r["mechanism"], r["value"], r["among"], r["rate"]) for r in recorded] == [
        (e["mechanism"], e["value"], e["among"], e["rate"]) for e in mechanisms.expected()]
    for r in recorded:
        flat = [t for t in truth.values() if t["flat"]]
        pool = (list(truth.values()) if r["among"] == "all" else flat if r["among"] == "flat" else
                [truth[x.image] for x in rows if short[x.task] == r["among"]])
        if r["column"] == "presentation":
            count = sum(t["presentation"] == r["value"] for t in pool)
        elif r["column"] == "overlap":
            count = sum(t["overlap"] != "none" for t in pool)
        else:
            count = sum(t[r["column"]] for t in pool)
        assert (r["count"], r["n"]) == (count, len(pool)), r
        assert r["share"] == pytest.approx(count / len(pool))
        assert r["agrees"] == mechanisms.within_binomial(count, len(pool), r["rate"])
        assert r["count"] > 0, r   # every mechanism is present even in the smoke set


@pytest.mark.slow
def test_notebook_01_claims_follow_from_the_rows(smoke_run):
    from replication.book import claims

    numbers = json.loads((smoke_run.results_dir / "01_data" / "numbers.json").read_text())
    rows, _ = fashionai.read_labels(smoke_run.default_data_root())
    records = claims.check(numbers["claims"])
    # the synthetic profile renders its own set: only the structure is checked, not the image count
    assert [r["section"] for r in records] == ["§3.1.1"]
    lengths = {t.key: {len(r.labels) for r in rows if r.task == t.key} for t in TASKS}
    holds = all(lengths[t.key] == {len(t.paper_values_zh)} for t in TASKS)
    assert records[0]["verdict"] == ("yes" if holds else "no") == "yes"
    assert records[0]["interval"] is None
    page = smoke_run.page("01_data")
    assert "eight attribute dimensions in two levels" in page and "<img" in page
