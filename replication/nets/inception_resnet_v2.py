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
:func:`replication.nets.keras_applications_weights.load_keras_applications_weights` transfers its
weights (a model, or its ``.h5`` / ``.weights.h5`` file) one layer to the next.

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

from collections.abc import Sequence
from functools import partial

import keras
from keras import layers

from replication.nets import inception
from replication.nets.inception import (
    MIN_INPUT_SIZE,
    avg_pool_3x3,
    check_arguments,
    max_pool_3x3_stride_2,
    scaled_channels,
    top,
)

__all__ = [
    "CANONICAL_BLOCKS",
    "MIN_INPUT_SIZE",
    "NUM_FEATURES",
    "ScaledResidual",
    "inception_resnet_v2",
]

#: Number of Inception-ResNet-A (block35), -B (block17) and -C (block8) blocks.
CANONICAL_BLOCKS = (10, 20, 10)
#: Channels of the last feature map (conv_7b) of the canonical network (times ``width``).
NUM_FEATURES = 1536
#: Residual scales of block35, block17 and block8 (as keras.applications and tf-slim).
RESIDUAL_SCALES = (0.17, 0.1, 0.2)


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


def conv2d_bn(x, filters, kernel_size, *, strides=1, padding="same", activation="relu",
              use_bias=False, name):
    """``Conv2D -> BatchNormalization(scale=False) -> activation``, as keras.applications.

    With ``use_bias=True`` there is no batch norm (the linear 1x1 "up" conv of each block).
    Layers are named ``name``, ``name + "_bn"``, ``name + "_ac"``.
    """
    return inception.conv2d_bn(x, filters, kernel_size, strides=strides, padding=padding,
                               activation=activation, use_bias=use_bias, bn_scale=False,
                               name=name)


def stem(x, width=1.0):
    """The Inception-v3-like stem of keras.applications: 299 x 299 x 3 -> 35 x 35 x 192."""
    c = partial(scaled_channels, width=width)
    x = conv2d_bn(x, c(32), 3, strides=2, padding="valid", name="stem_conv1")
    x = conv2d_bn(x, c(32), 3, padding="valid", name="stem_conv2")
    x = conv2d_bn(x, c(64), 3, name="stem_conv3")
    x = max_pool_3x3_stride_2(x, "stem_pool1")
    x = conv2d_bn(x, c(80), 1, padding="valid", name="stem_conv4")
    x = conv2d_bn(x, c(192), 3, padding="valid", name="stem_conv5")
    return max_pool_3x3_stride_2(x, "stem_pool2")


def mixed_5b(x, width=1.0):
    """An Inception-A block without residual: 35 x 35 x 320."""
    c = partial(scaled_channels, width=width)
    p = "mixed_5b"
    b0 = conv2d_bn(x, c(96), 1, name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(48), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(64), 5, name=f"{p}_branch1_conv2")
    b2 = conv2d_bn(x, c(64), 1, name=f"{p}_branch2_conv1")
    b2 = conv2d_bn(b2, c(96), 3, name=f"{p}_branch2_conv2")
    b2 = conv2d_bn(b2, c(96), 3, name=f"{p}_branch2_conv3")
    b3 = avg_pool_3x3(x, f"{p}_branch3_pool")
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
    c = partial(scaled_channels, width=width)
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
    c = partial(scaled_channels, width=width)
    p = "mixed_6a"
    b0 = conv2d_bn(x, c(384), 3, strides=2, padding="valid", name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(256), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(256), 3, name=f"{p}_branch1_conv2")
    b1 = conv2d_bn(b1, c(384), 3, strides=2, padding="valid", name=f"{p}_branch1_conv3")
    b2 = max_pool_3x3_stride_2(x, f"{p}_branch2_pool")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2])


def block17(x, index, width=1.0, scale=0.1, activation="relu"):
    """Figure 17: Inception-ResNet-B on the 17 x 17 grid."""
    c = partial(scaled_channels, width=width)
    p = f"block17_{index}"
    b0 = conv2d_bn(x, c(192), 1, name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(128), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(160), (1, 7), name=f"{p}_branch1_conv2")
    b1 = conv2d_bn(b1, c(192), (7, 1), name=f"{p}_branch1_conv3")
    return _residual(x, [b0, b1], p, scale, activation)


def reduction_b(x, width=1.0):
    """Figure 18 (mixed_7a): 17 x 17 -> 8 x 8 x 2080."""
    c = partial(scaled_channels, width=width)
    p = "mixed_7a"
    b0 = conv2d_bn(x, c(256), 1, name=f"{p}_branch0_conv1")
    b0 = conv2d_bn(b0, c(384), 3, strides=2, padding="valid", name=f"{p}_branch0_conv2")
    b1 = conv2d_bn(x, c(256), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(288), 3, strides=2, padding="valid", name=f"{p}_branch1_conv2")
    b2 = conv2d_bn(x, c(256), 1, name=f"{p}_branch2_conv1")
    b2 = conv2d_bn(b2, c(288), 3, name=f"{p}_branch2_conv2")
    b2 = conv2d_bn(b2, c(320), 3, strides=2, padding="valid", name=f"{p}_branch2_conv3")
    b3 = max_pool_3x3_stride_2(x, f"{p}_branch3_pool")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2, b3])


def block8(x, index, width=1.0, scale=0.2, activation="relu"):
    """Figure 19: Inception-ResNet-C on the 8 x 8 grid."""
    c = partial(scaled_channels, width=width)
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
    input_shape, blocks = check_arguments(input_shape, width, blocks, pooling)
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
    x = conv2d_bn(x, scaled_channels(NUM_FEATURES, width), 1, name="conv_7b")

    x = top(x, include_top=include_top, classes=classes, pooling=pooling, dropout=dropout,
            classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)
