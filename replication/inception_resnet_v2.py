"""Inception-ResNet-v2 in Keras 3, backend-agnostic, as a family of widths and depths.

Reference:
    Christian Szegedy, Sergey Ioffe, Vincent Vanhoucke, Alex Alemi (2016/2017).
    "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning".
    AAAI 2017, https://arxiv.org/abs/1602.07261 (Figures 3, 16-18, 7 and 18; residual scaling
    of Section 3.3).

``keras.applications.InceptionResNetV2`` builds one network of one size. This module builds the
same network as plain functions (``stem``, ``mixed_5b``, ``block35``, ``reduction_a``,
``block17``, ``reduction_b``, ``block8``), with a ``width`` multiplier and the number of
residual blocks per stage as arguments, so that the replication's small profiles use small
members of the same family. The canonical member (``width=1``, ``blocks=(10, 20, 10)``) is
layer for layer the keras.applications network: the same convolutions
(``Conv2D(use_bias=False) -> BatchNormalization(scale=False, epsilon=1e-3) -> ReLU``), the same
residual scales (0.17, 0.1, 0.2; the last Inception-ResNet-C block unscaled and linear), the same
parameter count (55,873,736 with the 1000-class head) and the same graph, so
:func:`load_keras_applications_weights` transfers its weights (a model, or its ``.h5`` /
``.weights.h5`` file) one layer to the next.

Unlike keras.applications every layer has an explicit name that depends only on its place in the
network. Where keras.applications names a layer, the name is the same (``mixed_5b``,
``block35_1_mixed``, ``block35_1_conv``, ``block35_1_ac``, ``mixed_6a``, ``mixed_7a``,
``conv_7b``, ``conv_7b_ac``, ``avg_pool``, ``predictions``); the others are ``stem_conv1`` ..
``stem_conv5``, ``<block>_branch<k>_conv<j>`` (+ ``_bn``, ``_ac``), ``<block>_scale``.

The valid-padded stem and reductions need an input of at least ``MIN_INPUT_SIZE`` (75) pixels
per side; the last feature map is 8 x 8 at 299 and 13 x 13 at 480. Only ``keras.layers`` and
``keras.ops`` are used, in the ``channels_last`` layout.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from typing import Any

import keras
from keras import layers

from replication.inception_v4 import MIN_INPUT_SIZE, _channels, _check_arguments

__all__ = [
    "CANONICAL_BLOCKS",
    "MIN_INPUT_SIZE",
    "NUM_FEATURES",
    "ScaledResidual",
    "inception_resnet_v2",
    "load_keras_applications_weights",
]

#: Number of Inception-ResNet-A (block35), -B (block17) and -C (block8) blocks.
CANONICAL_BLOCKS = (10, 20, 10)
#: Channels of the last feature map (conv_7b) of the canonical network (times ``width``).
NUM_FEATURES = 1536
#: Residual scales of block35, block17 and block8 (as keras.applications and tf-slim).
RESIDUAL_SCALES = (0.17, 0.1, 0.2)
BN_EPSILON = 1e-3


@keras.saving.register_keras_serializable(package="replication")
class ScaledResidual(layers.Layer):
    """``inputs[0] + scale * inputs[1]``: the scaled residual sum of an Inception-ResNet block."""

    def __init__(self, scale: float, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        shortcut, residual = inputs
        return shortcut + residual * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def conv2d_bn(
    x, filters, kernel_size, *, strides=1, padding="same", activation="relu", use_bias=False, name
):
    """``Conv2D -> BatchNormalization(scale=False) -> activation``, as keras.applications.

    With ``use_bias=True`` there is no batch norm (the linear 1x1 "up" conv of each block).
    Layers are named ``name``, ``name + "_bn"``, ``name + "_ac"``.
    """
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias, name=name
    )(x)
    if not use_bias:
        x = layers.BatchNormalization(
            axis=-1, scale=False, epsilon=BN_EPSILON, name=f"{name}_bn"
        )(x)
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_ac")(x)
    return x


def stem(x, width=1.0):
    """The Inception-v3-like stem of keras.applications: 299 x 299 x 3 -> 35 x 35 x 192."""
    c = partial(_channels, width=width)
    x = conv2d_bn(x, c(32), 3, strides=2, padding="valid", name="stem_conv1")
    x = conv2d_bn(x, c(32), 3, padding="valid", name="stem_conv2")
    x = conv2d_bn(x, c(64), 3, name="stem_conv3")
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool1")(x)
    x = conv2d_bn(x, c(80), 1, padding="valid", name="stem_conv4")
    x = conv2d_bn(x, c(192), 3, padding="valid", name="stem_conv5")
    return layers.MaxPooling2D(3, strides=2, name="stem_pool2")(x)


def mixed_5b(x, width=1.0):
    """An Inception-A block without residual: 35 x 35 x 320."""
    c = partial(_channels, width=width)
    p = "mixed_5b"
    b0 = conv2d_bn(x, c(96), 1, name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(48), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(64), 5, name=f"{p}_branch1_conv2")
    b2 = conv2d_bn(x, c(64), 1, name=f"{p}_branch2_conv1")
    b2 = conv2d_bn(b2, c(96), 3, name=f"{p}_branch2_conv2")
    b2 = conv2d_bn(b2, c(96), 3, name=f"{p}_branch2_conv3")
    b3 = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{p}_branch3_pool")(x)
    b3 = conv2d_bn(b3, c(64), 1, name=f"{p}_branch3_conv")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2, b3])


def _residual(x, branches, block_name, scale, activation):
    mixed = layers.Concatenate(axis=-1, name=f"{block_name}_mixed")(branches)
    up = conv2d_bn(
        mixed, x.shape[-1], 1, activation=None, use_bias=True, name=f"{block_name}_conv"
    )
    x = ScaledResidual(scale, name=f"{block_name}_scale")([x, up])
    if activation is not None:
        x = layers.Activation(activation, name=f"{block_name}_ac")(x)
    return x


def block35(x, index, width=1.0, scale=0.17, activation="relu"):
    """Figure 16: Inception-ResNet-A on the 35 x 35 grid."""
    c = partial(_channels, width=width)
    p = f"block35_{index}"
    b0 = conv2d_bn(x, c(32), 1, name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(32), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(32), 3, name=f"{p}_branch1_conv2")
    b2 = conv2d_bn(x, c(32), 1, name=f"{p}_branch2_conv1")
    b2 = conv2d_bn(b2, c(48), 3, name=f"{p}_branch2_conv2")
    b2 = conv2d_bn(b2, c(64), 3, name=f"{p}_branch2_conv3")
    return _residual(x, [b0, b1, b2], p, scale, activation)


def reduction_a(x, width=1.0):
    """Figure 7 with k=256, l=256, m=384, n=384 (mixed_6a): 35 x 35 -> 17 x 17 x 1088."""
    c = partial(_channels, width=width)
    p = "mixed_6a"
    b0 = conv2d_bn(x, c(384), 3, strides=2, padding="valid", name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(256), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(256), 3, name=f"{p}_branch1_conv2")
    b1 = conv2d_bn(b1, c(384), 3, strides=2, padding="valid", name=f"{p}_branch1_conv3")
    b2 = layers.MaxPooling2D(3, strides=2, padding="valid", name=f"{p}_branch2_pool")(x)
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2])


def block17(x, index, width=1.0, scale=0.1, activation="relu"):
    """Figure 17: Inception-ResNet-B on the 17 x 17 grid."""
    c = partial(_channels, width=width)
    p = f"block17_{index}"
    b0 = conv2d_bn(x, c(192), 1, name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(128), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(160), (1, 7), name=f"{p}_branch1_conv2")
    b1 = conv2d_bn(b1, c(192), (7, 1), name=f"{p}_branch1_conv3")
    return _residual(x, [b0, b1], p, scale, activation)


def reduction_b(x, width=1.0):
    """Figure 18 (mixed_7a): 17 x 17 -> 8 x 8 x 2080."""
    c = partial(_channels, width=width)
    p = "mixed_7a"
    b0 = conv2d_bn(x, c(256), 1, name=f"{p}_branch0_conv1")
    b0 = conv2d_bn(b0, c(384), 3, strides=2, padding="valid", name=f"{p}_branch0_conv2")
    b1 = conv2d_bn(x, c(256), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(288), 3, strides=2, padding="valid", name=f"{p}_branch1_conv2")
    b2 = conv2d_bn(x, c(256), 1, name=f"{p}_branch2_conv1")
    b2 = conv2d_bn(b2, c(288), 3, name=f"{p}_branch2_conv2")
    b2 = conv2d_bn(b2, c(320), 3, strides=2, padding="valid", name=f"{p}_branch2_conv3")
    b3 = layers.MaxPooling2D(3, strides=2, padding="valid", name=f"{p}_branch3_pool")(x)
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2, b3])


def block8(x, index, width=1.0, scale=0.2, activation="relu"):
    """Figure 19: Inception-ResNet-C on the 8 x 8 grid."""
    c = partial(_channels, width=width)
    p = f"block8_{index}"
    b0 = conv2d_bn(x, c(192), 1, name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(192), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(224), (1, 3), name=f"{p}_branch1_conv2")
    b1 = conv2d_bn(b1, c(256), (3, 1), name=f"{p}_branch1_conv3")
    return _residual(x, [b0, b1], p, scale, activation)


def inception_resnet_v2(
    *,
    input_shape: Sequence[int | None] = (299, 299, 3),
    width: float = 1.0,
    blocks: Sequence[int] = CANONICAL_BLOCKS,
    include_top: bool = True,
    classes: int = 1000,
    pooling: str | None = None,
    dropout: float = 0.0,
    classifier_activation: str | None = "softmax",
    name: str = "inception_resnet_v2",
) -> keras.Model:
    """Build an Inception-ResNet-v2 (Szegedy et al. 2016) as a functional Keras model.

    Args:
        input_shape: ``(height, width, channels)``; height and width at least 75 (or None).
        width: channel multiplier (1.0 is the canonical network).
        blocks: numbers of block35, block17 and block8; ``(10, 20, 10)`` is canonical. The last
            block8 is unscaled and linear, as in keras.applications.
        include_top: add ``avg_pool``, optional dropout and a ``Dense`` named ``predictions``.
        classes: size of the classifier.
        pooling: without the top: None (the 4-D ``conv_7b_ac`` map), ``"avg"`` or ``"max"``.
        dropout: dropout rate before the classifier (none in keras.applications).
        classifier_activation: activation of the classifier.
        name: model name.
    """
    input_shape, blocks = _check_arguments(input_shape, width, blocks, pooling, MIN_INPUT_SIZE)
    inputs = keras.Input(shape=input_shape, name="input")
    x = stem(inputs, width)
    x = mixed_5b(x, width)
    for i in range(blocks[0]):
        x = block35(x, i + 1, width, scale=RESIDUAL_SCALES[0])
    x = reduction_a(x, width)
    for i in range(blocks[1]):
        x = block17(x, i + 1, width, scale=RESIDUAL_SCALES[1])
    x = reduction_b(x, width)
    for i in range(blocks[2]):
        last = i == blocks[2] - 1
        x = block8(
            x,
            i + 1,
            width,
            scale=1.0 if last else RESIDUAL_SCALES[2],
            activation=None if last else "relu",
        )
    x = conv2d_bn(x, _channels(NUM_FEATURES, width), 1, name="conv_7b")

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
# Weights of keras.applications.InceptionResNetV2
# --------------------------------------------------------------------------------------------


def _weighted_layers(model: keras.Model) -> list[Any]:
    """Layers that hold weights, in the model's (graph-determined) layer order."""
    return [layer for layer in model.layers if layer.weights]


