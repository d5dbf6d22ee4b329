"""Chapters 6-8 (per-dimension AP, base nets, the prediction model and the submission), from the
smoke reproduction: every recorded verdict is recomputed from the recorded numbers."""

import numpy as np
import pytest

from chapter_checks import check_comparison, check_page_hygiene
from conftest import numbers_of, run_config, same_scores, submission_scores
from replication.data.tasks import TASKS


def reaches_verdict(interval, paper):
    """claims.reaches' rule, written out: yes when the whole interval is at or above the paper's
    number, no when it is below, else undecided."""
    low, high = interval
    return "yes" if low >= paper else "no" if high < paper else "undecided"


def recorded_gap(entry: dict) -> dict:
    return {key: entry[key] for key in ("gap", "low", "high")}


def same_training(configs: dict, differ: set) -> None:
    """Every model of an ablation trained alike (schedule, seed, batch, data where the level is
    the same) but for the spec fields in ``differ``."""
    first = next(iter(configs.values()))
    for name, config in configs.items():
        assert {k: v for k, v in config["spec"].items() if k not in differ} == \
            {k: v for k, v in first["spec"].items() if k not in differ}, name
        assert (config["schedule"], config["seed"], config["batch_size"]) == \
            (first["schedule"], first["seed"], first["batch_size"]), name


@pytest.mark.slow
def test_notebook_06_records_the_ap_per_dimension_its_intervals_and_the_level_ablation(smoke_run):
    from replication.book import claims
    from replication.book.results import resolve
    from replication.data import fashionai
    from replication.data.tasks import get_task
    from replication.learning import training

    numbers = numbers_of(smoke_run, "06_per_dimension_ap")
    same_scores(numbers, submission_scores(smoke_run))
    tasks = numbers["tasks"]
    aps = {t.short: tasks[t.key]["ap"] for t in TASKS}
    assert all(0.0 <= ap <= 1.0 for ap in aps.values())
    assert numbers["mAP"] == pytest.approx(np.mean(list(aps.values())))
    for level in ("design", "length"):
        assert numbers["level_mAP"][level] == pytest.approx(
            np.mean([tasks[t.key]["ap"] for t in TASKS if t.level == level]))
    assert sum(tasks[t.key]["n"] for t in TASKS) == numbers["val_images"]

    records = claims.check(numbers["claims"])
    reach, most, low, level = records[:8], records[8], records[9:11], records[11:]
    # Each dimension against the paper's 95 % line: the recorded AP and its interval.
    for record, task in zip(reach, TASKS):
        assert record["claim"] == f"{task.short} has an AP above 95 %"
        assert record["measured"] == pytest.approx(tasks[task.key]["ap"], abs=1e-12)
        assert record["interval"] == pytest.approx(tasks[task.key]["ap_interval"], abs=1e-12)
        assert record["paper"] == 0.95
        assert record["verdict"] == reaches_verdict(record["interval"], 0.95)
    verdicts = [r["verdict"] for r in reach]
    assert most["verdict"] == ("yes" if verdicts.count("yes") > 4 else
                               "no" if verdicts.count("no") >= 4 else "undecided")
    assert most["measured"].startswith(f"{verdicts.count('yes')} of 8 reach it")
    # Lapel and neck against the mean of the six others.
    for record, short in zip(low, ("lapel", "neck")):
        others = [aps[t.short] for t in TASKS if t.short not in ("lapel", "neck")]
        gap = numbers["low_dimension_gaps"][short]
        assert gap["gap"] == pytest.approx(np.mean(others) - aps[short], abs=1e-9)
        check_comparison(record, recorded_gap(gap))

    # §3.3's ablation: one model per level against one for all eight dimensions.
    ablation = numbers["level_ablation"]
    backbone = ablation["backbone"]
    per_level, all_in_one = ablation["arms"]["one model per level"], ablation["arms"][
        "one model for all eight dimensions"]
    assert set(per_level["models"]) == {"design", "length"} and set(all_in_one["models"]) == {"all"}
    assert per_level["models"]["design"] == numbers["models"][f"design-{backbone}"]
    for arm in (per_level, all_in_one):
        assert arm["mAP"] == pytest.approx(np.mean(list(arm["ap"].values())))
    # The length model is chapter 5's single-channel model after this schedule's stages (its
    # checkpoint); the run went on with the frozen stages that match the fusion's budget.
    length = resolve(per_level["models"]["length"])
    assert length.parent.name == training.CHECKPOINTS
    configs = {"design": run_config(per_level["models"]["design"]),
               "length": run_config(length.parent.parent / "model.keras"),
               "all": run_config(all_in_one["models"]["all"])}
    stages = len(configs["design"]["schedule"])
    assert length.name == f"stage_{stages}.keras"
    assert configs["length"]["schedule"][:stages] == configs["design"]["schedule"]
    configs["length"] = {**configs["length"], "schedule": configs["length"]["schedule"][:stages]}
    assert {name: c["spec"]["level"] for name, c in configs.items()} == {
        "design": "design", "length": "length", "all": "all"}
    assert {name: c["spec"]["channels"] for name, c in configs.items()} == dict.fromkeys(configs, "single")
    same_training(configs, {"level"})
    # The same training images: the all-dimension model's are the two level models' together.
    params = smoke_run.parameters("06_per_dimension_ap")
    rows, _ = fashionai.read_labels(smoke_run.default_data_root())
    train, _ = fashionai.stratified_split(rows, val_fraction=params["val_fraction"], seed=params["seed"])
    by_level = {name: [r for r in train if name == "all" or get_task(r.task).level == name]
                for name in configs}
    for name, config in configs.items():
        assert config["train_data"] == training._fingerprint(by_level[name], None), name
    assert len(by_level["all"]) == len(by_level["design"]) + len(by_level["length"]) == numbers["train_images"]
    overall = level[:2]
    for record, key in zip(overall, ("acc", "mAP")):
        assert record["quantity"] == f"{key}(per level) - {key}(all in one)"
        gap = ablation["overall_gaps"][key]
        assert gap["gap"] == pytest.approx(per_level[key] - all_in_one[key], abs=1e-9)
        check_comparison(record, recorded_gap(gap))
    for record, task in zip(claims.check(ablation["dimension_claims"]), TASKS):
        gap = ablation["dimension_gaps"][task.short]
        assert gap["gap"] == pytest.approx(per_level["ap"][task.short] - all_in_one["ap"][task.short], abs=1e-9)
        check_comparison(record, recorded_gap(gap))
    assert len(records) == 13
    assert (smoke_run.results_dir / "06_per_dimension_ap" / "fig4_ap_per_dimension.png").stat().st_size > 10_000
    check_page_hygiene(smoke_run, "06_per_dimension_ap")


