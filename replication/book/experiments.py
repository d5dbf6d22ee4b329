"""The one training path of the model notebooks (paper §3.1.2, §3.3, §3.4; Figures 2, 4 and 5).

Notebooks 06-08 all need the same models: a design-level and a length-level model for each base
net of the registry (``replication.nets.registry``; the paper's are Inception-v4 and
InceptionResNet-v2). :func:`train_all` trains them under ``results/<profile>/models/`` the first
time and, through ``training.train``'s resume, returns the finished models at once afterwards, so
the notebooks never train twice and an interrupted run continues where it stopped. A base net
added to the registry is trained, scored and tabulated by every chapter without a change here.

The preprocessing experiments train variants of one model through the same path
(:func:`train_variant`): notebook 02 (resolution, Fig. 2) at other input sizes, notebook 03
(augmentation ablation) with other augmenters. A variant lives in ``models/<level>-<backbone>-<tag>``,
the tag naming its configuration (:func:`variant_tag`), so the two notebooks share a model they
both need. The ablations of the model chapters train variants the same way: a ModelSpec option
(``SPEC_OPTIONS``: the pooling after the base net, the Dropout rate) or the level ``"all"``
(one model for all eight dimensions, ``models.ALL_LEVELS``). What a chapter's parameters say
(the :class:`Setup`, including the training augmentation of §3.1.2 (3)) and the models' folders
and specs are in :mod:`replication.book.configuration`, training one model (and its speed) in
:mod:`replication.book.model_training`; their names are re-exported here.

A chapter opens with :func:`chapter_setup` (its parameters cell's values -> :class:`Chapter`)
and scores its models with :func:`score_models` (02, 03, 05) or :func:`predict` (06-08).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Hashable, Mapping, Sequence

import numpy as np

from replication.book import results
from replication.book.configuration import (  # noqa: F401  (re-exported: the chapters' one module)
    DEFAULT_NORMALISATION, LENGTH_MODELS, SPEC_OPTIONS, Setup, augmentation_suffix,
    channel_stats, describe_augmentation, describe_normalisation, load_split, model_dir,
    model_spec, of_level, options_tag, require_weights, setup_from_parameters,
    with_augmentation)
from replication.book.model_training import (  # noqa: F401  (re-exported)
    SPEED_JSON, inference_speed, train_model, train_variant, training_speed, variant_dir,
    variant_tag)
from replication.book.profiles import get_profile
from replication.data import fashionai, metric, truth
from replication.data.fashionai import LabelRow
from replication.data.tasks import LEVELS, tasks_of_level
from replication.learning.schedule import parse_schedule
from replication.nets import registry

DOUBLENET = "doublenet"
"""The name the chapters give the paper's ensemble of base nets, the "doubleNet" (§3.4)."""
DOUBLENET_WEIGHTS: Mapping[str, float] = {"inception_v4": 0.5, "inception_resnet_v2": 0.5}
"""§3.4: the doubleNet averages Inception-v4 and InceptionResNet-v2 with weights 0.5/0.5 (each
net's probabilities flip-averaged first): base net name -> weight."""
FLAG_SOURCES = ("truth", "screened")
SCREENING_NOTEBOOK = "04_screening"
SCREEN_CSV = "screen.csv"
"""Notebook 04 writes the flags of every length image here (``results/<profile>/04_screening/``)."""


# --------------------------------------------------------------------------- the base nets


def backbone_names() -> tuple[str, ...]:
    """The base nets every chapter trains and compares: the registry's (``nets.registry.names``),
    in registration order."""
    return registry.names()


def display_name(name: str) -> str:
    """The name the book prints for a base net (``Inception-v4``) or for :data:`DOUBLENET`."""
    return "doubleNet" if name == DOUBLENET else registry.display_name(name)


