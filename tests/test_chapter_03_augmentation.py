"""Chapter 3 (the augmentation ablation), from the smoke reproduction."""

import json
from pathlib import Path

import pytest

from chapter_checks import answer_predictions, check_comparison, check_page_hygiene, truth_rows
from conftest import rescore_answer, run_config


@pytest.mark.slow
def test_notebook_03_records_the_augmentation_ablation(smoke_run):
    from replication.book import claims
    from replication.data import metric
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
    # Every claim: its gap and interval recomputed from the answer files, its verdict from the
    # interval; the combination is compared with the best single augmenter.
    arms = numbers["arms"]
    singles = list(augmentation.PAPER_AUGMENTERS)
    assert arms[numbers["best_single"]]["mAP"] == max(arms[s]["mAP"] for s in singles)
    rows = truth_rows(numbers)
    predictions = {arm: answer_predictions(entry["answer"]) for arm, entry in arms.items()}
    records = claims.check(numbers["claims"])
    expected_claims = {
        "the combination beats any one augmenter alone": ("all", numbers["best_single"], "mAP"),
        "augmentation helps (mAP)": ("all", "none", "mAP"),
        "augmentation helps (acc)": ("all", "none", "acc"),
        "adding Crop hurts (mAP)": ("all", "all + crop", "mAP"),
        "adding Crop hurts (acc)": ("all", "all + crop", "acc"),
    }
    assert [r["claim"] for r in records] == list(expected_claims)
    for record in records:
        first, second, measure = expected_claims[record["claim"]]
        assert record["quantity"] == f"{measure}({first}) - {measure}({second})"
        gap = metric.bootstrap_gap(rows, predictions[first], predictions[second], metric=measure,
                                   seed=numbers["seed"], resamples=numbers["resamples"])
        assert gap["gap"] == pytest.approx(arms[first][measure] - arms[second][measure], abs=1e-9)
        check_comparison(record, gap)
    # The "none" arm is notebook 02's model at the same size (one configuration, one folder),
    # and it scores the same in both chapters.
    sweep = json.loads((smoke_run.results_dir / "02_resolution" / "numbers.json").read_text())
    same = sweep["sizes"][str(numbers["image_size"])]
    assert same["model"] == arms["none"]["model"]
    assert (same["acc"], same["mAP"]) == pytest.approx((arms["none"]["acc"], arms["none"]["mAP"]), abs=1e-12)
    folder = smoke_run.results_dir / "03_augmentation"
    for name in ("augmenter_samples", "ablation"):
        assert (folder / f"{name}.png").stat().st_size > 10_000
    check_page_hygiene(smoke_run, "03_augmentation")
    page = smoke_run.page("03_augmentation")
    assert page.count("<img") >= 2 and "adding Crop hurts" in page and "augmentation helps" in page
    assert numbers["augment_engine"] in page  # the text names the engine the arms used
