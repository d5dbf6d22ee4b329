"""Training: the paper's staged optimiser schedule (§3.2, §3.3), streamed from disk, resumable.

The schedule is data: a list of :class:`Stage` (optimizer, learning rate, epochs, how much of the
base net trains). :data:`PAPER_SCHEDULE` is the paper's: Adam 1e-3 for 3 epochs on a frozen base
net, then Adam 2.5e-5 and 7.5e-6, then SGD 4.5e-6 and 1e-6 (§3.2 gives these numbers for the
screening classifier; §3.3.1 and §3.3.2 train the recognition models the same way: "freeze the
network layers ... then Adam combined with SGD fine-tunes"). The profiles' schedules live in
:mod:`replication.book.profiles`.

:func:`train` streams images from disk with :class:`ImageBatches` (a ``keras.utils.PyDataset``:
(:mod:`replication.learning.inputs`: decoding in worker
threads, batches prefetched), recompiles at each stage, writes
``<out_dir>/checkpoints/stage_<k>.keras`` and ``<out_dir>/state.json`` after every stage and
``<out_dir>/log.csv`` after every epoch, and when rerun with the same ``out_dir`` resumes after the
last completed stage. Each stage starts from seeds derived from ``(seed, stage)`` alone, and each
epoch's shuffle from ``(seed, stage, epoch)``, so an interrupted and resumed run computes the same
numbers as an uninterrupted one (on CPU, bit for bit). Mixed precision is used where a GPU is.

Only Keras 3 APIs are used (no TensorFlow, no tf.data): this runs on the JAX backend too.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import pathlib
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict

import keras
import numpy as np
from tqdm import tqdm

from replication.data.fashionai import LabelRow, safe_image_path
from replication.data.tasks import Task
from replication.learning import models
from replication.learning.inputs import Augment, ImageBatches, default_workers
from replication.learning.models import FlatFlags, ModelSpec
from replication.learning.prediction import model_probs
from replication.learning.schedule import PAPER_SCHEDULE, Stage, parse_schedule

STATE_JSON = "state.json"
LOG_CSV = "log.csv"
CHECKPOINTS = "checkpoints"
FINAL_MODEL = "model.keras"
STATE_FORMAT = 1


class TrainingStateError(ValueError):
    """``out_dir`` holds a run that this call must not continue (different spec, schedule, data)."""


def make_optimizer(stage: Stage) -> keras.optimizers.Optimizer:
    if stage.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=stage.learning_rate)
    return keras.optimizers.SGD(learning_rate=stage.learning_rate)


def compile_for_stage(model: keras.Model, stage: Stage) -> None:
    """Compile for one stage: the stage's optimizer, and per head the masked multi-task loss.

    Each head's loss is ``CategoricalCrossentropy(reduction="mean_with_sample_weight")`` with the
    0/1 sample weights of :func:`replication.learning.models.masked_targets` (the mean over the batch's rows
    of that head's task); the total is their sum. Accuracy per head is a weighted metric, so it
    counts only the head's own rows.
    """
    heads = [models.head_name(t) for t in models.describe(model).tasks]
    model.compile(
        optimizer=make_optimizer(stage),
        loss={h: keras.losses.CategoricalCrossentropy(reduction="mean_with_sample_weight")
              for h in heads},
        weighted_metrics={h: [keras.metrics.CategoricalAccuracy(name="acc")] for h in heads},
    )


# --------------------------------------------------------------------------- helpers


def gpu_available() -> bool:
    """Whether the Keras backend sees a GPU (asked through Keras, so no backend is imported)."""
    try:
        return bool(keras.distribution.list_devices("gpu"))
    except Exception:  # noqa: BLE001 - a backend without GPU support raises instead of []
        return False


def _reseed(model: keras.Model, seed: Sequence[int]) -> None:
    """Reset every random layer's generator (Dropout) to a state derived from ``seed``.

    The generators' states are not saved in a ``.keras`` file, so without this a resumed run
    would drop different units than an uninterrupted one.
    """
    generators = []
    stack = list(model.layers)
    while stack:
        layer = stack.pop(0)
        if isinstance(layer, keras.Model):
            stack = list(layer.layers) + stack
            continue
        for value in vars(layer).values():
            if isinstance(value, keras.random.SeedGenerator):
                generators.append(value)
    for j, generator in enumerate(generators):
        value = int(np.random.default_rng([*seed, j]).integers(2**31 - 1))
        state = generator.state
        state.assign(np.array([value, 0], dtype=keras.backend.standardize_dtype(state.dtype)))


def _restart_optimizer(optimizer: keras.optimizers.Optimizer, fresh_state: list[np.ndarray],
                       learning_rate: float) -> None:
    """Put an optimizer back into the state it had when built (iterations and moments zero,
    loss scale initial), with a new learning rate: a fresh optimizer of the same class."""
    for variable, value in zip(optimizer.variables, fresh_state, strict=True):
        variable.assign(value)
    optimizer.learning_rate = learning_rate


def _image_paths(root: str | os.PathLike, rows: Sequence[LabelRow]) -> list[pathlib.Path]:
    return [safe_image_path(root, row.image) for row in rows]


def _fingerprint(rows: Sequence[LabelRow], flags: np.ndarray | None) -> str:
    digest = hashlib.sha256()
    for i, row in enumerate(rows):
        flag = "" if flags is None else str(int(flags[i]))
        digest.update(f"{row.image}\t{row.task}\t{row.labels}\t{flag}\n".encode())
    return digest.hexdigest()


SPEC_PATHS = ("weights", "flat_model", "onmodel_model", "base_model")
"""The fields of a spec that name files: base net weights, a dual-channel model's branches, the
model a single-channel run starts from (chapter 5's flagged control)."""


def portable_spec(spec: Mapping, out_dir: str | os.PathLike) -> dict:
    """``spec`` (a ``ModelSpec.to_dict()``) as ``state.json`` records it: a file in a sibling
    run's folder (a dual-channel model's branch, under ``out_dir``'s parent) relative to
    ``out_dir``, so that a home moved or copied elsewhere still resumes its runs instead of
    refusing them as different; any other file (the user's weights) as given."""
    out = pathlib.Path(out_dir).resolve()
    portable = dict(spec)
    for key in SPEC_PATHS:
        value = portable.get(key)
        if value and pathlib.Path(value).is_absolute() and \
                pathlib.Path(value).resolve().is_relative_to(out.parent):
            portable[key] = pathlib.Path(os.path.relpath(pathlib.Path(value).resolve(),
                                                         out)).as_posix()
    return portable


def weights_digest(path: str | os.PathLike) -> str:
    """The sha256 of a base net's weight file: a run records it, so that a file rewritten with
    other weights under the same name (chapter 0 rerun with other settings) is never taken for
    the one the run started from."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _temporary(path: pathlib.Path) -> pathlib.Path:
    """A name beside ``path`` for writing it and renaming it into place: a kill never leaves half
    a file, and no other process writing the same file shares the name."""
    return path.with_name(f"{path.stem}.{os.getpid()}.tmp{path.suffix}")


def _write_json(path: pathlib.Path, data: dict) -> None:
    tmp = _temporary(path)
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _save_model(model: keras.Model, path: pathlib.Path) -> None:
    tmp = _temporary(path)
    model.save(tmp)
    os.replace(tmp, path)


def _publish(checkpoint: pathlib.Path, final: pathlib.Path) -> None:
    """Copy the last stage's checkpoint to ``model.keras``, atomically."""
    tmp = _temporary(final)
    shutil.copyfile(checkpoint, tmp)
    os.replace(tmp, final)


def log_columns(tasks: Sequence[Task]) -> list[str]:
    """Columns of ``log.csv``: one row per epoch.

    ``loss`` is the training objective (sum over heads of each head's mean cross entropy over its
    own rows), ``<short>_loss`` / ``<short>_acc`` Keras's running means over the epoch's batches;
    ``val_*`` are computed after the epoch on the validation rows with the official metric (§4):
    ``val_loss`` the same objective, ``val_acc`` eq. 8, ``val_mAP`` and per task ``val_<short>_ap``.
    """
    columns = ["stage", "stage_epoch", "epoch", "optimizer", "learning_rate", "train_backbone",
               "loss"]
    columns += [f"{t.short}_{m}" for t in tasks for m in ("loss", "acc")]
    columns += ["val_loss", "val_acc", "val_mAP"]
    columns += [f"val_{t.short}_{m}" for t in tasks for m in ("loss", "acc", "ap")]
    return columns + ["seconds"]


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # exact round trip: the determinism check compares these strings
    return str(value)


def read_log(out_dir: str | os.PathLike) -> list[dict]:
    """``<out_dir>/log.csv`` as dicts: numbers as int/float, empty cells as None."""
    path = pathlib.Path(out_dir) / LOG_CSV
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key, value in row.items():
            if value == "":
                row[key] = None
            elif key in ("stage", "stage_epoch", "epoch"):
                row[key] = int(value)
            elif key != "optimizer":
                row[key] = float(value)
    return rows


def _rewrite_log(path: pathlib.Path, columns: list[str], rows: list[dict]) -> None:
    tmp = _temporary(path)
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _format(row.get(k)) for k in columns})
    os.replace(tmp, path)


