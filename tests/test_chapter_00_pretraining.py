"""Chapter 0 (pretrained base nets), from the smoke reproduction: a pretext set disjoint from the
evaluation set, base nets written in their ImageNet formats that load back through the paper
profile's loaders, later chapters that start from them, and the verdicts recomputed from the
answer files."""

import json

import pytest

from chapter_checks import answer_predictions, check_comparison, check_page_hygiene
from replication.data import fashionai, metric


@pytest.mark.slow
def test_notebook_00_pretrains_on_a_disjoint_set_and_writes_loadable_weights(smoke_run):
    from replication.book import pretraining, profiles
    from replication.book.results import resolve
    from replication.nets import registry

    numbers = json.loads((smoke_run.results_dir / "00_pretraining" / "numbers.json").read_text())
    pretext = numbers["pretext"]
    assert pretext["seed"] != smoke_run.synthetic.seed
    assert pretext["shared_with_evaluation"] == 0 == pretraining.shared_images(
        resolve(pretext["root"]), smoke_run.default_data_root())
    for name, path in profiles.pretrained_weights("smoke").items():
        written = numbers["weights"][name]
        assert written["file"] == path and written["max_abs_difference"] == 0.0
        assert (smoke_run.home / path).suffix == registry.BACKBONES[name].weights_suffix
        net = registry.build_backbone(name, numbers["variant"], weights=smoke_run.home / path,
                                      input_shape=(numbers["image_size"],) * 2 + (3,))
        assert net.count_params() == written["parameters"]
    # The later chapters start from them: chapter 6's models record the file they loaded.
    states = list((smoke_run.results_dir / "models").glob("design-*/state.json"))
    loaded = {json.loads(s.read_text())["config"]["spec"]["weights"] for s in states}
    assert {str(smoke_run.home / p) for p in profiles.pretrained_weights("smoke").values()} \
        & loaded, loaded
    check_page_hygiene(smoke_run, "00_pretraining")


@pytest.mark.slow
def test_notebook_00_compares_pretrained_and_scratch_at_the_same_budget(smoke_run):
    numbers = json.loads((smoke_run.results_dir / "00_pretraining" / "numbers.json").read_text())
    comparison = numbers["comparison"]
    from replication.book.results import resolve

    truth = resolve(comparison["truth"])
    rows, problems = fashionai.read_labels(truth.parent.parent, check_files=False,
                                           csv=f"{truth.parent.name}/{truth.name}")
    assert not problems and len(rows) == comparison["val_images"]
    predictions = {arm: answer_predictions(path) for arm, path in comparison["answers"].items()}
    assert set(predictions) == {"pretrained", "from scratch"}
    for arm, scores in comparison["scores"].items():
        assert metric.score(rows, predictions[arm])["acc"] == pytest.approx(scores["acc"])
    for record, key in zip(numbers["claims"], ("acc", "mAP")):
        gap = metric.bootstrap_gap(rows, predictions["pretrained"], predictions["from scratch"],
                                   metric=key, seed=0)
        check_comparison(record, gap)
    # One accuracy per epoch of the schedule, for each arm.
    epochs = sum(stage["epochs"] for stage in smoke_run.parameters("00_pretraining")["schedule"])
    assert all(len(curve) == epochs for curve in comparison["curves"].values())
    assert (smoke_run.results_dir / "00_pretraining" / "learning_curves.png").stat().st_size > 10_000
