"""The whole flat-lay / on-model screening (paper §3.2) of a data set or a folder of photos:
what notebook 04 and ``python -m replication screen`` run.

:func:`screen_dataset` runs the three stages on a data set in the FashionAI layout, training
what is missing and reusing it afterwards. The data set is split three ways
(:func:`split_images`, ``cascade.SPLITS``): the **training** split fits the default parser and
the person segmenter on part masks (:mod:`~replication.screening.human_parsing`,
:mod:`~replication.screening.person_detection`) and the classifier
(:mod:`~replication.screening.classifier`); the **calibration** split sets the parser rule's
threshold and decides whether the classifier's verdicts replace the re-screen's; the
**validation** split, the very validation split of the model chapters 05-08
(``experiments.load_split``), scores every stage and calibrates nothing. Stages 1-2 run on every
length image (:mod:`~replication.screening.cascade`). Its options are one :class:`ScreeningConfig`
(the profiles' ``04_screening`` parameters); its result one :class:`ScreeningRun`.
:func:`screen_root` is the command's entry: any FashionAI root, synthetic or real, or a plain
folder of images. The result goes to a screen CSV (:mod:`~replication.screening.screen_csv`, which
records every image's split) and is scored against the truth by
:mod:`~replication.screening.scoring`.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from replication.data import fashionai
from replication.data.fashionai import safe_image_path
from replication.data.truth import has_truth, read_truth
from replication.learning import models
from replication.screening import classifier, human_parsing, person_detection
from replication.screening.cascade import (SPLIT_WORDS, SPLITS, Screened, list_images, rescreen,
                                           run_cascade)
from replication.screening.person_detection import DETECTORS, PersonDetector, make_detector
from replication.screening.scoring import truth_flat

CALIBRATION_FRACTION = 0.2
"""The share of the non-validation images that calibrates (the rest trains), unless a profile
says otherwise."""


@dataclass(frozen=True)
class ScreeningConfig:
    """What notebook 04 and ``python -m replication screen`` need to know to screen a data set:
    the profiles' ``04_screening`` parameters in one value."""

    parser_size: int = 64
    """The default parser's input side (trained here on the synthetic masks)."""
    parser_epochs: int = 10
    person_size: int = 64
    """The learned person segmenter's input side (it sees the input at 1/8 of that)."""
    person_epochs: int = 40
    detector: str = "segmenter"
    """Stage 2's person detector: ``segmenter`` (learned here) or ``opencv`` (HOG + Haar)."""
    parser_model: str = ""
    """A user's LIP-trained Keras parser (``.keras``, safe mode); empty: the default parser."""
    threshold: float | None = None
    """The rule's share of pixels; None: calibrated on the calibration split against truth
    (:data:`human_parsing.DEFAULT_THRESHOLD` where there is no truth)."""
    classifier: Mapping | None = None
    """Stage 3: ``backbone``, ``variant``, ``image_size``, ``batch_size``, ``schedule`` (and
    optionally ``weights``, ``bn_momentum``: :func:`classifier.build_classifier`); None skips it."""
    mask_root: str = ""
    """Where the default parser and the person segmenter learn from: a synthetic set with part
    masks; empty: the screened data set's training split (then it must be synthetic). The real
    data has no masks, so the paper profile points this at a synthetic set."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS}, got {self.detector!r}")
        if self.classifier is not None:
            missing = {"backbone", "variant", "image_size", "schedule"} - set(self.classifier)
            if missing:
                raise ValueError(f"classifier options lack {sorted(missing)}")


@dataclass(frozen=True)
class ScreeningSplit:
    """The images of a data set (both levels, as ``label.csv`` names them) in the screening's
    three splits (``cascade.SPLITS``), each sorted by path."""

    train: list[str]
    calibration: list[str]
    validation: list[str]

    def of(self, images: Sequence[str]) -> list[str]:
        """The split of each of ``images``; KeyError naming an image that is in none."""
        split = {image: name for name in SPLITS for image in getattr(self, name)}
        missing = [image for image in images if image not in split]
        if missing:
            raise KeyError(f"{len(missing)} images are in no split (first: {missing[0]!r})")
        return [split[image] for image in images]


def split_images(root: os.PathLike | str, *, val_fraction: float, seed: int,
                 calibration_fraction: float = CALIBRATION_FRACTION) -> ScreeningSplit:
    """The screening's three splits of ``root``'s usable ``label.csv`` rows. The validation split
    is ``fashionai.stratified_split(rows, val_fraction, seed)``'s, the one the model chapters
    score on (``experiments.load_split``), so that no image they score calibrated the screening;
    the calibration split is ``calibration_fraction`` of the rest, stratified the same way with
    the same seed, and the training split what remains."""
    if not 0.0 <= calibration_fraction < 1.0:
        raise ValueError(f"calibration_fraction must be in [0, 1), got {calibration_fraction}")
    rows, _ = fashionai.read_labels(root)
    rest, validation = fashionai.stratified_split(rows, val_fraction=val_fraction, seed=seed)
    train, calibration = fashionai.stratified_split(rest, val_fraction=calibration_fraction,
                                                    seed=seed)
    return ScreeningSplit(*([r.image for r in part] for part in (train, calibration, validation)))


@dataclass
class ScreeningRun:
    """Everything one screening produced: the models, the calibration and the screened images
    (all length images of the data set, in ``label.csv`` order, each with its split)."""

    screened: Screened
    parser: human_parsing.HumanParser
    """Stage 1's parser, loaded (score it with this one: a model loaded again traces again)."""
    detector: PersonDetector
    """Stage 2's person detector."""
    parser_model: pathlib.Path | None
    person_model: pathlib.Path | None
    calibration: dict
    """The rule's ``threshold`` and its ``source``; where calibrated, also the ``split`` and the
    ``images`` it was calibrated on and the ``accuracy`` it reached there."""
    classifier_model: pathlib.Path | None
    classifier_check: dict | None = None
    """:func:`classifier.check_classifier`: whether the classifier's verdicts are used (None: no
    classifier)."""

    @property
    def val(self) -> np.ndarray:
        """Per screened image: True for the validation split (every stage is scored on it)."""
        return self.screened.in_split("validation")

    @property
    def calibrated(self) -> np.ndarray:
        """Per screened image: True where it calibrated the threshold or the classifier-use
        decision (the split ``screened.calibrated_on``; none where nothing was calibrated)."""
        if self.screened.calibrated_on is None:
            return np.zeros(len(self.screened.images), dtype=bool)
        return self.screened.in_split(self.screened.calibrated_on)

    @property
    def val_images(self) -> np.ndarray:
        """The screened images of the validation split."""
        return np.asarray(self.screened.images)[self.val]


