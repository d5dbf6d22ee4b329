"""The base nets: Inception-v4 and Inception-ResNet-v2 families, their registry and weights.

Each canonical network is built once per module (fixtures), at small inputs, to keep the file
fast. Nothing is downloaded: ImageNet weights are stood in for by random weights of the same
layout. Inception-v4 is checked against timm's own outputs, stored in
``tests/golden/inception_v4_timm.json`` (``scripts/check_inception_v4_parity.py --write-golden``):
no torch is needed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from replication.learning import normalisation
from replication.nets import inception_resnet_v2 as irv2
from replication.nets import inception_v4 as v4
from replication.nets import keras_applications_weights as kaw
from replication.nets import registry
from replication.nets import timm_weights as tw
from replication.nets.inception import MIN_INPUT_SIZE as MIN

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "inception_v4_timm.json"
HAVE_PARITY_EXTRAS = all(importlib.util.find_spec(m) is not None
                         for m in ("torch", "timm", "safetensors"))
HAVE_JAX = importlib.util.find_spec("jax") is not None

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

#: Largest absolute difference allowed between the Keras Inception-v4 and timm's logits and
#: pooled features (values up to about 2; float32 convolutions in another order differ by
#: about 1e-6).
TIMM_TOLERANCE = 1e-4


def _trainable(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _randomise_batch_norm(model: keras.Model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights(
                [w + rng.uniform(0.1, 0.5, w.shape).astype("float32") for w in layer.get_weights()]
            )


def _synthetic_state_dict(model: keras.Model, seed: int = 0) -> dict[str, np.ndarray]:
    """A timm-style state dict for ``model``: the right keys and PyTorch shapes, random values."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in tw.timm_state_dict_shapes(model).items():
        state[key] = rng.standard_normal(shape).astype(np.float32)
        if key.endswith(".bn.running_var"):
            state[key] = np.abs(state[key]) + 0.5
            state[key.replace("running_var", "num_batches_tracked")] = np.array(7, np.int64)
    return state


