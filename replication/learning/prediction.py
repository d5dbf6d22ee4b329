"""Prediction (paper §3.4): flip test-time augmentation, the doubleNet ensemble, answer.csv.

- **Flip TTA.** Each image and its horizontal mirror go through a model; the two probability
  vectors are averaged ("the original and the horizontally flipped image ... the two results are
  added and averaged").
- **doubleNet.** Models are combined by a weighted sum of their (flip-averaged) probabilities,
  the weights summing to 1; the paper uses Inception-v4 and InceptionResNet-v2 at 0.5 / 0.5.
  Any number of models works. Models with the same heads form one ensemble; models of different
  levels (a design and a length model) may be passed together, each level's models then being
  one ensemble whose weights sum to 1, so one call answers a whole ``question.csv``.
- **answer.csv.** :func:`write_submission` writes the FashionAI submission format through
  :func:`replication.data.fashionai.write_answer`; :func:`replication.data.metric.evaluate_files` scores it.

A model file is only ever opened with :func:`replication.learning.models.load_model` (Keras safe mode, the
``.keras`` format, no pickle). Everything prediction needs is inside the file: image size (the
``image`` input's shape), tasks (the ``head_<short>`` outputs), preprocessing (the model's first
layer) and whether it is dual-channel (a ``flat`` input, fed from a :class:`FlatFlags`).
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import pathlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
from tqdm import tqdm

from replication.data import fashionai
from replication.learning import models
from replication.data.fashionai import DataError, LabelRow
from replication.learning.models import FlatFlags, describe, load_model
from replication.data.tasks import get_task
from replication.learning.inputs import ImageBatches

__all__ = ["check_weights", "load_model", "loaded_model", "model_probs", "predict_batches",
           "predict_main", "predict_probs", "write_submission"]

WEIGHT_TOLERANCE = 1e-6


MODEL_CACHE_SIZE = 8
"""How many loaded model files :func:`loaded_model` keeps (the doubleNet of both levels is 4)."""
_LOADED: "collections.OrderedDict[tuple, keras.Model]" = collections.OrderedDict()


def loaded_model(path: str | os.PathLike) -> keras.Model:
    """The model in a ``.keras`` file, loaded once (:func:`models.load_model`) and kept while it
    is among the last :data:`MODEL_CACHE_SIZE` used: a chapter that scores the same model
    several times (each net alone, then in the doubleNet; with and without flip TTA) loads it
    once and reuses its prediction function, which would otherwise be traced again for every
    load. A file rewritten since (another size or time) is loaded afresh."""
    resolved = pathlib.Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    if key in _LOADED:
        _LOADED.move_to_end(key)
        return _LOADED[key]
    model = load_model(resolved)
    _LOADED[key] = model
    while len(_LOADED) > MODEL_CACHE_SIZE:
        _LOADED.popitem(last=False)
    return model


def model_probs(model: keras.Model, paths: Sequence[str | os.PathLike], *,
                flags: np.ndarray | None = None, flip_tta: bool = True, batch_size: int = 32,
                workers: int | None = None, progress: bool = False) -> dict[str, np.ndarray]:
    """One model's probabilities for image files: ``{task key: (N, K) float64}``, every head.

    With ``flip_tta`` each probability is the mean of the image's and its mirror's (§3.4); the
    loader (:class:`replication.learning.inputs.ImageBatches`, decoding ahead in threads) reads
    each image once and appends its mirror. ``flags`` (N bools) feed a dual-channel model's
    ``flat`` input. The model runs through :func:`predict_batches` (one input shape, one trace).
    """
    info = describe(model)
    if info.dual and flags is None:
        raise ValueError(f"model {model.name!r} is dual-channel: it needs flat/on-model flags")
    if len(paths) == 0:
        return {t.key: np.zeros((0, t.n_values)) for t in info.tasks}
    batches = ImageBatches(paths, image_size=info.image_size, batch_size=batch_size,
                           flags=flags if info.dual else None, flip=flip_tta, workers=workers)
    parts: dict[str, list[np.ndarray]] = {t.key: [] for t in info.tasks}
    for i, outputs in enumerate(predict_batches(model, batches, progress=progress)):
        b = len(batches.batch_indices(i))
        for task in info.tasks:
            p = np.asarray(outputs[models.head_name(task)], dtype=np.float64)
            # With flip TTA the batch's rows are its b images, then their b mirrors.
            parts[task.key].append((p[:b] + p[b:]) / 2 if flip_tta else p)
    return {key: np.concatenate(chunks) for key, chunks in parts.items()}


def predict_batches(model: keras.Model, batches: ImageBatches, *, progress: bool = False):
    """The model's outputs (a dict by output name, or an array) for each batch of ``batches``
    in order, decoded ahead in the loader's worker threads.

    The model always sees batches of one shape, ``min(batch_size, N)`` rows, a short last batch
    padded (the padding's outputs dropped), and a batch with mirrors (``batches.flip``) goes
    through as its images, then its mirrors: so the model's prediction function is traced once
    per model and input shape, with flip TTA or without, instead of again for every other batch
    size. (TensorFlow warned of "retracing" on every chapter page; each trace of a small
    Inception costs seconds on a CPU.) Use it with :func:`loaded_model` for model files.
    """
    rows = min(batches.batch_size, len(batches.order))
    bar = tqdm(total=len(batches), desc="predict", unit="batch", file=sys.stderr,
               leave=False, disable=not progress)
    for i, (x,) in _read_ahead(batches):
        b = len(batches.batch_indices(i))
        halves = [_rows(x, 0, b), _rows(x, b, 2 * b)] if batches.flip else [x]
        outputs = [_predict_padded(model, half, b, rows) for half in halves]
        bar.update(1)
        if isinstance(outputs[0], Mapping):
            yield {name: np.concatenate([out[name] for out in outputs]) for name in outputs[0]}
        else:
            yield np.concatenate(outputs)
    bar.close()


def _rows(x, start: int, stop: int):
    """Rows ``start:stop`` of a batch's input (an array, or ``{"image", "flat"}``)."""
    if isinstance(x, Mapping):
        return {name: value[start:stop] for name, value in x.items()}
    return x[start:stop]


def _predict_padded(model: keras.Model, x, b: int, rows: int):
    """The model's outputs for the ``b`` rows of ``x``, run as a batch of ``rows`` rows (zeros
    below): one input shape, one trace of the prediction function."""
    def pad(value: np.ndarray) -> np.ndarray:
        if b == rows:
            return value
        padding = np.zeros((rows - b, *value.shape[1:]), dtype=value.dtype)
        return np.concatenate([value, padding])

    padded = {k: pad(v) for k, v in x.items()} if isinstance(x, Mapping) else pad(x)
    outputs = model.predict_on_batch(padded)
    if isinstance(outputs, Mapping):
        return {name: np.asarray(value)[:b] for name, value in outputs.items()}
    return np.asarray(outputs)[:b]


def _read_ahead(batches: ImageBatches):
    """``(i, batches[i])`` in order, decoded ahead in the loader's worker threads (at most twice
    as many batches in memory as workers; Pillow releases the GIL while it decodes)."""
    workers = max(1, int(batches.workers))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        pending: collections.deque = collections.deque()
        submitted = 0
        for i in range(len(batches)):
            while submitted < len(batches) and len(pending) < 2 * workers:
                pending.append(pool.submit(batches.__getitem__, submitted))
                submitted += 1
            yield i, pending.popleft().result()


def check_weights(weights: Sequence[float] | None, n: int) -> np.ndarray:
    """Ensemble weights as an array: ``n`` non-negative numbers summing to 1 (None: equal)."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(list(weights), dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"{len(w)} ensemble weights for {n} models; give one weight per model")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"ensemble weights must be non-negative numbers, got {w.tolist()}")
    if abs(w.sum() - 1.0) > WEIGHT_TOLERANCE:
        raise ValueError(f"ensemble weights must sum to 1 (paper §3.4), got {w.tolist()} "
                         f"(sum {w.sum():g})")
    return w


def blend(predictions: Sequence[Mapping[str, Mapping[str, Any]]], weights: Sequence[float]) -> dict:
    """The weighted mean of several models' ``{image: {task: probs}}`` (an ensemble computed from
    stored predictions, e.g. for a sweep over ensemble weights). Weights must sum to 1."""
    w = check_weights(weights, len(predictions))
    first = predictions[0]
    return {image: {task: sum(wi * p[image][task] for wi, p in zip(w, predictions))
                    for task in first[image]}
            for image in first}


def _groups(infos: Sequence[models.ModelInfo], weights: Sequence[float] | None
            ) -> list[tuple[list[int], np.ndarray]]:
    """Models with the same heads form one ensemble; its weights must sum to 1."""
    by_tasks: dict[tuple[str, ...], list[int]] = {}
    for i, info in enumerate(infos):
        by_tasks.setdefault(tuple(t.key for t in info.tasks), []).append(i)
    seen: dict[str, tuple[str, ...]] = {}
    for key in by_tasks:
        for task in key:
            if task in seen:
                raise ValueError(f"models with different heads both predict {task} "
                                 f"({list(seen[task])} vs {list(key)}); an ensemble's models "
                                 "must have the same heads")
            seen[task] = key
    if weights is not None and len(weights) != len(infos):
        raise ValueError(f"{len(weights)} ensemble weights for {len(infos)} models; give one "
                         "weight per model")
    groups = []
    for key, members in by_tasks.items():
        w = None if weights is None else [weights[i] for i in members]
        try:
            groups.append((members, check_weights(w, len(members))))
        except ValueError as error:
            tasks = ", ".join(get_task(k).short for k in key)
            raise ValueError(f"ensemble of the models {[i + 1 for i in members]} ({tasks}): "
                             f"{error}") from None
    return groups


def predict_probs(
    model_list: Sequence[keras.Model | str | os.PathLike],
    weights: Sequence[float] | None,
    inputs: Sequence[LabelRow | str | os.PathLike],
    root: str | os.PathLike | None = None,
    *,
    flags: FlatFlags | None = None,
    flip_tta: bool = True,
    batch_size: int = 32,
    workers: int | None = None,
    progress: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    """The ensemble's probabilities: ``{image: {task key: probs}}`` (§3.4).

    ``model_list`` holds models or ``.keras`` paths; ``weights`` one per model, each ensemble's
    summing to 1 (None: equal weights). ``inputs`` are rows of a label or question CSV (their
    images under ``root``; only the row's own task is predicted) or image file paths (every task
    of every ensemble is predicted; the key is the path as given). Each model runs on every image
    it has a head for at its own input size, with flip TTA unless ``flip_tta`` is False.
    ``flags`` feed dual-channel models.
    """
    loaded = [m if isinstance(m, keras.Model) else loaded_model(m) for m in model_list]
    if not loaded:
        raise ValueError("at least one model is needed")
    infos = [describe(m) for m in loaded]
    groups = _groups(infos, weights)
    keys, paths, row_tasks = [], [], []
    for item in inputs:
        if isinstance(item, LabelRow):
            if root is None:
                raise ValueError("rows name images relative to a data set root; pass root")
            keys.append(item.image)
            paths.append(fashionai.safe_image_path(root, item.image))
            row_tasks.append(item.task)
        else:
            keys.append(os.fspath(item))
            paths.append(pathlib.Path(item))
            row_tasks.append(None)
    covered = {t.key for info in infos for t in info.tasks}
    missing = sorted({t for t in row_tasks if t is not None} - covered)
    if missing:
        raise ValueError(f"no model has a head for the tasks {missing} of the input rows")

    result: dict[str, dict[str, np.ndarray]] = {key: {} for key in keys}
    for members, w in groups:
        tasks = {t.key for t in infos[members[0]].tasks}
        chosen = [i for i, task in enumerate(row_tasks) if task is None or task in tasks]
        if not chosen:
            continue
        chosen_paths = [paths[i] for i in chosen]
        flat = None
        if any(infos[m].dual for m in members):
            if flags is None:
                raise ValueError("a dual-channel model needs flat/on-model flags: pass flags "
                                 "(e.g. models.TruthFlatFlags(root) on the synthetic set)")
            flat = flags([keys[i] for i in chosen])
        total = None
        for member, weight in zip(members, w):
            probs = model_probs(loaded[member], chosen_paths, flags=flat, flip_tta=flip_tta,
                                batch_size=batch_size, workers=workers, progress=progress)
            total = ({k: weight * v for k, v in probs.items()} if total is None
                     else {k: total[k] + weight * v for k, v in probs.items()})
        for j, i in enumerate(chosen):
            for task, matrix in total.items():
                if row_tasks[i] is None or row_tasks[i] == task:
                    result[keys[i]][task] = matrix[j]
    return result


def write_submission(path: str | os.PathLike, rows: Sequence[LabelRow],
                     predictions: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Write ``answer.csv`` (DESIGN §3) for ``rows`` in their order from :func:`predict_probs`'
    output (merged dicts of several calls work too). Raises ValueError for a row without one."""
    lines = []
    for row in rows:
        probs = predictions.get(row.image, {}).get(row.task)
        if probs is None:
            raise ValueError(f"no prediction for {row.image} ({row.task})")
        lines.append((row.image, row.task, probs))
    fashionai.write_answer(path, lines)