def compared_models() -> dict[str, dict[str, float]]:
    """The models chapters 7 and 8 compare, as ensembles ``{base net: weight}``: each registered
    base net alone, then the doubleNet (:data:`DOUBLENET_WEIGHTS`), keyed by name."""
    return {**{name: {name: 1.0} for name in backbone_names()}, DOUBLENET: dict(DOUBLENET_WEIGHTS)}


def parameter_count(ensemble: Mapping[str, float] | Sequence[str], variant: str,
                    image_size: int) -> int:
    """The parameters of the base nets of ``ensemble`` (names, or ``{name: weight}``) without
    their heads, each built as ``variant`` at ``image_size`` px (chapter 7's table)."""
    return sum(registry.build_backbone(name, variant, input_shape=(image_size, image_size, 3))
               .count_params() for name in ensemble)


@dataclass(frozen=True)
class Chapter:
    """A training chapter's setup and the split it trains and scores on (:func:`chapter_setup`)."""

    setup: Setup
    train: list[LabelRow]
    val: list[LabelRow]
    skipped: int
    """Rows of ``label.csv`` that could not be used (``python -m replication validate`` names them)."""

    @functools.cached_property
    def normalisation(self) -> str:
        """One sentence for the page: the input normalisation the chapter's models use."""
        return describe_normalisation(self.setup, self.train)

    def describe(self, level: str | None = None) -> str:
        """Three lines for the page: the split's size (of one level, or all), the normalisation
        and the training augmentation (:func:`describe_augmentation`)."""
        train, val = (self.train, self.val) if level is None else (
            of_level(self.train, level), of_level(self.val, level))
        kind = f"{level}-level images" if level else "images"
        return (f"{len(train):,} training and {len(val):,} validation {kind} ({self.skipped} rows "
                f"skipped)\nnormalisation: {self.normalisation}\n"
                f"augmentation: {describe_augmentation(self.setup)}")

    def train_all(self, *, progress: bool = True) -> dict[tuple[str, str], Path]:
        """:func:`train_all` on this chapter's split: every (level, base net) model."""
        return train_all(self.setup, self.train, self.val, progress=progress)


def chapter_setup(profile: str, data_root: str, **parameters: Any) -> Chapter:
    """A training chapter's opening: its parameters cell's values (the keywords of
    :func:`setup_from_parameters`) -> its :class:`Chapter` (data rendered if missing, the split
    loaded)."""
    setup = setup_from_parameters(profile, data_root, **parameters)
    return Chapter(setup, *load_split(setup))


# --------------------------------------------------------------------------- dual channel


def screen_csv(profile: str) -> Path:
    """Where notebook 04 writes the screened flat/on-model flags of every length image."""
    return get_profile(profile).results_dir / SCREENING_NOTEBOOK / SCREEN_CSV


def flat_flags(setup: Setup, source: str, *, val: Sequence[LabelRow] | None = None):
    """The flat/on-model flags (``models.FlatFlags``) from ``source``: ``"truth"`` (the synthetic
    set's) or ``"screened"`` (notebook 04's screening, the paper's pipeline). The screen CSV must
    screen the setup's data root as it is now, whoever wrote it (notebook 04, or the ``screen``
    command): its provenance says so (``screen_csv.check_screens``). And the models are scored
    on the validation rows ``val`` (default: the setup's split's), so none of them may have
    calibrated the screening (:func:`check_uncalibrated`)."""
    from replication.learning import models
    from replication.screening.screen_csv import ScreenedFlatFlags

    if source == "truth":
        if not truth.has_truth(setup.root):
            raise FileNotFoundError(f"{setup.root} has no Truth/: only the synthetic set knows "
                                    "the true flags; use the screened ones")
        return models.TruthFlatFlags(setup.root)
    if source == "screened":
        rerun = (f"(notebook 04: python -m replication reproduce --profile {setup.profile} "
                 "--only 04, with the same data root)")
        flags = ScreenedFlatFlags.for_root(screen_csv(setup.profile), setup.root, rerun=rerun)
        check_uncalibrated(setup, load_split(setup)[1] if val is None else val)
        return flags
    raise ValueError(f"source must be one of {FLAG_SOURCES}, got {source!r}")


