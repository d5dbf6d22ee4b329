"""Tests for replication.prediction (§3.4): flip TTA, the weighted ensemble, answer.csv, the
CLI helper, and safe loading of model files.

Untrained tiny models suffice: what is tested is how probabilities are combined, not learnt.
"""

from __future__ import annotations

import json
import pickle
import shutil

import keras
import numpy as np
import pytest
from keras import layers

from conftest import tiny_backbone
from replication.data import fashionai, metric
from replication.learning import inputs, models, prediction
from replication.data.tasks import TASKS

SIZE = 32


def build(level: str, seed: int, size: int = SIZE, **kw) -> keras.Model:
    keras.utils.set_random_seed(seed)
    spec = models.ModelSpec(level=level, backbone="tiny", image_size=size, **kw)
    model = models.build_model(spec, backbone_factory=tiny_backbone)
    # Larger head weights spread the probabilities, so that flips and weights visibly matter.
    for task in spec.tasks:
        head = model.get_layer(models.head_name(task))
        kernel, bias = head.get_weights()
        head.set_weights([kernel * 50, bias])
    return model


@pytest.fixture(scope="module")
def setup(tmp_path_factory, synthetic_set):
    base = tmp_path_factory.mktemp("pred")
    root = synthetic_set(2, 48, seed=1)
    rows, problems = fashionai.read_labels(root)
    assert not problems
    files = {}
    for name, level, seed, size in (("design_a", "design", 1, SIZE), ("design_b", "design", 2, 40),
                                    ("length", "length", 3, SIZE)):
        files[name] = base / f"{name}.keras"
        build(level, seed, size).save(files[name])
    return root, rows, files


def direct(model: keras.Model, paths, size: int = SIZE) -> tuple[dict, dict]:
    """A model's probabilities on the images and on their mirrors, computed by hand."""
    x = np.stack([inputs.load_resized(p, size) for p in paths]).astype("float32")
    return model.predict(x, verbose=0), model.predict(x[:, :, ::-1, :], verbose=0)


def design_rows(rows):
    return [r for r in rows if r.task.endswith("_design_labels")]


