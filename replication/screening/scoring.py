"""Every stage of the flat-lay / on-model screening (paper §3.2) scored against the truth.

The paper could not score its screening; the synthetic set knows every image's truth, so here
each stage is: the parser per LIP class (:func:`score_parser`, intersection over union), the
person detectors (:func:`score_detectors`: a person is present exactly in the on-model images),
the three stages' flat-lay verdicts per length dimension (:func:`stage_scores`: precision and
recall of *flat-lay*, the class the screening has to find, and accuracy), and the per-image
evidence behind the paper's claims about them (:func:`stage1_leftovers`,
:func:`rescreen_removals`, :func:`classifier_correct`), from which the book bootstraps their
intervals. :func:`summary` counts a screening's verdicts for a report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from replication.data import fashionai
from replication.data.tasks import get_task
from replication.learning import models
from replication.screening import human_parsing, segmentation
from replication.screening.cascade import STAGES, Screened
from replication.screening.person_detection import PersonDetector, make_detector, person_found


def truth_flat(root: os.PathLike | str, images: Sequence[str]) -> np.ndarray:
    """The synthetic set's flat-lay truth of ``images``."""
    return models.TruthFlatFlags(root)(list(images))


def _rates(predicted: np.ndarray, truth: np.ndarray) -> dict:
    predicted, truth = np.asarray(predicted, dtype=bool), np.asarray(truth, dtype=bool)
    tp = int(np.sum(predicted & truth))
    fp = int(np.sum(predicted & ~truth))
    fn = int(np.sum(~predicted & truth))
    tn = int(np.sum(~predicted & ~truth))
    n = tp + fp + fn + tn
    return {"n": n, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / (tp + fn) if tp + fn else float("nan"),
            "accuracy": (tp + tn) / n if n else float("nan")}


def stage_scores(tasks: Sequence[str], truth_flat: np.ndarray,
                 stages: Mapping[str, np.ndarray | None]) -> list[dict]:
    """Every stage against truth, per dimension and over all (``task`` = ``"all"``): counts,
    precision and recall of *flat-lay* (the class the screening must find) and accuracy. A stage
    given as None (it did not run) is left out."""
    tasks = np.asarray(tasks)
    out = []
    for stage, predicted in stages.items():
        if predicted is None:
            continue
        predicted = np.asarray(predicted, dtype=bool)
        for task in [*sorted(set(tasks.tolist())), "all"]:
            keep = np.ones(len(tasks), bool) if task == "all" else tasks == task
            out.append({"stage": stage, "task": task,
                        **_rates(predicted[keep], np.asarray(truth_flat)[keep])})
    return out


def validation_stage_scores(screened: Screened, val: np.ndarray,
                            truth: np.ndarray) -> list[dict]:
    """:func:`stage_scores` of every stage that ran (in ``cascade.STAGES`` order) on the
    validation images (``val``, a mask over ``screened.images``), each length dimension by its
    short name (``coat``, ...); ``truth`` is the flat-lay truth of all screened images."""
    val = np.asarray(val, dtype=bool)
    stages = {s: None if screened.stage(s) is None else screened.stage(s)[val] for s in STAGES}
    rows = stage_scores(np.asarray(screened.tasks)[val], np.asarray(truth)[val], stages)
    return [{**row, "task": row["task"] if row["task"] == "all" else get_task(row["task"]).short}
            for row in rows]


def score_parser(parser: human_parsing.HumanParser, root: os.PathLike | str,
                 images: Sequence[str]) -> dict[str, float]:
    """The parser's IoU per LIP class (and ``mean``) on ``images`` of a synthetic ``root``,
    against their part masks, at the parser's input size (``human_parsing.parsing_iou``)."""
    x, parts, _ = segmentation.load_masked_images(root, list(images), parser.size,
                                                  progress=False)
    return human_parsing.parsing_iou(parser.parse(list(x)), parts)


def score_detector(found: np.ndarray, truth_flat: np.ndarray) -> dict:
    """A person detector's verdicts (``found``) against the truth: a person is present exactly
    in the on-model images. Accuracy, on-model images found and missed, flat-lays with a person."""
    found, on_model = np.asarray(found, dtype=bool), ~np.asarray(truth_flat, dtype=bool)
    return {"accuracy": float(np.mean(found == on_model)),
            "on-model found": int(np.sum(found & on_model)),
            "on-model missed": int(np.sum(~found & on_model)),
            "person in a flat-lay": int(np.sum(found & ~on_model))}


def score_detectors(root: os.PathLike | str, images: Sequence[str], *,
                    segmenter: PersonDetector | None = None) -> dict[str, dict]:
    """Stage 2's detectors on ``images`` of a synthetic ``root`` (:func:`score_detector`):
    OpenCV's, and the learned person segmenter where one is given (the cascade's own)."""
    arrays = [np.asarray(fashionai.load_image(fashionai.safe_image_path(root, image)))
              for image in images]
    truth = truth_flat(root, images)
    detectors = {"opencv": make_detector("opencv")}
    if segmenter is not None:
        detectors["segmenter"] = segmenter
    return {name: score_detector(person_found(detector.detect(arrays)), truth)
            for name, detector in detectors.items()}


def stage1_leftovers(screened: Screened, val: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """§3.2's "many flat-lays among the on-model images" of stage 1, per image: the flat-lay
    truth of every image of ``val`` (a mask over ``screened.images``) that stage 1 called
    on-model. Its mean is the share of flat-lays among them."""
    val = np.asarray(val, dtype=bool)
    on_model = ~screened.parser_flat[val]
    return np.asarray(truth, dtype=bool)[val][on_model]


def rescreen_removals(screened: Screened, val: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """What the re-screen (stage 2) did to the flat-lays stage 1 left on-model, per image of
    ``val``: +1 a flat-lay stage 1 called on-model and stage 2 calls flat, -1 a flat-lay stage 1
    called flat and stage 2 on-model (skirt and pant: the detector alone decides), 0 otherwise.
    Its mean is (flat-lays left on-model by stage 1 - by stage 2) / images."""
    val = np.asarray(val, dtype=bool)
    flat = np.asarray(truth, dtype=bool)[val]
    left1 = flat & ~screened.parser_flat[val]
    left2 = flat & ~screened.rescreen_flat[val]
    return left1.astype(int) - left2.astype(int)


def classifier_correct(predicted_flat: np.ndarray, screened: Screened,
                       val: np.ndarray) -> np.ndarray:
    """Per image of ``val``, whether the classifier's verdict (``predicted_flat``, one per
    validation image in ``screened`` order: ``classifier.stage_predictions``) agrees with the
    cascade's label, the label it was trained on (what the paper could measure)."""
    labels = screened.rescreen_flat[np.asarray(val, dtype=bool)]
    predicted = np.asarray(predicted_flat, dtype=bool)
    if predicted.shape != labels.shape:
        raise ValueError(f"{len(predicted)} classifier verdicts for {len(labels)} validation images")
    return predicted == labels


def summary(screened: Screened) -> dict:
    """Counts for a report: images, flat-lay and on-model, per deciding stage, skipped."""
    decided: dict[str, int] = {}
    for stage in screened.decided_by():
        decided[stage] = decided.get(stage, 0) + 1
    flat = screened.flat
    return {"images": len(screened.images), "flat_lay": int(np.sum(flat)),
            "on_model": int(len(flat) - np.sum(flat)), "decided_by": decided,
            "skipped": len(screened.skipped), "threshold": screened.threshold,
            "classifier_used": (screened.classifier_used
                                if screened.classifier_flat_prob is not None else None)}