def check_uncalibrated(setup: Setup, val: Sequence[LabelRow]) -> None:
    """That no validation image calibrated notebook 04's screening (its rule's threshold, its
    classifier-use decision): the screened dual-channel models are scored on images that
    calibrated nothing. The screen CSV's provenance names its calibration images
    (``screen_csv.calibration_images``); a ValueError names the leaked images and the fix."""
    from replication.screening.screen_csv import calibration_images

    path = screen_csv(setup.profile)
    leaked = sorted({row.image for row in val} & set(calibration_images(path)))
    if leaked:
        raise ValueError(
            f"{len(leaked)} validation image(s) of this split (seed {setup.seed}, val_fraction "
            f"{setup.val_fraction}) calibrated the screening of {results.shown(path)}, e.g. "
            f"{', '.join(leaked[:3])}: the screened models would be scored on images that "
            "calibrated their flags. Rerun notebook 04 with the same seed and val_fraction (it "
            "calibrates on the training part of this split only).")


def length_flags(setup: Setup):
    """The flags the setup's length model needs (None for a single-channel one)."""
    if setup.length_model == "single":
        return None
    return flat_flags(setup, setup.length_model.removeprefix("dual-"))


def _flags_tag(setup: Setup, source: str, flags, train: Sequence[LabelRow],
               val: Sequence[LabelRow]) -> str:
    """``<source>-<hash of the flags of the length rows>``: names the models trained on them."""
    from replication.screening.screen_csv import flags_digest

    images = [r.image for r in [*of_level(train, "length"), *of_level(val, "length")]]
    return f"{source}-{flags_digest(flags, images)}"


def _train_on_top(setup: Setup, spec, out_dir: Path, train: Sequence[LabelRow],
                  val: Sequence[LabelRow], flags, progress: bool) -> Path:
    """Train a length model built on trained models (the fusion, the flagged control) on all
    length rows with the setup's ``fusion_schedule`` and the flags."""
    from replication.learning import training

    result = training.train(spec, of_level(train, "length"), setup.root, out_dir=out_dir,
                            schedule=setup.fusion_schedule, val_rows=of_level(val, "length"),
                            batch_size=setup.batch_size, seed=setup.seed, flags=flags,
                            progress=progress)
    return Path(result["model"])


def train_dual(setup: Setup, backbone: str, train: Sequence[LabelRow], val: Sequence[LabelRow],
               *, source: str, progress: bool = True) -> Path:
    """The length level's dual-channel model (§3.3.2), trained where not yet done: a flat-lay
    model on the rows the flags call flat, an on-model model on the others (both through
    :func:`train_model`, with the setup's schedule), then their fusion (``models.build_dual``)
    on all length rows with the setup's ``fusion_schedule``. The folders carry the flag source and
    a hash of the flags, so that models trained on other flags are never reused."""
    from replication.learning import models

    flags = flat_flags(setup, source, val=val)
    rows, val_rows = of_level(train, "length"), of_level(val, "length")
    tag = _flags_tag(setup, source, flags, train, val)
    flat_rows, onmodel_rows = models.split_by_flag(rows, flags)
    flat_val, onmodel_val = models.split_by_flag(val_rows, flags)
    if not flat_rows or not onmodel_rows:
        raise ValueError(f"the {source} flags put every training row in one domain "
                         f"({len(flat_rows)} flat-lay, {len(onmodel_rows)} on-model): a "
                         "dual-channel model needs both")
    branches = [train_model(setup, "length", backbone, part, part_val, tag=f"{name}-{tag}",
                            normalise_on=train, progress=progress)
                for name, part, part_val in (("flat", flat_rows, flat_val),
                                             ("onmodel", onmodel_rows, onmodel_val))]
    spec = dataclasses.replace(model_spec(setup, "length", backbone, train), channels="dual",
                               flat_model=str(branches[0]), onmodel_model=str(branches[1]))
    return _train_on_top(setup, spec, model_dir(setup, "length", backbone, f"dual-{tag}"),
                         train, val, flags, progress)