def _write_safetensors(path: Path, state: dict[str, np.ndarray]) -> None:
    """Minimal safetensors writer (the format: u64 header length, JSON header, raw data)."""
    header, chunks, offset = {}, [], 0
    for key, value in state.items():
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[value.dtype]
        data = np.ascontiguousarray(value).tobytes()
        header[key] = {"dtype": dtype, "shape": list(value.shape),
                       "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(chunks))


@pytest.fixture(scope="module")
def parity():
    """``scripts/check_inception_v4_parity.py``: the recipe of the golden weights and input."""
    spec = importlib.util.spec_from_file_location(
        "check_inception_v4_parity", REPO / "scripts" / "check_inception_v4_parity.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def timm_shapes(golden) -> dict[str, tuple[int, ...]]:
    """timm's inception_v4 state dict: key -> shape, in timm's order."""
    return {key: tuple(shape) for key, shape in golden["state_dict"]}


@pytest.fixture(scope="module")
def canonical_v4() -> keras.Model:
    return v4.inception_v4(input_shape=(None, None, 3), classifier_activation=None)


@pytest.fixture(scope="module")
def irv2_pair() -> tuple[keras.Model, keras.Model]:
    """(keras.applications InceptionResNetV2 with random weights, ours with its weights)."""
    reference = keras.applications.InceptionResNetV2(
        weights=None, input_shape=(MIN, MIN, 3), classifier_activation=None
    )
    _randomise_batch_norm(reference, seed=1)
    ours = irv2.inception_resnet_v2(input_shape=(MIN, MIN, 3), classifier_activation=None)
    kaw.load_keras_applications_weights(ours, reference)
    return reference, ours


# ------------------------------------------------------------------------------ Inception-v4


def test_canonical_inception_v4_has_timms_parameter_count(canonical_v4, timm_shapes):
    # timm counts parameters (conv kernels, BN weight/bias, last_linear); Keras' count_params()
    # also counts the BN moving mean/variance, which PyTorch keeps as buffers.
    buffers = {k: s for k, s in timm_shapes.items()
               if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    timm_parameters = sum(int(np.prod(s)) for k, s in timm_shapes.items() if k not in buffers)
    statistics = sum(int(np.prod(s)) for k, s in buffers.items() if "running" in k)
    assert _trainable(canonical_v4) == timm_parameters == 42_679_816  # as the module says
    assert canonical_v4.count_params() == timm_parameters + statistics
    assert canonical_v4.get_layer("avg_pool").output.shape[-1] == registry.num_features(
        "inception_v4")


def test_timm_key_map_gives_timms_state_dict_keys_and_shapes(canonical_v4, timm_shapes):
    # Every key of timm's state dict but the num_batches_tracked buffers (the loader ignores
    # them), each with timm's shape.
    expected = {k: s for k, s in timm_shapes.items() if not k.endswith("num_batches_tracked")}
    assert tw.timm_state_dict_shapes(canonical_v4) == expected
    mapping = tw.timm_layer_map(canonical_v4)
    assert mapping["inception_c1_branch1_conv2a"] == "features.19.branch1_1a"
    assert mapping["reduction_b_branch0_conv2"] == "features.18.branch0.1"


def test_inception_v4_with_timm_weights_reproduces_timms_outputs(canonical_v4, golden, parity):
    # timm's state dict, rebuilt with NumPy from the golden file's keys and seed.
    state = parity.seeded_state_dict(golden["state_dict"], golden["seed"])
    assert parity.fingerprint(state) == pytest.approx(golden["fingerprint"], rel=1e-12), (
        "NumPy no longer draws the golden weights; regenerate the golden file "
        "(scripts/check_inception_v4_parity.py --write-golden)")
    report = tw.load_timm_weights(canonical_v4, state)
    assert len(report["loaded"]) == len(state) - 149 and report["unused"] == []

    # The layouts: PyTorch (out, in, kh, kw) -> Keras (kh, kw, in, out), also for an asymmetric
    # kernel; BN weight, bias, running mean and variance -> gamma, beta, moving mean, variance.
    kernel = canonical_v4.get_layer("stem_conv1").kernel
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(kernel), state["features.0.conv.weight"].transpose(2, 3, 1, 0)
    )
    layer = canonical_v4.get_layer("inception_b3_branch2_conv3")
    assert tuple(layer.kernel.shape) == (1, 7, 192, 224)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.kernel),
        state["features.13.branch2.2.conv.weight"].transpose(2, 3, 1, 0),
    )
    bn = canonical_v4.get_layer("inception_c3_branch2_conv4b_bn")
    for got, key in zip(bn.get_weights(), ("weight", "bias", "running_mean", "running_var"),
                        strict=True):
        np.testing.assert_array_equal(got, state[f"features.21.branch2_3b.bn.{key}"])
    assert bn.epsilon == 1e-3

    x = parity.seeded_input(golden["input_shape"], golden["input_seed"])
    extractor = keras.Model(canonical_v4.input, [canonical_v4.get_layer("avg_pool").output,
                                                 canonical_v4.output])
    features, logits = (keras.ops.convert_to_numpy(y) for y in extractor(x, training=False))
    expected_features = np.array(golden["features"], np.float32).reshape(features.shape)
    expected_logits = np.array(golden["logits"], np.float32).reshape(logits.shape)
    assert np.abs(expected_logits).max() > 0.5 and (expected_features > 0).mean() > 0.5
    np.testing.assert_allclose(features, expected_features, rtol=0, atol=TIMM_TOLERANCE)
    np.testing.assert_allclose(logits, expected_logits, rtol=0, atol=TIMM_TOLERANCE)