@pytest.mark.slow
def test_notebook_07_compares_the_doublenet_with_each_base_net(smoke_run):
    from replication.book import claims, experiments

    base = numbers_of(smoke_run, "07_base_nets")
    models = base["models"]
    assert set(models) == {"inception_v4", "inception_resnet_v2", "doublenet"}
    rescored = submission_scores(smoke_run)
    same_scores(models["doublenet"], rescored)  # the same doubleNet as 08's submission
    records = claims.check(base["claims"])
    singles = experiments.backbone_names()
    expected = [(net, key) for net in singles for key in ("acc", "mAP")]
    assert [(g["model"], g["metric"]) for g in base["gaps"]] == expected
    assert len(records) == len(expected)
    for record, gap in zip(records, base["gaps"]):
        net, key = gap["model"], gap["metric"]
        assert record["claim"] == f"the doubleNet beats {experiments.display_name(net)} ({key})"
        assert gap["gap"] == pytest.approx(models["doublenet"][key] - models[net][key], abs=1e-9)
        check_comparison(record, recorded_gap(gap))
    for key in ("acc", "mAP"):  # best of the three: it beats every base net; no if one beats it
        verdicts = [r["verdict"] for r, g in zip(records, base["gaps"]) if g["metric"] == key]
        assert base["doublenet_best"][key] == ("yes" if set(verdicts) == {"yes"} else
                                               "no" if "no" in verdicts else "undecided")
    assert (smoke_run.results_dir / "07_base_nets" / "fig5_base_nets.png").stat().st_size > 10_000
    check_page_hygiene(smoke_run, "07_base_nets")