def train_single(setup: Setup, backbone: str, train: Sequence[LabelRow],
                 val: Sequence[LabelRow], *, progress: bool = True) -> Path:
    """Chapter 5's single-channel length model with the dual-channel model's budget: the
    setup's schedule on all length rows, then the ``fusion_schedule`` as further stages of the
    same run (the base net frozen there, so only the heads train, as only the fusion's new
    layers train on top of its branches). Folder ``length-<net>-fusion-budget``."""
    matched = dataclasses.replace(setup, schedule=[*setup.schedule, *setup.fusion_schedule])
    return train_model(matched, "length", backbone, train, val, tag="fusion-budget",
                       progress=progress)


def train_flagged(setup: Setup, backbone: str, train: Sequence[LabelRow],
                  val: Sequence[LabelRow], *, source: str, progress: bool = True) -> Path:
    """Chapter 5's control, the single-channel model given the flag (``ModelSpec.flag_input``):
    the base net of :func:`train_single` as it stands after the setup's schedule (that run's
    checkpoint after those stages, so the two share that training), new heads over its pooled
    features and the flags of ``source``, trained like the fusion (``fusion_schedule``, base net
    frozen). It differs from the single-channel model only by the flag, and from the dual-channel
    model by having one base net instead of two."""
    from replication.learning import training

    single = train_single(setup, backbone, train, val, progress=progress)
    stages = len(parse_schedule(setup.schedule))
    base = single.parent / training.CHECKPOINTS / f"stage_{stages}.keras"
    flags = flat_flags(setup, source, val=val)
    spec = dataclasses.replace(model_spec(setup, "length", backbone, train), flag_input=True,
                               base_model=str(base))
    tag = f"flag-{_flags_tag(setup, source, flags, train, val)}"
    return _train_on_top(setup, spec, model_dir(setup, "length", backbone, tag), train, val,
                         flags, progress)


def every_dimension_claim(section: str, claim: str, gaps: Mapping[str, Mapping[str, float]], *,
                          dimensions: Sequence[str], quantity: str,
                          paper: str | None = None) -> dict[str, Any]:
    """A claim that one arm beats another on *every* dimension (§4.1, Fig. 3), from each
    dimension's ``metric.bootstrap_gap`` on that dimension's images (``gaps``: task key ->
    gap): ``yes`` only when every dimension's 95 % interval lies above 0, ``no`` when one lies
    below 0, else ``undecided`` (a dimension without validation images decides nothing). The
    record's ``measured`` counts the dimensions decided better, e.g. ``3 of 4``."""
    from replication.book import claims

    verdicts = [claims.decide(gaps[d]["low"], gaps[d]["high"]) if d in gaps else "undecided"
                for d in dimensions]
    verdict = ("no" if "no" in verdicts else
               "yes" if all(v == "yes" for v in verdicts) else "undecided")
    return claims.record(section, claim, paper=paper, quantity=quantity, verdict=verdict,
                         measured=f"{verdicts.count('yes')} of {len(dimensions)}")


def length_model_dir(setup: Setup, backbone: str, train: Sequence[LabelRow],
                     val: Sequence[LabelRow]) -> Path:
    """The folder of the setup's length model (single, or the dual-channel fusion)."""
    if setup.length_model == "single":
        return model_dir(setup, "length", backbone)
    source = setup.length_model.removeprefix("dual-")
    tag = _flags_tag(setup, source, flat_flags(setup, source), train, val)
    return model_dir(setup, "length", backbone, f"dual-{tag}")