def _file_head(path: str) -> int | None:
    """Number of classes of the classifier stored in a Keras weight file, or None if it has none.

    Understands Keras 3 ``.weights.h5`` files (``layers/<class>/vars/<i>``) and the legacy
    Keras 2 ``.h5`` files that keras.applications downloads (``layer_names`` attribute).
    """
    import h5py  # a dependency of Keras

    with h5py.File(path, "r") as f:
        if "layers" in f and "layer_names" not in f.attrs:  # Keras 3 .weights.h5
            for name, group in f["layers"].items():
                if name.startswith("dense") and "vars" in group and "0" in group["vars"]:
                    return int(group["vars"]["0"].shape[-1])
            return None
        root = f.get("model_weights", f)
        for name in root.attrs.get("layer_names", []):
            name = name.decode() if isinstance(name, bytes) else name
            group = root[name]
            for weight in group.attrs.get("weight_names", []):
                weight = weight.decode() if isinstance(weight, bytes) else weight
                if len(group[weight].shape) == 2:
                    return int(group[weight].shape[-1])
        return None


def _reference_from_file(path: str) -> keras.Model:
    from keras.applications import InceptionResNetV2

    classes = _file_head(path)
    reference = InceptionResNetV2(
        weights=None,
        include_top=classes is not None,
        classes=classes or 1000,
        input_shape=(MIN_INPUT_SIZE, MIN_INPUT_SIZE, 3),
        classifier_activation=None,
    )
    reference.load_weights(path)
    return reference


