"""The official FashionAI metric (DESIGN §4) and the paper's accuracy (eq. 8).

Per task: the top class ``c`` of an image is ``numpy.argmax`` of its probabilities (the first
index of the largest) and ``p`` that probability. Images whose label at ``c`` is ``m`` are dropped.
The rest are sorted by ``p``, highest first, with a stable sort: ties keep the input order, which
for :func:`evaluate` and :func:`evaluate_files` is the order of the truth rows (so how a submission
orders its lines never changes the score). With ``P_k`` = correct among the first ``k`` / ``k``:
``AP = mean(P_1..P_K)`` and ``BasicPrecision = P_K``. ``mAP`` is the mean AP over the tasks present.
``acc`` (paper eq. 8) = correct top-1 / all predictions; an ``m`` row counts as wrong unless its
top class is the ``y``.

A task whose rows are all dropped (or that has no rows) has ``ap`` and ``basic_precision`` None
(JSON null) and is left out of ``mAP`` and the mean ``basic_precision``; these are None when no
task has a scored row. ``acc`` is None only when there are no predictions at all.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from replication.data.fashionai import LABEL_CSV, DataError, LabelRow, read_answer, read_labels
from replication.data.tasks import TASKS

_N_VALUES = {t.key: t.n_values for t in TASKS}
_MAX_LISTED = 5  # truth problems listed in a DataError before "... and N more"


def _score(probs: np.ndarray, labels: Sequence[str]) -> tuple[dict, int]:
    """task_metrics' dict and the number of correct top-1 predictions (for the pooled acc)."""
    probs = np.asarray(probs, dtype=np.float64)
    n = len(labels)
    if n == 0:
        return {"ap": None, "basic_precision": None, "acc": None, "n": 0, "n_scored": 0}, 0
    if probs.ndim != 2 or probs.shape[0] != n:
        raise ValueError(f"probs has shape {probs.shape}; expected ({n}, K) for {n} labels")
    k = probs.shape[1]
    if any(len(label) != k for label in labels):
        raise ValueError(f"every label string must have {k} characters, one per probability")
    if not np.all(np.isfinite(probs)):
        # argmax would pick a NaN as the top class; refuse rather than score nonsense.
        raise ValueError("probabilities must be finite")

    return _metrics(*_tops(probs, labels))


