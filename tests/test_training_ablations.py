"""Tests for replication.book.training_ablations: training curves recorded per epoch, a run
continued from another's stages (the optimizer ablation's shared Adam stages), the timing
bootstrap. Tiny: the design images of a 4-per-task synthetic set at 32 px, conftest's tiny net."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_backbone
from replication.book import claims, training_ablations
from replication.learning import models, prediction, training
from replication.learning.schedule import Stage

SPEC = models.ModelSpec(level="design", backbone="tiny", image_size=32)
ADAM = [Stage("adam", 1e-3, 2)]


def run(data, out: Path, schedule, **kw) -> dict:
    root, train_rows, val_rows = data
    return training.train(SPEC, train_rows, root, out_dir=out, schedule=schedule,
                          val_rows=val_rows, batch_size=4, seed=3, workers=2, progress=False,
                          backbone_factory=tiny_backbone, **kw)


def numbers(log: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in log]


@pytest.fixture(scope="module")
def prefix(data, tmp_path_factory) -> dict:
    """A finished run of the Adam stage(s) that the tests continue or record again."""
    return run(data, tmp_path_factory.mktemp("prefix"), ADAM)


def test_optimizer_arms_share_the_adam_stages_and_the_budget() -> None:
    schedule = [{"optimizer": "adam", "learning_rate": 1e-3, "epochs": 3, "train_backbone": 0.0},
                {"optimizer": "adam", "learning_rate": 2.5e-5, "epochs": 1, "train_backbone": 1.0},
                {"optimizer": "sgd", "learning_rate": 4.5e-6, "epochs": 1, "train_backbone": 1.0}]
    sgd = [{"optimizer": "sgd", "learning_rate": 1e-3, "epochs": 2, "train_backbone": 1.0}]
    arms = training_ablations.optimizer_arms(schedule, sgd)
    assert list(arms) == list(training_ablations.OPTIMIZER_ARMS)
    assert arms["adam then sgd"] == schedule[:2] + sgd  # the schedule's own SGD tail is replaced
    assert arms["adam alone"] == schedule[:2] + [{**sgd[0], "optimizer": "adam",
                                                  "learning_rate": 2.5e-5}]
    assert sum(s["epochs"] for s in arms["adam then sgd"]) == sum(s["epochs"] for s in arms["adam alone"])
    with pytest.raises(ValueError, match="sgd"):
        training_ablations.optimizer_arms(schedule, [{**sgd[0], "optimizer": "adam"}])
    with pytest.raises(ValueError, match="Adam"):
        training_ablations.optimizer_arms(sgd, sgd)


def test_a_continued_run_computes_what_an_uninterrupted_run_does(data, prefix, tmp_path) -> None:
    """An arm of the optimizer ablation continues a finished Adam run: the result equals training
    the arm's whole schedule from scratch, to the last bit (log.csv's exact floats). The tail is
    the subtle case: the same optimizer and layers as the stage before, which an uninterrupted run
    restarts in place where the continued one compiles afresh."""
    schedule = [*ADAM, Stage("adam", 5e-4, 1)]
    whole = run(data, tmp_path / "whole", schedule)
    out = tmp_path / "continued"
    assert training_ablations.continue_from(Path(prefix["model"]), out, schedule) == len(ADAM)
    continued = run(data, out, schedule)
    assert continued["resumed_after_stage"] == len(ADAM)
    assert numbers(continued["log"]) == numbers(whole["log"])
    assert numbers(continued["log"][:len(prefix["log"])]) == numbers(prefix["log"])
    # A folder that holds a run is left alone.
    assert training_ablations.continue_from(Path(prefix["model"]), out, schedule) == 0
    # Nothing shared (the first stage differs): nothing seeded, the run would start afresh.
    other = tmp_path / "other"
    assert training_ablations.continue_from(Path(prefix["model"]), other,
                                            [Stage("sgd", 1e-2, 1)]) == 0
    assert not other.exists()


def test_a_curve_records_the_validation_probabilities_after_every_epoch(data, prefix,
                                                                        tmp_path) -> None:
    """The recorder does not change training, its last epoch is the final model's prediction,
    and the curve's loss, acc and mAP are the numbers training.train's own validation logs."""
    root, _, val_rows = data
    plain = prefix
    folder = tmp_path / "curve"
    recorder = training_ablations._recorder(folder, val_rows, root, first_epoch=1, batch_size=4)
    recorded = run(data, folder, ADAM, callbacks=[recorder])
    assert numbers(recorded["log"]) == numbers(plain["log"])
    epochs = sum(stage.epochs for stage in ADAM)
    curve = training_ablations.load_curve(folder, val_rows, epochs=epochs)
    assert curve.epochs == epochs and curve.model == Path(recorded["model"])
    final = prediction.model_probs(models.load_model(curve.model),
                                   [root / r.image for r in val_rows], flip_tta=False, batch_size=4)
    for i, row in enumerate(val_rows):
        np.testing.assert_allclose(curve.at(epochs)[row.image][row.task], final[row.task][i],
                                   rtol=1e-6, atol=1e-7)
    for scores, logged in zip(curve.scores(val_rows), recorded["log"], strict=True):
        assert scores["epoch"] == logged["epoch"]
        assert scores["loss"] == pytest.approx(logged["val_loss"], rel=1e-9)
        assert scores["acc"] == pytest.approx(logged["val_acc"], abs=1e-12)
        assert scores["mAP"] == pytest.approx(logged["val_mAP"], abs=1e-12)
    with pytest.raises(ValueError, match="outside"):
        curve.at(0)
    (folder / training_ablations.EPOCH_PREDICTIONS / "epoch_002.json").unlink()
    with pytest.raises(FileNotFoundError, match="delete that folder"):
        training_ablations.load_curve(folder, val_rows, epochs=epochs)


def test_timing_gap_gives_an_interval_that_decides_only_a_clear_difference(tmp_path) -> None:
    slow, fast = [0.031, 0.030, 0.032, 0.031], [0.020, 0.021, 0.019]
    gap = training_ablations.timing_gap(slow, fast, seed=1)
    assert gap["gap"] == pytest.approx(np.mean(slow) - np.mean(fast))
    assert 0 < gap["low"] <= gap["gap"] <= gap["high"] and gap["share_positive"] == 1.0
    assert gap == training_ablations.timing_gap(slow, fast, seed=1)  # seeded
    assert claims.comparison("§", "slower", gap, quantity="s")["verdict"] == "yes"
    overlapping = training_ablations.timing_gap([0.02, 0.03, 0.025], [0.021, 0.029, 0.024])
    assert claims.comparison("§", "slower", overlapping, quantity="s")["verdict"] == "undecided"
    with pytest.raises(ValueError, match="at least one"):
        training_ablations.timing_gap([], fast)
    # Costs come from a model's speed.json, one per timed epoch.
    (tmp_path / "speed.json").write_text(json.dumps({"epochs": [
        {"images": 100, "seconds": 2.0, "images_per_second": 50.0},
        {"images": 100, "seconds": 4.0, "images_per_second": 25.0}]}))
    assert training_ablations.epoch_costs(tmp_path / "model.keras") == [0.02, 0.04]
    with pytest.raises(FileNotFoundError, match="speed"):
        training_ablations.epoch_costs(tmp_path / "missing" / "model.keras")