def load_keras_applications_weights(
    model: keras.Model, source: keras.Model | str | os.PathLike
) -> keras.Model:
    """Copy the weights of ``keras.applications.InceptionResNetV2`` into ``model``.

    Args:
        model: built by :func:`inception_resnet_v2` with ``width=1`` and ``blocks=(10, 20, 10)``
            (any input size, with or without the top).
        source: a ``keras.applications.InceptionResNetV2`` model (any input size), or the path of
            its weight file: the legacy ``.h5`` files keras.applications downloads
            (``inception_resnet_v2_weights_tf_dim_ordering_tf_kernels[_notop].h5``) or a Keras 3
            ``.weights.h5``. Nothing is downloaded.

    The two networks have the same graph, so their weight-holding layers correspond one to one
    in the order Keras gives them (the order in which Keras' own weight files store them). A
    source classifier is dropped if ``model`` has none; a classifier of another size in
    ``model`` keeps its own weights (a new head).

    Raises:
        ValueError: naming the first pair of layers whose type or weight shapes differ (a model of
            another width or depth), or if ``model`` has a head and the source has none.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no weight file at {path!r}")
        source = _reference_from_file(path)

    src = _weighted_layers(source)
    dst = _weighted_layers(model)
    src_head = src[-1] if src and isinstance(src[-1], layers.Dense) else None
    dst_head = dst[-1] if dst and isinstance(dst[-1], layers.Dense) else None
    if src_head is not None:
        src = src[:-1]
    if dst_head is not None:
        dst = dst[:-1]
    for i, (d, s) in enumerate(zip(dst, src, strict=False)):
        d_shapes = [tuple(w.shape) for w in d.weights]
        s_shapes = [tuple(w.shape) for w in s.weights]
        if type(d) is not type(s) or d_shapes != s_shapes:
            raise ValueError(
                f"weight layer #{i}: {model.name}/{d.name} ({type(d).__name__}, {d_shapes}) does "
                f"not match {source.name}/{s.name} ({type(s).__name__}, {s_shapes}); "
                "only the canonical network (width=1, blocks=(10, 20, 10)) takes these weights."
            )
    if len(dst) != len(src):
        first = dst[len(src)].name if len(dst) > len(src) else src[len(dst)].name
        raise ValueError(
            f"{model.name} has {len(dst)} weight layers before its head, {source.name} has "
            f"{len(src)}; the first without a partner is {first!r}. Only the canonical network "
            "(width=1, blocks=(10, 20, 10)) takes these weights."
        )
    if dst_head is not None and src_head is None:
        raise ValueError(
            f"{model.name} has a classifier ({dst_head.name}) but the source has none; "
            "build the model with include_top=False or give weights with the top."
        )
    for d, s in zip(dst, src, strict=True):
        d.set_weights(s.get_weights())
    same_head = dst_head is not None and src_head is not None and (
        [tuple(w.shape) for w in dst_head.weights] == [tuple(w.shape) for w in src_head.weights]
    )
    if same_head:
        dst_head.set_weights(src_head.get_weights())
    return model
