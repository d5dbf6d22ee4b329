"""The trained models that the result notebooks share (paper §3.3, §3.4; Figures 4 and 5).

Notebooks 06-08 all need the same four models: a design-level and a length-level model for each
base net (Inception-v4, InceptionResNet-v2). :func:`train_all` trains them under
``results/<profile>/models/`` the first time and, through ``training.train``'s resume, returns the
finished models at once afterwards, so the notebooks never train twice and an interrupted run
continues where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from replication import fashionai
from replication.fashionai import LabelRow
from replication.profiles import get_profile
from replication.tasks import LEVELS, get_task

BACKBONE_NAMES = ("inception_v4", "inception_resnet_v2")
DISPLAY_NAMES = {"inception_v4": "Inception-v4", "inception_resnet_v2": "InceptionResNet-v2",
                 "doublenet": "doubleNet"}
PAPER_ENSEMBLE_WEIGHTS = (0.5, 0.5)
"""§3.4: the doubleNet averages Inception-v4 and InceptionResNet-v2 with weights 0.5/0.5."""


@dataclass(frozen=True)
class Setup:
    """What the model notebooks' parameters say about training, in one value."""

    profile: str
    root: Path
    variant: str
    image_size: int
    batch_size: int
    schedule: Sequence[Mapping[str, Any]]
    seed: int = 0
    val_fraction: float = 0.2
    weights: Mapping[str, str] = field(default_factory=dict)
    """Base net name -> a user-given ImageNet weight file (empty: random initialisation)."""

    @property
    def models_dir(self) -> Path:
        return get_profile(self.profile).results_dir / "models"


def setup_from_parameters(profile: str, data_root: str, *, variant: str, image_size: int,
                          batch_size: int, schedule: Sequence[Mapping[str, Any]], seed: int,
                          val_fraction: float, inception_v4_weights: str = "",
                          inception_resnet_v2_weights: str = "") -> Setup:
    """The :class:`Setup` of a model notebook's ``parameters`` cell (data rendered if missing)."""
    from replication.profiles import ensure_data

    return Setup(profile=profile, root=ensure_data(profile, data_root or None), variant=variant,
                 image_size=image_size, batch_size=batch_size, schedule=schedule, seed=seed,
                 val_fraction=val_fraction,
                 weights={"inception_v4": inception_v4_weights,
                          "inception_resnet_v2": inception_resnet_v2_weights})


def load_split(setup: Setup) -> tuple[list[LabelRow], list[LabelRow], int]:
    """Training and validation rows (stratified by task and value, seeded) and the skip count.

    The validation split is the held-out set every model notebook scores on.
    """
    rows, problems = fashionai.read_labels(setup.root)
    if not rows:
        raise fashionai.DataError(f"{setup.root / fashionai.LABEL_CSV}: no usable rows "
                                  f"({len(problems)} problems; run `python -m replication validate`)")
    train, val = fashionai.stratified_split(rows, val_fraction=setup.val_fraction, seed=setup.seed)
    return train, val, len(problems)


def of_level(rows: Sequence[LabelRow], level: str) -> list[LabelRow]:
    return [row for row in rows if get_task(row.task).level == level]


def train_model(setup: Setup, level: str, backbone: str, train: Sequence[LabelRow],
                val: Sequence[LabelRow], *, progress: bool = True) -> Path:
    """Train (or resume, or reuse) one single-channel model; returns its ``model.keras``."""
    from replication import models, training

    spec = models.ModelSpec(level=level, backbone=backbone, variant=setup.variant,
                            image_size=setup.image_size, weights=setup.weights.get(backbone) or None)
    result = training.train(spec, of_level(train, level), setup.root,
                            out_dir=setup.models_dir / f"{level}-{backbone}",
                            schedule=setup.schedule, val_rows=of_level(val, level),
                            batch_size=setup.batch_size, seed=setup.seed, progress=progress)
    return Path(result["model"])


def train_all(setup: Setup, train: Sequence[LabelRow], val: Sequence[LabelRow], *,
              progress: bool = True) -> dict[tuple[str, str], Path]:
    """The four models ``{(level, backbone): model.keras}``, trained where not yet done."""
    return {(level, backbone): train_model(setup, level, backbone, train, val, progress=progress)
            for level in LEVELS for backbone in BACKBONE_NAMES}


def training_logs(setup: Setup) -> dict[tuple[str, str], list[dict]]:
    """Each model's per-epoch log (``log.csv``) as rows."""
    from replication import training

    return {(level, backbone): training.read_log(setup.models_dir / f"{level}-{backbone}")
            for level in LEVELS for backbone in BACKBONE_NAMES}


def predict(setup: Setup, trained: Mapping[tuple[str, str], Path], rows: Sequence[LabelRow],
            backbones: Sequence[str], weights: Sequence[float] | None = None, *,
            flip_tta: bool = True, progress: bool = False) -> dict:
    """``{image: {task: probs}}`` of an ensemble of ``backbones`` (weights per backbone, summing
    to 1) over both levels, each row predicted by its own level's models."""
    from replication import prediction

    weights = list(weights) if weights is not None else [1 / len(backbones)] * len(backbones)
    paths = [trained[(level, b)] for level in LEVELS for b in backbones]
    return prediction.predict_probs(paths, weights * len(LEVELS), rows, setup.root,
                                    flip_tta=flip_tta, batch_size=setup.batch_size, progress=progress)


def score(rows: Sequence[LabelRow], predictions: Mapping[str, Mapping[str, Any]]) -> dict:
    """The official metric (§4) of ``{image: {task: probs}}`` predictions on labelled rows."""
    from replication import metric

    return metric.evaluate(rows, {row.image: predictions[row.image][row.task] for row in rows})


def blend(predictions: Sequence[Mapping[str, Mapping[str, Any]]], weights: Sequence[float]) -> dict:
    """The weighted mean of several models' ``{image: {task: probs}}`` (an ensemble computed from
    stored predictions, e.g. for a sweep over ensemble weights). Weights must sum to 1."""
    from replication import prediction

    w = prediction.check_weights(weights, len(predictions))
    first = predictions[0]
    return {image: {task: sum(wi * p[image][task] for wi, p in zip(w, predictions))
                    for task in first[image]}
            for image in first}