class _ProgressBar(keras.callbacks.Callback):
    """A tqdm bar on stderr per epoch (stdout stays free for the CLI's JSON)."""

    def __init__(self, total: int, desc: str):
        super().__init__()
        self.total, self.desc, self.bar = total, desc, None

    def on_epoch_begin(self, epoch, logs=None):
        self.bar = tqdm(total=self.total, desc=self.desc, unit="batch", file=sys.stderr,
                        leave=False)

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}")

    def on_epoch_end(self, epoch, logs=None):
        self.bar.close()


def evaluate_model(model: keras.Model, rows: Sequence[LabelRow], root: str | os.PathLike, *,
                   flags: np.ndarray | None = None, batch_size: int = 32,
                   workers: int | None = None) -> dict:
    """Validation numbers of one model on labelled rows (no flip TTA): the official metric (§4)
    and the training objective. Returns ``{"loss", "acc", "mAP", "tasks": {key: {"loss", "acc",
    "ap", "n"}}}`` over the tasks present in ``rows``."""
    from replication.data.metric import evaluate

    probs = model_probs(model, _image_paths(root, rows), flags=flags, flip_tta=False,
                        batch_size=batch_size, workers=workers)
    per_row = {row.image: probs[row.task][i] for i, row in enumerate(rows)}
    scores = evaluate(rows, per_row)
    tasks = {}
    for key, metrics in scores["tasks"].items():
        picked = [per_row[row.image][row.value] for row in rows if row.task == key]
        # Keras's cross entropy clips probabilities to [1e-7, 1 - 1e-7]; so does this one.
        loss = float(np.mean(-np.log(np.clip(picked, 1e-7, 1 - 1e-7))))
        tasks[key] = {"loss": loss, "acc": metrics["acc"], "ap": metrics["ap"], "n": metrics["n"]}
    return {"loss": float(sum(t["loss"] for t in tasks.values())), "acc": scores["acc"],
            "mAP": scores["mAP"], "tasks": tasks}