def _model_name(path: os.PathLike | str) -> str:
    """A model file's folder and name (``classifier-1a2b3c4d/model.keras``): what ran a stage."""
    path = pathlib.Path(path)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _calibrate_threshold(root: pathlib.Path, screened: Screened, threshold: float | None,
                         truth: bool) -> dict:
    """The rule's threshold: given, calibrated against truth on the calibration split (recorded
    as ``screened.calibrated_on``), or the default where there is no truth."""
    if threshold is not None:
        return {"threshold": float(threshold), "source": "given"}
    if not truth:
        return {"threshold": human_parsing.DEFAULT_THRESHOLD,
                "source": "default (no truth to calibrate on)"}
    split = screened.calibration_split()
    on = screened.in_split(split)
    screened.calibrated_on = split
    return {**human_parsing.calibrate_threshold(
        screened.body_share[on], truth_flat(root, np.asarray(screened.images)[on])),
        "split": split, "source": f"calibrated on {SPLIT_WORDS[split]}"}


def screen_dataset(root: os.PathLike | str, split: ScreeningSplit, *, config: ScreeningConfig,
                   work_dir, progress: bool = True) -> ScreeningRun:
    """The whole of §3.2 on a data set in the FashionAI layout, models trained where missing and
    reused afterwards (under ``work_dir``): the default parser and the person segmenter on the
    training split's part masks (a synthetic set; with a ``parser_model`` and the ``opencv``
    detector nothing needs masks), stages 1-2 on every length image, the rule's threshold
    calibrated on the calibration split's length images, then the classifier trained on stage
    2's labels of the training split, its accuracy recorded on the validation split, and whether
    its verdicts are used decided on the calibration split. ``split`` may hold both levels'
    images (:func:`split_images`); only the length level is screened."""
    root = pathlib.Path(root)
    work_dir = pathlib.Path(work_dir)
    unusable: list[tuple[str, str]] = []
    images, tasks = list_images(root, unusable)
    truth = has_truth(root)
    mask_root, mask_images = root, list(split.train)
    if config.mask_root:
        mask_root = pathlib.Path(config.mask_root)
        mask_images = list(read_truth(mask_root))
    needs_masks = not config.parser_model or config.detector == "segmenter"
    if needs_masks and not has_truth(mask_root):
        raise FileNotFoundError(
            f"{mask_root} has no part masks (Truth/) to train the default human parser and person "
            "segmenter on: point mask_root at a synthetic set, or give a LIP-trained Keras parser "
            "(parser_model / --parser PATH.keras) and use the opencv detector")
    if config.parser_model:
        parser_model = pathlib.Path(config.parser_model)
    else:
        parser_model = human_parsing.train_default_parser(
            mask_root, mask_images, out_dir=work_dir, size=config.parser_size,
            epochs=config.parser_epochs, seed=config.seed, progress=progress)
    parser = human_parsing.KerasHumanParser(parser_model)
    person_model = None
    if config.detector == "segmenter":
        person_model = person_detection.train_default_segmenter(
            mask_root, mask_images, out_dir=work_dir, size=config.person_size,
            epochs=config.person_epochs, seed=config.seed, progress=progress)
    detector = make_detector(config.detector, person_model)
    paths = [safe_image_path(root, image) for image in images]
    # Stage 1's scores do not depend on the threshold: screen once, calibrate, apply.
    screened = run_cascade(paths, images, tasks, parser=parser, detector=detector,
                           threshold=config.threshold or 0.0, progress=progress)
    screened.skipped[:0] = unusable
    screened.split = split.of(screened.images)
    # The models' own names ("keras:model.keras") do not say which trained model ran a stage.
    screened.parser_name = f"keras:{_model_name(parser_model)}"
    if person_model is not None:
        screened.detector_name = f"segmenter:{_model_name(person_model)}"
    calibration = _calibrate_threshold(root, screened, config.threshold, truth)
    screened.threshold = calibration["threshold"]
    screened.parser_flat = ~human_parsing.on_model(screened.body_share, screened.threshold)
    screened.rescreen_flat = rescreen(screened.tasks, screened.parser_flat, screened.person_found)
    classifier_model, check = None, None
    if config.classifier is not None:
        options = dict(config.classifier)
        spec = models.ModelSpec(level="length", backbone=options["backbone"],
                                variant=options["variant"], image_size=options["image_size"],
                                weights=options.get("weights") or None)
        chosen = np.asarray(screened.images)
        train, val = screened.in_split("train"), screened.in_split("validation")
        classifier_model = classifier.train_classifier(
            root, list(chosen[train]), screened.rescreen_flat[train], list(chosen[val]),
            screened.rescreen_flat[val], spec=spec, schedule=options["schedule"],
            out_dir=work_dir, val_truth=truth_flat(root, chosen[val]) if truth else None,
            batch_size=int(options.get("batch_size", 32)), seed=config.seed,
            bn_momentum=options.get("bn_momentum"), progress=progress)
        screened.classifier_flat_prob = classifier.classifier_probs(
            models.open_model_file(classifier_model),
            [safe_image_path(root, image) for image in screened.images],
            batch_size=int(options.get("batch_size", 32)))
        screened.classifier_name = f"keras:{_model_name(classifier_model)}"
        check = classifier.check_classifier(screened)
    return ScreeningRun(screened=screened, parser=parser, detector=detector,
                        parser_model=parser_model, person_model=person_model,
                        calibration=calibration, classifier_model=classifier_model,
                        classifier_check=check)


