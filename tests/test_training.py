"""Tests for replication.training: the staged schedule, streaming, checkpoints, resume after a
kill, determinism, and a run on the JAX backend with TensorFlow hidden whose model predicts the
same under TensorFlow.

Tiny: 4 synthetic images per task at 48 px, read at 32 px by a 2-layer conv net.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import tiny_backbone
from replication.data import fashionai
from replication.learning import inputs, models, prediction, training
from replication.learning import schedule
from replication.learning.schedule import Stage

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


SPEC = models.ModelSpec(level="design", backbone="tiny", image_size=SIZE)


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


def test_schedule_parses_dicts_and_rejects_bad_stages() -> None:
    """A notebook passes schedules as dicts; a bad stage fails before any training starts."""
    assert schedule.parse_schedule([{"optimizer": "sgd", "learning_rate": 0.1, "epochs": 2}]) == (
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
    batches = inputs.ImageBatches(paths, image_size=SIZE, batch_size=2, rows=rows, tasks=tasks,
                                    order=np.array([4, 3, 2, 1, 0]), workers=2)
    assert len(batches) == 3
    x, targets, weights = batches[0]
    assert x.shape == (2, SIZE, SIZE, 3) and x.dtype == np.float32 and x.max() <= 255
    np.testing.assert_array_equal(x[0], inputs.load_resized(paths[4], SIZE))
    head = models.head_name(next(t for t in tasks if t.key == rows[4].task))
    assert weights[head][0] == 1 and targets[head][0].argmax() == rows[4].value
    (mirrored,) = inputs.ImageBatches(paths, image_size=SIZE, batch_size=2, flip=True,
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


def test_a_weight_file_rewritten_under_the_same_name_is_not_taken_for_the_old_one(data,
                                                                                 tmp_path):
    """A run records its base net weights' content: chapter 0 rerun with other settings writes
    other weights to the same path, and a model trained from the old ones must not be reused."""
    from dataclasses import replace

    weights = tmp_path / "base.safetensors"
    weights.write_bytes(b"pretrained once")  # the stand-in base net ignores the file
    spec = replace(SPEC, weights=str(weights))
    root, train_rows, val_rows = data
    done = training.train(spec, train_rows, root, out_dir=tmp_path / "run", schedule=SCHEDULE[:1],
                          batch_size=4, progress=False, backbone_factory=tiny_backbone)
    again = training.train(spec, train_rows, root, out_dir=tmp_path / "run",
                           schedule=SCHEDULE[:1], batch_size=4, progress=False,
                           backbone_factory=tiny_backbone)
    assert again["model"] == done["model"]  # the same file: the finished run is returned
    weights.write_bytes(b"pretrained again, otherwise")
    with pytest.raises(training.TrainingStateError, match="weights_sha256"):
        training.train(spec, train_rows, root, out_dir=tmp_path / "run", schedule=SCHEDULE[:1],
                       batch_size=4, progress=False, backbone_factory=tiny_backbone)


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

# The preamble of the JAX subprocess scripts: TensorFlow cannot be imported at all; the base net
# is conftest's tiny_backbone, its source pasted in.
HIDE_TENSORFLOW = textwrap.dedent('''
    import importlib.abc, json, sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)")
            return None

    sys.meta_path.insert(0, NoTensorFlow())

    import keras
    from keras import layers
''') + inspect.getsource(tiny_backbone)

JAX_SCRIPT = HIDE_TENSORFLOW + textwrap.dedent('''
    import numpy as np
    from replication.data import fashionai
    from replication.learning import augmentation, models, prediction, training
    from replication.learning.schedule import Stage

    root, out = sys.argv[1], sys.argv[2]
    rows, _ = fashionai.read_labels(root)
    report = {"backend": keras.backend.backend()}

    # A dual-channel length model: trained, then run with flip TTA and flags, on JAX.
    length = [r for r in rows if r.task.endswith("_length_labels")]
    flags = models.TruthFlatFlags(root)
    spec = models.ModelSpec(level="length", backbone="tiny", image_size=32, channels="dual")
    result = training.train(spec, length, root, out_dir=out + "/dual",
                            schedule=[Stage("adam", 1e-3, 1)], batch_size=8,
                            flags=flags, progress=False, backbone_factory=tiny_backbone)
    probs = prediction.predict_probs([result["model"]], [1.0], length, root, flags=flags)
    prediction.write_submission(out + "/dual/answer.csv", length, probs)
    report["dual"] = {"epochs": len(result["log"]), "model": str(result["model"])}

    # The in-model augmentation twin and per-image standardisation, on JAX.
    design = [r for r in rows if r.task.endswith("_design_labels")]
    spec = models.ModelSpec(level="design", backbone="tiny", image_size=32,
                            normalisation="per_image", augment=augmentation.AUGMENTERS,
                            augment_engine="keras")
    result = training.train(spec, design, root, out_dir=out + "/twin",
                            schedule=[Stage("adam", 1e-3, 1)], batch_size=8, seed=1,
                            progress=False, backbone_factory=tiny_backbone)
    model = models.load_model(result["model"])
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(
        keras.Model(model.inputs[0], model.get_layer("preprocess").input)(x, training=True))
    probs = prediction.predict_probs([model], [1.0], design, root)
    prediction.write_submission(out + "/twin/answer.csv", design, probs)
    report["twin"] = {"loss": result["log"][0]["loss"], "changed": float(np.abs(y - x).mean()),
                      "model": str(result["model"])}
    report["tensorflow"] = "tensorflow" in sys.modules
    print(json.dumps(report))
''')


@pytest.fixture(scope="module")
def on_jax(data, tmp_path_factory) -> tuple[dict, Path]:
    """Two models trained and run on JAX with TensorFlow hidden, in one subprocess (one JAX
    start-up): a dual-channel model and a keras-engine, per-image-standardised one."""
    root, _, _ = data
    out = tmp_path_factory.mktemp("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", JAX_SCRIPT, str(root), str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["backend"] == "jax" and report["tensorflow"] is False
    return report, out


# Probabilities of the same weights on the two backends differ only by float32 rounding: the
# kernels (XLA's and oneDNN's convolutions, reductions) sum in different orders. Measured here:
# at most 2.2e-8 (about one float32 step at p ~ 0.1-0.2). A real difference is far larger on the
# same model: predicting without the flip TTA moves every row by >= 2.5e-4, inverting the
# flat/on-model flags by >= 1.8e-2. 1e-5 sits 450x above the rounding, 25x below the first.
BACKEND_ATOL = 1e-5


def assert_tensorflow_predicts_as_jax(model: str, answer: Path, rows, root, flags=None) -> None:
    """The model file, loaded here on TensorFlow, gives the probabilities the JAX run wrote to
    its answer.csv (exact repr floats) for every row, flip TTA (and flags) included."""
    assert keras.backend.backend() == "tensorflow"  # this process is the reference backend
    on_tf = prediction.predict_probs([model], [1.0], rows, root, flags=flags)
    on_jax = {image: (task, p) for image, task, p, _ in fashionai.read_answer(answer)}
    assert set(on_jax) == set(on_tf) == {r.image for r in rows}
    for row in rows:
        task, probs = on_jax[row.image]
        assert task == row.task
        np.testing.assert_allclose(probs, on_tf[row.image][row.task], rtol=0, atol=BACKEND_ATOL,
                                   err_msg=row.image)


def test_trains_on_jax_without_tensorflow_and_predicts_as_tensorflow_does(data, on_jax) -> None:
    root, _, _ = data
    report, out = on_jax
    assert report["dual"]["epochs"] == 1
    rows = [r for r in fashionai.read_labels(root)[0] if r.task.endswith("_length_labels")]
    flags = models.TruthFlatFlags(root)
    assert {bool(f) for f in flags([r.image for r in rows])} == {False, True}  # both branches used
    assert_tensorflow_predicts_as_jax(report["dual"]["model"], out / "dual" / "answer.csv", rows,
                                      root, flags=flags)


# --------------------------------------------------------------------------- augmentation

from replication.learning import augmentation  # noqa: E402

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


def test_keras_engine_and_per_image_train_on_jax_and_predict_as_tensorflow_does(data, on_jax) -> None:
    """The twin layers augment in training on JAX; the saved model (the twin layers registered
    for safe mode, per-image standardisation) predicts on TensorFlow as it did on JAX."""
    root, _, _ = data
    report, out = on_jax
    assert np.isfinite(report["twin"]["loss"]) and report["twin"]["changed"] > 1.0
    rows = [r for r in fashionai.read_labels(root)[0] if r.task.endswith("_design_labels")]
    assert_tensorflow_predicts_as_jax(report["twin"]["model"], out / "twin" / "answer.csv", rows,
                                      root)


def test_a_moved_home_resumes_its_dual_channel_run_and_state_names_no_machine_folder(
        data, tmp_path) -> None:
    """state.json names a dual-channel model's branches relative to the run's folder, so a home
    copied or moved elsewhere returns its finished models instead of refusing them."""
    import shutil

    root, _, _ = data
    rows, _ = fashionai.read_labels(root)
    length = [r for r in rows if r.task.endswith("_length_labels")]
    flags = models.TruthFlatFlags(root)
    one_stage = [Stage("adam", 1e-3, 1)]
    args = dict(schedule=one_stage, batch_size=8, progress=False, backbone_factory=tiny_backbone)

    def train_dual(home: Path) -> dict:
        branch = home / "models" / "branch"
        spec = models.ModelSpec(level="length", backbone="tiny", image_size=SIZE)
        training.train(spec, length, root, out_dir=branch, **args)
        dual = models.ModelSpec(level="length", backbone="tiny", image_size=SIZE, channels="dual",
                                flat_model=str(branch / training.FINAL_MODEL),
                                onmodel_model=str(branch / training.FINAL_MODEL))
        return training.train(dual, length, root, out_dir=home / "models" / "dual", flags=flags,
                              **args)

    first = train_dual(tmp_path / "home")
    assert first["resumed_after_stage"] is None  # it trained
    state = (tmp_path / "home" / "models" / "dual" / training.STATE_JSON).read_text()
    assert str(tmp_path) not in state
    assert json.loads(state)["config"]["spec"]["flat_model"] == "../branch/model.keras"
    shutil.move(tmp_path / "home", tmp_path / "moved")
    again = train_dual(tmp_path / "moved")
    assert again["resumed_after_stage"] == len(one_stage)  # finished: returned, not retrained


def test_the_per_epoch_validation_traces_its_prediction_once_per_run(data, tmp_path) -> None:
    """Four stages, two of them compiled afresh: the validation's prediction function is traced
    once (a model's own is reset at every compile; TensorFlow warned of retracing on the pages)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("counts TensorFlow traces")
    from tensorflow.python.eager.polymorphic_function import polymorphic_function

    traced = []
    original = polymorphic_function.Function._call

    def counting(self, *args, **kwargs):
        before = self.experimental_get_tracing_count()
        out = original(self, *args, **kwargs)
        if self.experimental_get_tracing_count() > before:
            traced.append(self._name)  # Keras names its prediction step as below
        return out

    polymorphic_function.Function._call = counting
    try:
        run(data, tmp_path / "run")
    finally:
        polymorphic_function.Function._call = original
    assert traced.count("one_step_on_data_distributed") == 1, traced
    assert traced.count("multi_step_on_iterator") == 3, traced  # the training step: 3 compiles
