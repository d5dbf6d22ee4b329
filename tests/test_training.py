"""Tests for replication.training: the staged schedule, streaming, checkpoints, resume after a
kill, determinism, and a run on the JAX backend with TensorFlow hidden.

Tiny: 4 synthetic images per task at 48 px, read at 32 px by a 2-layer conv net.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from replication import fashionai, models, synthetic, training
from replication.training import Stage

SIZE = 32
REPO = Path(__file__).resolve().parents[1]
SCHEDULE = (
    Stage("adam", 1e-3, 1, train_backbone=0.0),
    Stage("adam", 1e-3, 1, train_backbone=1.0),
    # Two epochs, so that the kill lands mid-stage; same optimizer and layers as stage 2, so an
    # uninterrupted run restarts the optimizer in place where a resumed run compiles afresh.
    Stage("adam", 5e-4, 2, train_backbone=1.0),
    Stage("sgd", 1e-3, 1, train_backbone=1.0),
)


def tiny_backbone(spec: models.ModelSpec) -> keras.Model:
    image = keras.Input((spec.image_size, spec.image_size, 3))
    x = layers.Conv2D(4, 3, strides=2, activation="relu")(image)
    x = layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    return keras.Model(image, layers.GlobalAveragePooling2D()(x), name="tiny")


SPEC = models.ModelSpec(level="design", backbone="tiny", image_size=SIZE)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, list, list]:
    root = tmp_path_factory.mktemp("syn")
    synthetic.generate(root, images_per_task=4, seed=0, size=48, workers=1, progress=False)
    rows, problems = fashionai.read_labels(root)
    assert not problems
    design = [r for r in rows if r.task.endswith("_design_labels")]
    # One image of each design task held out: 4 images per task are too few to stratify by value.
    val_rows = [rows_of_task[-1] for rows_of_task in
                ([r for r in design if r.task == task] for task in sorted({r.task for r in design}))]
    train_rows = [r for r in design if r not in val_rows]
    return root, train_rows, val_rows


def run(data, out: Path, **kw) -> dict:
    root, train_rows, val_rows = data
    args = dict(schedule=SCHEDULE, val_rows=val_rows, batch_size=4, seed=3, workers=2,
                progress=False, backbone_factory=tiny_backbone)
    return training.train(SPEC, train_rows, root, out_dir=out, **{**args, **kw})


def numbers(log: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in log]


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("run_a")
    return out, run(data, out)


# --------------------------------------------------------------------------- schedule as data


def test_paper_schedule() -> None:
    assert [(s.optimizer, s.learning_rate) for s in training.PAPER_SCHEDULE] == [
        ("adam", 1e-3), ("adam", 2.5e-5), ("adam", 7.5e-6), ("sgd", 4.5e-6), ("sgd", 1e-6)]
    assert training.PAPER_SCHEDULE[0].epochs == 3 and training.PAPER_SCHEDULE[0].train_backbone == 0
    assert all(s.train_backbone == 1 for s in training.PAPER_SCHEDULE[1:])
    short = training.shorten_schedule(training.PAPER_SCHEDULE, 1)
    assert [s.epochs for s in short] == [1] * 5
    assert training.parse_schedule([{"optimizer": "sgd", "learning_rate": 0.1, "epochs": 2}]) == (
        Stage("sgd", 0.1, 2, 1.0),)
    with pytest.raises(ValueError, match="optimizer"):
        Stage("rmsprop", 1e-3, 1)
    with pytest.raises(ValueError, match="epochs"):
        Stage("adam", 1e-3, 0)


def test_image_batches_stream_targets_weights_and_mirrors(data) -> None:
    root, train_rows, _ = data
    rows = train_rows[:5]
    paths = [root / r.image for r in rows]
    tasks = SPEC.tasks
    batches = training.ImageBatches(paths, image_size=SIZE, batch_size=2, rows=rows, tasks=tasks,
                                    order=np.array([4, 3, 2, 1, 0]), workers=2)
    assert len(batches) == 3
    x, targets, weights = batches[0]
    assert x.shape == (2, SIZE, SIZE, 3) and x.dtype == np.float32 and x.max() <= 255
    np.testing.assert_array_equal(x[0], training.load_resized(paths[4], SIZE))
    head = models.head_name(next(t for t in tasks if t.key == rows[4].task))
    assert weights[head][0] == 1 and targets[head][0].argmax() == rows[4].value
    (mirrored,) = training.ImageBatches(paths, image_size=SIZE, batch_size=2, flip=True,
                                       flags=np.array([1, 0, 1, 0, 1], bool), workers=1)[2]
    # The last batch has one image, then its mirror; flags are repeated for the mirrors.
    assert mirrored["image"].shape == (2, SIZE, SIZE, 3)
    np.testing.assert_array_equal(mirrored["image"][1], mirrored["image"][0][:, ::-1])
    assert mirrored["flat"].tolist() == [[1.0], [1.0]]


# --------------------------------------------------------------------------- a whole run


def test_schedule_runs_every_stage_and_logs_one_row_per_epoch(finished) -> None:
    out, result = finished
    log = training.read_log(out)
    assert [(r["stage"], r["stage_epoch"], r["epoch"]) for r in log] == [
        (1, 1, 1), (2, 1, 2), (3, 1, 3), (3, 2, 4), (4, 1, 5)]
    assert [r["optimizer"] for r in log] == ["adam", "adam", "adam", "adam", "sgd"]
    assert [r["learning_rate"] for r in log] == [1e-3, 1e-3, 5e-4, 5e-4, 1e-3]
    with open(out / "log.csv", encoding="utf-8") as handle:
        assert handle.readline().strip().split(",") == training.log_columns(SPEC.tasks)
    for row in log:
        assert np.isfinite(row["loss"]) and 0 <= row["val_acc"] <= 1 and 0 <= row["val_mAP"] <= 1
        assert row["neckline_acc"] is not None and row["val_lapel_ap"] is not None
    assert numbers(result["log"]) == numbers(log)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "stage_1.keras", "stage_2.keras", "stage_3.keras", "stage_4.keras"]
    state = json.loads((out / "state.json").read_text())
    assert (state["completed_stages"], state["epochs_done"]) == (4, 5)
    model = models.load_model(result["model"])
    assert models.describe(model).image_size == SIZE


def test_stage_one_trains_only_the_heads(data, finished) -> None:
    # Stage 1 is frozen (train_backbone 0): its checkpoint's base net equals a fresh build's.
    out, _ = finished
    keras.utils.set_random_seed(3)
    fresh = models.build_model(SPEC, backbone_factory=tiny_backbone)
    stage_1 = models.load_model(out / "checkpoints" / "stage_1.keras")
    stage_2 = models.load_model(out / "checkpoints" / "stage_2.keras")
    a, b, c = (models.backbones_of(m)[0].get_weights() for m in (fresh, stage_1, stage_2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(b, c))


def test_rerun_of_a_finished_run_returns_without_training(data, finished) -> None:
    out, first = finished
    again = run(data, out)
    assert again["resumed_after_stage"] == 4 and numbers(again["log"]) == numbers(first["log"])


def test_rerun_with_other_settings_is_refused(data, finished) -> None:
    out, _ = finished
    with pytest.raises(training.TrainingStateError, match="schedule"):
        run(data, out, schedule=SCHEDULE[:2])
    with pytest.raises(training.TrainingStateError, match="seed"):
        run(data, out, seed=4)
    root, train_rows, val_rows = data
    with pytest.raises(training.TrainingStateError, match="train_data"):
        run((root, train_rows[1:], val_rows), out)


class Kill(keras.callbacks.Callback):
    """Raises at the end of the n-th epoch, before the run logs it: a kill mid-stage."""

    def __init__(self, after_epochs: int):
        super().__init__()
        self.left = after_epochs

    def on_epoch_end(self, epoch, logs=None):
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt("simulated kill")


def test_killed_mid_stage_run_resumes_and_repeats_the_same_numbers(data, finished,
                                                                   tmp_path) -> None:
    """A second run, killed in stage 3 and rerun, resumes after stage 2 and ends with the numbers
    of the first, uninterrupted run: both resume and determinism (same run twice on CPU, same
    numbers: stages 1-2 ran afresh, stages 3-4 from stage 2's checkpoint)."""
    _, uninterrupted = finished
    out = tmp_path / "run_c"
    with pytest.raises(KeyboardInterrupt):
        run(data, out, callbacks=[Kill(after_epochs=3)])  # stages 1, 2; killed in 3's 1st epoch
    state = json.loads((out / "state.json").read_text())
    assert state["completed_stages"] == 2 and state["checkpoint"] == "checkpoints/stage_2.keras"
    assert not (out / "checkpoints" / "stage_3.keras").exists()
    assert [(r["stage"], r["stage_epoch"]) for r in training.read_log(out)] == [(1, 1), (2, 1)]
    resumed = run(data, out)
    assert resumed["resumed_after_stage"] == 2
    log = training.read_log(out)
    assert [(r["stage"], r["stage_epoch"]) for r in log] == [(1, 1), (2, 1), (3, 1), (3, 2), (4, 1)]
    # Each stage reseeds from (seed, stage), so the resumed run computes what the uninterrupted did,
    # to the last bit (log.csv holds exact float reprs).
    assert numbers(log) == numbers(uninterrupted["log"])
    assert numbers(resumed["log"]) == numbers(log)


def test_dual_channel_training_needs_flags(data, tmp_path) -> None:
    root, _, _ = data
    rows, _ = fashionai.read_labels(root)
    length = [r for r in rows if r.task.endswith("_length_labels")]
    dual = models.ModelSpec(level="length", backbone="tiny", image_size=SIZE, channels="dual")
    with pytest.raises(ValueError, match="flags"):
        training.train(dual, length, root, out_dir=tmp_path / "d", schedule=SCHEDULE[:1],
                       backbone_factory=tiny_backbone, progress=False)
    with pytest.raises(ValueError, match="no head"):
        training.train(SPEC, length, root, out_dir=tmp_path / "e", schedule=SCHEDULE[:1],
                       backbone_factory=tiny_backbone, progress=False)


# --------------------------------------------------------------------------- JAX, no TensorFlow

# The preamble of the JAX subprocess scripts: TensorFlow cannot be imported at all.
HIDE_TENSORFLOW = textwrap.dedent('''
    import importlib.abc, json, sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)")
            return None

    sys.meta_path.insert(0, NoTensorFlow())
''')

JAX_SCRIPT = HIDE_TENSORFLOW + textwrap.dedent('''
    import keras
    from keras import layers
    from replication import fashionai, metric, models, prediction, training

    root, out = sys.argv[1], sys.argv[2]

    def tiny(spec):
        image = keras.Input((spec.image_size, spec.image_size, 3))
        x = layers.Conv2D(4, 3, strides=2, activation="relu")(image)
        return keras.Model(image, layers.GlobalAveragePooling2D()(x))

    rows, _ = fashionai.read_labels(root)
    rows = [r for r in rows if r.task.endswith("_length_labels")]
    flags = models.TruthFlatFlags(root)
    spec = models.ModelSpec(level="length", backbone="tiny", image_size=32, channels="dual")
    result = training.train(spec, rows, root, out_dir=out,
                            schedule=[training.Stage("adam", 1e-3, 1)], batch_size=8,
                            flags=flags, progress=False, backbone_factory=tiny)
    probs = prediction.predict_probs([result["model"]], [1.0], rows, root, flags=flags)
    prediction.write_submission(out + "/answer.csv", rows, probs)
    truth = {r.image: r for r in rows}
    scores = metric.evaluate(rows, {image: p[truth[image].task] for image, p in probs.items()})
    print(json.dumps({"backend": keras.backend.backend(), "epochs": len(result["log"]),
                      "tensorflow": "tensorflow" in sys.modules, "acc": scores["acc"]}))
''')


def test_trains_and_predicts_on_jax_without_tensorflow(data, tmp_path) -> None:
    root, _, _ = data
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", JAX_SCRIPT, str(root), str(tmp_path / "jax")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["backend"] == "jax" and report["tensorflow"] is False
    assert report["epochs"] == 1 and 0 <= report["acc"] <= 1
    assert (tmp_path / "jax" / "answer.csv").exists()


# --------------------------------------------------------------------------- augmentation

from replication import augmentation  # noqa: E402

ONE_STAGE = (Stage("adam", 1e-3, 1, train_backbone=1.0),)


def run_one_stage(data, out: Path, spec: models.ModelSpec, **kw) -> dict:
    root, train_rows, _ = data
    args = dict(schedule=ONE_STAGE, batch_size=4, seed=5, workers=2, progress=False,
                backbone_factory=tiny_backbone)
    return training.train(spec, train_rows, root, out_dir=out, **{**args, **kw})


@pytest.fixture(scope="module")
def unaugmented(data, tmp_path_factory) -> dict:
    return run_one_stage(data, tmp_path_factory.mktemp("plain"), SPEC)


@pytest.mark.parametrize("engine", ["imgaug", "keras"])
def test_augmented_training_is_deterministic_by_seed(data, tmp_path, unaugmented,
                                                     engine: str) -> None:
    spec = models.ModelSpec(level="design", backbone="tiny", image_size=SIZE,
                            augment=augmentation.PAPER_AUGMENTERS, augment_engine=engine)
    a = run_one_stage(data, tmp_path / "a", spec)
    b = run_one_stage(data, tmp_path / "b", spec)
    assert numbers(a["log"]) == numbers(b["log"])  # same seed: the same numbers, bit for bit
    assert a["log"][0]["loss"] != unaugmented["log"][0]["loss"]  # and the augmentation acted
    model = models.load_model(a["model"])  # safe mode
    in_model = [layer.name for layer in model.layers if layer.name.startswith("augment_")]
    assert bool(in_model) == (engine == "keras")


def test_spec_augment_and_an_augment_callable_are_not_both_given(data, tmp_path) -> None:
    spec = models.ModelSpec(level="design", backbone="tiny", image_size=SIZE, augment=("flip",))
    with pytest.raises(ValueError, match="both"):
        run_one_stage(data, tmp_path / "x", spec, augment=lambda image, rng: image)


def test_a_run_written_before_the_new_spec_fields_still_resumes(data, finished,
                                                                tmp_path) -> None:
    import shutil

    out, _ = finished
    copy = tmp_path / "old"
    shutil.copytree(out, copy)
    state = json.loads((copy / training.STATE_JSON).read_text())
    for key in ("normalisation", "augment", "augment_engine"):
        state["config"]["spec"].pop(key)
    (copy / training.STATE_JSON).write_text(json.dumps(state))
    again = run(data, copy)  # the old spec reads with the defaults: the same run, finished
    assert again["resumed_after_stage"] == len(SCHEDULE)


JAX_TWIN_SCRIPT = HIDE_TENSORFLOW + textwrap.dedent('''
    import keras
    import numpy as np
    from keras import layers
    from replication import augmentation, fashionai, models, training

    root, out = sys.argv[1], sys.argv[2]

    def tiny(spec):
        image = keras.Input((spec.image_size, spec.image_size, 3))
        x = layers.Conv2D(4, 3, strides=2, activation="relu")(image)
        return keras.Model(image, layers.GlobalAveragePooling2D()(x))

    rows, _ = fashionai.read_labels(root)
    rows = [r for r in rows if r.task.endswith("_design_labels")]
    spec = models.ModelSpec(level="design", backbone="tiny", image_size=32,
                            normalisation="per_image", augment=augmentation.AUGMENTERS,
                            augment_engine="keras")
    result = training.train(spec, rows, root, out_dir=out,
                            schedule=[training.Stage("adam", 1e-3, 1)], batch_size=8, seed=1,
                            progress=False, backbone_factory=tiny)
    model = models.load_model(result["model"])
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(
        keras.Model(model.inputs[0], model.get_layer("preprocess").input)(x, training=True))
    print(json.dumps({"backend": keras.backend.backend(), "tensorflow": "tensorflow" in sys.modules,
                      "loss": result["log"][0]["loss"], "changed": float(np.abs(y - x).mean())}))
''')


def test_keras_engine_and_per_image_train_on_jax_without_tensorflow(data, tmp_path) -> None:
    root, _, _ = data
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", JAX_TWIN_SCRIPT, str(root), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["backend"] == "jax" and report["tensorflow"] is False
    assert np.isfinite(report["loss"]) and report["changed"] > 1.0
