"""Chapter 3 (the augmentation ablation), from the smoke reproduction."""

import json
from pathlib import Path

import pytest

from conftest import rescore_answer, run_config


@pytest.mark.slow
def test_notebook_03_records_the_augmentation_ablation(smoke_run):
    from replication.learning import augmentation

    numbers = json.loads((smoke_run.results_dir / "03_augmentation" / "numbers.json").read_text())
    expected = {"none": [], **{name: [name] for name in augmentation.PAPER_AUGMENTERS},
                "all": list(augmentation.PAPER_AUGMENTERS),
                "all + crop": [*augmentation.PAPER_AUGMENTERS, "crop"]}
    assert {arm: entry["augmenters"] for arm, entry in numbers["arms"].items()} == expected
    configs = {}
    for arm, entry in numbers["arms"].items():
        assert 0.0 <= entry["acc"] <= 1.0 and 0.0 <= entry["mAP"] <= 1.0
        rescored = rescore_answer(numbers, entry)
        assert rescored["mAP"] == pytest.approx(entry["mAP"], abs=1e-6)
        assert rescored["acc"] == pytest.approx(entry["acc"], abs=1e-12)
        config = run_config(entry["model"])
        assert sorted(config["spec"]["augment"]) == sorted(expected[arm])
        if expected[arm]:  # an unaugmented model keeps the default engine
            assert config["spec"]["augment_engine"] == numbers["augment_engine"]
        configs[arm] = config
    assert len({Path(e["model"]).parent for e in numbers["arms"].values()}) == len(expected)
    # The same model and budget in every arm: only the augmenters differ.
    base = configs["none"]
    for config in configs.values():
        assert {k: v for k, v in config["spec"].items() if k not in ("augment", "augment_engine")} == \
            {k: v for k, v in base["spec"].items() if k not in ("augment", "augment_engine")}
        assert (config["schedule"], config["seed"], config["batch_size"], config["train_data"],
                config["val_data"]) == (base["schedule"], base["seed"], base["batch_size"],
                                        base["train_data"], base["val_data"])
    assert base["spec"]["image_size"] == numbers["image_size"]
    # The verdicts follow from the numbers.
    arms = numbers["arms"]
    singles = list(augmentation.PAPER_AUGMENTERS)
    claims = numbers["claims"]
    assert claims["augmentation_helps_mAP"] == (arms["all"]["mAP"] > arms["none"]["mAP"])
    assert claims["augmentation_helps_acc"] == (arms["all"]["acc"] > arms["none"]["acc"])
    assert claims["crop_hurts_mAP"] == (arms["all + crop"]["mAP"] < arms["all"]["mAP"])
    assert claims["crop_hurts_acc"] == (arms["all + crop"]["acc"] < arms["all"]["acc"])
    assert claims["combination_beats_each_alone"] == (
        arms["all"]["mAP"] > max(arms[s]["mAP"] for s in singles))
    assert arms[numbers["best_single"]]["mAP"] == max(arms[s]["mAP"] for s in singles)
    for claim, gap in numbers["mAP_gaps"].items():
        first, second = gap["arms"]
        assert gap["gap"] == pytest.approx(arms[first]["mAP"] - arms[second]["mAP"], abs=1e-9)
        assert gap["low"] <= gap["high"] and 0.0 <= gap["share_positive"] <= 1.0
    # The "none" arm is notebook 02's model at the same size (one configuration, one folder),
    # and it scores the same in both chapters.
    sweep = json.loads((smoke_run.results_dir / "02_resolution" / "numbers.json").read_text())
    same = sweep["sizes"][str(numbers["image_size"])]
    assert same["model"] == arms["none"]["model"]
    assert (same["acc"], same["mAP"]) == pytest.approx((arms["none"]["acc"], arms["none"]["mAP"]), abs=1e-12)
    folder = smoke_run.results_dir / "03_augmentation"
    for name in ("augmenter_samples", "ablation"):
        assert (folder / f"{name}.png").stat().st_size > 10_000
    page = smoke_run.page("03_augmentation")
    assert page.count("<img") >= 2 and "adding Crop hurts" in page and "augmentation helps" in page
