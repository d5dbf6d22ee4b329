"""Inception-v4 in Keras 3, backend-agnostic, as a family of widths and depths.

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
timm's, and :func:`replication.nets.timm_weights.load_timm_weights` loads a timm state dict
into it so that both compute the same function (``tests/test_nets.py`` checks it against outputs
of timm stored in ``tests/golden/``; ``scripts/check_inception_v4_parity.py`` against timm itself).

The model is written as plain functions, one per block (``stem``, ``inception_a``,
``reduction_a``, ...), in the style of ``keras.applications.inception_resnet_v2``. Every layer
has an explicit name that depends only on its place in the network:

    stem_conv1 .. stem_conv3, mixed_3a, mixed_4a, mixed_5a      (the stem, 35 x 35 x 384 at 299)
    inception_a1 .. inception_a4, reduction_a                    (17 x 17 x 1024)
    inception_b1 .. inception_b7, reduction_b                    (8 x 8 x 1536)
    inception_c1 .. inception_c3                                 (8 x 8 x 1536)
    avg_pool, predictions

A convolution ``<block>_branch<k>_conv<j>`` is followed by ``..._bn`` and ``..._ac``
(:func:`replication.nets.inception.conv2d_bn` with its defaults: timm's ConvNormAct).

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

from collections.abc import Sequence
from functools import partial

import keras
from keras import layers

from replication.nets.inception import (
    MIN_INPUT_SIZE,
    avg_pool_3x3,
    check_arguments,
    conv2d_bn,
    max_pool_3x3_stride_2,
    scaled_channels,
    top,
)

__all__ = [
    "CANONICAL_BLOCKS",
    "MIN_INPUT_SIZE",
    "NUM_FEATURES",
    "inception_a",
    "inception_b",
    "inception_c",
    "inception_v4",
    "reduction_a",
    "reduction_b",
    "stem",
]

#: Number of Inception-A, -B and -C blocks of the canonical network.
CANONICAL_BLOCKS = (4, 7, 3)
#: Channels of the last feature map of the canonical network (times ``width`` otherwise).
NUM_FEATURES = 1536


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def stem(x, width=1.0):
    """Figure 3 of the paper: 299 x 299 x 3 -> 35 x 35 x 384."""
    c = partial(scaled_channels, width=width)
    x = conv2d_bn(x, c(32), 3, strides=2, padding="valid", name="stem_conv1")
    x = conv2d_bn(x, c(32), 3, padding="valid", name="stem_conv2")
    x = conv2d_bn(x, c(64), 3, name="stem_conv3")

    # Mixed 3a: 3x3/2 max pool || 3x3/2 conv.
    b0 = max_pool_3x3_stride_2(x, "mixed_3a_branch0_pool")
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
    b1 = max_pool_3x3_stride_2(x, "mixed_5a_branch1_pool")
    return layers.Concatenate(axis=-1, name="mixed_5a")([b0, b1])


def inception_a(x, index, width=1.0):
    """Figure 4: Inception-A block on the 35 x 35 grid (384 channels out)."""
    c = partial(scaled_channels, width=width)
    p = f"inception_a{index}"
    b0 = conv2d_bn(x, c(96), 1, name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(64), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(96), 3, name=f"{p}_branch1_conv2")
    b2 = conv2d_bn(x, c(64), 1, name=f"{p}_branch2_conv1")
    b2 = conv2d_bn(b2, c(96), 3, name=f"{p}_branch2_conv2")
    b2 = conv2d_bn(b2, c(96), 3, name=f"{p}_branch2_conv3")
    b3 = avg_pool_3x3(x, f"{p}_branch3_pool")
    b3 = conv2d_bn(b3, c(96), 1, name=f"{p}_branch3_conv")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2, b3])


def reduction_a(x, width=1.0):
    """Figure 7 with k=192, l=224, m=256, n=384: 35 x 35 -> 17 x 17 (1024 channels out)."""
    c = partial(scaled_channels, width=width)
    p = "reduction_a"
    b0 = conv2d_bn(x, c(384), 3, strides=2, padding="valid", name=f"{p}_branch0_conv")
    b1 = conv2d_bn(x, c(192), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(224), 3, name=f"{p}_branch1_conv2")
    b1 = conv2d_bn(b1, c(256), 3, strides=2, padding="valid", name=f"{p}_branch1_conv3")
    b2 = max_pool_3x3_stride_2(x, f"{p}_branch2_pool")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2])


def inception_b(x, index, width=1.0):
    """Figure 5: Inception-B block on the 17 x 17 grid (1024 channels out)."""
    c = partial(scaled_channels, width=width)
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
    b3 = avg_pool_3x3(x, f"{p}_branch3_pool")
    b3 = conv2d_bn(b3, c(128), 1, name=f"{p}_branch3_conv")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2, b3])


def reduction_b(x, width=1.0):
    """Figure 8: 17 x 17 -> 8 x 8 (1536 channels out)."""
    c = partial(scaled_channels, width=width)
    p = "reduction_b"
    b0 = conv2d_bn(x, c(192), 1, name=f"{p}_branch0_conv1")
    b0 = conv2d_bn(b0, c(192), 3, strides=2, padding="valid", name=f"{p}_branch0_conv2")
    b1 = conv2d_bn(x, c(256), 1, name=f"{p}_branch1_conv1")
    b1 = conv2d_bn(b1, c(256), (1, 7), name=f"{p}_branch1_conv2")
    b1 = conv2d_bn(b1, c(320), (7, 1), name=f"{p}_branch1_conv3")
    b1 = conv2d_bn(b1, c(320), 3, strides=2, padding="valid", name=f"{p}_branch1_conv4")
    b2 = max_pool_3x3_stride_2(x, f"{p}_branch2_pool")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2])


def inception_c(x, index, width=1.0):
    """Figure 6: Inception-C block on the 8 x 8 grid (1536 channels out)."""
    c = partial(scaled_channels, width=width)
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
    b3 = avg_pool_3x3(x, f"{p}_branch3_pool")
    b3 = conv2d_bn(b3, c(256), 1, name=f"{p}_branch3_conv")
    return layers.Concatenate(axis=-1, name=p)([b0, b1, b2, b3])


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


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
    input_shape, blocks = check_arguments(input_shape, width, blocks, pooling)
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

    x = top(x, include_top=include_top, classes=classes, pooling=pooling, dropout=dropout,
            classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)