def train_all(setup: Setup, train: Sequence[LabelRow], val: Sequence[LabelRow], *,
              progress: bool = True) -> dict[tuple[str, str], Path]:
    """The four models ``{(level, backbone): model.keras}``, trained where not yet done; the
    length level's is the setup's ``length_model`` (single or dual-channel)."""
    require_weights(setup, backbone_names())  # before the first net trains, not after it
    out = {}
    for level in LEVELS:
        for backbone in backbone_names():
            if level == "length" and setup.length_model != "single":
                out[(level, backbone)] = train_dual(
                    setup, backbone, train, val, source=setup.length_model.removeprefix("dual-"),
                    progress=progress)
            else:
                out[(level, backbone)] = train_model(setup, level, backbone, train, val,
                                                     progress=progress)
    return out


def training_logs(setup: Setup, train: Sequence[LabelRow],
                  val: Sequence[LabelRow]) -> dict[tuple[str, str], list[dict]]:
    """Each model's per-epoch log (``log.csv``) as rows (the fusion's for a dual-channel one)."""
    from replication.learning import training

    return {(level, backbone): training.read_log(
                length_model_dir(setup, backbone, train, val) if level == "length"
                else model_dir(setup, level, backbone))
            for level in LEVELS for backbone in backbone_names()}


def predict(setup: Setup, trained: Mapping[tuple[str, str], Path], rows: Sequence[LabelRow],
            ensemble: Mapping[str, float], *, flip_tta: bool = True,
            progress: bool = False) -> dict:
    """``{image: {task: probs}}`` of an ensemble ``{base net: weight}`` (weights summing to 1;
    ``{name: 1.0}`` for one net, :data:`DOUBLENET_WEIGHTS` for the paper's) over both levels,
    each row predicted by its own level's models of :func:`train_all`."""
    from replication.learning import prediction

    backbones, weights = list(ensemble), [float(w) for w in ensemble.values()]
    paths = [trained[(level, b)] for level in LEVELS for b in backbones]
    return prediction.predict_probs(paths, weights * len(LEVELS), rows, setup.root,
                                    flags=length_flags(setup), flip_tta=flip_tta,
                                    batch_size=setup.batch_size, progress=progress)


def level_map(scores: Mapping[str, Any]) -> dict[str, float]:
    """The mAP of each level (design, length): the mean AP of its dimensions in a
    ``metric.score`` result, dimensions without an AP left out."""
    return {level: float(np.nanmean([float(scores["tasks"][t.key]["ap"])
                                     for t in tasks_of_level(level)]))
            for level in LEVELS}


def predict_one(setup: Setup, model, rows: Sequence[LabelRow], *, flags=None,
                flip_tta: bool = True, progress: bool = False) -> dict:
    """``{image: {task: probs}}`` of one model (a ``model.keras`` path or a loaded model) on rows
    of its own level (notebooks 02, 03, 05); ``flags`` feed a dual-channel model."""
    from replication.learning import prediction

    return prediction.predict_probs([model], [1.0], rows, setup.root, flags=flags,
                                    flip_tta=flip_tta, batch_size=setup.batch_size,
                                    progress=progress)


@dataclass(frozen=True)
class Scored:
    """One model scored on the validation rows (:func:`score_models`)."""

    predictions: dict
    """``{image: {task: probs}}``, flip TTA included."""
    scores: dict
    """The official metric's ``metric.score`` of those predictions."""


def score_models(setup: Setup, models: Mapping[Hashable, Any], rows: Sequence[LabelRow], *,
                 flags: Mapping[Hashable, Any] | None = None,
                 answers: Mapping[Hashable, Path] | None = None, truth_csv: Path | None = None,
                 flip_tta: bool = True) -> dict[Hashable, Scored]:
    """Predict ``rows`` with each model (a ``model.keras`` path or a loaded model) and score it
    with the official metric (§4), flip TTA on (§3.4): the evaluation of notebooks 02, 03 and 05.

    ``flags`` gives a dual-channel model its flat/on-model flags (by the model's key);
    ``answers`` names a FashionAI ``answer.csv`` to write per model, and ``truth_csv`` a
    ``label.csv`` of the rows, so that ``python -m replication evaluate`` can score them again.
    """
    from replication.learning import prediction

    if truth_csv is not None:
        fashionai.write_labels(truth_csv, rows)
    out = {}
    for key, model in models.items():
        predictions = predict_one(setup, model, rows, flags=(flags or {}).get(key),
                                  flip_tta=flip_tta)
        if answers is not None:
            prediction.write_submission(answers[key], rows, predictions)
        out[key] = Scored(predictions, metric.score(rows, predictions))
    return out