def screen_root(root: os.PathLike | str, *, work_dir: os.PathLike | str,
                parser_model: os.PathLike | str | None = None, detector: str = "auto",
                classifier_model: os.PathLike | str | None = None, threshold: float | None = None,
                parser_epochs: int = 10, person_epochs: int = 40, val_fraction: float = 0.2,
                calibration_fraction: float = CALIBRATION_FRACTION, seed: int = 0,
                progress: bool = True) -> tuple[Screened, dict, dict | None]:
    """``python -m replication screen``: screen every length image of a FashionAI-layout root, or
    every image file below a plain folder. Returns the screened images, the calibration and the
    classifier's check (None where there is none).

    On a synthetic root (with ``Truth/``) the images are split as notebook 04 splits them
    (:func:`split_images`), the default parser and the person segmenter are trained on the
    training split (or reused from ``work_dir``) and the threshold is calibrated on the
    calibration split (``detector="auto"``: the learned segmenter). Anywhere else nothing can be
    trained: stage 1 runs with ``parser_model`` if given (else it is skipped and the detector
    decides alone), the threshold is ``threshold`` or :data:`human_parsing.DEFAULT_THRESHOLD`,
    and ``detector="auto"`` means OpenCV's. A ``classifier_model`` (notebook 04's, under
    ``results/<profile>/screening/``) adds stage 3; on a synthetic root, as in notebook 04, its
    verdicts are used only where they beat the majority class on the calibration split
    (:func:`classifier.check_classifier`); elsewhere the user's classifier decides.
    """
    root = pathlib.Path(root)
    unusable: list[tuple[str, str]] = []
    images, tasks = list_images(root, unusable)
    synthetic = has_truth(root) and images and tasks[0] != ""
    if detector not in ("auto", *DETECTORS):
        raise ValueError(f"detector must be auto or one of {DETECTORS}, got {detector!r}")
    if synthetic:
        split = split_images(root, val_fraction=val_fraction, seed=seed,
                             calibration_fraction=calibration_fraction)
        config = ScreeningConfig(parser_epochs=parser_epochs, person_epochs=person_epochs,
                                 detector="segmenter" if detector == "auto" else detector,
                                 parser_model=str(parser_model or ""), threshold=threshold,
                                 classifier=None, seed=seed)
        run = screen_dataset(root, split, config=config, work_dir=work_dir, progress=progress)
        screened, calibration = run.screened, run.calibration
    else:
        if detector == "segmenter":
            raise ValueError(f"{root} has no Truth/ to train the person segmenter on: use the "
                             "opencv detector")
        parser = human_parsing.KerasHumanParser(parser_model) if parser_model else None
        value = human_parsing.DEFAULT_THRESHOLD if threshold is None else float(threshold)
        calibration = {"threshold": value if parser else None,
                       "source": ("given" if threshold is not None else "default")
                       if parser else "no parser: stage 1 skipped, the detector decides"}
        screened = run_cascade([root / image for image in images], images, tasks, parser=parser,
                               detector=make_detector("opencv"), threshold=value,
                               progress=progress)
        screened.skipped[:0] = unusable
    check = None
    if classifier_model is not None:
        screened.classifier_flat_prob = classifier.classifier_probs(
            models.open_model_file(classifier_model), [root / image for image in screened.images])
        screened.classifier_name = f"keras:{_model_name(classifier_model)}"
        if synthetic:
            check = classifier.check_classifier(screened)
    return screened, calibration, check