def _read_inputs(inputs: Sequence[str | os.PathLike], root: str | os.PathLike | None
                 ) -> tuple[list[LabelRow | str], pathlib.Path | None]:
    """Image paths as they are; a ``.csv`` becomes its rows (FashionAI layout: images relative to
    ``root``, default the CSV's folder's parent, as ``<root>/Tests/question.csv``)."""
    items: list[LabelRow | str] = []
    csv_root = None
    for item in inputs:
        path = pathlib.Path(item)
        if path.suffix.lower() != ".csv":
            if not path.is_file():
                raise DataError(f"{path}: image not found")
            items.append(os.fspath(item))
            continue
        base = pathlib.Path(root) if root is not None else path.parent.parent
        try:
            csv = path.resolve().relative_to(base.resolve())
        except ValueError:
            raise DataError(f"{path}: the CSV must lie under the data set root {base}") from None
        rows, problems = fashionai.read_questions(base, csv=csv)
        if problems:
            first = problems[0]
            raise DataError(f"{first.file}: row {first.row}: {first.kind}: {first.message} "
                            f"({len(problems)} unusable rows)")
        if csv_root is not None and csv_root != base:
            raise DataError("all CSV inputs must share one data set root")
        csv_root = base
        items.extend(rows)
    return items, csv_root


