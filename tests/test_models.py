"""Tests for replication.models: multi-task heads and masking, the dual-channel fusion (§3.3.2),
freezing, the spec, model files, and the flat/on-model flags.

A 2-layer conv net stands in for the base nets (they need >= 75 px inputs), at 32 px.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from conftest import tiny_backbone
from replication.learning.schedule import Stage
from replication.learning import models, training
from replication.data import truth as truth_format
from replication.data.fashionai import LabelRow, read_labels
from replication.data.tasks import tasks_of_level

SIZE = 32


def spec(level: str = "design", **kw) -> models.ModelSpec:
    return models.ModelSpec(level=level, backbone="tiny", image_size=SIZE, **kw)


def build(level: str = "design", seed: int = 0, **kw) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return models.build_model(spec(level, **kw), backbone_factory=tiny_backbone)


def row(task: str, value: int, n_values: int, i: int = 0) -> LabelRow:
    labels = "".join("y" if j == value else "n" for j in range(n_values))
    return LabelRow(image=f"Images/{task}/{i}.jpg", task=task, labels=labels, row=i + 1)


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, SIZE, SIZE, 3)).astype("float32")


def head_weights(model: keras.Model) -> dict[str, list[np.ndarray]]:
    return {name: [w.numpy().copy() for w in model.get_layer(name).weights]
            for name in model.output_names}


# --------------------------------------------------------------------------- single channel


@pytest.mark.parametrize("level", ["design", "length"])
def test_one_softmax_head_per_task_sized_from_the_registry(level: str) -> None:
    model = build(level, mean=(0.64, 0.60, 0.59), std=(0.29, 0.30, 0.30))
    tasks = tasks_of_level(level)
    assert sorted(model.output_names) == sorted(f"head_{t.short}" for t in tasks)
    for task in tasks:
        head = model.get_layer(f"head_{task.short}")
        assert head.units == task.n_values and head.dtype_policy.name == "float32"
    assert model.get_layer("features").rate == 0.5  # §3.4: Dropout 0.5 after pooling
    assert isinstance(model.get_layer("preprocess"), layers.Normalization)
    out = model.predict(images(3), verbose=0)
    for task in tasks:
        assert out[f"head_{task.short}"].shape == (3, task.n_values)
        np.testing.assert_allclose(out[f"head_{task.short}"].sum(axis=1), 1.0, rtol=1e-5)
    info = models.describe(model)
    assert (info.image_size, info.dual) == (SIZE, False)
    assert [t.key for t in info.tasks] == [t.key for t in tasks]


def test_preprocessing_is_the_data_set_normalisation() -> None:
    # §3.1.2(1) eq. 6: (X - mean) / std on [0, 1] pixels, here on the 0..255 input.
    layer = models.preprocessing(spec(mean=(0.5, 0.25, 0.75), std=(0.1, 0.2, 0.3)))
    x = np.array([[[[127.5, 63.75, 191.25], [153.0, 114.75, 267.75]]]], dtype="float32")
    expected = [[[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]]]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, atol=1e-5)
    default = models.preprocessing(spec())  # no statistics: the Inception range [-1, 1]
    out = keras.ops.convert_to_numpy(default(np.array([[0.0, 255.0]], dtype="float32")))
    np.testing.assert_allclose(out, [[-1.0, 1.0]], atol=1e-6)


def test_a_sample_trains_only_its_own_head() -> None:
    model = build("design")
    training.compile_for_stage(model, Stage("adam", 1e-2, 1, train_backbone=1.0))
    tasks = tasks_of_level("design")
    neckline = tasks[0]
    rows = [row(neckline.key, v, neckline.n_values, i) for i, v in enumerate([1, 4, 7, 2])]
    targets, weights = models.masked_targets(rows, tasks)
    before = head_weights(model)
    backbone_before = [w.numpy().copy() for w in models.backbones_of(model)[0].weights]
    model.train_on_batch(images(4), targets, sample_weight=weights)
    after = head_weights(model)
    for name in before:
        changed = any(not np.array_equal(b, a) for b, a in zip(before[name], after[name]))
        assert changed == (name == "head_neckline"), name
    # The shared base net learns from every task's rows.
    assert any(not np.array_equal(b, w.numpy())
               for b, w in zip(backbone_before, models.backbones_of(model)[0].weights))


def test_head_loss_is_the_mean_over_its_own_rows_only() -> None:
    model = build("design")
    training.compile_for_stage(model, Stage("adam", 1e-3, 1))
    neckline, collar = tasks_of_level("design")[:2]
    rows = [row(neckline.key, 3, 10, 0), row(collar.key, 1, 5, 1), row(neckline.key, 8, 10, 2)]
    targets, weights = models.masked_targets(rows, tasks_of_level("design"))
    assert weights["head_neckline"].tolist() == [1, 0, 1]
    assert targets["head_collar"][0].sum() == 0 and targets["head_collar"][1, 1] == 1
    x = images(3)
    probs = model.predict(x, verbose=0)
    logs = model.test_on_batch(x, targets, sample_weight=weights, return_dict=True)
    neckline_probs = probs["head_neckline"]
    expected_neckline = -np.mean(np.log([neckline_probs[0, 3], neckline_probs[2, 8]]))
    expected_collar = -np.log(probs["head_collar"][1, 1])
    assert logs["head_neckline_loss"] == pytest.approx(expected_neckline, rel=1e-4)
    assert logs["head_collar_loss"] == pytest.approx(expected_collar, rel=1e-4)
    assert logs["head_neck_loss"] == 0.0 and logs["head_lapel_loss"] == 0.0  # no rows: 0, not NaN
    assert logs["loss"] == pytest.approx(expected_neckline + expected_collar, rel=1e-4)
    # Accuracy counts only the head's own rows.
    top = probs["head_neckline"].argmax(axis=1)
    assert logs["head_neckline_acc"] == pytest.approx(np.mean([top[0] == 3, top[2] == 8]))


def test_masked_targets_refuse_a_row_without_a_head() -> None:
    with pytest.raises(ValueError, match="no head"):
        models.masked_targets([row("skirt_length_labels", 1, 6)], tasks_of_level("design"))


# --------------------------------------------------------------------------- dual channel


def test_dual_channel_fuses_flat_and_on_model_models_as_the_paper() -> None:
    flat_model, onmodel_model = build("length", seed=1), build("length", seed=2)
    dual = models.build_dual(spec("length", channels="dual"), flat_model, onmodel_model)
    names = [layer.name for layer in dual.layers]
    for name in ("image", "flat", "flat_branch", "onmodel_branch", "flat_dropout",
                 "onmodel_dense", "fusion"):
        assert name in names
    assert dual.get_layer("onmodel_dense").units == 128
    assert dual.get_layer("flat_dropout").rate == 0.5
    # Each branch is its model minus the heads, ending at its pooled features after Dropout.
    for branch, source in (("flat_branch", flat_model), ("onmodel_branch", onmodel_model)):
        sub = dual.get_layer(branch)
        assert sub.output.shape == (None, 8) and sub.layers[-1].name == "features"
        for a, b in zip(sub.weights, source.get_layer("backbone").weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # concat([flat features (8), Dense(128), flag (1)])
    assert dual.get_layer("fusion").output.shape == (None, 8 + 128 + 1)
    info = models.describe(dual)
    assert info.dual and info.image_size == SIZE
    x = images(2)
    out_flat = dual.predict({"image": x, "flat": np.ones((2, 1), "float32")}, verbose=0)
    out_model = dual.predict({"image": x, "flat": np.zeros((2, 1), "float32")}, verbose=0)
    for task in tasks_of_level("length"):
        assert out_flat[f"head_{task.short}"].shape == (2, task.n_values)
    # The heads see the flag.
    assert not np.allclose(out_flat["head_sleeve"], out_model["head_sleeve"])
    # Freezing reaches both branches' base nets.
    assert len(models.backbones_of(dual)) == 2


def test_dual_channel_from_trained_branch_files(tmp_path) -> None:
    flat_model = build("length", seed=3)
    flat_model.save(tmp_path / "flat.keras")
    dual_spec = spec("length", channels="dual", flat_model=str(tmp_path / "flat.keras"))
    dual = models.build_model(dual_spec, backbone_factory=tiny_backbone)
    branch = dual.get_layer("flat_branch")
    for a, b in zip(branch.weights, flat_model.get_layer("backbone").weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="length-level"):
        models.build_dual(spec("length", channels="dual"), build("design"), build("length"))


def test_spec_validation_and_json_round_trip() -> None:
    s = spec("length", channels="dual", mean=[0.6, 0.6, 0.6], std=[0.3, 0.3, 0.3])
    assert models.ModelSpec.from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="length-level"):
        spec("design", channels="dual")
    with pytest.raises(ValueError, match="both mean and std"):
        spec(mean=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="level"):
        models.ModelSpec(level="colour")
    with pytest.raises(ValueError, match="unknown ModelSpec fields"):
        models.ModelSpec.from_dict({"level": "design", "colour": 1})


# --------------------------------------------------------------------------- freezing


def test_set_backbone_trainable_freezes_then_unfreezes() -> None:
    model = build("design")
    heads = {w.path for w in model.trainable_weights if w.path.startswith("head_")}
    models.set_backbone_trainable(model, 0.0)
    assert {w.path for w in model.trainable_weights} == heads
    models.set_backbone_trainable(model, 0.5)  # the top one of the two convolutions
    assert len(model.trainable_weights) == len(heads) + 2
    models.set_backbone_trainable(model, 1.0)
    assert len(model.trainable_weights) == len(heads) + 4
    with pytest.raises(ValueError):
        models.set_backbone_trainable(model, 1.5)


# --------------------------------------------------------------------------- flags


def test_truth_flat_flags_read_the_synthetic_truth(synthetic_set) -> None:
    root = synthetic_set(4, 48)
    rows, _ = read_labels(root)
    truth = truth_format.read_truth(root)
    flags = models.TruthFlatFlags(root)
    assert isinstance(flags, models.FlatFlags)
    got = flags([r.image for r in rows])
    assert got.dtype == bool and got.tolist() == [truth[r.image]["flat"] for r in rows]
    # A file path under the root works as well as the data set's own name.
    assert flags([str(root / rows[0].image)]).tolist() == [truth[rows[0].image]["flat"]]
    flat, onmodel = models.split_by_flag(rows, flags)
    assert len(flat) + len(onmodel) == len(rows)
    assert all(truth[r.image]["flat"] for r in flat)
    assert not any(truth[r.image]["flat"] for r in onmodel)
    with pytest.raises(KeyError, match="no flat/on-model flag in the truth under"):
        flags(["Images/x/unknown.jpg"])


# --------------------------------------------------------------------------- the real base nets


def test_default_preprocessing_matches_the_backbones_and_a_real_base_net_loads_safely(
        tmp_path) -> None:
    from replication.nets import registry

    x = np.array([[0.0, 63.0, 127.5, 255.0]], dtype="float32")
    layer = models.preprocessing(spec())
    # The default mode is the one every base net's ImageNet weights expect: [0, 255] -> [-1, 1].
    assert {b.input_mode for b in registry.BACKBONES.values()} == {spec().normalisation}
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), [[-1.0, -0.505882, 0.0, 1.0]],
                               atol=1e-6)
    # The spec's default factory is replication.backbones; Inception-ResNet-v2 has a registered
    # custom layer (ScaledResidual), which safe mode loads because it is the package's own code.
    keras.utils.set_random_seed(0)
    real = models.ModelSpec(level="design", backbone="inception_resnet_v2", variant="tiny",
                            image_size=75)
    model = models.build_model(real)
    path = tmp_path / "irv2.keras"
    model.save(path)
    loaded = models.load_model(path)
    assert models.describe(loaded).image_size == 75
    batch = np.random.default_rng(1).uniform(0, 255, (2, 75, 75, 3)).astype("float32")
    a, b = model.predict(batch, verbose=0), loaded.predict(batch, verbose=0)
    np.testing.assert_allclose(a["head_lapel"], b["head_lapel"], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ normalisation, augmentation


def test_spec_normalisation_and_augment_round_trip_and_old_dicts_load() -> None:
    s = spec(normalisation="per_image", augment=["noise", "flip"], augment_engine="keras")
    assert s.augment == ("flip", "noise")  # once each, in the order they are applied
    assert models.ModelSpec.from_dict(s.to_dict()) == s
    assert s.to_dict()["augment"] == ["flip", "noise"]
    paper = spec(augment=("affine", "noise", "channel", "flip", "rotate"))
    assert models.ModelSpec.from_dict(paper.to_dict()) == paper
    assert paper.augment_engine == "imgaug" and paper.normalisation == "inception"
    # A dict written before these fields existed (an old state.json) loads with the defaults;
    # mean/std then meant data-set normalisation, and still do.
    old = {k: v for k, v in spec().to_dict().items()
           if k not in ("normalisation", "augment", "augment_engine")}
    loaded = models.ModelSpec.from_dict(old)
    assert (loaded.normalisation, loaded.augment, loaded.augment_engine) == ("inception", (),
                                                                              "imgaug")
    old_stats = {**old, "mean": [0.6, 0.6, 0.6], "std": [0.3, 0.3, 0.3]}
    assert models.ModelSpec.from_dict(old_stats).normalisation == "dataset"
    with pytest.raises(ValueError, match="needs the training split"):
        spec(normalisation="dataset")
    with pytest.raises(ValueError, match="takes no mean"):
        spec(normalisation="paper_literal", mean=(0.5,) * 3, std=(0.2,) * 3)
    with pytest.raises(ValueError, match="normalisation must be"):
        spec(normalisation="imagenet")
    with pytest.raises(ValueError, match="unknown augmenters"):
        spec(augment=("blur",))
    with pytest.raises(ValueError, match="augment_engine"):
        spec(augment=("flip",), augment_engine="gpu")


def test_keras_engine_augments_in_the_model_only_in_training_and_loads_in_safe_mode(
        tmp_path) -> None:
    s = dict(normalisation="per_image", augment=("affine", "noise", "channel", "flip", "rotate"),
             augment_engine="keras")
    model = build("design", **s)
    names = [layer.name for layer in model.layers[1:6]]
    assert names == ["augment_flip", "augment_affine_rotate", "augment_channel", "augment_noise",
                     "preprocess"]
    assert isinstance(model.get_layer("preprocess"), models.PerImageStandardization)
    # Engine imgaug: nothing in the model (the input pipeline augments).
    plain = build("design", **{**s, "augment_engine": "imgaug"})
    assert not any(layer.name.startswith("augment_") for layer in plain.layers)
    x = images(4)
    augmented = keras.Model(model.inputs[0], model.get_layer("preprocess").input)
    assert not np.allclose(keras.ops.convert_to_numpy(augmented(x, training=True)), x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(augmented(x, training=False)), x)
    # One training step, then the file: safe mode loads the registered twin layers.
    training.compile_for_stage(model, Stage("adam", 1e-3, 1))
    tasks = tasks_of_level("design")
    rows = [row(t.key, 1, t.n_values, i) for i, t in enumerate(tasks)]
    targets, weights = models.masked_targets(rows, tasks)
    loss = model.train_on_batch(x, targets, sample_weight=weights, return_dict=True)["loss"]
    assert np.isfinite(loss)
    path = tmp_path / "twin.keras"
    model.save(path)
    loaded = models.load_model(path)
    assert type(loaded.get_layer("augment_affine_rotate")).__name__ == "TwinAffine"
    a, b = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    for head in a:
        np.testing.assert_allclose(a[head], b[head], rtol=1e-5, atol=1e-6)


def test_dual_channel_with_the_keras_engine_augments_once_at_the_input() -> None:
    s = dict(augment=("flip", "noise"), augment_engine="keras")
    flat, onmodel = build("length", seed=1, **s), build("length", seed=2, **s)
    dual = models.build_dual(spec("length", channels="dual", **s), flat, onmodel)
    assert [layer.name for layer in dual.layers if layer.name.startswith("augment_")] == [
        "augment_flip", "augment_noise"]
    for branch in ("flat_branch", "onmodel_branch"):
        assert not any(layer.name.startswith("augment_")
                       for layer in dual.get_layer(branch).layers)
    x = images(2)
    out = dual.predict({"image": x, "flat": np.array([[1.0], [0.0]], "float32")}, verbose=0)
    assert out["head_sleeve"].shape == (2, 9)
    assert models.describe(dual).dual


# ------------------------------------------------------------------ ablations and the flag control


def test_max_pooling_pools_the_same_feature_map_as_the_average_pooling() -> None:
    keras.utils.set_random_seed(0)
    net = tiny_backbone(spec())
    feature_map = keras.Model(net.inputs[0], net.layers[-1].input)
    x = keras.ops.convert_to_tensor(images(3) / 127.5 - 1.0)
    maps = keras.ops.convert_to_numpy(feature_map(x))
    for pooling, reduce in (("avg", np.mean), ("max", np.max)):
        backbone = models.named_backbone(spec(pooling=pooling), lambda s: net)
        assert backbone.name == "backbone"
        np.testing.assert_allclose(keras.ops.convert_to_numpy(backbone(x)),
                                   reduce(maps, axis=(1, 2)), rtol=1e-5, atol=1e-6)
    model = build(pooling="max")
    assert model.get_layer("backbone").layers[-1].name == "max_pool"
    assert models.ModelSpec.from_dict(spec(pooling="max").to_dict()).pooling == "max"

    def flat_end(s):  # a net that pools some other way: max pooling cannot replace it
        image = keras.Input((SIZE, SIZE, 3))
        return keras.Model(image, layers.Dense(4)(layers.Flatten()(image)))

    with pytest.raises(ValueError, match="does not end in a GlobalAveragePooling2D"):
        models.named_backbone(spec(pooling="max"), flat_end)
    with pytest.raises(ValueError, match="pooling must be one of"):
        spec(pooling="median")


def test_the_level_all_has_the_heads_of_all_eight_dimensions() -> None:
    from replication.data.tasks import TASKS

    model = build("all")
    assert sorted(model.output_names) == sorted(f"head_{t.short}" for t in TASKS)
    assert [t.key for t in models.describe(model).tasks] == [t.key for t in TASKS]
    # Rows of both levels share a batch; each trains its own task's head only.
    rows = [row(t.key, 1, t.n_values, i) for i, t in enumerate(TASKS)]
    targets, weights = models.masked_targets(rows, models.level_tasks("all"))
    assert all(w.sum() == 1.0 for w in weights.values())
    with pytest.raises(ValueError, match="level must be one of .*'all'"):
        models.ModelSpec(level="both")
    with pytest.raises(ValueError, match="length-level"):
        spec("all", channels="dual")


def test_a_single_channel_model_given_the_flag_starts_from_a_trained_model(tmp_path) -> None:
    trained = build("length", seed=4)
    (tmp_path / "single").mkdir()
    trained.save(tmp_path / "single" / "model.keras")
    flagged_spec = spec("length", flag_input=True, base_model="single/model.keras")
    assert flagged_spec.takes_flag and spec("length", channels="dual").takes_flag
    assert not spec("length").takes_flag
    # A relative file is resolved against base_dir (a stored spec names no machine folder).
    with pytest.raises(ValueError, match="pass base_dir"):
        models.build_model(flagged_spec)
    flagged = models.build_model(flagged_spec, base_dir=tmp_path)
    for a, b in zip(flagged.get_layer("base_branch").weights, trained.get_layer("backbone").weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # The flag joins the pooled features before the heads: 8 features + 1.
    assert flagged.get_layer("with_flag").output.shape == (None, 8 + 1)
    assert models.describe(flagged).dual  # it takes the flag: prediction feeds it
    x = images(2)
    on = flagged.predict({"image": x, "flat": np.ones((2, 1), "float32")}, verbose=0)
    off = flagged.predict({"image": x, "flat": np.zeros((2, 1), "float32")}, verbose=0)
    assert not np.allclose(on["head_coat"], off["head_coat"])
    # The control has one base net, the dual-channel model two.
    assert len(models.backbones_of(flagged)) == 1
    fresh = build("length", flag_input=True)  # no base: a fresh base net, the flag as well
    assert models.describe(fresh).dual and fresh.get_layer("with_flag")
    with pytest.raises(ValueError, match="single-channel options"):
        spec("length", channels="dual", flag_input=True)
    with pytest.raises(ValueError, match="branches"):
        spec("length", flat_model="x.keras")
    with pytest.raises(ValueError, match="without the flag input"):
        models.build_single(spec("length"), base=flagged)


def test_training_feeds_the_flag_to_a_single_channel_model_given_it(tmp_path, synthetic_set) -> None:
    root = synthetic_set(4, 48)
    rows = [r for r in read_labels(root)[0] if r.task.endswith("length_labels")][:12]
    flags = models.TruthFlatFlags(root)
    s = spec("length", flag_input=True)
    with pytest.raises(ValueError, match="needs flags"):
        training.train(s, rows, root, out_dir=tmp_path / "a", schedule=[Stage("adam", 1e-3, 1)],
                       batch_size=4, backbone_factory=tiny_backbone, progress=False)
    result = training.train(s, rows, root, out_dir=tmp_path / "b", schedule=[Stage("adam", 1e-3, 1)],
                            val_rows=rows[:4], batch_size=4, flags=flags,
                            backbone_factory=tiny_backbone, progress=False)
    assert models.describe(models.load_model(result["model"])).dual
    assert result["log"][0]["val_acc"] is not None
