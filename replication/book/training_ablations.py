"""Two ablations of how chapter 2's model trains, and an interval for its training cost.

- **Normalisation speeds convergence** (§3.1.2 (1): standardised inputs "speed up convergence,
  accelerate training and raise the recognition accuracy"; the paper normalises with the data
  set's own mean and std "instead of ImageNet's"). :func:`train_curve` trains one model and
  records its probabilities on the validation rows after every epoch (:class:`Curve`), so that two
  normalisations can be compared at any epoch with a paired bootstrap over validation images
  (``metric.bootstrap_gap``), not only by their final scores.
- **Adam, then SGD, beats Adam alone** (§2.2: Adam converges fast and adapts its rate, but "cannot
  find the global optimum", so SGD fine-tunes after it). :func:`optimizer_arms` gives both arms'
  schedules at the same budget; :func:`train_optimizer_arms` continues one trained model both
  ways (:func:`continue_from`), so the Adam stages they share train once. ``training.train``'s
  resume makes a continued run compute what an uninterrupted run of the whole schedule would
  (each stage's randomness derives from the seed and the stage alone; on CPU, bit for bit).
- **Training cost with an interval**: :func:`epoch_costs` reads the seconds per training image of
  each timed epoch (``experiments.SPEED_JSON``) and :func:`timing_gap` bootstraps the difference
  of two models' mean costs over those epochs, so that no single timing decides a claim.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from replication.book import experiments
from replication.book.experiments import Setup, of_level
from replication.data import metric
from replication.data.fashionai import LabelRow
from replication.learning.schedule import as_dicts

EPOCH_PREDICTIONS = "epoch_predictions"
"""Folder (in a curve model's folder) of its validation probabilities, ``epoch_<n>.json`` each."""
CURVE_TAG = "curve"
OPTIMIZER_ARMS = ("adam then sgd", "adam alone")


# --------------------------------------------------------------------------- training curves


def curve_dir(setup: Setup, level: str, backbone: str, image_size: int) -> Path:
    """The folder of a curve model: ``models/<level>-<backbone>-curve-<variant tag>[-norm-<mode>]``
    (named by its whole configuration, as ``experiments.variant_tag`` names the others)."""
    tag = f"{CURVE_TAG}-{experiments.variant_tag(setup, backbone, image_size=image_size)}"
    return experiments.model_dir(setup, level, backbone, tag)


def _epoch_file(folder: Path, epoch: int) -> Path:
    return folder / EPOCH_PREDICTIONS / f"epoch_{epoch:03d}.json"


def _recorder(folder: Path, rows: Sequence[LabelRow], root: Path, *, first_epoch: int,
              batch_size: int):
    """A Keras callback that writes the model's probabilities for ``rows`` (no flip TTA, as the
    per-epoch validation of ``training.train``) after each epoch, numbered from ``first_epoch``."""
    import keras

    from replication.learning.prediction import model_probs

    paths = [root / row.image for row in rows]

    class EpochPredictions(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch = first_epoch

        def on_epoch_end(self, epoch, logs=None):
            probs = model_probs(self.model, paths, flip_tta=False, batch_size=batch_size)
            data = {row.image: {row.task: probs[row.task][i].tolist()}
                    for i, row in enumerate(rows)}
            path = _epoch_file(folder, self.epoch)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            tmp.replace(path)
            self.epoch += 1

    return EpochPredictions()


@dataclass(frozen=True)
class Curve:
    """A model's validation probabilities after each epoch of its schedule."""

    model: Path
    """The finished ``model.keras``."""
    predictions: list[dict]
    """``predictions[e - 1]``: ``{image: {task: probs}}`` after epoch ``e`` (no flip TTA)."""

    @property
    def epochs(self) -> int:
        return len(self.predictions)

    def at(self, epoch: int) -> dict:
        """The probabilities after ``epoch`` (1-based)."""
        if not 1 <= epoch <= self.epochs:
            raise ValueError(f"epoch {epoch} is outside the curve's 1..{self.epochs}")
        return self.predictions[epoch - 1]

    def scores(self, rows: Sequence[LabelRow]) -> list[dict[str, float]]:
        """Per epoch: ``{"epoch", "loss", "acc", "mAP"}`` on ``rows``; ``loss`` is the training
        objective (the sum over dimensions of the mean cross entropy), as ``log.csv``'s
        ``val_loss``, ``acc`` and ``mAP`` the official metric's (§4)."""
        out = []
        for e, predictions in enumerate(self.predictions, start=1):
            scores = metric.score(rows, predictions)
            losses: dict[str, list[float]] = {}
            for row in rows:
                p = float(np.asarray(predictions[row.image][row.task])[row.value])
                # Keras's cross entropy clips probabilities to [1e-7, 1 - 1e-7]; so does this one.
                losses.setdefault(row.task, []).append(-np.log(np.clip(p, 1e-7, 1 - 1e-7)))
            out.append({"epoch": e, "loss": float(sum(np.mean(v) for v in losses.values())),
                        "acc": float(scores["acc"]), "mAP": float(scores["mAP"])})
        return out


def load_curve(folder: Path, rows: Sequence[LabelRow], epochs: int) -> Curve:
    """The :class:`Curve` recorded in a curve model's ``folder``; a clear error if an epoch's
    file is missing or does not cover ``rows``."""
    predictions = []
    for e in range(1, epochs + 1):
        path = _epoch_file(folder, e)
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: the model in {folder} trained without "
                                    "recording its curve; delete that folder to train it again")
        data = json.loads(path.read_text(encoding="utf-8"))
        missing = [row.image for row in rows if row.task not in data.get(row.image, {})]
        if missing:
            raise ValueError(f"{path} has no probabilities for {len(missing)} validation rows "
                             f"(e.g. {missing[0]}): it was recorded on another split")
        predictions.append(data)
    return Curve(folder / "model.keras", predictions)


def train_curve(setup: Setup, level: str, backbone: str, train: Sequence[LabelRow],
                val: Sequence[LabelRow], *, image_size: int | None = None,
                progress: bool = True) -> Curve:
    """Train (or resume, or reuse) the setup's ``level`` model through its schedule, recording
    its probabilities on the level's validation rows after every epoch; its :class:`Curve`.

    The model is the one ``experiments.train_variant`` would train (same spec, schedule, seed,
    data), in a folder of its own (:func:`curve_dir`); only the recording is added. An interrupted
    run resumes after its last completed stage and records the epochs it repeats again."""
    from replication.learning import training
    from replication.learning.schedule import parse_schedule

    size = int(image_size or setup.image_size)
    experiments.require_weights(setup, [backbone])
    rows, val_rows = of_level(train, level), of_level(val, level)
    folder = curve_dir(setup, level, backbone, size)
    stages = parse_schedule(setup.schedule)
    state = folder / training.STATE_JSON
    completed = json.loads(state.read_text(encoding="utf-8"))["completed_stages"] if state.exists() else 0
    done = sum(stage.epochs for stage in stages[:completed])
    spec = experiments.model_spec(setup, level, backbone, train, image_size=size)
    recorder = _recorder(folder, val_rows, setup.root, first_epoch=done + 1,
                         batch_size=setup.batch_size)
    training.train(spec, rows, setup.root, out_dir=folder, schedule=setup.schedule,
                   batch_size=setup.batch_size, seed=setup.seed, progress=progress,
                   callbacks=[recorder])
    return load_curve(folder, val_rows, sum(stage.epochs for stage in stages))


def train_curves(setup: Setup, level: str, backbone: str, train: Sequence[LabelRow],
                 val: Sequence[LabelRow], normalisations: Sequence[str], *,
                 image_size: int | None = None, progress: bool = True) -> dict[str, Curve]:
    """:func:`train_curve` once per normalisation mode (the setup's own mode replaced), keyed by
    mode: the same model, schedule, seed and data, only the input normalisation differs."""
    if len(set(normalisations)) != len(normalisations) or len(normalisations) < 2:
        raise ValueError(f"normalisations must name at least two different modes, got "
                         f"{list(normalisations)}")
    return {mode: train_curve(replace(setup, normalisation=mode), level, backbone, train, val,
                              image_size=image_size, progress=progress)
            for mode in normalisations}


# --------------------------------------------------------------------------- Adam, then SGD


def optimizer_arms(schedule: Sequence[Mapping[str, Any]],
                   sgd_stages: Sequence[Mapping[str, Any]]) -> dict[str, list[dict]]:
    """The two arms of the optimizer ablation (§2.2), at the same budget: the schedule's stages
    before its first SGD stage (the Adam stages), then either ``sgd_stages`` ("adam then sgd") or,
    stage for stage, Adam at the last Adam stage's rate for as many epochs ("adam alone": what
    the run would have done had it never switched)."""
    stages, tail = as_dicts(schedule), as_dicts(sgd_stages)
    prefix = []
    for stage in stages:
        if stage["optimizer"] != "adam":
            break
        prefix.append(stage)
    if not prefix:
        raise ValueError(f"the schedule {stages} does not start with an Adam stage")
    if any(stage["optimizer"] != "sgd" for stage in tail):
        raise ValueError(f"sgd_stages must all use the optimizer 'sgd', got {tail}")
    rate = prefix[-1]["learning_rate"]
    return {"adam then sgd": prefix + tail,
            "adam alone": prefix + [{**stage, "optimizer": "adam", "learning_rate": rate}
                                    for stage in tail]}


def continue_from(source: Path, out_dir: Path, schedule: Sequence[Mapping[str, Any]]) -> int:
    """Seed ``out_dir`` so that ``training.train`` with ``schedule`` resumes after the stages
    that ``schedule`` shares (from its start) with the run in ``source`` (a run's folder or its
    ``model.keras``): that run's checkpoint after the last shared stage, its log rows up to it,
    and its state with ``schedule`` in place of its own. ``training.train`` still checks the rest
    of the configuration (spec, seed, batch size, data) and refuses a mismatch. Returns the
    stages taken over; 0 (and nothing written) when ``out_dir`` already holds a run, is
    ``source`` itself, or shares no completed stage with it."""
    from replication.learning import training

    source = source.parent if source.suffix == ".keras" else source
    if (out_dir / training.STATE_JSON).exists() or out_dir.resolve() == source.resolve():
        return 0
    state = json.loads((source / training.STATE_JSON).read_text(encoding="utf-8"))
    theirs, ours = state["config"]["schedule"], as_dicts(schedule)
    shared = 0
    while (shared < min(len(theirs), len(ours), int(state["completed_stages"]))
           and theirs[shared] == ours[shared]):
        shared += 1
    if shared == 0:
        return 0
    checkpoint = f"{training.CHECKPOINTS}/stage_{shared}.keras"
    (out_dir / training.CHECKPOINTS).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / checkpoint, out_dir / checkpoint)
    if (source / training.LOG_CSV).exists():  # train() drops the rows of later stages itself
        shutil.copyfile(source / training.LOG_CSV, out_dir / training.LOG_CSV)
    state = {"format": state["format"], "config": {**state["config"], "schedule": ours},
             "completed_stages": shared,
             "epochs_done": sum(int(stage["epochs"]) for stage in ours[:shared]),
             "checkpoint": checkpoint}
    # Written last and atomically: a folder without its state is a fresh run to train().
    tmp = out_dir / f"{training.STATE_JSON}.tmp"
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(out_dir / training.STATE_JSON)
    return shared