# --------------------------------------------------------------------------- chapters 6-8: intervals and ablations


@dataclass(frozen=True)
class DimensionAPs:
    """The AP of every dimension of one prediction set (§4.2, Fig. 4) and its bootstrap draws
    (:func:`bootstrap_dimension_aps`): the interval of one dimension's AP, and of a gap between
    the mean APs of two groups of dimensions, follow from the same draws."""

    tasks: tuple[str, ...]
    """Task keys in registry order (those present in the rows)."""
    ap: np.ndarray
    """(tasks,) each task's AP on the rows (NaN where no row is scored)."""
    draws: np.ndarray
    """(resamples, tasks) each resample's APs (NaN where a draw left no scored row)."""

    def interval(self, task: str) -> dict:
        """``{"value", "low", "high", "resamples"}``: the AP of ``task`` and its 95 % interval."""
        i = self.tasks.index(task)
        low, high = _quantiles(self.draws[:, i])
        return {"value": float(self.ap[i]), "low": low, "high": high,
                "resamples": len(self.draws)}

    def gap(self, first: Sequence[str], second: Sequence[str]) -> dict:
        """The mean AP of the tasks ``first`` minus that of ``second``, with its 95 % interval,
        in ``metric.bootstrap_gap``'s shape (``claims.comparison`` reads it)."""
        a, b = ([self.tasks.index(t) for t in group] for group in (first, second))
        with np.errstate(all="ignore"):  # an all-NaN group gives NaN, which decides nothing
            gaps = np.nanmean(self.draws[:, a], axis=1) - np.nanmean(self.draws[:, b], axis=1)
            gap = float(np.nanmean(self.ap[a]) - np.nanmean(self.ap[b]))
        low, high = _quantiles(gaps)
        return {"gap": gap, "low": low, "high": high,
                "share_positive": float(np.mean(gaps > 0)), "resamples": len(gaps)}


def _quantiles(values: np.ndarray) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)


def bootstrap_dimension_aps(rows: Sequence[LabelRow], predictions: Mapping[str, Mapping[str, Any]],
                            *, resamples: int = 1000, seed: int = 0) -> DimensionAPs:
    """Every dimension's AP of ``{image: {task: probs}}`` on ``rows`` with ``resamples``
    bootstrap draws: each draw takes every task's rows with replacement (each task keeps its
    count, as ``metric.bootstrap_gap`` does) and scores each task with the official metric
    (``metric.task_metrics``)."""
    from replication.data.tasks import TASKS

    by_task: dict[str, list[LabelRow]] = {}
    for row in rows:
        by_task.setdefault(row.task, []).append(row)
    tasks = tuple(t.key for t in TASKS if t.key in by_task)
    probs = {t: np.stack([np.asarray(predictions[r.image][t], dtype=np.float64).ravel()
                          for r in by_task[t]]) for t in tasks}
    labels = {t: np.array([r.labels for r in by_task[t]], dtype=object) for t in tasks}

    def ap(task: str, index) -> float:
        value = metric.task_metrics(probs[task][index], list(labels[task][index]))["ap"]
        return float("nan") if value is None else value

    rng = np.random.default_rng(seed)
    point = np.array([ap(t, slice(None)) for t in tasks])
    draws = np.array([[ap(t, rng.integers(0, len(by_task[t]), size=len(by_task[t])))
                       for t in tasks] for _ in range(resamples)]).reshape(resamples, len(tasks))
    return DimensionAPs(tasks, point, draws)


