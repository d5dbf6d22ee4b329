"""Inception-v4 in Keras 3, backend-agnostic, with a converter for timm/PyTorch weights.

Reference:
    Christian Szegedy, Sergey Ioffe, Vincent Vanhoucke, Alex Alemi (2016/2017).
    "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning".
    AAAI 2017, https://arxiv.org/abs/1602.07261 (Figures 3-9: stem, Inception-A/B/C,
    Reduction-A/B).

Inception-v4 is not part of ``keras.applications``, keras-hub or KerasCV. The topology here is the
one of timm's ``inception_v4`` (itself a port of the tf-slim model and its ImageNet weights):
every convolution is ``Conv2D(use_bias=False) -> BatchNormalization(epsilon=1e-3) -> ReLU``,
PyTorch's symmetric paddings become ``"same"`` and its unpadded convolutions and poolings
``"valid"``, and the 3x3 average poolings inside the blocks exclude the padding from the mean
(``count_include_pad=False`` in PyTorch, ``padding="same"`` in Keras). With ``width=1`` and
``blocks=(4, 7, 3)`` and a 1000-class head the model has 42,679,816 parameters, the same as
timm's, and :func:`load_timm_weights` loads a timm state dict into it so that both compute the
same function (``scripts/check_inception_v4_parity.py`` checks it).

The model is written as plain functions, one per block (``stem``, ``inception_a``,
``reduction_a``, ...), in the style of ``keras.applications.inception_resnet_v2``. Every layer
has an explicit name that depends only on its place in the network:

    stem_conv1 .. stem_conv3, mixed_3a, mixed_4a, mixed_5a      (the stem, 35 x 35 x 384 at 299)
    inception_a1 .. inception_a4, reduction_a                    (17 x 17 x 1024)
    inception_b1 .. inception_b7, reduction_b                    (8 x 8 x 1536)
    inception_c1 .. inception_c3                                 (8 x 8 x 1536)
    avg_pool, predictions

A convolution ``<block>_branch<k>_conv<j>`` is followed by ``..._bn`` and ``..._ac``.

The ``width`` multiplier scales every channel count (rounded, at least 4) and ``blocks`` sets
how many Inception-A/B/C blocks each stage repeats, so that the small profiles of the
replication use small members of the same family. Spatial sizes do not depend on either: the
valid-padded stem and reductions need an input of at least ``MIN_INPUT_SIZE`` (75) pixels per
side (75 -> 37 -> 35 -> 17 -> 15 -> 7 -> 3 -> 1); at 299 the last feature map is 8 x 8, at 480
it is 13 x 13.

Only ``keras.layers`` and ``keras.ops`` are used; the model runs on the TensorFlow, JAX and
PyTorch backends, in the ``channels_last`` layout.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import keras
import numpy as np
from keras import layers

__all__ = [
    "CANONICAL_BLOCKS",
    "MIN_INPUT_SIZE",
    "NUM_FEATURES",
    "convert_timm_checkpoint",
    "inception_v4",
    "load_timm_weights",
    "read_state_dict",
    "timm_layer_map",
    "timm_state_dict_shapes",
]

#: Number of Inception-A, -B and -C blocks of the canonical network.
CANONICAL_BLOCKS = (4, 7, 3)
#: Smallest input height/width that the valid-padded stem and reductions accept.
MIN_INPUT_SIZE = 75
#: Channels of the last feature map of the canonical network (times ``width`` otherwise).
NUM_FEATURES = 1536
#: timm's BasicConv2d / ConvNormAct uses BatchNorm2d(eps=0.001).
BN_EPSILON = 1e-3


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def _channels(filters: int, width: float) -> int:
    """Scale a canonical channel count by ``width`` (rounded, at least 4; exact for width 1)."""
    if width == 1.0:
        return filters
    return max(4, round(filters * width))


def conv2d_bn(x, filters, kernel_size, *, strides=1, padding="same", name):
    """``Conv2D(use_bias=False) -> BatchNormalization(eps=1e-3) -> ReLU`` (timm's ConvNormAct).

    The three layers are named ``name``, ``name + "_bn"`` and ``name + "_ac"``.
    """
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=name
    )(x)
    x = layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_ac")(x)


def _avg_pool(x, name):
    # 3x3/1 average pooling that leaves the padding out of the mean (count_include_pad=False).
    return layers.AveragePooling2D(3, strides=1, padding="same", name=name)(x)


def _max_pool(x, name):
    return layers.MaxPooling2D(3, strides=2, padding="valid", name=name)(x)


def stem(x, width=1.0):
    """Figure 3 of the paper: 299 x 299 x 3 -> 35 x 35 x 384."""
    c = partial(_channels, width=width)
    x = conv2d_bn(x, c(32), 3, strides=2, padding="valid", name="stem_conv1")
    x = conv2d_bn(x, c(32), 3, padding="valid", name="stem_conv2")
    x = conv2d_bn(x, c(64), 3, name="stem_conv3")

    # Mixed 3a: 3x3/2 max pool || 3x3/2 conv.
    b0 = _max_pool(x, "mixed_3a_branch0_pool")
    b1 = conv2d_bn(x, c(96), 3, strides=2, padding="valid", name="mixed_3a_branch1_conv")
    x = layers.Concatenate(axis=-1, name="mixed_3a")([b0, b1])

    # Mixed 4a: two factorised branches, both ending in a valid 3x3 conv.
    b0 = conv2d_bn(x, c(64), 1, name="mixed_4a_branch0_conv1")
    b0 = conv2d_bn(b0, c(96), 3, padding="valid", name="mixed_4a_branch0_conv2")
    b1 = conv2d_bn(x, c(64), 1, name="mixed_4a_branch1_conv1")
    b1 = conv2d_bn(b1, c(64), (1, 7), name="mixed_4a_branch1_conv2")
    b1 = conv2d_bn(b1, c(64), (7, 1), name="mixed_4a_branch1_conv3")
    b1 = conv2d_bn(b1, c(96), 3, padding="valid", name="mixed_4a_branch1_conv4")
    x = layers.Concatenate(axis=-1, name="mixed_4a")([b0, b1])

    # Mixed 5a: 3x3/2 conv || 3x3/2 max pool.
    b0 = conv2d_bn(x, c(192), 3, strides=2, padding="valid", name="mixed_5a_branch0_conv")
    b1 = _max_pool(x, "mixed_5a_branch1_pool")
    return layers.Concatenate(axis=-1, name="mixed_5a")([b0, b1])


def inception_a(x, index, width=1.0):
    """Figure 4: Inception-A block on the 35 x 35 grid (384 channels out)."""
    c = partial(_channels, width=width)
    p = f"inception_a{index}"
    b0 = conv2d_bn(x, c(96), 1, name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(64), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(96), 3, name=f"{p}_branch1_conv2")
    b2 = conv2d_bn(x, c(64), 1, name=f"{p}_branch2_conv1")
    b2 = conv2d_bn(b2, c(96), 3, name=f"{p}_branch2_conv2")
    b2 = conv2d_bn(b2, c(96), 3, name=f"{p}_branch2_conv3")
    b3 = _avg_pool(x, f"{p}_branch3_pool")
    b3 = conv2d_bn(b3, c(96), 1, name=f"{p}_branch3_conv")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2, b3])


def reduction_a(x, width=1.0):
    """Figure 7 with k=192, l=224, m=256, n=384: 35 x 35 -> 17 x 17 (1024 channels out)."""
    c = partial(_channels, width=width)
    p = "reduction_a"
    b0 = conv2d_bn(x, c(384), 3, strides=2, padding="valid", name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(192), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(224), 3, name=f"{p}_branch1_conv2")
    b1 = conv2d_bn(b1, c(256), 3, strides=2, padding="valid", name=f"{p}_branch1_conv3")
    b2 = _max_pool(x, f"{p}_branch2_pool")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2])


def inception_b(x, index, width=1.0):
    """Figure 5: Inception-B block on the 17 x 17 grid (1024 channels out)."""
    c = partial(_channels, width=width)
    p = f"inception_b{index}"
    b0 = conv2d_bn(x, c(384), 1, name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(192), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(224), (1, 7), name=f"{p}_branch1_conv2")
    b1 = conv2d_bn(b1, c(256), (7, 1), name=f"{p}_branch1_conv3")
    b2 = conv2d_bn(x, c(192), 1, name=f"{p}_branch2_conv1")
    b2 = conv2d_bn(b2, c(192), (7, 1), name=f"{p}_branch2_conv2")
    b2 = conv2d_bn(b2, c(224), (1, 7), name=f"{p}_branch2_conv3")
    b2 = conv2d_bn(b2, c(224), (7, 1), name=f"{p}_branch2_conv4")
    b2 = conv2d_bn(b2, c(256), (1, 7), name=f"{p}_branch2_conv5")
    b3 = _avg_pool(x, f"{p}_branch3_pool")
    b3 = conv2d_bn(b3, c(128), 1, name=f"{p}_branch3_conv")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2, b3])


def reduction_b(x, width=1.0):
    """Figure 8: 17 x 17 -> 8 x 8 (1536 channels out)."""
    c = partial(_channels, width=width)
    p = "reduction_b"
    b0 = conv2d_bn(x, c(192), 1, name=f"{p}_branch0_conv1")
    b0 = conv2d_bn(b0, c(192), 3, strides=2, padding="valid", name=f"{p}_branch0_conv2")
    b1 = conv2d_bn(x, c(256), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(256), (1, 7), name=f"{p}_branch1_conv2")
    b1 = conv2d_bn(b1, c(320), (7, 1), name=f"{p}_branch1_conv3")
    b1 = conv2d_bn(b1, c(320), 3, strides=2, padding="valid", name=f"{p}_branch1_conv4")
    b2 = _max_pool(x, f"{p}_branch2_pool")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2])


def inception_c(x, index, width=1.0):
    """Figure 6: Inception-C block on the 8 x 8 grid (1536 channels out)."""
    c = partial(_channels, width=width)
    p = f"inception_c{index}"
    b0 = conv2d_bn(x, c(256), 1, name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(384), 1, name=f"{p}_branch1_conv1")
    b1a = conv2d_bn(b1, c(256), (1, 3), name=f"{p}_branch1_conv2a")
    b1b = conv2d_bn(b1, c(256), (3, 1), name=f"{p}_branch1_conv2b")
    b1 = layers.Concatenate(axis=-1, name=f"{p}_branch1")([b1a, b1b])
    b2 = conv2d_bn(x, c(384), 1, name=f"{p}_branch2_conv1")
    b2 = conv2d_bn(b2, c(448), (3, 1), name=f"{p}_branch2_conv2")
    b2 = conv2d_bn(b2, c(512), (1, 3), name=f"{p}_branch2_conv3")
    b2a = conv2d_bn(b2, c(256), (1, 3), name=f"{p}_branch2_conv4a")
    b2b = conv2d_bn(b2, c(256), (3, 1), name=f"{p}_branch2_conv4b")
    b2 = layers.Concatenate(axis=-1, name=f"{p}_branch2")([b2a, b2b])
    b3 = _avg_pool(x, f"{p}_branch3_pool")
    b3 = conv2d_bn(b3, c(256), 1, name=f"{p}_branch3_conv")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2, b3])


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


def _check_arguments(input_shape, width, blocks, pooling, min_size):
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            "These models are built in the channels_last layout; "
            f"keras.config.image_data_format() is {keras.config.image_data_format()!r}."
        )
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels); got {input_shape}.")
    for side in input_shape[:2]:
        if side is not None and side < min_size:
            raise ValueError(
                f"input_shape {input_shape}: height and width must be at least {min_size} px "
                "(the valid-padded stem and reductions shrink smaller inputs to nothing)."
            )
    if not width > 0:
        raise ValueError(f"width must be positive; got {width}.")
    blocks = tuple(int(b) for b in blocks)
    if len(blocks) != 3 or any(b < 0 for b in blocks):
        raise ValueError(f"blocks must be three non-negative integers; got {blocks}.")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max'; got {pooling!r}.")
    return input_shape, blocks


def inception_v4(
    *,
    input_shape: Sequence[int | None] = (299, 299, 3),
    width: float = 1.0,
    blocks: Sequence[int] = CANONICAL_BLOCKS,
    include_top: bool = True,
    classes: int = 1000,
    pooling: str | None = None,
    dropout: float = 0.0,
    classifier_activation: str | None = "softmax",
    name: str = "inception_v4",
) -> keras.Model:
    """Build an Inception-v4 (Szegedy et al. 2016) as a functional Keras model.

    Args:
        input_shape: ``(height, width, channels)``; height and width at least 75 (or None).
        width: channel multiplier (1.0 is the canonical network).
        blocks: numbers of Inception-A, -B and -C blocks; ``(4, 7, 3)`` is canonical.
        include_top: add global average pooling, optional dropout and a ``Dense`` classifier
            named ``"predictions"`` (timm's ``last_linear``).
        classes: size of the classifier.
        pooling: without the top: None (the 4-D feature map), ``"avg"`` or ``"max"``; the
            pooling layer is named ``"avg_pool"`` / ``"max_pool"``.
        dropout: dropout rate before the classifier (timm's ``drop_rate``).
        classifier_activation: activation of the classifier; None returns logits as timm does.
        name: model name.

    Returns:
        A ``keras.Model``. With the defaults it has 42,679,816 parameters.
    """
    input_shape, blocks = _check_arguments(input_shape, width, blocks, pooling, MIN_INPUT_SIZE)
    inputs = keras.Input(shape=input_shape, name="input")
    x = stem(inputs, width)
    for i in range(blocks[0]):
        x = inception_a(x, i + 1, width)
    x = reduction_a(x, width)
    for i in range(blocks[1]):
        x = inception_b(x, i + 1, width)
    x = reduction_b(x, width)
    for i in range(blocks[2]):
        x = inception_c(x, i + 1, width)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name="top_dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    return keras.Model(inputs, x, name=name)


# --------------------------------------------------------------------------------------------
# timm / PyTorch weights
# --------------------------------------------------------------------------------------------

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
        ValueError: a shape mismatch (naming the layer, the key and both shapes), or a missing or
            unused key when ``strict``.
    """
    state = read_state_dict(state_dict_or_path)
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
                f"layer {layer_name!r}: state-dict key {key!r} has shape {tuple(value.shape)}, "
                f"the model needs {tuple(shape)} (PyTorch layout); is the model built with the "
                "checkpoint's width and blocks?"
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
            "the state dict does not match the model: "
            f"{len(missing)} missing key(s) {missing[:5]}, {len(unused)} unused key(s) {unused[:5]}"
        )
    for layer, weights in assignments:
        layer.set_weights(weights)
    return {"loaded": sorted(used), "skipped": sorted(skipped), "unused": unused}


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
