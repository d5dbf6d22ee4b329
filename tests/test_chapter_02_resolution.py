"""Chapter 2 (the resolution sweep), from the smoke reproduction."""

import html
import json

import pytest

from conftest import rescore_answer, run_config


@pytest.mark.slow
def test_notebook_02_records_the_resolution_sweep(smoke_run):
    numbers = json.loads((smoke_run.results_dir / "02_resolution" / "numbers.json").read_text())
    params = smoke_run.parameters("02_resolution")
    sizes = sorted(params["image_sizes"])
    assert [int(s) for s in numbers["sizes"]] == sizes and len(sizes) >= 2
    maps, accs, speeds = {}, {}, {}
    configs = []
    for size in sizes:
        entry = numbers["sizes"][str(size)]
        assert 0.0 <= entry["acc"] <= 1.0 and 0.0 <= entry["mAP"] <= 1.0
        assert entry["train_images_per_second"] > 0 and entry["inference_images_per_second"] > 0
        rescored = rescore_answer(numbers, entry)
        assert rescored["mAP"] == pytest.approx(entry["mAP"], abs=1e-6)
        assert rescored["acc"] == pytest.approx(entry["acc"], abs=1e-12)
        assert sum(t["n"] for t in rescored["tasks"].values()) == numbers["val_images"]
        config = run_config(entry["model"])
        assert config["spec"]["image_size"] == size and config["spec"]["level"] == numbers["level"]
        speed = json.loads(((smoke_run.home / entry["model"]).parent / "speed.json").read_text())
        assert speed["train_images_per_second"] == pytest.approx(entry["train_images_per_second"])
        configs.append(config)
        maps[size], accs[size], speeds[size] = entry["mAP"], entry["acc"], entry["train_images_per_second"]
    # One model, one budget: only the input size differs between the runs.
    for config in configs:
        assert {k: v for k, v in config["spec"].items() if k != "image_size"} == \
            {k: v for k, v in configs[0]["spec"].items() if k != "image_size"}
        assert (config["schedule"], config["seed"], config["batch_size"], config["train_data"]) == (
            configs[0]["schedule"], configs[0]["seed"], configs[0]["batch_size"], configs[0]["train_data"])
    assert configs[0]["schedule"] == numbers["schedule"] == params["schedule"]
    # The verdicts follow from the numbers.
    small, large = sizes[0], sizes[-1]
    claims = numbers["claims"]
    assert claims["mAP_rises_with_size"] == (maps[large] > maps[small])
    assert claims["acc_rises_with_size"] == (accs[large] > accs[small])
    assert claims["training_slows_with_size"] == (speeds[large] < speeds[small])
    assert numbers["best_size_by_mAP"] == max(sizes, key=lambda s: (maps[s], -sizes.index(s)))
    assert claims["largest_size_best_mAP"] == (numbers["best_size_by_mAP"] == large)
    gap = numbers["mAP_gap_largest_minus_smallest"]
    assert gap["gap"] == pytest.approx(maps[large] - maps[small], abs=1e-9)
    assert gap["low"] <= gap["high"]
    assert (smoke_run.results_dir / "02_resolution" / "fig2_resolution.png").stat().st_size > 10_000
    page = smoke_run.page("02_resolution")
    assert page.count("<img") >= 1 and "a higher resolution raises accuracy" in page
    assert numbers["normalisation_description"][:40] in html.unescape(page)