def predict_models(setup: Setup, models: Mapping[str, Path] | Sequence[Path],
                   rows: Sequence[LabelRow], *, flip_tta: bool = True) -> dict:
    """``{image: {task: probs}}`` of single-channel models whose heads do not overlap (one per
    level, or one for all eight dimensions), each row predicted by the model with its task's
    head, flip TTA on (§3.4)."""
    from replication.learning import prediction

    paths = list(models.values()) if isinstance(models, Mapping) else list(models)
    return prediction.predict_probs(paths, [1.0] * len(paths), rows, setup.root,
                                    flip_tta=flip_tta, batch_size=setup.batch_size)


LEVEL_ARMS = ("one model per level", "one model for all eight dimensions")
"""§3.3's ablation: the paper's separate design and length models against one model with the
heads of all eight dimensions (:func:`train_level_arms`)."""


def train_level_arms(setup: Setup, backbone: str, train: Sequence[LabelRow],
                     val: Sequence[LabelRow], *, progress: bool = True
                     ) -> dict[str, dict[str, Path]]:
    """The two arms of §3.3's ablation on one base net, single-channel both (so that the
    dual-channel fusion does not enter): :data:`LEVEL_ARMS` -> ``{level: model.keras}``. Same
    schedule, augmentation, seed and training images; each image is seen as often in either
    arm. The design model is :func:`train_all`'s; the length model is chapter 5's single-channel
    model (:func:`train_single`) as it stood after the setup's schedule (its checkpoint, before
    the frozen stages that match the fusion's budget); both are reused where trained. Only the
    all-dimension model trains here, without per-epoch validation (which changes nothing in
    its training)."""
    from replication.learning import training

    single = train_single(setup, backbone, train, val, progress=progress)
    stages = len(parse_schedule(setup.schedule))
    per_level = {"design": train_model(setup, "design", backbone, train, val, progress=progress),
                 "length": single.parent / training.CHECKPOINTS / f"stage_{stages}.keras"}
    all_in_one = {"all": train_model(setup, "all", backbone, train, val, validate=False,
                                     progress=progress)}
    return dict(zip(LEVEL_ARMS, (per_level, all_in_one)))


PAPER_HEAD = "mean pooling + Dropout 0.5"
HEAD_ARMS: Mapping[str, Mapping[str, Any]] = {
    PAPER_HEAD: {}, "max pooling + Dropout 0.5": {"pooling": "max"},
    "mean pooling, no Dropout": {"dropout": 0.0}}
"""§3.4's ablation of the prediction model's head: arm name -> ``spec_options`` (the paper's
mean pooling + Dropout 0.5 first, the ``ModelSpec`` defaults)."""


def pooled_map_size(setup: Setup, backbone: str) -> tuple[int, int]:
    """Height and width of the base net's last feature map at the setup's variant and input
    size: the map the global pooling reduces. At 1 x 1, max and mean pooling are one function."""
    net = registry.build_backbone(backbone, setup.variant,
                                  input_shape=(setup.image_size, setup.image_size, 3))
    shape = net.layers[-1].input.shape
    return int(shape[1]), int(shape[2])


def train_head_arms(setup: Setup, level: str, backbone: str, train: Sequence[LabelRow],
                    val: Sequence[LabelRow], *, progress: bool = True) -> dict[str, Path]:
    """One model per :data:`HEAD_ARMS` arm, alike but for the pooling or the Dropout rate. The
    paper's arm is :func:`train_all`'s model of the level (reused); the others train without
    per-epoch validation, which changes nothing in their training. Where the last feature map
    is 1 x 1 (:func:`pooled_map_size`; small inputs), max pooling is the paper's mean pooling,
    so that arm is the paper's model itself rather than the same training run twice."""
    paper = train_model(setup, level, backbone, train, val, progress=progress)
    one_by_one = pooled_map_size(setup, backbone) == (1, 1)
    return {name: paper if not options or (one_by_one and options == {"pooling": "max"}) else
            train_model(setup, level, backbone, train, val, spec_options=options,
                        validate=False, progress=progress)
            for name, options in HEAD_ARMS.items()}