def predict_main(model_paths: Sequence[str | os.PathLike], weights: Sequence[float] | None,
                 inputs: Sequence[str | os.PathLike], root: str | os.PathLike | None = None, *,
                 flags: FlatFlags | None = None, answer: str | os.PathLike | None = None,
                 flip_tta: bool = True, batch_size: int = 32, workers: int | None = None,
                 progress: bool = False) -> list[dict]:
    """``python -m replication predict``: one JSON-ready record per image and task.

    ``inputs`` are image files and/or ``question.csv`` files (rows in FashionAI layout; their
    images relative to ``root``, by default the CSV's folder's parent). A record is ``{"image",
    "task", "value" (the top value's name), "value_index", "probabilities": {value name: p}}``;
    a CSV row gives a record for its own task, an image file one per task the models predict.
    ``answer`` also writes the CSV rows' ``answer.csv``. Raises ModelFileError, DataError or
    ValueError with a message for the user.
    """
    items, csv_root = _read_inputs(inputs, root)
    if answer is not None and not any(isinstance(item, LabelRow) for item in items):
        raise ValueError("answer.csv is written for question.csv rows; no CSV was given")
    predictions = predict_probs(model_paths, weights, items, csv_root, flags=flags,
                                flip_tta=flip_tta, batch_size=batch_size, workers=workers,
                                progress=progress)
    if answer is not None:
        write_submission(answer, [item for item in items if isinstance(item, LabelRow)],
                         predictions)
    records = []
    for item in items:
        key = item.image if isinstance(item, LabelRow) else os.fspath(item)
        for task_key, probs in predictions[key].items():
            task = get_task(task_key)
            top = int(np.argmax(probs))
            records.append({
                "image": key, "task": task_key, "value": task.values[top], "value_index": top,
                "probabilities": {name: float(p) for name, p in zip(task.values, probs)},
            })
    return records