# --------------------------------------------------------------------------- training


def train(
    spec: ModelSpec,
    train_rows: Sequence[LabelRow],
    root: str | os.PathLike,
    *,
    out_dir: str | os.PathLike,
    schedule: Sequence[Stage | Mapping] = PAPER_SCHEDULE,
    val_rows: Sequence[LabelRow] = (),
    batch_size: int = 32,
    seed: int = 0,
    flags: FlatFlags | None = None,
    augment: Augment | None = None,
    workers: int | None = None,
    progress: bool = True,
    mixed_precision: bool | None = None,
    backbone_factory: models.BackboneFactory | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> dict:
    """Train ``spec``'s model through ``schedule`` on ``train_rows`` (images under ``root``).

    Writes under ``out_dir``: ``checkpoints/stage_<k>.keras`` and ``state.json`` after each stage
    (the state names the last completed stage, the epochs done and the run's configuration),
    ``log.csv`` after each epoch (:func:`log_columns`) and ``model.keras`` at the end.

    Rerun with the same ``out_dir`` it resumes after the last completed stage (log rows of an
    unfinished stage are dropped and redone), or returns at once if all stages are done; it
    raises :class:`TrainingStateError` if the spec, schedule, seed, batch size or data differ from
    the run there (``augment`` is code and is not compared). A spec stored by an older version
    (without fields added since) is read with those fields' defaults before comparing.

    Augmentation (§3.1.2(3)): with ``spec.augment`` and ``spec.augment_engine == "imgaug"``, this
    builds the per-image imgaug callable itself (``augmentation.imgaug_augment(spec.augment)``),
    run in the input pipeline's worker threads; giving ``augment`` as well is an error. With the
    engine ``"keras"`` the augmentation is in the model (``models.augmentation_layers``), and
    ``augment``, if given, is a further custom per-image callable. Either way the numbers depend
    only on ``seed`` (on CPU, bit for bit). ``flags`` (the flat/on-model flag of
    each row) is required for a dual-channel spec. ``mixed_precision`` None means "where a GPU
    is" (mixed_float16; heads stay float32). ``backbone_factory`` builds the base net of a fresh
    run (default: ``replication.nets.registry``). ``callbacks`` go to every ``fit`` call.

    Returns ``{"out_dir", "model", "log", "resumed_after_stage", "stages"}``.
    """
    schedule = parse_schedule(schedule)
    out = pathlib.Path(out_dir)
    tasks = spec.tasks
    if spec.augment and spec.augment_engine == "imgaug":
        if augment is not None:
            raise ValueError(f"spec.augment {list(spec.augment)} (engine 'imgaug') and an augment "
                             "callable were both given; give one of them")
        from replication.learning.augmentation import imgaug_augment

        augment = imgaug_augment(spec.augment)
    keys = {t.key for t in tasks}
    for rows, name in ((train_rows, "train_rows"), (val_rows, "val_rows")):
        stray = sorted({row.task for row in rows} - keys)
        if stray:
            raise ValueError(f"{name} hold tasks {stray} that a {spec.level}-level model has no "
                             "head for")
    if not train_rows:
        raise ValueError("train_rows is empty")
    dual = spec.takes_flag  # a dual-channel model, or a single-channel one given the flag
    if dual and flags is None:
        raise ValueError("a model with the flag input (dual-channel, or flag_input) needs flags "
                         "(FlatFlags) for its 'flat' input")
    train_flags = flags([r.image for r in train_rows]) if dual else None
    val_flags = flags([r.image for r in val_rows]) if dual and val_rows else None

    config = {
        "spec": portable_spec(spec.to_dict(), out),
        "schedule": [asdict(stage) for stage in schedule],
        "seed": int(seed),
        "batch_size": int(batch_size),
        "train_data": _fingerprint(train_rows, train_flags),
        "val_data": _fingerprint(val_rows, val_flags),
    }
    if spec.weights:  # the file's content, not only its name: chapter 0 may rewrite it
        config["weights_sha256"] = weights_digest(spec.weights)
    state_path = out / STATE_JSON
    log_path = out / LOG_CSV
    columns = log_columns(tasks)
    checkpoints = out / CHECKPOINTS
    completed = 0
    state = None
    if state_path.exists():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        stored_spec = state.get("config", {}).get("spec")
        if isinstance(stored_spec, Mapping):
            try:  # fields added since the run was written take their defaults; a run written
                # with absolute paths to its sibling runs compares as a portable one
                state["config"]["spec"] = portable_spec(
                    ModelSpec.from_dict(stored_spec).to_dict(), out)
            except (TypeError, ValueError):
                pass  # reported as a different spec below
        differ = sorted(k for k in set(config) | set(state.get("config", {}))
                        if state.get("config", {}).get(k) != config.get(k))
        if differ:
            raise TrainingStateError(
                f"{out} holds a run with a different {', '.join(differ)}; it cannot be resumed "
                "with these arguments. Use another out_dir, or delete this one to start over.")
        completed = int(state["completed_stages"])
    log_rows = [row for row in read_log(out) if row["stage"] <= completed]
    if completed == len(schedule):
        if not (out / FINAL_MODEL).exists():  # a kill may have come between the two
            _publish(out / state["checkpoint"], out / FINAL_MODEL)
        return {"out_dir": str(out), "model": str(out / FINAL_MODEL), "log": log_rows,
                "resumed_after_stage": completed, "stages": len(schedule)}

    checkpoints.mkdir(parents=True, exist_ok=True)
    _rewrite_log(log_path, columns, log_rows)  # drops the unfinished stage's epochs
    if state is None:
        _write_json(state_path, {"format": STATE_FORMAT, "config": config, "completed_stages": 0,
                                 "epochs_done": 0, "checkpoint": None})
    train_paths = _image_paths(root, train_rows)
    workers = default_workers() if workers is None else workers

    use_mixed = gpu_available() if mixed_precision is None else mixed_precision
    previous_policy = keras.config.dtype_policy()
    keras.utils.set_random_seed(int(seed))
    try:
        if use_mixed:
            keras.config.set_dtype_policy("mixed_float16")
        if completed:
            model = models.load_model(out / state["checkpoint"])
        else:
            model = models.build_model(spec, backbone_factory=backbone_factory,
                                       base_dir=out)  # as portable_spec records them
    finally:
        keras.config.set_dtype_policy(previous_policy)

    # The per-epoch validation predicts through a second, uncompiled model over the same layers
    # (the same weights, as they train): compiling for a new stage resets the compiled model's
    # prediction function, which would then be traced again at every stage.
    evaluator = keras.Model(model.input, model.output, name=model.name)
    epoch = sum(stage.epochs for stage in schedule[:completed])
    compiled_for, fresh_state = None, []
    for k, stage in enumerate(schedule[completed:], start=completed + 1):
        # Everything random in a stage derives from (seed, k): a resumed run repeats it exactly.
        keras.utils.set_random_seed(int(np.random.default_rng([seed, k]).integers(2**31 - 1)))
        _reseed(model, (seed, k))
        if compiled_for == (stage.optimizer, stage.train_backbone):
            # Same optimizer class and same frozen layers as the stage before: give the optimizer
            # its fresh state and the new rate instead of recompiling, which would trace the
            # training step again (a tiny Inception-v4: ~15 s on 2 CPU cores, ~90 s of JAX/XLA
            # compilation on an H100). Numerically this is a new optimizer, so a run resumed
            # here computes the same numbers.
            _restart_optimizer(model.optimizer, fresh_state, stage.learning_rate)
        else:
            models.set_backbone_trainable(model, stage.train_backbone)
            compile_for_stage(model, stage)
            model.optimizer.build(model.trainable_variables)
            fresh_state = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
            compiled_for = (stage.optimizer, stage.train_backbone)
        for stage_epoch in range(1, stage.epochs + 1):
            epoch += 1
            started = time.perf_counter()
            order = np.random.default_rng([seed, k, stage_epoch]).permutation(len(train_rows))
            batches = ImageBatches(train_paths, image_size=spec.image_size, batch_size=batch_size,
                                   rows=train_rows, tasks=tasks, flags=train_flags, order=order,
                                   augment=augment, augment_seed=(seed, k, stage_epoch),
                                   workers=workers)
            bar = [_ProgressBar(len(batches), f"stage {k}/{len(schedule)} epoch "
                                f"{stage_epoch}/{stage.epochs}")] if progress else []
            history = model.fit(batches, epochs=1, verbose=0, shuffle=False,
                                callbacks=[*bar, *callbacks])
            logs = {key: float(values[-1]) for key, values in history.history.items()}
            row = {"stage": k, "stage_epoch": stage_epoch, "epoch": epoch,
                   "optimizer": stage.optimizer, "learning_rate": stage.learning_rate,
                   "train_backbone": stage.train_backbone, "loss": logs.get("loss")}
            for t in tasks:
                row[f"{t.short}_loss"] = logs.get(f"{models.head_name(t)}_loss")
                row[f"{t.short}_acc"] = logs.get(f"{models.head_name(t)}_acc")
            if val_rows:
                scores = evaluate_model(evaluator, val_rows, root, flags=val_flags,
                                        batch_size=batch_size, workers=workers)
                row.update(val_loss=scores["loss"], val_acc=scores["acc"], val_mAP=scores["mAP"])
                for t in tasks:
                    metrics = scores["tasks"].get(t.key, {})
                    for m in ("loss", "acc", "ap"):
                        row[f"val_{t.short}_{m}"] = metrics.get(m)
            row["seconds"] = round(time.perf_counter() - started, 3)
            log_rows.append(row)
            with open(log_path, "a", newline="", encoding="utf-8") as handle:
                csv.DictWriter(handle, fieldnames=columns).writerow(
                    {c: _format(row.get(c)) for c in columns})
        checkpoint = checkpoints / f"stage_{k}.keras"
        _save_model(model, checkpoint)
        _write_json(state_path, {"format": STATE_FORMAT, "config": config, "completed_stages": k,
                                 "epochs_done": epoch,
                                 "checkpoint": checkpoint.relative_to(out).as_posix()})
    final = out / FINAL_MODEL
    _publish(checkpoints / f"stage_{len(schedule)}.keras", final)
    return {"out_dir": str(out), "model": str(final), "log": log_rows,
            "resumed_after_stage": completed or None, "stages": len(schedule)}
