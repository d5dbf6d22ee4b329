"""timm's ``inception_v4`` weights (a PyTorch state dict) for the Keras Inception-v4.

Reference:
    Christian Szegedy, Sergey Ioffe, Vincent Vanhoucke, Alex Alemi (2016/2017).
    "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning".
    AAAI 2017, https://arxiv.org/abs/1602.07261 (Figures 3-9). timm's ``inception_v4`` is a
    port of the tf-slim model and its ImageNet weights.

timm numbers its modules ``features.0`` .. ``features.21`` in the canonical network (stem 0-5,
Inception-A 6-9, Reduction-A 10, Inception-B 11-17, Reduction-B 18, Inception-C 19-21) and calls
the classifier ``last_linear``; :func:`timm_layer_map` maps every Keras layer of
:func:`replication.nets.inception_v4.inception_v4` (named by its place in the network) to that
path, for any member of the family. :func:`load_timm_weights` reads a state dict (a mapping, or
a ``.safetensors`` / ``.npz`` file without torch, or a ``.pth`` file with it) and sets the
weights, transposing PyTorch's layouts to Keras'; :func:`convert_timm_checkpoint` writes the
result as a Keras ``.weights.h5`` file. The inverse, :func:`timm_state_dict` and
:func:`save_timm_weights`, writes a net we trained ourselves (any width and blocks) as the
timm state dict that :func:`load_timm_weights` reads back. Nothing is downloaded.

``tests/test_nets.py`` checks the conversion against timm's own outputs, stored in
``tests/golden/`` by ``scripts/check_inception_v4_parity.py --write-golden``.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
from keras import layers

from replication.nets.inception import MIN_INPUT_SIZE
from replication.nets.inception_v4 import CANONICAL_BLOCKS, inception_v4

__all__ = [
    "convert_timm_checkpoint",
    "load_timm_weights",
    "read_state_dict",
    "save_timm_weights",
    "timm_layer_map",
    "timm_state_dict",
    "timm_state_dict_shapes",
]

_BLOCK = re.compile(
    r"^(?P<block>stem|mixed_3a|mixed_4a|mixed_5a|reduction_a|reduction_b"
    r"|inception_(?P<kind>[abc])(?P<index>\d+))_(?P<rest>.+)$"
)


def _block_counts(model: keras.Model) -> tuple[int, int, int]:
    counts = {"a": 0, "b": 0, "c": 0}
    for layer in model.layers:
        m = re.match(r"^inception_([abc])(\d+)_", layer.name)
        if m:
            counts[m.group(1)] = max(counts[m.group(1)], int(m.group(2)))
    return counts["a"], counts["b"], counts["c"]


def _timm_prefix(conv_name: str, blocks: tuple[int, int, int]) -> str:
    """timm module path of the ConvNormAct that corresponds to Keras conv ``conv_name``."""
    n_a, n_b, _ = blocks
    m = _BLOCK.match(conv_name)
    if m is None:
        raise ValueError(f"layer {conv_name!r} is not part of the Inception-v4 naming scheme")
    block, kind, rest = m.group("block"), m.group("kind"), m.group("rest")
    if block == "stem":
        return f"features.{int(rest.removeprefix('conv')) - 1}"
    if block in ("mixed_3a", "mixed_5a"):  # a single conv, called `conv` in timm
        return f"features.{3 if block == 'mixed_3a' else 5}.conv"
    if block == "mixed_4a":
        feature = 4
    elif block == "reduction_a":
        feature = 6 + n_a
    elif block == "reduction_b":
        feature = 7 + n_a + n_b
    else:
        index = int(m.group("index"))
        feature = {"a": 5, "b": 6 + n_a, "c": 7 + n_a + n_b}[kind] + index
    base = f"features.{feature}"

    r = re.match(r"^branch(\d)_conv(\d?)([ab]?)$", rest)
    if r is None:
        raise ValueError(f"layer {conv_name!r} is not part of the Inception-v4 naming scheme")
    branch, step, split = r.group(1), r.group(2), r.group(3)
    if kind == "c" and step:
        # InceptionC names its convs branch1_0, branch1_1a, branch2_3b, ...; branch0 and the
        # pooled branch3 (Sequential: pool, conv) as in A and B.
        return f"{base}.branch{branch}_{int(step) - 1}{split}"
    if not step:  # a single-conv branch: plain module, or the conv after the pool (index 1)
        return f"{base}.branch{branch}.1" if (kind and branch == "3") else f"{base}.branch{branch}"
    return f"{base}.branch{branch}.{int(step) - 1}"


def timm_layer_map(model: keras.Model) -> dict[str, str]:
    """Map every Keras ``Conv2D`` / ``Dense`` layer of ``model`` to its timm module path.

    ``stem_conv1 -> features.0``, ``inception_a1_branch3_conv -> features.6.branch3.1``,
    ``inception_c2_branch2_conv4b -> features.20.branch2_3b``, ``predictions -> last_linear``.
    The batch norm of conv ``X`` (Keras ``X_bn``) is timm's ``<path>.bn``; the conv is
    ``<path>.conv``. Works for every member of the family (any ``blocks``), with the module
    numbering that timm's ``InceptionV4`` would give it.
    """
    blocks = _block_counts(model)
    mapping = {}
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            mapping[layer.name] = _timm_prefix(layer.name, blocks)
        elif isinstance(layer, layers.Dense) and layer.name == "predictions":
            mapping[layer.name] = "last_linear"
    return mapping


def timm_state_dict_shapes(model: keras.Model) -> dict[str, tuple[int, ...]]:
    """The keys and (PyTorch) shapes of the timm state dict that ``model`` corresponds to.

    ``num_batches_tracked`` buffers are left out (the converter ignores them).
    """
    shapes: dict[str, tuple[int, ...]] = {}
    for layer_name, prefix in timm_layer_map(model).items():
        layer = model.get_layer(layer_name)
        if isinstance(layer, layers.Dense):
            cin, cout = layer.kernel.shape
            shapes[f"{prefix}.weight"] = (cout, cin)
            shapes[f"{prefix}.bias"] = (cout,)
            continue
        kh, kw, cin, cout = layer.kernel.shape
        shapes[f"{prefix}.conv.weight"] = (cout, cin, kh, kw)
        for stat in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.bn.{stat}"] = (cout,)
    return shapes


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, without importing torch
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    return np.asarray(value)


_SAFETENSORS_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def _write_safetensors(path: str, state: Mapping[str, np.ndarray]) -> None:
    """Write a .safetensors file with NumPy alone: an 8-byte little-endian header length, the
    JSON header (``dtype``, ``shape``, ``data_offsets`` per key, keys sorted), the raw
    little-endian data."""
    names = {np.dtype(t).newbyteorder("<"): name for name, t in _SAFETENSORS_DTYPES.items()}
    header: dict[str, Any] = {}
    chunks: list[bytes] = []
    offset = 0
    for key in sorted(state):
        value = np.asarray(state[key])
        dtype = value.dtype.newbyteorder("<")
        if dtype not in names:
            raise ValueError(f"{path}: cannot write {key!r} of dtype {value.dtype} as safetensors")
        data = np.ascontiguousarray(value, dtype=dtype).tobytes()
        header[key] = {"dtype": names[dtype], "shape": list(value.shape),
                       "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # pad the header so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for chunk in chunks:
            f.write(chunk)


def _read_safetensors(path: str) -> dict[str, np.ndarray]:
    """Read a .safetensors file with NumPy alone (the format is a JSON header + raw data)."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        if info["dtype"] == "BF16":  # widen bfloat16 to float32 by shifting into the high half
            arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] in _SAFETENSORS_DTYPES:
            arr = np.frombuffer(raw, np.dtype(_SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<"))
        else:
            raise ValueError(f"{path}: unsupported safetensors dtype {info['dtype']} for {key!r}")
        out[key] = arr.reshape(info["shape"])
    return out


def read_state_dict(source: Mapping[str, Any] | str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a PyTorch-style state dict into ``{key: numpy array}``.

    ``source`` is a mapping of arrays or torch tensors, or a path to a ``.npz``, ``.safetensors``
    (both read without torch) or ``.pth``/``.pt``/``.bin`` file (read with
    ``torch.load(weights_only=True)``, so torch must be installed). A checkpoint that wraps the
    weights in ``"state_dict"``/``"model"``/``"state_dict_ema"`` is unwrapped, and a ``module.``
    prefix (DataParallel) is dropped.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no weight file at {path!r}")
        lower = path.lower()
        if lower.endswith(".npz"):
            with np.load(path, allow_pickle=False) as npz:
                state = {k: npz[k] for k in npz.files}
        elif lower.endswith(".safetensors"):
            state = _read_safetensors(path)
        elif lower.endswith((".pth", ".pt", ".bin", ".pth.tar", ".ckpt")):
            try:
                import torch
            except ImportError as err:  # pragma: no cover - depends on the environment
                raise ImportError(
                    f"reading {path!r} needs PyTorch; convert it to .safetensors or .npz "
                    "elsewhere, or install torch"
                ) from err
            state = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise ValueError(
                f"{path!r}: expected a .safetensors, .npz, .pth, .pt or .bin state dict"
            )
    else:
        state = source
    for wrapper in ("state_dict_ema", "state_dict", "model"):
        if isinstance(state, Mapping) and wrapper in state and isinstance(state[wrapper], Mapping):
            state = state[wrapper]
            break
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        out[key] = _to_numpy(value)
    return out


def load_timm_weights(
    model: keras.Model,
    state_dict_or_path: Mapping[str, Any] | str | os.PathLike,
    *,
    strict: bool = True,
) -> dict[str, list[str]]:
    """Load timm's ``inception_v4`` weights (a PyTorch state dict) into ``model``.

    Conv kernels go from PyTorch's ``(out, in, kh, kw)`` to Keras' ``(kh, kw, in, out)``; each
    BatchNorm's ``weight, bias, running_mean, running_var`` become Keras' ``gamma, beta,
    moving_mean, moving_variance``; ``last_linear.weight`` is transposed into the kernel of
    ``predictions``. If ``model`` has no classifier the ``last_linear`` keys are skipped; if it
    has one of another size, its ``predictions`` layer keeps its own weights (a new head).

    Args:
        model: built by :func:`inception_v4` with the same ``width`` and ``blocks`` as the
            checkpoint (canonical for timm's ImageNet weights).
        state_dict_or_path: see :func:`read_state_dict`.
        strict: raise if a model weight has no key, or a key (other than ``num_batches_tracked``
            and a skipped head) is not used.

    Returns:
        ``{"loaded": [...], "skipped": [...], "unused": [...]}`` lists of state-dict keys.

    Raises:
        ValueError: a shape mismatch (naming the file if any, the layer, the key and both
            shapes), or a missing or unused key when ``strict``.
    """
    state = read_state_dict(state_dict_or_path)
    where = (  # errors name the file, when there is one
        f"{os.fspath(state_dict_or_path)}: "
        if isinstance(state_dict_or_path, (str, os.PathLike)) else ""
    )
    used: set[str] = set()
    skipped: list[str] = []
    missing: list[str] = []

    def take(key: str, shape: tuple[int, ...], layer_name: str) -> np.ndarray | None:
        if key not in state:
            missing.append(key)
            return None
        value = state[key]
        if tuple(value.shape) != tuple(shape):
            raise ValueError(
                f"{where}layer {layer_name!r}: state-dict key {key!r} has shape "
                f"{tuple(value.shape)}, the model needs {tuple(shape)} (PyTorch layout); is the "
                "model built with the checkpoint's width and blocks?"
            )
        used.add(key)
        return value.astype(np.float32)

    expected = timm_state_dict_shapes(model)
    assignments: list[tuple[Any, list[np.ndarray]]] = []
    for layer_name, prefix in timm_layer_map(model).items():
        layer = model.get_layer(layer_name)
        if isinstance(layer, layers.Dense):
            w_key, b_key = f"{prefix}.weight", f"{prefix}.bias"
            if w_key in state and tuple(state[w_key].shape) != expected[w_key]:
                skipped += [w_key, b_key]  # a head of another size: keep the new one
                continue
            w = take(w_key, expected[w_key], layer_name)
            b = take(b_key, expected[b_key], layer_name)
            if w is not None and b is not None:
                assignments.append((layer, [w.T, b]))
            continue
        conv_key = f"{prefix}.conv.weight"
        kernel = take(conv_key, expected[conv_key], layer_name)
        if kernel is not None:
            assignments.append((layer, [kernel.transpose(2, 3, 1, 0)]))
        bn = model.get_layer(f"{layer_name}_bn")
        stats = [
            take(f"{prefix}.bn.{s}", expected[f"{prefix}.bn.{s}"], bn.name)
            for s in ("weight", "bias", "running_mean", "running_var")
        ]
        if all(s is not None for s in stats):
            assignments.append((bn, stats))

    if "predictions" not in [layer.name for layer in model.layers]:
        skipped += [k for k in state if k.startswith("last_linear.")]
    unused = sorted(
        k
        for k in state
        if k not in used and k not in skipped and not k.endswith("num_batches_tracked")
    )
    if strict and (missing or unused):
        raise ValueError(
            f"{where}the state dict does not match the model: "
            f"{len(missing)} missing key(s) {missing[:5]}, {len(unused)} unused key(s) {unused[:5]}"
        )
    for layer, weights in assignments:
        layer.set_weights(weights)
    return {"loaded": sorted(used), "skipped": sorted(skipped), "unused": unused}


def timm_state_dict(model: keras.Model) -> dict[str, np.ndarray]:
    """The timm state dict of ``model``: the exact inverse of :func:`load_timm_weights`.

    Conv kernels go from Keras' ``(kh, kw, in, out)`` to PyTorch's ``(out, in, kh, kw)``; each
    BatchNorm's ``gamma, beta, moving_mean, moving_variance`` become ``bn.weight, bias,
    running_mean, running_var``, with an int64 ``bn.num_batches_tracked`` of 0 as timm keeps;
    the ``predictions`` layer, if any, becomes ``last_linear.weight`` (transposed) and ``.bias``.
    Works for every member of the family (any ``width`` and ``blocks``): the keys are those of
    :func:`timm_state_dict_shapes` plus the ``num_batches_tracked`` buffers.
    """
    state: dict[str, np.ndarray] = {}
    for layer_name, prefix in timm_layer_map(model).items():
        layer = model.get_layer(layer_name)
        if isinstance(layer, layers.Dense):
            kernel, bias = (keras.ops.convert_to_numpy(w) for w in (layer.kernel, layer.bias))
            state[f"{prefix}.weight"] = np.ascontiguousarray(kernel.T, np.float32)
            state[f"{prefix}.bias"] = np.asarray(bias, np.float32)
            continue
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        state[f"{prefix}.conv.weight"] = np.ascontiguousarray(
            kernel.transpose(3, 2, 0, 1), np.float32
        )
        bn = model.get_layer(f"{layer_name}_bn")
        variables = (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance)
        for stat, variable in zip(("weight", "bias", "running_mean", "running_var"), variables,
                                  strict=True):
            state[f"{prefix}.bn.{stat}"] = np.asarray(
                keras.ops.convert_to_numpy(variable), np.float32
            )
        state[f"{prefix}.bn.num_batches_tracked"] = np.array(0, np.int64)
    return state


def save_timm_weights(model: keras.Model, path: str | os.PathLike) -> str:
    """Write ``model``'s weights as a timm ``inception_v4`` state dict (:func:`timm_state_dict`).

    ``path`` ends in ``.safetensors`` (written with NumPy alone, keys sorted) or ``.npz``. The
    file loads back with :func:`load_timm_weights` into a net of the same width and blocks (and
    with timm's ``inception_v4`` of that shape). Returns the path written.
    """
    path = os.fspath(path)
    state = timm_state_dict(model)
    lower = path.lower()
    if lower.endswith(".safetensors"):
        _write_safetensors(path, state)
    elif lower.endswith(".npz"):
        with open(path, "wb") as f:  # a file object: np.savez appends no second suffix
            np.savez(f, **dict(sorted(state.items())))
    else:
        raise ValueError(f"{path!r}: expected a .safetensors or .npz path to write")
    return path


def convert_timm_checkpoint(
    source: Mapping[str, Any] | str | os.PathLike,
    destination: str | os.PathLike,
    *,
    include_top: bool = True,
    width: float = 1.0,
    blocks: Sequence[int] = CANONICAL_BLOCKS,
) -> keras.Model:
    """Convert a timm ``inception_v4`` state dict into a Keras ``.weights.h5`` file.

    The file loads with ``inception_v4(include_top=..., width=..., blocks=...).load_weights``
    (any input size). Returns the converted model.
    """
    model = inception_v4(
        input_shape=(MIN_INPUT_SIZE, MIN_INPUT_SIZE, 3),
        include_top=include_top,
        width=width,
        blocks=blocks,
        classifier_activation=None,
    )
    load_timm_weights(model, source)
    model.save_weights(os.fspath(destination))
    return model