@pytest.mark.slow
def test_notebook_08_records_the_heads_the_flip_the_weight_and_the_submission(smoke_run):
    from replication.book import claims, experiments
    from replication.book.results import resolve

    base = numbers_of(smoke_run, "07_base_nets")
    numbers = numbers_of(smoke_run, "08_doublenet")
    rescored = submission_scores(smoke_run)
    assert rescored["mAP"] == pytest.approx(numbers["submission"]["mAP"], abs=1e-12)
    assert rescored["acc"] == pytest.approx(numbers["submission"]["acc"], abs=1e-12)
    assert sum(t["n"] for t in rescored["tasks"].values()) == numbers["submission"]["rows"] \
        == numbers["val_images"] == base["val_images"]
    assert resolve(numbers["submission"]["path"]).exists()
    sweep = numbers["ensemble_sweep"]
    assert sweep["0.5"]["mAP"] == pytest.approx(rescored["mAP"], abs=1e-6)
    # w = 1 is Inception-v4 alone, w = 0 InceptionResNet-v2 alone (both with flip TTA), and
    # the flip-on rows are 07's models.
    tta = numbers["flip_tta"]
    shown = {net: experiments.display_name(net) for net in base["models"]}
    for w, net in (("1.0", "inception_v4"), ("0.0", "inception_resnet_v2")):
        assert sweep[w]["mAP"] == pytest.approx(base["models"][net]["mAP"], abs=1e-6)
    for net in base["models"]:
        for key in ("acc", "mAP"):
            assert tta[f"{shown[net]}/on"][key] == pytest.approx(base["models"][net][key], abs=1e-9)

    records = claims.check(numbers["claims"])
    heads = numbers["head_ablation"]
    n_heads = len(heads["gaps"])
    head_records, tta_records, (weight_record,) = (
        records[:n_heads], records[n_heads:n_heads + len(shown)], records[n_heads + len(shown):])
    # The heads: the paper's arm is the chapters' design model; the others differ only in the
    # pooling or the Dropout rate.
    arms = heads["arms"]
    paper = heads["paper_arm"]
    assert set(arms) == set(experiments.HEAD_ARMS) and paper == experiments.PAPER_HEAD
    later = numbers_of(smoke_run, "06_per_dimension_ap")
    assert arms[paper]["model"] == later["models"][f"design-{heads['backbone']}"]
    configs = {name: run_config(arm["model"]) for name, arm in arms.items()}
    same_training(configs, {"pooling", "dropout"})
    # Over a 1 x 1 feature map (the smoke size) max pooling is mean pooling: that arm is the
    # paper's model, not a second identical training.
    one_by_one = heads["feature_map"] == [1, 1]
    for name, options in experiments.HEAD_ARMS.items():
        if one_by_one and options == {"pooling": "max"}:
            assert arms[name]["model"] == arms[paper]["model"]
            continue
        assert configs[name]["spec"]["pooling"] == options.get("pooling", "avg")
        assert configs[name]["spec"]["dropout"] == options.get("dropout", 0.5)
        assert configs[name]["train_data"] == configs[paper]["train_data"]
    assert len({arm["model"] for arm in arms.values()}) == len(arms) - one_by_one
    assert [(g["arm"], g["metric"]) for g in heads["gaps"]] == [
        (name, key) for name in experiments.HEAD_ARMS if name != paper for key in ("acc", "mAP")]
    for record, gap in zip(head_records, heads["gaps"]):
        assert record["quantity"] == f"{gap['metric']}(paper's head) - {gap['metric']}({gap['arm']})"
        assert gap["gap"] == pytest.approx(arms[paper][gap["metric"]] - arms[gap["arm"]][gap["metric"]], abs=1e-9)
        check_comparison(record, recorded_gap(gap))
    # Flip TTA on against off, per model.
    for record, (name, gap) in zip(tta_records, numbers["flip_tta_gaps"].items()):
        assert record["claim"] == f"flip TTA helps {name}"
        assert gap["gap"] == pytest.approx(tta[f"{name}/on"]["mAP"] - tta[f"{name}/off"]["mAP"], abs=1e-9)
        check_comparison(record, recorded_gap(gap))
    assert set(numbers["flip_tta_gaps"]) == set(shown.values())
    # The sweep's best weight (the first maximum) against the paper's 0.5.
    weights = sorted(sweep, key=float)
    assert weights == [f"{w / 10:.1f}" for w in range(11)]
    best_w = float(max(weights, key=lambda w: (sweep[w]["mAP"], -float(w))))
    assert numbers["best_w"] == best_w and numbers["paper_w"] == 0.5
    gap = numbers["weight_gap"]
    assert gap["gap"] == pytest.approx(sweep[str(best_w)]["mAP"] - sweep["0.5"]["mAP"], abs=1e-9)
    assert gap["gap"] >= 0  # so "no" cannot occur; a best weight of 0.5 itself is "undecided"
    check_comparison(weight_record, recorded_gap(gap))
    if best_w == 0.5:
        assert weight_record["verdict"] == "undecided"
    assert (smoke_run.results_dir / "08_doublenet" / "ensemble_weight.png").stat().st_size > 10_000
    check_page_hygiene(smoke_run, "08_doublenet")


