"""The base nets of the paper as one registry: Inception-v4 and Inception-ResNet-v2.

Each net is a family built by one function (:func:`replication.inception_v4.inception_v4`,
:func:`replication.inception_resnet_v2.inception_resnet_v2`) whose arguments set the input size,
a width multiplier and the number of blocks per stage. ``VARIANTS`` names three members of each
family, as data:

- ``tiny``: the smoke profile (width 1/8, one block per stage, about 0.2 M parameters; fast
  on 2 CPU cores at 96-128 px);
- ``small``: the synthetic profile (half width, fewer blocks);
- ``canonical``: the networks of the paper (Szegedy et al. 2016), whose ImageNet weights load
  from a file the user gives: a timm state dict for Inception-v4, a keras.applications weight
  file for Inception-ResNet-v2.

:func:`build_backbone` returns the feature extractor that the paper's models put their heads on:
the net without its classifier, ending in global average pooling (layer ``avg_pool``). Both nets
need at least 75 x 75 input pixels, and both expect pixels scaled to [-1, 1] when they carry
ImageNet weights (:func:`preprocess`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from keras import ops

from replication import inception_resnet_v2 as _irv2
from replication import inception_v4 as _v4

__all__ = [
    "BACKBONES",
    "FEATURES_LAYER",
    "VARIANTS",
    "Backbone",
    "build_backbone",
    "num_features",
    "preprocess",
    "scale_to_unit_interval",
]

#: Name of the last layer of every model that :func:`build_backbone` returns.
FEATURES_LAYER = "avg_pool"


def scale_to_unit_interval(x):
    """Scale pixels in [0, 255] to [-1, 1]: ``x / 127.5 - 1`` (Inception / "tf" preprocessing).

    NumPy input gives a float32 NumPy array; a backend tensor gives a float32 backend tensor.
    """
    if isinstance(x, (np.ndarray, np.generic, int, float, list, tuple)):
        return np.asarray(x, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)
    return ops.cast(x, "float32") / 127.5 - 1.0


@dataclass(frozen=True)
class Backbone:
    """One family of base nets: how to build it and how to load its ImageNet weights."""

    name: str
    build: Callable[..., keras.Model]
    load_weights: Callable[[keras.Model, Any], Any]
    weights_format: str
    canonical_blocks: tuple[int, int, int]
    num_features: int
    min_input_size: int
    preprocess: Callable[[Any], Any] = field(default=scale_to_unit_interval)


BACKBONES: dict[str, Backbone] = {
    "inception_v4": Backbone(
        name="inception_v4",
        build=_v4.inception_v4,
        load_weights=_v4.load_timm_weights,
        weights_format="timm/PyTorch state dict (.safetensors, .npz, or .pth with torch)",
        canonical_blocks=_v4.CANONICAL_BLOCKS,
        num_features=_v4.NUM_FEATURES,
        min_input_size=_v4.MIN_INPUT_SIZE,
    ),
    "inception_resnet_v2": Backbone(
        name="inception_resnet_v2",
        build=_irv2.inception_resnet_v2,
        load_weights=_irv2.load_keras_applications_weights,
        weights_format="keras.applications InceptionResNetV2 weights (.h5 or .weights.h5)",
        canonical_blocks=_irv2.CANONICAL_BLOCKS,
        num_features=_irv2.NUM_FEATURES,
        min_input_size=_irv2.MIN_INPUT_SIZE,
    ),
}

#: Named members of each family: keyword arguments of its build function.
VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "inception_v4": {
        "tiny": {"width": 0.125, "blocks": (1, 1, 1)},
        "small": {"width": 0.5, "blocks": (2, 3, 2)},
        "canonical": {"width": 1.0, "blocks": (4, 7, 3)},
    },
    "inception_resnet_v2": {
        "tiny": {"width": 0.125, "blocks": (1, 1, 1)},
        "small": {"width": 0.5, "blocks": (3, 5, 3)},
        "canonical": {"width": 1.0, "blocks": (10, 20, 10)},
    },
}

_OVERRIDABLE = {"width", "blocks", "name"}


def _backbone(name: str) -> Backbone:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}") from None


def variant_config(name: str, variant: str = "canonical", **overrides: Any) -> dict[str, Any]:
    """The build arguments of ``variant`` of backbone ``name``, with ``overrides`` applied."""
    _backbone(name)
    try:
        config = dict(VARIANTS[name][variant])
    except KeyError:
        raise ValueError(
            f"unknown variant {variant!r} of {name}; choose one of {sorted(VARIANTS[name])}"
        ) from None
    unknown = set(overrides) - _OVERRIDABLE
    if unknown:
        raise TypeError(f"build_backbone got unexpected overrides {sorted(unknown)}")
    config.update(overrides)
    config["blocks"] = tuple(int(b) for b in config["blocks"])
    return config


def build_backbone(
    name: str,
    variant: str = "canonical",
    *,
    input_shape: Sequence[int | None],
    weights: str | os.PathLike | Mapping[str, Any] | keras.Model | None = None,
    **overrides: Any,
) -> keras.Model:
    """Build a base net without its classifier, ending in global average pooling.

    Args:
        name: ``"inception_v4"`` or ``"inception_resnet_v2"``.
        variant: ``"tiny"``, ``"small"`` or ``"canonical"`` (see ``VARIANTS``).
        input_shape: ``(height, width, 3)``, height and width at least 75.
        weights: None (random initialisation) or ImageNet weights the user has: for
            Inception-v4 a timm state dict (path or mapping), for Inception-ResNet-v2 a
            keras.applications weight file (or model). Only the canonical variant takes them.
            Nothing is downloaded.
        **overrides: ``width``, ``blocks`` or ``name`` replacing the variant's values.

    Returns:
        A ``keras.Model`` from images to ``(batch, num_features)`` features; its last layer is
        named ``"avg_pool"`` and the model is named after the backbone unless overridden.
    """
    backbone = _backbone(name)
    config = variant_config(name, variant, **overrides)
    config.setdefault("name", name)
    model = backbone.build(
        input_shape=tuple(input_shape), include_top=False, pooling="avg", **config
    )
    if weights is not None:
        backbone.load_weights(model, weights)
    return model


def num_features(name: str, variant: str = "canonical", **overrides: Any) -> int:
    """Width of the feature vector that :func:`build_backbone` returns."""
    config = variant_config(name, variant, **overrides)
    return _v4._channels(_backbone(name).num_features, float(config["width"]))


def preprocess(name: str) -> Callable[[Any], Any]:
    """The input scaling that backbone ``name`` expects with ImageNet weights (x / 127.5 - 1)."""
    return _backbone(name).preprocess
