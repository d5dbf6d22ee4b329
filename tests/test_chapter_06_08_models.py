"""Chapters 6-8 (per-dimension AP, base nets, the doubleNet and the submission), from the smoke reproduction."""

from pathlib import Path

import numpy as np
import pytest

from conftest import numbers_of, same_scores, submission_scores
from replication.data.tasks import TASKS


@pytest.mark.slow
def test_notebook_06_records_the_doublenet_ap_per_dimension_and_its_verdicts(smoke_run):
    numbers = numbers_of(smoke_run, "06_per_dimension_ap")
    same_scores(numbers, submission_scores(smoke_run))
    aps = {t.short: numbers["tasks"][t.key]["ap"] for t in TASKS}
    assert all(0.0 <= ap <= 1.0 for ap in aps.values())
    assert numbers["mAP"] == pytest.approx(np.mean(list(aps.values())))
    for level in ("design", "length"):
        assert numbers["level_mAP"][level] == pytest.approx(
            np.mean([numbers["tasks"][t.key]["ap"] for t in TASKS if t.level == level]))
    assert sum(numbers["tasks"][t.key]["n"] for t in TASKS) == numbers["val_images"]
    # The verdicts (paper §4.2: most dimensions above 95 %, lapel and neck lowest), recomputed.
    claims = numbers["claims"]
    above = sum(ap > 0.95 for ap in aps.values())
    lowest = sorted(sorted(aps, key=aps.get)[:2])
    assert claims == {"dimensions_above_95": above, "most_above_95": above > len(aps) / 2,
                      "two_lowest": lowest, "lapel_and_neck_lowest": lowest == ["lapel", "neck"]}
    for path in numbers["models"].values():
        assert Path(path).exists()


@pytest.mark.slow
def test_notebook_07_and_08_agree_with_an_independent_scoring_of_the_submission(smoke_run):
    from replication.book import experiments

    base = numbers_of(smoke_run, "07_base_nets")
    assert set(base["models"]) == {"inception_v4", "inception_resnet_v2", "doublenet"}
    doublenet = numbers_of(smoke_run, "08_doublenet")
    rescored = submission_scores(smoke_run)
    assert rescored["mAP"] == pytest.approx(doublenet["submission"]["mAP"], abs=1e-12)
    assert rescored["acc"] == pytest.approx(doublenet["submission"]["acc"], abs=1e-12)
    assert sum(t["n"] for t in rescored["tasks"].values()) == doublenet["submission"]["rows"] \
        == doublenet["val_images"] == base["val_images"]
    # The same doubleNet (flip TTA, 0.5/0.5) in notebooks 07 and 08.
    same_scores(base["models"]["doublenet"], rescored)
    assert doublenet["ensemble_sweep"]["0.5"]["mAP"] == pytest.approx(rescored["mAP"], abs=1e-6)
    # w = 1 is Inception-v4 alone, w = 0 InceptionResNet-v2 alone (both with flip TTA), and
    # 08's flip-on rows are 07's single nets.
    tta = doublenet["flip_tta"]
    shown = {net: experiments.display_name(net) for net in base["models"]}
    for w, net in (("1.0", "inception_v4"), ("0.0", "inception_resnet_v2")):
        assert doublenet["ensemble_sweep"][w]["mAP"] == pytest.approx(base["models"][net]["mAP"], abs=1e-6)
    for net in base["models"]:
        for key in ("acc", "mAP"):
            assert tta[f"{shown[net]}/on"][key] == pytest.approx(base["models"][net][key], abs=1e-9)

    # 07's verdicts (paper §4.3: the doubleNet is the best of the three), recomputed.
    singles = [net for net in base["models"] if net != "doublenet"]
    assert base["claims"] == {
        f"doublenet_best_{key}": base["models"]["doublenet"][key] >= max(base["models"][n][key] for n in singles)
        for key in ("acc", "mAP")}
    # 08's verdicts (paper §3.4: flip TTA helps, w = 0.5 is a good weight), recomputed.
    sweep = doublenet["ensemble_sweep"]
    weights = sorted(sweep, key=float)
    assert weights == [f"{w / 10:.1f}" for w in range(11)]
    best_w = float(max(weights, key=lambda w: (sweep[w]["mAP"], -float(w))))  # the first maximum
    assert doublenet["best_w"] == best_w
    assert doublenet["claims"] == {
        "flip_tta_helps": {net: tta[f"{shown[net]}/on"]["mAP"] >= tta[f"{shown[net]}/off"]["mAP"]
                           for net in base["models"]},
        "best_w_within_0.2_of_0.5": abs(best_w - 0.5) <= 0.2}