def test_timm_converter_reads_files_and_drops_the_head(tmp_path):
    tiny = {"width": 0.125, "blocks": (1, 2, 1)}
    with_top = v4.inception_v4(input_shape=(MIN, MIN, 3), classes=7, **tiny)
    state = _synthetic_state_dict(with_top, seed=3)
    np.savez(tmp_path / "w.npz", **state)
    _write_safetensors(tmp_path / "w.safetensors", state)
    key = "features.9.branch2.4.conv.weight"  # inception_b2: stem 0-5, a1 6, reduction_a 7, b1 8
    for path in (tmp_path / "w.npz", tmp_path / "w.safetensors"):
        model = registry.build_backbone("inception_v4", "tiny", input_shape=(MIN, MIN, 3),
                                         blocks=(1, 2, 1), weights=path)
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(model.get_layer("inception_b2_branch2_conv5").kernel),
            state[key].transpose(2, 3, 1, 0),
        )
    report = tw.load_timm_weights(model, state)
    assert report["skipped"] == ["last_linear.bias", "last_linear.weight"]


def test_convert_timm_checkpoint_writes_a_keras_weight_file(tmp_path):
    tiny = {"width": 0.125, "blocks": (1, 1, 1)}
    state = _synthetic_state_dict(v4.inception_v4(input_shape=(MIN, MIN, 3), **tiny), seed=4)
    converted = tw.convert_timm_checkpoint(state, tmp_path / "v4.weights.h5", **tiny)
    fresh = v4.inception_v4(input_shape=(96, 96, 3), classifier_activation=None, **tiny)
    fresh.load_weights(tmp_path / "v4.weights.h5")
    for a, b in zip(fresh.get_weights(), converted.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fresh.get_layer("predictions").get_weights()[0],
                                  state["last_linear.weight"].T)


def test_timm_converter_names_the_mismatch(tmp_path):
    model = v4.inception_v4(input_shape=(MIN, MIN, 3), width=0.125, blocks=(1, 1, 1))
    state = _synthetic_state_dict(model)
    state["features.4.branch1.1.conv.weight"] = np.zeros((8, 8, 7, 1), np.float32)
    with pytest.raises(ValueError, match=r"mixed_4a_branch1_conv2.*\(8, 8, 7, 1\).*\(8, 8, 1, 7\)"):
        tw.load_timm_weights(model, state)
    del state["features.4.branch1.1.conv.weight"]
    state["features.99.conv.weight"] = np.zeros(1, np.float32)
    with pytest.raises(ValueError, match=r"1 missing key.*features\.4\.branch1\.1.*features\.99"):
        tw.load_timm_weights(model, state)
    (tmp_path / "weights.txt").write_text("")
    with pytest.raises(ValueError, match="expected a .safetensors"):
        tw.read_state_dict(tmp_path / "weights.txt")
    with pytest.raises(FileNotFoundError):
        tw.read_state_dict(tmp_path / "missing.safetensors")


@pytest.mark.slow
@pytest.mark.skipif(not (HAVE_PARITY_EXTRAS and HAVE_JAX),
                    reason="needs torch, timm, safetensors (pip install '.[parity]') and jax")
def test_inception_v4_computes_timms_function_live():
    # The golden test's check against timm itself, where torch and timm are installed: in a
    # process of its own on JAX (TensorFlow and the CUDA build of torch crashed in one process).
    env = {**os.environ, "KERAS_BACKEND": "jax",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "check_inception_v4_parity.py"),
         "--size", str(MIN), "--batch", "2", "--format", "safetensors"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0 and "PASS" in done.stdout, done.stdout + done.stderr[-3000:]


def test_feature_map_sizes_and_minimum_input():
    # Spatial sizes do not depend on width or blocks: a tiny member shows the canonical ones.
    for build in (v4.inception_v4, irv2.inception_resnet_v2):
        model = build(input_shape=(None, None, 3), width=0.125, blocks=(0, 0, 1), include_top=False)
        for side, out in ((299, 8), (480, 13), (MIN, 1), (96, 1), (128, 2)):
            assert model.compute_output_shape((1, side, side, 3))[1:3] == (out, out), side
    for build in (v4.inception_v4, irv2.inception_resnet_v2):
        with pytest.raises(ValueError, match="at least 75"):
            build(input_shape=(MIN - 1, 128, 3))


