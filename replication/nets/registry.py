"""The base nets of the paper as one registry: Inception-v4 and Inception-ResNet-v2 (§2.1, §2.2).

Each net is a family built by one function (:func:`replication.nets.inception_v4.inception_v4`,
:func:`replication.nets.inception_resnet_v2.inception_resnet_v2`) whose arguments set the input
size, a width multiplier and the number of blocks per stage. ``Backbone.variants`` names three
members of each family, as data:

- ``tiny``: the smoke profile (width 1/8, one block per stage, about 0.2 M parameters; fast
  on 2 CPU cores at 96-128 px);
- ``small``: the synthetic profile (half width, fewer blocks);
- ``canonical``: the networks of the paper (Szegedy et al. 2016): the builder's defaults. Their
  ImageNet weights load from a file the user gives: a timm state dict for Inception-v4
  (:mod:`replication.nets.timm_weights`), a keras.applications weight file for
  Inception-ResNet-v2 (:mod:`replication.nets.keras_applications_weights`).

:func:`save_backbone_weights` writes a net in the same format (``Backbone.weights_suffix``), so
a net we pretrain ourselves, of any variant, loads back through the same loader into a net of
the same width and blocks.

:func:`build_backbone` returns the feature extractor that the paper's models put their heads on:
the net without its classifier, ending in global average pooling (layer ``avg_pool``). Both nets
need at least 75 x 75 input pixels. With ImageNet weights both expect pixels scaled to [-1, 1],
the input normalisation mode ``Backbone.input_mode`` (``"inception"``) that the models'
``preprocess`` layer implements (``replication.learning.models.preprocessing``).

The registry is plain data and imports no Keras: the command line and the benchmarks read
:func:`names` and the variants without starting a backend. A net's module is imported when it
is first built.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

__all__ = [
    "BACKBONES",
    "FEATURES_LAYER",
    "Backbone",
    "build_backbone",
    "display_name",
    "import_modules",
    "names",
    "num_features",
    "register",
    "save_backbone_weights",
    "variant_config",
    "variant_names",
]

#: Name of the last layer of every model that :func:`build_backbone` returns.
FEATURES_LAYER = "avg_pool"


def _resolve(reference: str) -> Any:
    """The object that ``"package.module:attribute"`` names (the module is imported)."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Backbone:
    """One family of base nets: how to build it, its named variants, how to load its weights.

    Registering one (:func:`register`) is all it takes for every chapter, the benchmarks and the
    command line to know it: they iterate over :func:`names`.
    """

    name: str
    display_name: str
    """The name the book prints (``Inception-v4``)."""
    module: str
    """The module that builds the family: it defines a builder function called :attr:`name`
    (keyword arguments ``input_shape, width, blocks, include_top, pooling, name``; its defaults
    build the canonical network) and ``NUM_FEATURES``, the channels of the last feature map at
    width 1. Imported when first needed."""
    load_weights: str
    """``"module:function"`` that loads weights into a model: ``function(model, weights)``
    (ImageNet files into the canonical one; a file :attr:`save_weights` wrote into one of the
    same width and blocks)."""
    weights_format: str
    """The weight files :attr:`load_weights` reads, in words."""
    variants: Mapping[str, Mapping[str, Any]]
    """Named members of the family (``tiny``, ``small``, ``canonical``): keyword arguments of the
    builder (``width``, ``blocks``); ``canonical`` takes the builder's defaults."""
    input_mode: str = "inception"
    """The input normalisation mode (``replication.learning.normalisation.MODES``) whose range
    the ImageNet weights expect."""
    timm_name: str | None = None
    """timm's model name for the same architecture (the benchmarks compare with it)."""
    save_weights: str | None = None
    """``"module:function"`` that writes a model's weights in the format :attr:`load_weights`
    reads: ``function(model, path)``, for any width and blocks (None: the net has no writer)."""
    weights_suffix: str = ""
    """The file suffix :attr:`save_weights` writes (``".safetensors"``, ``".h5"``)."""

    def builder(self) -> Callable[..., keras.Model]:
        """The family's builder function (imports :attr:`module`, and Keras)."""
        return _resolve(f"{self.module}:{self.name}")

    def weights_loader(self) -> Callable[[keras.Model, Any], Any]:
        """The function that :attr:`load_weights` names (imports its module, and Keras)."""
        return _resolve(self.load_weights)

    def weights_saver(self) -> Callable[[keras.Model, Any], Any]:
        """The function that :attr:`save_weights` names (imports its module, and Keras)."""
        if self.save_weights is None:
            raise ValueError(f"backbone {self.name!r} has no weight writer (save_weights)")
        return _resolve(self.save_weights)


BACKBONES: dict[str, Backbone] = {}
"""The registry: name -> :class:`Backbone`, in registration order. The only list of base nets."""


def register(backbone: Backbone) -> Backbone:
    """Add a base net to the registry (a name already there is replaced)."""
    BACKBONES[backbone.name] = backbone
    return backbone


def names() -> tuple[str, ...]:
    """The registered base nets' names, in registration order."""
    return tuple(BACKBONES)