def test_flip_tta_is_the_mean_of_image_and_mirror(setup) -> None:
    root, rows, files = setup
    model = models.load_model(files["design_a"])
    rows = design_rows(rows)
    plain, mirrored = direct(model, [root / r.image for r in rows])
    # The model is not flip-invariant, so the test can tell the mean from either half.
    assert np.abs(plain["head_neckline"] - mirrored["head_neckline"]).max() > 1e-3
    probs = prediction.predict_probs([model], None, rows, root, batch_size=3)
    no_tta = prediction.predict_probs([model], None, rows, root, flip_tta=False, batch_size=3)
    for i, row in enumerate(rows):
        head = f"head_{row.task.split('_')[0]}"
        assert list(probs[row.image]) == [row.task]  # a row gets its own task only
        np.testing.assert_allclose(probs[row.image][row.task],
                                   (plain[head][i] + mirrored[head][i]) / 2, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(no_tta[row.image][row.task], plain[head][i], rtol=1e-5,
                                   atol=1e-6)


def test_ensemble_is_the_weighted_mean_and_weights_must_sum_to_one(setup) -> None:
    root, rows, files = setup
    rows = design_rows(rows)[:5]
    a, b = (models.load_model(files[n]) for n in ("design_a", "design_b"))
    # Models of different input sizes (32 and 40 px) combine: each reads at its own size.
    pa = prediction.predict_probs([a], None, rows, root)
    pb = prediction.predict_probs([b], None, rows, root)
    both = prediction.predict_probs([files["design_a"], files["design_b"]], [0.3, 0.7], rows, root)
    equal = prediction.predict_probs([a, b], None, rows, root)
    for row in rows:
        expected = 0.3 * pa[row.image][row.task] + 0.7 * pb[row.image][row.task]
        np.testing.assert_allclose(both[row.image][row.task], expected, rtol=1e-12)
        np.testing.assert_allclose(equal[row.image][row.task],
                                   0.5 * pa[row.image][row.task] + 0.5 * pb[row.image][row.task])
    with pytest.raises(ValueError, match="sum to 1"):
        prediction.predict_probs([a, b], [0.5, 0.6], rows, root)
    with pytest.raises(ValueError, match="one weight per model"):
        prediction.predict_probs([a, b], [1.0], rows, root)
    with pytest.raises(ValueError, match="non-negative"):
        prediction.check_weights([1.5, -0.5], 2)
    np.testing.assert_allclose(prediction.check_weights([0.5, 0.5], 2), [0.5, 0.5])


def test_answer_csv_round_trip_through_the_metric(setup, tmp_path) -> None:
    root, rows, files = setup
    # One call covers both levels: the design models and the length model are separate ensembles.
    probs = prediction.predict_probs([files["design_a"], files["design_b"], files["length"]],
                                     [0.5, 0.5, 1.0], rows, root)
    answer = tmp_path / "answer.csv"
    prediction.write_submission(answer, rows, probs)
    scores = metric.evaluate_files(root, answer)
    expected = metric.evaluate(rows, {r.image: probs[r.image][r.task] for r in rows})
    assert scores == expected and set(scores["tasks"]) == {t.key for t in TASKS}
    with pytest.raises(ValueError, match="no prediction"):
        prediction.write_submission(tmp_path / "x.csv", rows, {})


def test_predict_main_reads_question_csv_and_image_files(setup, tmp_path) -> None:
    shared, rows, files = setup
    root = tmp_path / "data"  # a copy: the question file must lie under the root, which is shared
    shutil.copytree(shared, root)
    (root / "Tests").mkdir()
    question = root / "Tests" / "question.csv"
    asked = rows[:3] + rows[-3:]  # design and length rows
    question.write_text("".join(f"{r.image},{r.task},?\n" for r in asked), encoding="utf-8")
    image = root / rows[-1].image
    answer = tmp_path / "answer.csv"
    records = prediction.predict_main([str(files["design_a"]), str(files["length"])], None,
                                      [str(question), str(image)], answer=answer)
    json.dumps(records)  # JSON-ready
    by_csv = records[:6]
    assert [(r["image"], r["task"]) for r in by_csv] == [(r.image, r.task) for r in asked]
    from_file = records[6:]
    assert {r["image"] for r in from_file} == {str(image)}
    assert [r["task"] for r in from_file] == [t.key for t in TASKS]  # every task of both models
    for record in records:
        task = next(t for t in TASKS if t.key == record["task"])
        probs = list(record["probabilities"].values())
        assert list(record["probabilities"]) == list(task.values)
        assert record["value"] == task.values[int(np.argmax(probs))]
        assert sum(probs) == pytest.approx(1.0, abs=1e-5)
    written = fashionai.read_answer(answer)
    assert [(w[0], w[1]) for w in written] == [(r.image, r.task) for r in asked]
    with pytest.raises(ValueError, match="no model has a head"):
        prediction.predict_main([str(files["design_a"])], None, [str(question)])


def test_dual_channel_prediction_takes_flags(setup) -> None:
    root, rows, files = setup
    flat, onmodel = (models.load_model(files["length"]) for _ in range(2))
    dual = models.build_dual(models.ModelSpec(level="length", backbone="tiny", image_size=SIZE,
                                              channels="dual"), flat, onmodel)
    length = [r for r in rows if r.task.endswith("_length_labels")]
    with pytest.raises(ValueError, match="flags"):
        prediction.predict_probs([dual], None, length, root)
    flags = models.TruthFlatFlags(root)
    probs = prediction.predict_probs([dual], None, length, root, flags=flags)
    x = np.stack([inputs.load_resized(root / r.image, SIZE) for r in length]).astype("float32")
    f = flags([r.image for r in length]).astype("float32")[:, None]
    plain = dual.predict({"image": x, "flat": f}, verbose=0)
    mirror = dual.predict({"image": x[:, :, ::-1], "flat": f}, verbose=0)
    for i, row in enumerate(length):
        head = f"head_{row.task.split('_')[0]}"
        expected = (plain[head][i] + mirror[head][i]) / 2
        np.testing.assert_allclose(probs[row.image][row.task], expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- model files


class Evil:
    def __reduce__(self):
        return (print, ("pickle ran code",))


def test_load_model_refuses_lambda_layers_pickles_and_non_keras_files(tmp_path) -> None:
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = layers.Lambda(lambda t: t * 2.0)(image)  # arbitrary Python code in the file
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(10, activation="softmax", name="head_neckline")(x)
    path = tmp_path / "lambda.keras"
    keras.Model(image, {"head_neckline": out}).save(path)
    with pytest.raises(models.ModelFileError, match="safe mode"):
        models.load_model(path)
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(models.ModelFileError, match="pickled models are never loaded"):
        prediction.load_model(pkl)
    fake = tmp_path / "fake.keras"
    fake.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(models.ModelFileError, match="not a zip"):
        prediction.load_model(fake)
    with pytest.raises(models.ModelFileError, match="not found"):
        prediction.load_model(tmp_path / "missing.keras")


def test_model_file_carries_size_tasks_and_preprocessing(tmp_path) -> None:
    model = build("design", 5, size=40, mean=(0.6, 0.6, 0.6), std=(0.3, 0.3, 0.3))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = models.load_model(path)
    info = models.describe(loaded)
    assert info.image_size == 40 and not info.dual
    assert [t.short for t in info.tasks] == ["neckline", "collar", "neck", "lapel"]
    pre = loaded.get_layer("preprocess")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pre.mean).ravel(), [153.0] * 3)
    x = np.random.default_rng(0).uniform(0, 255, (2, 40, 40, 3)).astype("float32")
    a, b = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    for head in a:
        np.testing.assert_allclose(a[head], b[head], rtol=1e-6)


