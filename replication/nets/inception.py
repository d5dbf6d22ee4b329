"""What Inception-v4 and Inception-ResNet-v2 share: the conv-bn unit, the poolings, the top.

Reference:
    Christian Szegedy, Sergey Ioffe, Vincent Vanhoucke, Alex Alemi (2016/2017).
    "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning".
    AAAI 2017, https://arxiv.org/abs/1602.07261 (§3: every convolution is followed by batch
    normalisation; Figures 3-19 use the valid-padded stem and reductions that set
    :data:`MIN_INPUT_SIZE`).

Both networks are families: a ``width`` multiplier scales every channel count
(:func:`scaled_channels`) and ``blocks`` sets how many blocks each of the three stages repeats.
Both are built by plain functions in the style of ``keras.applications``, in the
``channels_last`` layout, from ``keras.layers`` only.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

__all__ = [
    "BN_EPSILON",
    "MIN_INPUT_SIZE",
    "avg_pool_3x3",
    "check_arguments",
    "conv2d_bn",
    "max_pool_3x3_stride_2",
    "scaled_channels",
    "top",
]

#: Smallest input height/width that the valid-padded stem and reductions accept
#: (75 -> 37 -> 35 -> 17 -> 15 -> 7 -> 3 -> 1).
MIN_INPUT_SIZE = 75
#: Batch-norm epsilon of both nets (tf-slim, keras.applications and timm's BatchNorm2d(eps=1e-3)).
BN_EPSILON = 1e-3


def scaled_channels(filters: int, width: float) -> int:
    """Scale a canonical channel count by ``width`` (rounded, at least 4; exact for width 1)."""
    if width == 1.0:
        return filters
    return max(4, round(filters * width))


def conv2d_bn(x, filters, kernel_size, *, strides=1, padding="same", activation="relu",
              use_bias=False, bn_scale=True, name):
    """``Conv2D(use_bias=False) -> BatchNormalization(epsilon=1e-3) -> activation``.

    Inception-v4 (timm's ConvNormAct) learns the batch norm's scale; Inception-ResNet-v2
    (keras.applications) has none (``bn_scale=False``). With ``use_bias=True`` there is no batch
    norm (the linear 1x1 "up" convolution of an Inception-ResNet block); ``activation=None``
    leaves the output linear. The layers are named ``name``, ``name + "_bn"``, ``name + "_ac"``.
    """
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias, name=name
    )(x)
    if not use_bias:
        x = layers.BatchNormalization(
            axis=-1, scale=bn_scale, epsilon=BN_EPSILON, name=f"{name}_bn"
        )(x)
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_ac")(x)
    return x


def avg_pool_3x3(x, name):
    """3x3/1 average pooling that leaves the padding out of the mean (PyTorch's
    ``count_include_pad=False``; Keras' ``padding="same"`` does so)."""
    return layers.AveragePooling2D(3, strides=1, padding="same", name=name)(x)


def max_pool_3x3_stride_2(x, name):
    """The valid 3x3/2 max pooling of the stems and reductions."""
    return layers.MaxPooling2D(3, strides=2, padding="valid", name=name)(x)


def check_arguments(input_shape: Sequence[int | None], width: float, blocks: Sequence[int],
                    pooling: str | None) -> tuple[tuple, tuple[int, int, int]]:
    """Validate a builder's arguments; return ``input_shape`` and ``blocks`` as tuples.

    Raises:
        ValueError: naming the argument: a layout other than ``channels_last``, an input side
            under :data:`MIN_INPUT_SIZE`, a width that is not positive, ``blocks`` that are not
            three non-negative counts, or an unknown ``pooling``.
    """
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            "These models are built in the channels_last layout; "
            f"keras.config.image_data_format() is {keras.config.image_data_format()!r}."
        )
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels); got {input_shape}.")
    for side in input_shape[:2]:
        if side is not None and side < MIN_INPUT_SIZE:
            raise ValueError(
                f"input_shape {input_shape}: height and width must be at least {MIN_INPUT_SIZE} "
                "px (the valid-padded stem and reductions shrink smaller inputs to nothing)."
            )
    if not width > 0:
        raise ValueError(f"width must be positive; got {width}.")
    blocks = tuple(int(b) for b in blocks)
    if len(blocks) != 3 or any(b < 0 for b in blocks):
        raise ValueError(f"blocks must be three non-negative integers; got {blocks}.")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max'; got {pooling!r}.")
    return input_shape, blocks


def top(x, *, include_top: bool, classes: int, pooling: str | None, dropout: float,
        classifier_activation: str | None):
    """The end of both nets: with ``include_top``, global average pooling ``avg_pool``, optional
    dropout ``top_dropout`` and the ``Dense`` classifier ``predictions``; without it, the feature
    map (``pooling=None``) or its global average (``avg_pool``) or maximum (``max_pool``)."""
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name="top_dropout")(x)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x