def _tops(probs: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image: the top class's probability, whether its label there is ``y`` (correct) and
    whether it is not ``m`` (scored)."""
    chars = np.array([list(label) for label in labels], dtype="<U1")  # (N, K)
    index = np.arange(len(labels))
    top = np.argmax(probs, axis=1)  # first index of the max, as DESIGN §4 says
    top_label = chars[index, top]
    return probs[index, top], top_label == "y", top_label != "m"


def _metrics(top_prob: np.ndarray, correct: np.ndarray, scored: np.ndarray) -> tuple[dict, int]:
    """:func:`_score` from :func:`_tops`' arrays (the bootstrap redraws these, not the inputs)."""
    # Stable sort of -p: highest p first, ties in input order (DESIGN §4).
    order = np.argsort(-top_prob[scored], kind="stable")
    hits = correct[scored][order]
    n_scored = int(hits.size)
    if n_scored:
        precision_at_k = np.cumsum(hits) / np.arange(1, n_scored + 1)  # P_1..P_K
        ap: float | None = float(precision_at_k.mean())
        basic_precision: float | None = float(precision_at_k[-1])
    else:
        ap = basic_precision = None
    n = int(len(correct))
    n_correct = int(correct.sum())
    metrics = {
        "ap": ap,
        "basic_precision": basic_precision,
        "acc": n_correct / n if n else None,
        "n": n,
        "n_scored": n_scored,
    }
    return metrics, n_correct


def task_metrics(probs: np.ndarray, labels: Sequence[str]) -> dict:
    """AP, BasicPrecision and acc of one task: ``probs`` is (N, K), ``labels`` N strings of K chars.

    Returns ``{"ap", "basic_precision", "acc", "n", "n_scored"}`` with plain Python numbers;
    ``n_scored`` is the number of rows left after dropping top-class ``m`` rows. With no rows at
    all, every metric is None.
    """
    return _score(probs, labels)[0]


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def evaluate(truth: Sequence[LabelRow], predictions: Mapping[str, np.ndarray]) -> dict:
    """Score predictions (keyed by image path) against truth rows, per task and overall.

    Returns ``{"tasks": {key: task_metrics}, "mAP", "basic_precision", "acc"}`` for the tasks
    present in ``truth`` (registry order); ``basic_precision`` is the mean over tasks, ``acc`` is
    pooled over all predictions. Predictions for images not in ``truth`` are ignored (so a
    prediction set for all images can be scored on a subset); a truth row with no prediction, or
    with the wrong number of probabilities, raises ValueError.
    """
    by_task: dict[str, list[LabelRow]] = {}
    for row in truth:
        by_task.setdefault(row.task, []).append(row)
    unknown = sorted(set(by_task) - set(_N_VALUES))
    if unknown:
        raise ValueError(f"truth rows with unknown tasks: {unknown}")
    tasks: dict[str, dict] = {}
    correct = total = 0
    for task in (t.key for t in TASKS):
        rows = by_task.get(task)
        if not rows:
            continue
        n_values = _N_VALUES[task]
        matrix = np.empty((len(rows), n_values), dtype=np.float64)
        for i, row in enumerate(rows):
            if row.image not in predictions:
                raise ValueError(f"no prediction for {row.image!r} (truth row {row.row})")
            probs = np.asarray(predictions[row.image], dtype=np.float64).ravel()
            if probs.size != n_values:
                raise ValueError(
                    f"prediction for {row.image!r} (truth row {row.row}) has {probs.size} "
                    f"probabilities; {task} has {n_values}"
                )
            matrix[i] = probs
        metrics, n_correct = _score(matrix, [row.labels for row in rows])
        tasks[task] = metrics
        correct += n_correct
        total += metrics["n"]
    return {
        "tasks": tasks,
        "mAP": _mean([m["ap"] for m in tasks.values()]),
        "basic_precision": _mean([m["basic_precision"] for m in tasks.values()]),
        "acc": correct / total if total else None,
    }


def _root_and_csv(truth_csv: str | os.PathLike) -> tuple[pathlib.Path, str]:
    """A data set root and its csv: a directory means ``<dir>/Annotations/label.csv``; a file
    ``<root>/<folder>/<name>.csv`` means root ``<root>`` (the csv's parent's parent)."""
    path = pathlib.Path(truth_csv)
    if path.is_dir():
        return path, LABEL_CSV
    # Built from names, not relative_to(), so a bare "label.csv" (parent ".") works too.
    folder = path.parent.name
    return path.parent.parent, f"{folder}/{path.name}" if folder else path.name


def evaluate_files(truth_csv: str | os.PathLike, answer_csv: str | os.PathLike) -> dict:
    """Score an ``answer.csv`` against a truth ``label.csv`` (or a data set root); see :func:`evaluate`.

    Strict, as a leaderboard would be: raises :class:`DataError` naming file and row for a
    prediction of an image not in the truth, a task that differs from the truth's, a wrong number
    of probabilities, a duplicate prediction, a truth image without a prediction, and for truth
    rows that fail validation (the first few are listed). Images are not opened.
    """
    root, csv = _root_and_csv(truth_csv)
    truth, problems = read_labels(root, csv=csv, check_files=False)
    if problems:
        listed = "; ".join(f"{p.file}: row {p.row}: {p.kind}: {p.message}"
                           for p in problems[:_MAX_LISTED])
        more = f"; ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise DataError(f"truth {csv} has {len(problems)} invalid rows: {listed}{more}")

    truth_by_image = {row.image: row for row in truth}
    answer_name = str(answer_csv)
    predictions: dict[str, np.ndarray] = {}
    answer_row: dict[str, int] = {}
    for image, task, probs, line in read_answer(answer_csv):
        where = f"{answer_name}: row {line}"
        expected = truth_by_image.get(image)
        if expected is None:
            raise DataError(f"{where}: image {image!r} is not in the truth {csv}")
        if image in predictions:
            raise DataError(f"{where}: duplicate prediction for {image!r} (first in row "
                            f"{answer_row[image]})")
        if task != expected.task:
            raise DataError(f"{where}: task {task!r} differs from the truth's {expected.task!r} "
                            f"({csv} row {expected.row})")
        n_values = _N_VALUES[expected.task]
        if probs.size != n_values:
            raise DataError(f"{where}: {probs.size} probabilities; {task} has {n_values}")
        predictions[image] = probs
        answer_row[image] = line
    missing = [row for row in truth if row.image not in predictions]
    if missing:
        first = missing[0]
        raise DataError(f"{csv}: row {first.row}: image {first.image!r} has no prediction in "
                        f"{answer_name} ({len(missing)} truth rows have none)")
    return evaluate(truth, predictions)


# --------------------------------------------------------------------------- statistics over scores


def score(rows: Sequence[LabelRow], predictions: Mapping[str, Mapping[str, Any]]) -> dict:
    """The official metric (§4) of ``{image: {task: probs}}`` predictions on labelled rows."""
    return evaluate(rows, {row.image: predictions[row.image][row.task] for row in rows})


def bootstrap_gap(rows: Sequence[LabelRow], first: Mapping[str, Mapping[str, Any]],
                  second: Mapping[str, Mapping[str, Any]], *, metric: str = "mAP",
                  resamples: int = 1000, seed: int = 0) -> dict:
    """How far a difference of scores is from noise: ``metric`` of the ``first`` predictions minus
    that of the ``second`` on ``rows``, with its 95 % bootstrap interval.

    Each resample draws the rows of every task with replacement (so every task keeps its count)
    and scores both prediction sets on that same draw. Returns ``{"gap", "low", "high",
    "share_positive", "resamples"}``; ``share_positive`` is the share of resamples in which
    ``first`` scores higher. An interval that holds 0 says the validation split cannot tell the
    two apart.
    """
    by_task: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_task.setdefault(row.task, []).append(i)
    order = [t.key for t in TASKS if t.key in by_task]  # score()'s task order

    def tops(predictions: Mapping[str, Mapping[str, Any]]) -> dict:
        # The top class of every row, once: a resample only redraws rows (same result as
        # scoring each drawn set with score(), in a fraction of the time).
        return {task: _tops(np.asarray([predictions[rows[i].image][task] for i in members],
                                       dtype=np.float64), [rows[i].labels for i in members])
                for task, members in by_task.items()}

    def value(top: dict, draw: Mapping[str, np.ndarray]) -> float:
        tasks = {task: _metrics(*(a[draw[task]] for a in top[task])) for task in order}
        if metric == "acc":
            return sum(c for _, c in tasks.values()) / sum(m["n"] for m, _ in tasks.values())
        name = {"mAP": "ap", "basic_precision": "basic_precision"}[metric]
        return float(_mean([m[name] for m, _ in tasks.values()]))

    if metric not in ("mAP", "acc", "basic_precision"):
        raise ValueError(f"metric {metric!r}: use mAP, acc or basic_precision")
    # The gap itself through score(), which checks every prediction (count, finite values).
    gap = float(score(rows, first)[metric]) - float(score(rows, second)[metric])
    first_tops, second_tops = tops(first), tops(second)
    rng = np.random.default_rng(seed)
    gaps = []
    for _ in range(resamples):
        # Positions within each task, drawn as score() on the drawn rows would see them.
        draw = {task: rng.choice(len(members), size=len(members), replace=True)
                for task, members in by_task.items()}
        gaps.append(value(first_tops, draw) - value(second_tops, draw))
    gaps = np.asarray(gaps, dtype=float)
    low, high = (np.quantile(gaps, [0.025, 0.975]) if resamples else (float("nan"),) * 2)
    return {"gap": gap, "low": float(low), "high": float(high),
            "share_positive": float(np.mean(gaps > 0)) if resamples else float("nan"),
            "resamples": int(resamples)}


def bootstrap_mean(values: Sequence[float], *, resamples: int = 1000, seed: int = 0) -> dict:
    """The mean of ``values`` (e.g. 1/0 per image for an accuracy) with its 95 % bootstrap
    interval: ``{"value", "low", "high", "resamples"}`` (NaN bounds for no values)."""
    values = np.asarray(values, dtype=float)
    if not len(values):
        return {"value": float("nan"), "low": float("nan"), "high": float("nan"),
                "resamples": int(resamples)}
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return {"value": float(values.mean()), "low": float(low), "high": float(high),
            "resamples": int(resamples)}
