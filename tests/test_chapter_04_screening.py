"""Chapter 4 (the screening), from the smoke reproduction."""

import csv
import json

import numpy as np
import pytest
from chapter_checks import check_page_hygiene

from replication.data import fashionai

NOTEBOOK = "04_screening"


def _screen_table(smoke_run) -> list[dict]:
    from replication.book import experiments

    with open(experiments.screen_csv("smoke"), newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_notebook_04_scores_every_screening_stage_on_images_that_calibrated_nothing(smoke_run):
    from replication.book import experiments, profiles
    from replication.book.results import resolve
    from replication.data.tasks import get_task
    from replication.learning import models
    from replication.screening import cascade, classifier, human_parsing, screen_csv

    numbers = json.loads((smoke_run.results_dir / NOTEBOOK / "numbers.json").read_text())
    root = smoke_run.default_data_root()
    rows, _ = fashionai.read_labels(root)
    length = [r for r in rows if get_task(r.task).level == "length"]
    assert numbers["images"] == len(length) and numbers["skipped"] == 0 and numbers["has_truth"]
    # The screen CSV holds every length image, and its provenance says it screens this data
    # root as it is now; its flags are the ones chapters 5-8 read.
    flags = screen_csv.ScreenedFlatFlags.for_root(experiments.screen_csv("smoke"), root)
    screened = flags([r.image for r in length])
    assert len(flags) == len(length)
    assert numbers["summary"]["flat_lay"] == int(screened.sum())

    # The validation split is the model chapters' (same val_fraction and seed, the same split
    # function): nothing they score calibrated the screening, nor trained its models.
    params = smoke_run.parameters(NOTEBOOK)
    for later in ("05_dual_channel", *profiles.MODEL_NOTEBOOKS):
        other = smoke_run.parameters(later)
        assert (other["val_fraction"], other["seed"]) == (params["val_fraction"], params["seed"])
    later_train, later_val = fashionai.stratified_split(
        rows, val_fraction=params["val_fraction"], seed=params["seed"])
    val_length = {r.image for r in later_val} & {r.image for r in length}
    table = _screen_table(smoke_run)
    split = {row["image"]: row["split"] for row in table}
    assert {image for image, s in split.items() if s == "validation"} == val_length
    assert numbers["val_images"] == len(val_length) == numbers["splits"]["validation"]
    calibrated = screen_csv.calibration_images(experiments.screen_csv("smoke"))
    assert calibrated and not calibrated & {r.image for r in later_val}
    assert calibrated <= {r.image for r in later_train}
    assert {split[image] for image in calibrated} == {"calibration"}

    truth = models.TruthFlatFlags(root)
    calibration_rows = [row for row in table if row["image"] in calibrated]
    # The rule's threshold is the most accurate one on the calibration images, and stage 1's
    # verdicts follow from it everywhere.
    threshold = numbers["calibration"]["threshold"]
    assert numbers["calibration"]["split"] == "calibration"
    recalibrated = human_parsing.calibrate_threshold(  # from shares the CSV rounds to 6 digits
        np.array([float(row["body_share"]) for row in calibration_rows]),
        truth([row["image"] for row in calibration_rows]))
    assert threshold == pytest.approx(recalibrated["threshold"], rel=1e-5, abs=1e-9)
    assert numbers["calibration"]["accuracy"] == recalibrated["accuracy"]
    assert all((float(row["body_share"]) > threshold) == (row["parser_flat"] == "0")
               for row in table)
    # The classifier decides every image unless, on the calibration images, it agrees with the
    # cascade's labels no more often than their majority class; then the re-screen's stay.
    check = numbers["classifier_check"]
    recheck = classifier.classifier_beats_majority(
        np.array([row["classifier_flat"] == "1" for row in calibration_rows]),
        np.array([row["rescreen_flat"] == "1" for row in calibration_rows]))
    assert {k: check[k] for k in recheck} == pytest.approx(recheck)
    assert (check["split"], check["images"]) == ("calibration", len(calibration_rows))
    assert numbers["summary"]["classifier_used"] == check["used"]
    column = "classifier_flat" if check["used"] else "rescreen_flat"
    assert all(row["flat"] == row[column] for row in table)
    if check["used"]:
        assert numbers["summary"]["decided_by"] == {"classifier": len(length)}
    else:
        assert "classifier" not in numbers["summary"]["decided_by"]

    # Every stage is scored on the validation split against truth, per length dimension and
    # over all; the "all" rows recount from the CSV's per-stage columns and the truth.
    val_rows = [row for row in table if row["split"] == "validation"]
    true_flat = truth([row["image"] for row in val_rows])
    stages = {(s["stage"], s["task"]): s for s in numbers["stages"]}
    tasks = {get_task(r.task).short for r in length}
    assert set(stages) == {(stage, task) for stage in cascade.STAGES for task in [*tasks, "all"]}
    for stage, column in cascade.STAGE_COLUMNS.items():
        predicted = np.array([row[column] == "1" for row in val_rows])
        entry = stages[(stage, "all")]
        assert entry["n"] == len(val_rows)
        assert entry["tp"] == int(np.sum(predicted & true_flat))
        assert entry["accuracy"] == pytest.approx(np.mean(predicted == true_flat))
    # The parser's IoU covers the body parts, the classifier records every schedule stage with
    # the paper's three numbers beside stages 1, 3 and 5.
    assert 0.0 <= numbers["parser_iou"]["mean"] <= 1.0 and "face" in numbers["parser_iou"]
    assert [c["stage"] for c in numbers["classifier"]] == list(
        range(1, len(params["classifier_schedule"]) + 1))
    assert {c["stage"]: c["paper_acc"] for c in numbers["classifier"] if c["paper_acc"]} == \
        classifier.PAPER_CLASSIFIER_ACCURACY
    # OpenCV's detector on the scikit-image photos: the people are found, no false alarm.
    outcomes = {p["photo"]: p["outcome"] for p in numbers["opencv_photos"]}
    assert outcomes == {"astronaut": "hit", "camera": "hit", "coffee": "correct rejection",
                        "chelsea": "correct rejection", "rocket": "correct rejection"}
    assert set(numbers["detectors_on_val"]) == {"opencv", "segmenter"}
    assert not numbers["screen_csv"].startswith("/") and resolve(numbers["screen_csv"]) == \
        experiments.screen_csv("smoke")


@pytest.mark.slow
def test_notebook_04_claims_recompute_from_the_screen_csv_and_the_classifier(smoke_run):
    """Every claim record's number, interval and verdict, recomputed here from the screen CSV,
    the truth and the classifier's recorded per-stage verdicts, with the claims module's rules."""
    from replication.book import claims
    from replication.book.results import resolve
    from replication.data import metric
    from replication.learning import models
    from replication.screening import classifier, screen_csv

    numbers = json.loads((smoke_run.results_dir / NOTEBOOK / "numbers.json").read_text())
    seed = smoke_run.parameters(NOTEBOOK)["seed"]
    records = claims.check(numbers["claims"])
    by = {r["claim"]: r for r in records}
    val_rows = [row for row in _screen_table(smoke_run) if row["split"] == "validation"]
    flat = models.TruthFlatFlags(smoke_run.default_data_root())([r["image"] for r in val_rows])
    stage1 = np.array([row["parser_flat"] == "1" for row in val_rows])
    stage2 = np.array([row["rescreen_flat"] == "1" for row in val_rows])

    def same(record, mean, verdict):
        assert record["measured"] == pytest.approx(mean["value"])
        assert record["interval"] == pytest.approx([mean["low"], mean["high"]])
        assert record["verdict"] == verdict

    left = metric.bootstrap_mean(flat[~stage1], seed=seed)
    same(by["stage 1 leaves flat-lays among its on-model images"], left,
         claims.decide(left["low"], left["high"]))
    removed = metric.bootstrap_mean((flat & ~stage1).astype(int) - (flat & ~stage2).astype(int),
                                    seed=seed)
    same(by["the re-screen (stage 2) removes such flat-lays"], removed,
         claims.decide(removed["low"], removed["high"]))
    # The classifier's accuracy against the cascade's labels after stages 1, 3, 5 (its verdicts
    # on the validation images, recorded beside its model: the provenance names it).
    provenance = screen_csv.read_provenance(resolve(numbers["screen_csv"]))
    model = smoke_run.results_dir / "screening" / provenance["classifier"].removeprefix("keras:")
    predictions = classifier.stage_predictions(model)
    for stage, paper in classifier.PAPER_CLASSIFIER_ACCURACY.items():
        accuracy = metric.bootstrap_mean(predictions[stage] == stage2, seed=seed)
        record = by[f"the classifier reaches accuracy {paper:g} after stage {stage} of its schedule"]
        verdict = ("yes" if accuracy["low"] >= paper else "no" if accuracy["high"] < paper
                   else "undecided")
        assert record["paper"] == paper
        same(record, accuracy, verdict)
        assert accuracy["value"] == pytest.approx(numbers["classifier"][stage - 1]["val_acc_vs_cascade"])
    assert len(records) == 2 + len(classifier.PAPER_CLASSIFIER_ACCURACY)


@pytest.mark.slow
def test_notebook_04_page_reads_as_a_report(smoke_run):
    """Every code cell but the parameters is collapsed, no cell prints progress bars, framework
    log lines or a machine path, and the claims table and figures are there (the executed
    notebook the page renders; the page itself after the book build)."""
    from replication.book import claims

    check_page_hygiene(smoke_run, NOTEBOOK)
    notebook = json.loads((smoke_run.home / "book" / "executed" / f"{NOTEBOOK}.ipynb").read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    outputs = [output for cell in code for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("name") == "stderr"]  # no progress bars
    text = "\n".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                     + "".join(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    for noise in ("WARNING:tensorflow", "retracing", "it/s]", "img/s]", "epoch/s]",
                  str(smoke_run.home)):
        assert noise not in text
    numbers = json.loads((smoke_run.results_dir / NOTEBOOK / "numbers.json").read_text())
    assert claims.markdown(numbers["claims"]).splitlines()[2] in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4  # 5 where stages disagree
    page = smoke_run.page(NOTEBOOK)
    assert page.count("<img") >= 4 and "the classifier reaches accuracy 0.957" in page