def _random_predictions(per_task: int, seed: int = 0):
    """Labelled rows of every dimension and random probabilities for them (no images needed)."""
    from replication.data.fashionai import LabelRow

    rng = np.random.default_rng(seed)
    rows, predictions = [], {}
    for task in TASKS:
        for i in range(per_task):
            value = int(rng.integers(task.n_values))
            labels = "".join("y" if j == value else "n" for j in range(task.n_values))
            image = f"Images/{task.key}/{i}.jpg"
            rows.append(LabelRow(image=image, task=task.key, labels=labels, row=len(rows) + 1))
            predictions[image] = {task.key: rng.dirichlet(np.ones(task.n_values))}
    return rows, predictions


def test_bootstrap_dimension_aps_scores_each_dimension_with_the_official_metric():
    from replication.book import experiments
    from replication.data import metric

    rows, predictions = _random_predictions(12)
    # An `m` next to the top class drops that row from its task's AP, as the metric says.
    first = rows[0]
    top = int(np.argmax(predictions[first.image][first.task]))
    if first.labels[top] != "y":
        rows[0] = first.__class__(first.image, first.task,
                                  first.labels[:top] + "m" + first.labels[top + 1:], first.row)
    drawn = experiments.bootstrap_dimension_aps(rows, predictions, resamples=200, seed=3)
    scores = metric.score(rows, predictions)
    assert drawn.tasks == tuple(t.key for t in TASKS)
    assert drawn.ap == pytest.approx([scores["tasks"][t.key]["ap"] for t in TASKS], abs=1e-12)
    assert drawn.draws.shape == (200, len(TASKS))
    again = experiments.bootstrap_dimension_aps(rows, predictions, resamples=200, seed=3)
    assert np.array_equal(drawn.draws, again.draws)  # seeded
    for task in TASKS:
        interval = drawn.interval(task.key)
        column = drawn.draws[:, drawn.tasks.index(task.key)]
        assert interval["value"] == scores["tasks"][task.key]["ap"]
        assert (interval["low"], interval["high"]) == pytest.approx(tuple(np.quantile(column, [0.025, 0.975])))
        assert 0.0 <= interval["low"] <= interval["high"] <= 1.0
    # A gap between groups of dimensions: the mean APs' difference, per draw and overall.
    design = [t.key for t in TASKS if t.level == "design"]
    length = [t.key for t in TASKS if t.level == "length"]
    gap = drawn.gap(design, length)
    aps = {t.key: scores["tasks"][t.key]["ap"] for t in TASKS}
    assert gap["gap"] == pytest.approx(np.mean([aps[k] for k in design]) - np.mean([aps[k] for k in length]))
    per_draw = drawn.draws[:, :4].mean(axis=1) - drawn.draws[:, 4:].mean(axis=1)
    assert (gap["low"], gap["high"]) == pytest.approx(tuple(np.quantile(per_draw, [0.025, 0.975])))
    assert gap["low"] < gap["gap"] < gap["high"]  # random scores: the interval has width
    # Perfect predictions on a dimension: every draw scores 1, an interval of zero width.
    perfect = {r.image: {r.task: np.array([1.0 if c == "y" else 0.0 for c in r.labels])} for r in rows}
    exact = experiments.bootstrap_dimension_aps(rows[12:24], perfect, resamples=50)
    assert exact.interval(TASKS[1].key) == {"value": 1.0, "low": 1.0, "high": 1.0, "resamples": 50}
