"""Every stage of the flat-lay / on-model screening (paper §3.2) scored against the truth.

The paper could not score its screening; the synthetic set knows every image's truth, so here
each stage is: the parser per LIP class (:func:`score_parser`, intersection over union), the
person detectors (:func:`score_detectors`: a person is present exactly in the on-model images),
the three stages' flat-lay verdicts per length dimension (:func:`stage_scores`: precision and
recall of *flat-lay*, the class the screening has to find, and accuracy), and the paper's claims
about them (:func:`paper_claims`). :func:`summary` counts a screening's verdicts for a report.
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
from replication.screening.classifier import PAPER_CLASSIFIER_ACCURACY
from replication.screening.person_detection import make_detector, person_found


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
                    person_model: os.PathLike | str | None = None) -> dict[str, dict]:
    """Stage 2's detectors on ``images`` of a synthetic ``root`` (:func:`score_detector`):
    OpenCV's, and the learned person segmenter where its ``person_model`` is given."""
    arrays = [np.asarray(fashionai.load_image(fashionai.safe_image_path(root, image)))
              for image in images]
    truth = truth_flat(root, images)
    detectors = {"opencv": make_detector("opencv")}
    if person_model is not None:
        detectors["segmenter"] = make_detector("segmenter", person_model)
    return {name: score_detector(person_found(detector.detect(arrays)), truth)
            for name, detector in detectors.items()}


def paper_claims(screened: Screened, val: np.ndarray, history: Sequence[Mapping],
                 truth: np.ndarray | None = None) -> list[dict]:
    """§3.2's claims beside what this screening measured on the validation images (``val``, a
    mask over ``screened.images``): ``{"claim", "measured", "agrees"}`` each. ``history`` is the
    classifier's (``classifier.history_table``); without ``truth`` (the flat-lay truth of all
    screened images) only the classifier's claim, against the cascade's labels, can be judged."""
    final_acc = history[-1]["val_acc_vs_cascade"]
    paper = PAPER_CLASSIFIER_ACCURACY[max(PAPER_CLASSIFIER_ACCURACY)]  # the last stage's: 0.957
    claims = []
    if truth is not None:
        val_truth = np.asarray(truth)[val]
        on1 = ~screened.parser_flat[val]
        on2 = ~screened.rescreen_flat[val]
        left1 = int(np.sum(on1 & val_truth))
        left2 = int(np.sum(on2 & val_truth))
        claims.append(("stage 1 leaves flat-lays among its on-model images",
                       f"{left1} of {int(on1.sum())} stage-1 on-model images are flat-lays",
                       left1 > 0))
        claims.append(("the re-screen (stage 2) removes such flat-lays",
                       f"{left1} before, {left2} after", left2 < left1))
        truth_acc = float(history[-1]["val_acc_vs_truth"])
        claims.append((f"the classifier reaches accuracy {paper}",
                       f"{final_acc:.3f} vs the cascade's labels, {truth_acc:.3f} vs truth",
                       final_acc >= paper))
    else:
        claims.append((f"the classifier reaches accuracy {paper}",
                       f"{final_acc:.3f} vs the cascade's labels",
                       final_acc >= paper))
    return [{"claim": c, "measured": m, "agrees": bool(ok)} for c, m, ok in claims]


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