def variant_names() -> tuple[str, ...]:
    """The variants the registered nets name (``tiny``, ``small``, ``canonical``), each once."""
    return tuple(dict.fromkeys(v for backbone in BACKBONES.values() for v in backbone.variants))


def import_modules() -> None:
    """Import every registered net's module, so that the Keras layers it registers (e.g.
    ``ScaledResidual``) are known when a model file is opened in safe mode."""
    for backbone in BACKBONES.values():
        importlib.import_module(backbone.module)


def display_name(name: str) -> str:
    """The name the book prints for base net ``name`` (e.g. ``Inception-v4``)."""
    return _backbone(name).display_name


register(Backbone(
    name="inception_v4",
    display_name="Inception-v4",
    module="replication.nets.inception_v4",
    load_weights="replication.nets.timm_weights:load_timm_weights",
    weights_format="timm/PyTorch state dict (.safetensors, .npz, or .pth with torch)",
    save_weights="replication.nets.timm_weights:save_timm_weights",
    weights_suffix=".safetensors",
    variants={
        "tiny": {"width": 0.125, "blocks": (1, 1, 1)},
        "small": {"width": 0.5, "blocks": (2, 3, 2)},
        "canonical": {},
    },
    timm_name="inception_v4",
))
register(Backbone(
    name="inception_resnet_v2",
    display_name="InceptionResNet-v2",
    module="replication.nets.inception_resnet_v2",
    load_weights="replication.nets.keras_applications_weights:load_keras_applications_weights",
    weights_format="keras.applications InceptionResNetV2 weights (.h5 or .weights.h5)",
    save_weights=(
        "replication.nets.keras_applications_weights:save_keras_applications_weights"
    ),
    weights_suffix=".h5",
    variants={
        "tiny": {"width": 0.125, "blocks": (1, 1, 1)},
        "small": {"width": 0.5, "blocks": (3, 5, 3)},
        "canonical": {},
    },
    timm_name="inception_resnet_v2",
))

_OVERRIDABLE = {"width", "blocks", "name"}


def _backbone(name: str) -> Backbone:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}") from None


def variant_config(name: str, variant: str = "canonical", **overrides: Any) -> dict[str, Any]:
    """The build arguments of ``variant`` of backbone ``name``, with ``overrides`` applied
    (``{}`` for the canonical network: the builder's defaults)."""
    variants = _backbone(name).variants
    try:
        config = dict(variants[variant])
    except KeyError:
        raise ValueError(
            f"unknown variant {variant!r} of {name}; choose one of {sorted(variants)}"
        ) from None
    unknown = set(overrides) - _OVERRIDABLE
    if unknown:
        raise TypeError(f"build_backbone got unexpected overrides {sorted(unknown)}")
    config.update(overrides)
    if "blocks" in config:
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
        name: one of :func:`names` (``"inception_v4"``, ``"inception_resnet_v2"``).
        variant: ``"tiny"``, ``"small"`` or ``"canonical"`` (see ``Backbone.variants``).
        input_shape: ``(height, width, 3)``, height and width at least 75.
        weights: None (random initialisation) or weights in the net's format
            (``Backbone.weights_format``): for Inception-v4 a timm state dict (path or
            mapping), for Inception-ResNet-v2 a keras.applications weight file (or model).
            Any variant takes a file written for the same width and blocks (e.g. by
            :func:`save_backbone_weights`); the users' ImageNet files fit the canonical one.
            Nothing is downloaded.
        **overrides: ``width``, ``blocks`` or ``name`` replacing the variant's values.

    Returns:
        A ``keras.Model`` from images to ``(batch, num_features)`` features; its last layer is
        named ``"avg_pool"`` and the model is named after the backbone unless overridden.
    """
    backbone = _backbone(name)
    config = variant_config(name, variant, **overrides)
    config.setdefault("name", name)
    model = backbone.builder()(
        input_shape=tuple(input_shape), include_top=False, pooling="avg", **config
    )
    if weights is not None:
        backbone.weights_loader()(model, weights)
    return model


def save_backbone_weights(name: str, model: keras.Model, path: str | os.PathLike) -> Any:
    """Write ``model`` (a member of backbone ``name``'s family, e.g. from :func:`build_backbone`)
    in the format its ImageNet weights come in (``Backbone.save_weights``; ``path`` should end
    in ``Backbone.weights_suffix``), so that ``build_backbone(name, variant, weights=path)`` of
    the same width and blocks loads it back. Returns what the writer returns (the path)."""
    return _backbone(name).weights_saver()(model, path)


def num_features(name: str, variant: str = "canonical", **overrides: Any) -> int:
    """Width of the feature vector that :func:`build_backbone` returns."""
    from replication.nets.inception import scaled_channels

    backbone = _backbone(name)
    config = variant_config(name, variant, **overrides)
    canonical = _resolve(f"{backbone.module}:NUM_FEATURES")
    return scaled_channels(canonical, float(config.get("width", 1.0)))  # 1: the builder's default