def train_optimizer_arms(setup: Setup, level: str, backbone: str, train: Sequence[LabelRow],
                         val: Sequence[LabelRow], sgd_stages: Sequence[Mapping[str, Any]], *,
                         image_size: int | None = None, source: Path | None = None,
                         progress: bool = True) -> dict[str, Path]:
    """Both arms of :func:`optimizer_arms` as ``experiments.train_variant`` models (each in the
    folder its whole schedule names), each continued from ``source`` (default: the setup's model
    at ``image_size``, trained if missing) after the Adam stages they share with it."""
    size = int(image_size or setup.image_size)
    if source is None:
        source = experiments.train_variant(setup, level, backbone, train, val, image_size=size,
                                           progress=progress)
    out = {}
    for arm, schedule in optimizer_arms(setup.schedule, sgd_stages).items():
        arm_setup = replace(setup, schedule=schedule)
        # Seed the folder train_variant trains this arm in (named by the arm's whole schedule).
        continue_from(Path(source), experiments.variant_dir(arm_setup, level, backbone,
                                                            image_size=size), schedule)
        out[arm] = experiments.train_variant(arm_setup, level, backbone, train, val,
                                             image_size=size, progress=progress)
    return out


# --------------------------------------------------------------------------- training cost


def epoch_costs(model: str | Path) -> list[float]:
    """Seconds per training image of each epoch timed when ``model`` trained (its
    ``experiments.SPEED_JSON``: each epoch from the end of its first batch to its end)."""
    path = Path(model).parent / experiments.SPEED_JSON
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the model trained before speeds were recorded")
    epochs = json.loads(path.read_text(encoding="utf-8"))["epochs"]
    return [float(e["seconds"]) / float(e["images"]) for e in epochs]


def timing_gap(first: Sequence[float], second: Sequence[float], *, resamples: int = 1000,
               seed: int = 0) -> dict[str, float]:
    """The mean of ``first`` minus the mean of ``second`` (e.g. seconds per image of two models'
    epochs) with its 95 % bootstrap interval, each sample redrawn with replacement on its own
    (the two models' epochs are not paired). The shape of ``metric.bootstrap_gap``'s result:
    ``{"gap", "low", "high", "share_positive", "resamples"}``."""
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if not len(a) or not len(b):
        raise ValueError("timing_gap needs at least one timing on each side")
    rng = np.random.default_rng(seed)
    gaps = (a[rng.integers(0, len(a), size=(resamples, len(a)))].mean(axis=1)
            - b[rng.integers(0, len(b), size=(resamples, len(b)))].mean(axis=1))
    low, high = np.quantile(gaps, [0.025, 0.975])
    return {"gap": float(a.mean() - b.mean()), "low": float(low), "high": float(high),
            "share_positive": float(np.mean(gaps > 0)), "resamples": int(resamples)}