# ------------------------------------------------------------------------ Inception-ResNet-v2


def test_canonical_inception_resnet_v2_matches_keras_applications_count(irv2_pair):
    reference, ours = irv2_pair
    assert ours.count_params() == reference.count_params() == 55_873_736
    assert _trainable(ours) == _trainable(reference)
    assert ours.get_layer("avg_pool").output.shape[-1] == registry.num_features(
        "inception_resnet_v2")


def test_inception_resnet_v2_takes_keras_applications_weights(irv2_pair):
    reference, ours = irv2_pair
    x = np.random.default_rng(0).uniform(-1, 1, (2, MIN, MIN, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(reference(x, training=False))
    got = keras.ops.convert_to_numpy(ours(x, training=False))
    assert np.abs(expected).max() > 0.01
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_inception_resnet_v2_weights_from_file_without_top(irv2_pair, tmp_path):
    reference, _ = irv2_pair
    path = tmp_path / "irv2.weights.h5"
    reference.save_weights(path)
    features = keras.Model(reference.input, reference.get_layer("avg_pool").output)
    net = registry.build_backbone("inception_resnet_v2", input_shape=(MIN, MIN, 3), weights=path)
    assert net.output.name and net.layers[-1].name == "avg_pool"
    x = np.random.default_rng(1).uniform(-1, 1, (1, MIN, MIN, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(net(x, training=False)),
        keras.ops.convert_to_numpy(features(x, training=False)),
        rtol=0, atol=1e-5,
    )


def test_inception_resnet_v2_weights_refuse_another_member(irv2_pair):
    reference, _ = irv2_pair
    small = irv2.inception_resnet_v2(input_shape=(MIN, MIN, 3), width=0.125, blocks=(1, 1, 1))
    with pytest.raises(ValueError, match=r"#0: .*stem_conv1 .*\(3, 3, 3, 4\).*\[\(3, 3, 3, 32\)\]"):
        kaw.load_keras_applications_weights(small, reference)


# ------------------------------------------------------------------------ registry, variants


def test_registry_variants_build_and_run_at_small_sizes():
    x = np.random.default_rng(0).uniform(0, 255, (2, 96, 96, 3)).astype("float32")
    for name in registry.BACKBONES:
        assert set(registry.BACKBONES[name].variants) == {"tiny", "small", "canonical"}
        for variant, side in (("tiny", 96), ("small", 128)):
            model = registry.build_backbone(name, variant, input_shape=(side, side, 3))
            assert model.name == name and model.layers[-1].name == registry.FEATURES_LAYER
            n = registry.num_features(name, variant)
            assert model.output.shape == (None, n)
            if variant == "tiny":
                y = keras.ops.convert_to_numpy(model(x / 127.5 - 1, training=False))
                assert y.shape == (2, n) and np.isfinite(y).all()
    with pytest.raises(ValueError, match="unknown backbone"):
        registry.build_backbone("resnet", input_shape=(96, 96, 3))
    with pytest.raises(ValueError, match="unknown variant"):
        registry.build_backbone("inception_v4", "huge", input_shape=(96, 96, 3))
    with pytest.raises(TypeError, match="unexpected overrides"):
        registry.build_backbone("inception_v4", "tiny", input_shape=(96, 96, 3), classes=3)
    assert registry.variant_config("inception_v4", "tiny", blocks=[2, 1, 1]) == {
        "width": 0.125, "blocks": (2, 1, 1)}


def test_registry_reads_without_keras_and_names_what_the_models_expect():
    # The command line and the benchmarks read the registry without starting a backend.
    code = ("import sys; from replication.nets import registry; "
            "print(registry.names(), 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert done.stdout.split("\n")[0] == f"{registry.names()} False"
    assert registry.names() == tuple(registry.BACKBONES)
    assert registry.variant_names() == ("tiny", "small", "canonical")
    for backbone in registry.BACKBONES.values():
        # The normalisation the ImageNet weights expect is one the models implement.
        assert backbone.input_mode in normalisation.MODES
        assert callable(backbone.builder()) and callable(backbone.weights_loader())


AUTO_NAME = re.compile(
    r"(conv2d|batch_normalization|activation|concatenate|dense|max_pooling2d|average_pooling2d"
    r"|global_average_pooling2d|scaled_residual)(_\d+)?"
)


def test_layer_names_are_stable_and_explicit():
    for name in registry.BACKBONES:
        first = registry.build_backbone(name, "tiny", input_shape=(96, 96, 3))
        second = registry.build_backbone(name, "tiny", input_shape=(96, 96, 3))
        names = [layer.name for layer in first.layers]
        assert names == [layer.name for layer in second.layers]
        assert len(set(names)) == len(names)
        # No auto-generated names such as "conv2d_17" or "batch_normalization_3".
        assert not [n for n in names if AUTO_NAME.fullmatch(n)]
    names = {layer.name for layer in registry.build_backbone(
        "inception_v4", "tiny", input_shape=(96, 96, 3)).layers}
    assert {"stem_conv1", "mixed_3a", "inception_a1_branch1_conv1_bn", "reduction_a",
            "inception_c1_branch2_conv4b_ac", "avg_pool"} <= names
    names = {layer.name for layer in registry.build_backbone(
        "inception_resnet_v2", "tiny", input_shape=(96, 96, 3)).layers}
    assert {"stem_conv1", "mixed_5b", "block35_1_mixed", "block35_1_conv", "block17_1_scale",
            "mixed_7a", "block8_1_conv", "conv_7b_ac", "avg_pool"} <= names


def test_width_and_blocks_set_the_size():
    for build in (v4.inception_v4, irv2.inception_resnet_v2):
        counts = [build(input_shape=(MIN, MIN, 3), width=w, blocks=(0, 0, 1), include_top=False)
                  .count_params() for w in (0.125, 0.25, 0.5)]
        assert counts == sorted(counts) and len(set(counts)) == 3
    model = v4.inception_v4(input_shape=(96, 96, 3), width=0.125, blocks=(2, 3, 1))
    names = [layer.name for layer in model.layers]
    assert [sum(bool(re.fullmatch(f"inception_{k}\\d+", n)) for n in names)
            for k in "abc"] == [2, 3, 1]
    model = irv2.inception_resnet_v2(input_shape=(96, 96, 3), width=0.125, blocks=(2, 3, 1))
    names = [layer.name for layer in model.layers]
    assert [sum(bool(re.fullmatch(f"{k}_\\d+_scale", n)) for n in names)
            for k in ("block35", "block17", "block8")] == [2, 3, 1]
    assert "block8_1_ac" not in names  # the last block8 is linear, as in keras.applications


# ---------------------------------------------------------------- writing our own weights


def _tiny_trained(name: str, seed: int) -> keras.Model:
    """The tiny variant of ``name`` at 75 px with random weights and batch-norm statistics
    (a stand-in for a net we pretrained)."""
    keras.utils.set_random_seed(seed)
    model = registry.build_backbone(name, "tiny", input_shape=(MIN, MIN, 3))
    _randomise_batch_norm(model, seed=seed)
    return model


@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v2"])
def test_saved_backbone_weights_load_back_through_the_imagenet_loader(name, tmp_path):
    saved = _tiny_trained(name, seed=5)
    path = tmp_path / f"{name}{registry.BACKBONES[name].weights_suffix}"
    registry.save_backbone_weights(name, saved, path)
    keras.utils.set_random_seed(6)  # another initialisation: only the file can make them agree
    loaded = registry.build_backbone(name, "tiny", input_shape=(MIN, MIN, 3), weights=path)
    for a, b in zip(loaded.get_weights(), saved.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).uniform(-1, 1, (2, MIN, MIN, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(saved(x, training=False))
    assert np.abs(expected).max() > 0.01
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x, training=False)), expected)

    # A net of another size is refused, naming the file, the layer and both shapes.
    file = re.escape(str(path))
    with pytest.raises(ValueError, match=rf"stem_conv1.*{file}|{file}.*stem_conv1"):
        registry.build_backbone(name, "tiny", input_shape=(MIN, MIN, 3), weights=path,
                                width=0.25)
    deeper = "inception_a2" if name == "inception_v4" else "block35_2"
    with pytest.raises(ValueError, match=rf"{deeper}.*{file}|{file}.*{deeper}"):
        registry.build_backbone(name, "tiny", input_shape=(MIN, MIN, 3), weights=path,
                                blocks=(2, 1, 1))


def test_timm_writer_is_the_loaders_inverse(tmp_path):
    model = v4.inception_v4(input_shape=(MIN, MIN, 3), width=0.125, blocks=(1, 2, 1), classes=5)
    _randomise_batch_norm(model, seed=7)
    state = tw.timm_state_dict(model)
    buffers = {k for k in state if k.endswith("num_batches_tracked")}
    assert {k: tuple(v.shape) for k, v in state.items() if k not in buffers} == (
        tw.timm_state_dict_shapes(model))
    assert len(buffers) == sum(isinstance(layer, keras.layers.BatchNormalization)
                               for layer in model.layers)
    assert all(state[k].dtype == np.int64 and state[k].shape == () and state[k] == 0
               for k in buffers)
    np.testing.assert_array_equal(state["features.0.conv.weight"].transpose(2, 3, 1, 0),
                                  keras.ops.convert_to_numpy(model.get_layer("stem_conv1").kernel))
    np.testing.assert_array_equal(state["last_linear.weight"].T,
                                  model.get_layer("predictions").get_weights()[0])

    for suffix in (".safetensors", ".npz"):
        path = tw.save_timm_weights(model, tmp_path / f"v4{suffix}")
        read = tw.read_state_dict(path)
        assert list(read) == sorted(state) if suffix == ".safetensors" else set(read) == set(state)
        for key, value in state.items():
            assert read[key].dtype == value.dtype
            np.testing.assert_array_equal(read[key], value)
        fresh = v4.inception_v4(input_shape=(MIN, MIN, 3), width=0.125, blocks=(1, 2, 1),
                                classes=5)
        report = tw.load_timm_weights(fresh, path)
        assert report["unused"] == [] and report["skipped"] == []
        for a, b in zip(fresh.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    raw = (tmp_path / "v4.safetensors").read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len])
    assert header["features.0.bn.num_batches_tracked"] == {
        "dtype": "I64", "shape": [], "data_offsets": header["features.0.bn.num_batches_tracked"][
            "data_offsets"]}
    assert (8 + header_len) % 8 == 0 and header["last_linear.weight"]["dtype"] == "F32"
    with pytest.raises(ValueError, match=r"\.safetensors or \.npz"):
        tw.save_timm_weights(model, tmp_path / "v4.pth")


def test_keras_applications_writer_writes_the_legacy_layout(tmp_path):
    import h5py

    model = irv2.inception_resnet_v2(input_shape=(MIN, MIN, 3), width=0.125, blocks=(1, 1, 1),
                                     classes=3)
    path = kaw.save_keras_applications_weights(model, tmp_path / "irv2.h5")
    weighted = [layer for layer in model.layers if layer.weights]
    with h5py.File(path, "r") as f:
        assert [n.decode() for n in f.attrs["layer_names"]] == [layer.name for layer in weighted]
        assert f.attrs["backend"] and f.attrs["keras_version"]
        group = f["stem_conv1_bn"]  # BatchNormalization(scale=False): beta, mean, variance
        assert [n.decode() for n in group.attrs["weight_names"]] == [
            "stem_conv1_bn/beta:0", "stem_conv1_bn/moving_mean:0",
            "stem_conv1_bn/moving_variance:0"]
        np.testing.assert_array_equal(
            f["predictions"]["predictions/kernel:0"][()], model.get_layer("predictions").kernel)
    # The head: dropped for a net without one, kept where the sizes differ.
    kaw.load_keras_applications_weights(
        registry.build_backbone("inception_resnet_v2", "tiny", input_shape=(MIN, MIN, 3)), path)
    other = irv2.inception_resnet_v2(input_shape=(MIN, MIN, 3), width=0.125, blocks=(1, 1, 1),
                                     classes=4)
    head = other.get_layer("predictions").get_weights()
    kaw.load_keras_applications_weights(other, path)
    np.testing.assert_array_equal(other.get_layer("predictions").get_weights()[0], head[0])
    np.testing.assert_array_equal(other.get_layer("stem_conv1").get_weights()[0],
                                  model.get_layer("stem_conv1").get_weights()[0])
    headless = kaw.save_keras_applications_weights(
        registry.build_backbone("inception_resnet_v2", "tiny", input_shape=(MIN, MIN, 3)),
        tmp_path / "headless.h5")
    with pytest.raises(ValueError, match="has a classifier"):
        kaw.load_keras_applications_weights(other, headless)
    wide = irv2.inception_resnet_v2(input_shape=(MIN, MIN, 3), width=0.25, blocks=(1, 1, 1),
                                    include_top=False)
    with pytest.raises(ValueError, match=r"#0: .*stem_conv1 .*\(3, 3, 3, 8\).*headless\.h5.*"
                                         r"\(3, 3, 3, 4\)"):
        kaw.load_keras_applications_weights(wide, headless)


def test_keras_applications_writer_round_trips_the_canonical_network(irv2_pair, tmp_path):
    # Our file of the canonical network is one keras.applications reads, and ours reads back.
    reference, ours = irv2_pair
    path = kaw.save_keras_applications_weights(ours, tmp_path / "irv2.h5")
    fresh = keras.applications.InceptionResNetV2(
        weights=None, input_shape=(MIN, MIN, 3), classifier_activation=None)
    fresh.load_weights(path)
    for a, b in zip(fresh.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    # A file in the layout Keras 2 wrote keras.applications' files in (every layer named, the
    # groups sorted by name, weightless ones empty) is read directly too, as the model was.
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    keras_file = tmp_path / "keras_legacy.h5"
    with h5py.File(keras_file, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    net = registry.build_backbone("inception_resnet_v2", input_shape=(MIN, MIN, 3),
                                  weights=keras_file)
    features = [w for layer in ours.layers[:-1] for w in layer.get_weights()]
    for a, b in zip(net.get_weights(), features, strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------ JAX backend

_JAX_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import keras
    from replication.nets.registry import build_backbone

    assert keras.backend.backend() == "jax", keras.backend.backend()
    data = np.load(sys.argv[1])
    for name in ("inception_v4", "inception_resnet_v2"):
        model = build_backbone(name, "tiny", input_shape=(96, 96, 3))
        model.load_weights(sys.argv[2].format(name=name))
        y = model.predict(data["x"], verbose=0)
        diff = float(np.abs(y - data[name]).max())
        print(name, y.shape, diff)
        assert diff < 1e-4, (name, diff)
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_JAX, reason="needs jax")
def test_tiny_variants_build_and_agree_under_jax(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, (2, 96, 96, 3)).astype("float32")
    expected = {}
    for name in registry.BACKBONES:
        model = registry.build_backbone(name, "tiny", input_shape=(96, 96, 3))
        _randomise_batch_norm(model, seed=2)
        model.save_weights(tmp_path / f"{name}.weights.h5")
        expected[name] = keras.ops.convert_to_numpy(model(x, training=False))
    np.savez(tmp_path / "io.npz", x=x, **expected)
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO),
           # Tiny programs: XLA's optimisation passes cost more than they save here.
           "XLA_FLAGS": "--xla_backend_optimization_level=0"
                        " --xla_llvm_disable_expensive_passes=true",
           "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", _JAX_SCRIPT, str(tmp_path / "io.npz"),
         str(tmp_path / "{name}.weights.h5")],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "inception_resnet_v2 (2, 192)" in done.stdout