def test_a_model_file_is_loaded_once_and_its_prediction_traced_once(setup, tmp_path) -> None:
    """Scoring a model with and without flip TTA, in batches that do not divide the rows, runs
    one traced prediction function (TensorFlow warned of retracing on every chapter page), and
    the same file gives the same loaded model until it is rewritten."""
    root, rows, files = setup
    path = tmp_path / "design.keras"
    shutil.copyfile(files["design_a"], path)
    model = prediction.loaded_model(path)
    assert prediction.loaded_model(path) is model
    rows = design_rows(rows)
    assert len(rows) % 3  # a partial last batch, padded to the batch's shape
    prediction.predict_probs([path], None, rows, root, batch_size=3)
    prediction.predict_probs([path], None, rows, root, batch_size=3, flip_tta=False)
    if keras.backend.backend() == "tensorflow":
        assert model.predict_function.experimental_get_tracing_count() == 1
    build("design", 9).save(path)  # rewritten: loaded afresh
    assert prediction.loaded_model(path) is not model


def test_predict_batches_gives_every_rows_outputs_at_one_input_shape(setup) -> None:
    """Any model (here one with a single array output, as the screening classifier has): the
    outputs of every row, mirrors after images, the short last batch padded to the shape of the
    others."""
    root, rows, _ = setup
    paths = [root / r.image for r in design_rows(rows)]
    keras.utils.set_random_seed(0)
    image = keras.Input((SIZE, SIZE, 3))
    net = keras.Model(image, layers.Dense(2, activation="softmax")(
        layers.GlobalAveragePooling2D()(layers.Conv2D(3, 3)(image))))
    batches = inputs.ImageBatches(paths, image_size=SIZE, batch_size=3, flip=True, workers=2)
    out = list(prediction.predict_batches(net, batches))
    assert [len(o) for o in out] == [2 * len(batches.batch_indices(i)) for i in range(len(out))]
    if keras.backend.backend() == "tensorflow":  # before predict() below traces its own shape
        assert net.predict_function.experimental_get_tracing_count() == 1
    plain, mirrored = (net.predict(x, verbose=0) for x in direct_inputs(paths))
    np.testing.assert_allclose(np.concatenate([o[:len(o) // 2] for o in out]), plain, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np.concatenate([o[len(o) // 2:] for o in out]), mirrored,
                               rtol=1e-5, atol=1e-6)


def direct_inputs(paths, size: int = SIZE):
    x = np.stack([inputs.load_resized(p, size) for p in paths]).astype("float32")
    return x, x[:, :, ::-1, :]
