"""Chapter 5 (single vs dual channel), from the smoke reproduction."""

import json

import numpy as np
import pytest

from conftest import run_config
from replication.data import fashionai


@pytest.mark.slow
def test_notebook_05_compares_single_and_dual_channel_per_length_dimension(smoke_run):
    from replication.book import experiments
    from replication.learning import models, training
    from replication.screening import screen_csv
    from replication.data.tasks import get_task, tasks_of_level

    params = smoke_run.parameters("05_dual_channel")
    root = smoke_run.default_data_root()
    rows, _ = fashionai.read_labels(root)
    train, _ = fashionai.stratified_split(rows, val_fraction=params["val_fraction"], seed=params["seed"])
    train_rows = [r for r in train if get_task(r.task).level == "length"]

    numbers = json.loads((smoke_run.results_dir / "05_dual_channel" / "numbers.json").read_text())
    arms = numbers["arms"]
    assert set(arms) == {"single", "dual (truth flags)", "dual (screened flags)"}
    length = [t.key for t in tasks_of_level("length")]
    for name, arm in arms.items():
        assert set(arm["tasks"]) == set(length)
        assert arm["mAP"] == pytest.approx(np.mean([arm["tasks"][k]["ap"] for k in length]))
        assert sum(arm["tasks"][k]["n"] for k in length) == numbers["val_images"]
    # Same data and budget for every arm: the single model and each branch share the spec and the
    # schedule, the branches split the training rows between them, and the single model gets
    # the fusion's frozen-base-net epochs as a last stage of its own.
    single = run_config(numbers["models"]["single"])
    assert single["schedule"][:len(numbers["schedule"])] == numbers["schedule"]
    assert single["schedule"][len(numbers["schedule"]):] == numbers["fusion_schedule"]
    for source in ("truth", "screened"):
        fusion = run_config(numbers["models"][f"dual ({source} flags)"])
        # The fusion trained on exactly the single model's rows, each with its flag.
        flags = (models.TruthFlatFlags(root) if source == "truth"
                 else screen_csv.ScreenedFlatFlags.for_root(experiments.screen_csv("smoke"), root))
        assert fusion["spec"]["channels"] == "dual"
        assert single["train_data"] == training._fingerprint(train_rows, None)
        assert fusion["train_data"] == training._fingerprint(
            train_rows, flags([r.image for r in train_rows]))
        assert fusion["schedule"] == numbers["fusion_schedule"]
        branches = [run_config(fusion["spec"][key]) for key in ("flat_model", "onmodel_model")]
        for branch in branches:
            assert branch["schedule"] == numbers["schedule"]
            assert branch["spec"] == single["spec"]
        counts = {d["split"]: d for d in numbers["domains"] if d["flags"] == source}
        assert counts["train"]["flat-lay"] + counts["train"]["on-model"] == numbers["train_images"]
        # The verdict follows from the per-dimension accuracies.
        better = [t.short for t in tasks_of_level("length")
                  if arms[f"dual ({source} flags)"]["tasks"][t.key]["acc"] > arms["single"]["tasks"][t.key]["acc"]]
        claim = numbers["claims"][source]
        assert claim["dimensions_better"] == better
        assert claim["every_dimension"] == (len(better) == len(length))
        gap = claim["acc_gap"]
        assert gap["gap"] == pytest.approx(arms[f"dual ({source} flags)"]["acc"] - arms["single"]["acc"], abs=1e-9)
    # The screened dual-channel model is the length model of chapters 6-8 (same backbone).
    later = json.loads((smoke_run.results_dir / "06_per_dimension_ap" / "numbers.json").read_text())
    backbone = numbers["backbone"]
    assert later["models"][f"length-{backbone}"] == numbers["models"]["dual (screened flags)"]
    assert (smoke_run.results_dir / "05_dual_channel" / "fig3_dual_vs_single.png").stat().st_size > 10_000
    page = smoke_run.page("05_dual_channel")
    assert page.count("<img") >= 1 and "dual-channel beats single-channel on every length dimension" in page
