"""The recognition models of paper §3.3-3.4, built from a spec that is plain data.

Three forms, all Keras 3 (``keras.layers`` / ``keras.ops`` only: they build, train and predict on
the TensorFlow and the JAX backend alike):

- **Multi-task single-channel model** (§3.3.1 design level, §3.3.2 per-domain length models,
  §3.4): ``image -> preprocessing -> base net (ending in global average pooling) ->
  Dropout(0.5) -> one softmax head per task of the level``. Two options exist for the ablations
  of §3.3/§3.4, off by default: ``pooling="max"`` pools the base net's last feature map by its
  maximum instead of its mean, and the level ``"all"`` gives one model the heads of all eight
  dimensions (the paper trains one model per level). A head is a ``Dense`` layer named
  ``head_<task short>`` (e.g. ``head_neckline``) with ``task.n_values`` units, taken from the task
  registry, as §3.4 says ("the SoftMax size follows the dimension"). Images of different tasks
  share a batch; a sample trains only its own task's head (see :func:`masked_targets`).
- **Length-level dual-channel model** (§3.3.2): two single-channel length models, one trained
  on flat-lay images and one on on-model images, are fused. Exactly as the paper: the flat model
  minus its top fully connected layer, plus a Dropout; the on-model model minus its top fully
  connected layer, plus ``Dense(128)``; concatenate; one softmax head per length task; cross
  entropy. See :func:`build_dual` for the one thing the paper leaves open, how the flat/on-model
  flag enters.
- **Single-channel model given the flag** (a control the paper lacks, chapter 5): the
  single-channel model with the flag as one more input, concatenated to its pooled features
  before the heads (``ModelSpec.flag_input``), so that a gain of the dual-channel model can be
  told apart from the flag it also gets. It can start from a trained single-channel model
  (``ModelSpec.base_model``: its layers up to ``features``, new heads), as the fusion starts
  from its two trained branches.
- The flat/on-model flag comes through the :class:`FlatFlags` interface: the screening of §3.2
  (``replication.screening``) provides it, and :class:`TruthFlatFlags` reads the synthetic set's
  ground truth for comparison.

Model files carry everything prediction needs, inside the ``.keras`` file itself (no sidecar):
the input ``image`` has the image size as its static shape; the input normalisation
(§3.1.2(1), in the spec's mode) is the layer ``preprocess``, the model's first layer but for the
fast-twin augmentation layers (``augment_*``, §3.1.2(3), engine ``"keras"`` only), which sit
right after the input and act only in training; the outputs are named ``head_<short>``, which
names the tasks; a second input ``flat`` marks a model that takes the flag (a dual-channel
one, or a single-channel one given the flag). :func:`describe` reads this
back, and :func:`load_model` opens a file in Keras safe mode (no pickle, no Lambda code).
"""

from __future__ import annotations

import math
import os
import pathlib
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Protocol, runtime_checkable

import keras
import numpy as np
from keras import layers, ops

from replication.learning import augmentation
from replication.data.fashionai import LabelRow
from replication.learning.normalisation import MODES, PAPER_MEAN, PAPER_STD_AS_PRINTED
from replication.data.tasks import LEVELS, TASKS, Task, get_task, tasks_of_level

IMAGE_INPUT = "image"
"""Name of the image input: float RGB in the uint8 range 0..255, shape (size, size, 3)."""
FLAG_INPUT = "flat"
"""Name of the dual-channel model's second input: 1.0 for a flat-lay image, 0.0 on-model."""
HEAD_PREFIX = "head_"
FEATURES = "features"
"""Name of the Dropout layer whose output feeds the heads: "the model minus its top FC layer"."""
BACKBONE = "backbone"
"""The name every base net gets inside a model, so that :func:`set_backbone_trainable` finds it."""
FLAT_BRANCH = "flat_branch"
ONMODEL_BRANCH = "onmodel_branch"
CHANNELS = ("single", "dual")
ALL_LEVELS = "all"
"""The level of a model with the heads of both levels' tasks (the ablation "one model for all
eight dimensions" against the paper's one model per level, §3.3)."""
MODEL_LEVELS = (*LEVELS, ALL_LEVELS)
POOLINGS = ("avg", "max")
"""How the base net's last feature map becomes the features: ``"avg"``, global average pooling
(§3.3.1, §3.4: "mean pooling"), or ``"max"``, global max pooling (an ablation)."""


def level_tasks(level: str) -> tuple[Task, ...]:
    """The tasks of a model level (:data:`MODEL_LEVELS`) in registry order: one level's, or all
    eight for :data:`ALL_LEVELS`."""
    if level == ALL_LEVELS:
        return TASKS
    return tasks_of_level(level)


class ModelFileError(ValueError):
    """A model file that cannot or must not be loaded; the message names the file and why."""


# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class ModelSpec:
    """Everything that determines a model before training, as JSON-ready data.

    ``train`` stores it next to its checkpoints and refuses to resume under a different one.
    """

    level: str
    """``"design"`` (§3.3.1) or ``"length"`` (§3.3.2); the heads are this level's tasks.
    ``"all"`` (:data:`ALL_LEVELS`, an ablation): the heads of all eight dimensions."""
    backbone: str = "inception_v4"
    """Base net name for ``replication.nets.registry.build_backbone``."""
    variant: str = "canonical"
    """Base net size: ``"tiny"``, ``"small"`` or ``"canonical"``."""
    image_size: int = 480
    """Input side in pixels (§3.1.2(2): 480); images are resized to a square of this side."""
    channels: str = "single"
    """``"single"`` or ``"dual"`` (§3.3.2 dual-channel fusion; length level only)."""
    weights: str | None = None
    """Base net weights passed to ``build_backbone`` (e.g. a local ImageNet file), or None."""
    mean: tuple[float, float, float] | None = None
    """Data-set RGB mean on the [0, 1] pixel scale (§3.1.2(1), eq. 6), for the ``"dataset"``
    normalisation (``normalisation.dataset_stats``); None for the other modes."""
    std: tuple[float, float, float] | None = None
    """Data-set RGB standard deviation on the [0, 1] scale; given together with ``mean``."""
    dropout: float = 0.5
    """Dropout rate after global average pooling (§3.4: 0.5 worked best)."""
    pooling: str = "avg"
    """How the base net's last feature map is pooled (:data:`POOLINGS`): ``"avg"`` as the paper
    (the base nets end in global average pooling), ``"max"`` (an ablation of §3.4's "mean
    pooling"). A spec written before this field existed reads as ``"avg"``."""
    fusion_units: int = 128
    """Dual channel: width of the on-model branch's Dense layer (§3.3.2: ``Dense(128)``)."""
    flat_model: str | None = None
    """Dual channel: the trained flat-lay single-channel model file (None: a fresh one)."""
    onmodel_model: str | None = None
    """Dual channel: the trained on-model single-channel model file (None: a fresh one)."""
    flag_input: bool = False
    """Single channel: also take the flat/on-model flag (input ``flat``), concatenated to the
    pooled features before the heads (chapter 5's control; the dual-channel model always takes
    it)."""
    base_model: str | None = None
    """Single channel: a trained single-channel model file whose layers up to ``features`` this
    model starts from, with new heads (None: a fresh base net). Like ``flat_model`` and
    ``onmodel_model``, a relative path is resolved against ``build_model``'s ``base_dir``."""
    normalisation: str = "inception"
    """Input normalisation, one of ``normalisation.MODES`` (§3.1.2(1)): ``"inception"``
    (``X / 127.5 - 1``), ``"dataset"`` (``(x - mean) / std`` with this spec's ``mean``/``std``),
    ``"per_image"`` (eq. 7 as ``tf.image.per_image_standardization``), ``"paper_literal"`` (the
    paper's printed numbers). Backwards compatible: ``mean``/``std`` with the default
    ``"inception"`` mean ``"dataset"``, as they did before this field existed."""
    augment: tuple[str, ...] = ()
    """Training augmentation (§3.1.2(3)): names from ``augmentation.AUGMENTERS`` (the paper's:
    ``augmentation.PAPER_AUGMENTERS``); stored once each, in the order they are applied."""
    augment_engine: str = "imgaug"
    """Where ``augment`` runs: ``"imgaug"`` per image on the CPU in the input pipeline (as the
    paper), or ``"keras"``, the fast twin: layers in the model right after the input."""

    def __post_init__(self) -> None:
        if self.level not in MODEL_LEVELS:
            raise ValueError(f"level must be one of {MODEL_LEVELS}, got {self.level!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.channels not in CHANNELS:
            raise ValueError(f"channels must be one of {CHANNELS}, got {self.channels!r}")
        if self.channels == "dual" and self.level != "length":
            raise ValueError("the dual-channel model is a length-level model (paper §3.3.2)")
        if self.channels == "dual" and (self.flag_input or self.base_model):
            raise ValueError("flag_input and base_model are single-channel options (the "
                             "dual-channel model always takes the flag and starts from "
                             "flat_model and onmodel_model)")
        if self.channels == "single" and (self.flat_model or self.onmodel_model):
            raise ValueError("flat_model and onmodel_model are the dual-channel model's branches; "
                             "a single-channel model starts from base_model")
        if int(self.image_size) != self.image_size or self.image_size < 8:
            raise ValueError(f"image_size must be an integer >= 8, got {self.image_size!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if (self.mean is None) != (self.std is None):
            raise ValueError("give both mean and std (data-set normalisation) or neither")
        if self.mean is not None:
            if len(self.mean) != 3 or len(self.std) != 3:
                raise ValueError("mean and std need one value per RGB channel")
            if min(self.std) <= 0:
                raise ValueError(f"std must be positive, got {self.std}")
            # Tuples, so that a spec read back from JSON (lists) compares equal to the original.
            object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
            object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if self.normalisation not in MODES:
            raise ValueError(f"normalisation must be one of {MODES}, got {self.normalisation!r}")
        if self.mean is not None and self.normalisation == "inception":
            # A spec from before the field existed: mean/std selected data-set normalisation.
            object.__setattr__(self, "normalisation", "dataset")
        if self.normalisation == "dataset" and self.mean is None:
            raise ValueError("normalisation 'dataset' needs the training split's mean and std "
                             "(normalisation.dataset_stats)")
        if self.normalisation in ("per_image", "paper_literal") and self.mean is not None:
            raise ValueError(f"normalisation {self.normalisation!r} takes no mean/std (only "
                             "'dataset' uses them); leave them None")
        object.__setattr__(self, "augment", augmentation.check_names(self.augment))
        if self.augment_engine not in augmentation.ENGINES:
            raise ValueError(f"augment_engine must be one of {augmentation.ENGINES}, got "
                             f"{self.augment_engine!r}")

    @property
    def takes_flag(self) -> bool:
        """Whether the model has the flag input ``flat``: a dual-channel model, or a
        single-channel one with ``flag_input``. Training and prediction then need flags."""
        return self.channels == "dual" or self.flag_input

    @property
    def tasks(self) -> tuple[Task, ...]:
        """The level's tasks in registry order (:func:`level_tasks`): one head each."""
        return level_tasks(self.level)

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping) -> "ModelSpec":
        """The spec of :meth:`to_dict`. A dict written before a field existed (an older
        ``state.json``) loads with that field's default."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ModelSpec fields: {unknown}")
        return cls(**dict(data))


BackboneFactory = Callable[[ModelSpec], keras.Model]
"""Builds the base net for a spec: input (size, size, 3) in the net's input range, output the
globally average-pooled features (batch, channels)."""


def default_backbone(spec: ModelSpec) -> keras.Model:
    """The spec's base net, built by the nets registry (``replication.nets.registry``)."""
    from replication.nets import registry  # imported here: it is only needed when a net is built from scratch

    return registry.build_backbone(spec.backbone, spec.variant,
                                    input_shape=(spec.image_size, spec.image_size, 3),
                                    weights=spec.weights)


def head_name(task: Task) -> str:
    return f"{HEAD_PREFIX}{task.short}"


@keras.saving.register_keras_serializable(package="replication")
class PerImageStandardization(layers.Layer):
    """``tf.image.per_image_standardization`` in ``keras.ops`` (runs on TensorFlow and JAX):
    ``(x - mean(x)) / max(std(x), 1 / sqrt(N))`` per image, over all pixels and channels,
    ``N = H * W * C``. Computed in float32, on the values it is given (0..255 here, as TensorFlow
    computes it on a uint8 image)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.built = True

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, images):
        x = ops.cast(images, "float32")
        n = math.prod(int(d) for d in x.shape[1:])
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        var = ops.mean(ops.square(x - mean), axis=(1, 2, 3), keepdims=True)
        return (x - mean) / ops.maximum(ops.sqrt(var), 1.0 / math.sqrt(n))


def preprocessing(spec: ModelSpec) -> keras.layers.Layer:
    """The normalisation layer ``preprocess``: uint8-range RGB -> the base net's input, in the
    spec's mode (``normalisation.MODES``, §3.1.2(1); ``normalisation.describe_mode`` says it in
    words).

    - ``"inception"``: ``X / 127.5 - 1``, the range both base nets' ImageNet weights expect.
    - ``"dataset"``: eq. (6) ``(x - mean) / std`` with the spec's statistics (a built-in
      ``Normalization`` layer, so the statistics travel inside the model file).
    - ``"paper_literal"``: eq. (6)-(7) with the paper's printed mean and "std",
      ``(x - mean) / max(std, 1 / sqrt(N))``, ``N = size * size * 3`` (a ``Normalization``).
    - ``"per_image"``: :class:`PerImageStandardization`, eq. (7) as TensorFlow defines it.
    """
    mode = spec.normalisation
    if mode == "inception":
        return layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")
    if mode == "per_image":
        return PerImageStandardization(name="preprocess")
    if mode == "dataset":
        mean, std = spec.mean, spec.std
    else:  # paper_literal
        floor = 1.0 / math.sqrt(spec.image_size * spec.image_size * 3)
        mean, std = PAPER_MEAN, tuple(max(s, floor) for s in PAPER_STD_AS_PRINTED)
    return layers.Normalization(mean=[255.0 * m for m in mean],
                                variance=[(255.0 * s) ** 2 for s in std], name="preprocess")


def augmentation_layers(spec: ModelSpec) -> list[keras.layers.Layer]:
    """The fast-twin augmentation layers that sit in the model right after the input
    (``augmentation.keras_layers(spec.augment)``) when ``spec.augment_engine == "keras"``;
    otherwise none (imgaug augments in the input pipeline). They act only in training."""
    if spec.augment_engine != "keras" or not spec.augment:
        return []
    return augmentation.keras_layers(spec.augment)


def _augment_and_preprocess(spec: ModelSpec, image):
    x = image
    for layer in augmentation_layers(spec):
        x = layer(x)
    return preprocessing(spec)(x)


# --------------------------------------------------------------------------- building


def named_backbone(spec: ModelSpec, factory: BackboneFactory) -> keras.Model:
    """The spec's base net as a functional model named :data:`BACKBONE` (which freezing looks
    for), ending in its global average pooling, or with ``spec.pooling == "max"`` in a global
    max pooling (``max_pool``) of the same last feature map, the average pooling's input."""
    net = factory(spec)
    if len(net.outputs) != 1 or len(net.outputs[0].shape) != 2:
        raise ValueError(f"a backbone must end in global average pooling (one (batch, channels) "
                         f"output); {net.name!r} gives {[tuple(o.shape) for o in net.outputs]}")
    if spec.pooling == "avg":
        # A functional model over the same layers, under the name freezing looks for.
        return keras.Model(net.inputs[0], net.outputs[0], name=BACKBONE)
    last = net.layers[-1]
    if not isinstance(last, layers.GlobalAveragePooling2D) or last.output is not net.outputs[0]:
        raise ValueError(f"pooling {spec.pooling!r} replaces the base net's global average "
                         f"pooling, but {net.name!r} does not end in a GlobalAveragePooling2D "
                         f"layer (its last layer: {type(last).__name__})")
    pooled = layers.GlobalMaxPooling2D(name="max_pool")(last.input)
    return keras.Model(net.inputs[0], pooled, name=BACKBONE)


def _heads(features, tasks: Sequence[Task]) -> dict:
    # float32 heads: under mixed precision a float16 softmax loses the small probabilities
    # that the ranking metric (AP) depends on.
    return {head_name(t): layers.Dense(t.n_values, activation="softmax", dtype="float32",
                                       name=head_name(t))(features)
            for t in tasks}


def _features_branch(model: keras.Model, name: str) -> keras.Model:
    """A trained model minus its heads ("minus its top FC layer", §3.3.2): from its
    ``preprocess`` layer to its ``features`` layer, so that any augmentation layers inside it are
    left out (the new model's own sit at its input)."""
    return keras.Model(model.get_layer("preprocess").input, model.get_layer(FEATURES).output,
                       name=name)


def build_single(spec: ModelSpec, *, backbone_factory: BackboneFactory | None = None,
                 base: keras.Model | None = None) -> keras.Model:
    """The multi-task single-channel model (§3.3.1, §3.3.2, §3.4).

    ``image -> preprocess -> backbone (GAP, or global max pooling with ``spec.pooling="max"``)
    -> Dropout(spec.dropout) "features" -> head_<short>`` per task of ``spec.level`` (all eight
    for the level ``"all"``). Outputs are a dict keyed by head name.

    With ``spec.flag_input`` the flag (input ``flat``) is concatenated to the features
    (``with_flag``) before the heads. ``base``, a trained single-channel model of the same size
    and level, replaces ``preprocess -> ... -> features`` by its own trained layers (branch
    ``base_branch``); the heads are new.
    """
    size = spec.image_size
    image = keras.Input((size, size, 3), name=IMAGE_INPUT)
    if base is None:
        x = _augment_and_preprocess(spec, image)
        x = named_backbone(spec, backbone_factory or default_backbone)(x)
        x = layers.Dropout(spec.dropout, name=FEATURES)(x)
    else:
        _check_branch("base_model", base, spec)
        x = image
        for layer in augmentation_layers(spec):
            x = layer(x)
        x = _features_branch(base, "base_branch")(x)
    name = f"{spec.level}_single_{spec.backbone}"
    if not spec.flag_input:
        return keras.Model(image, _heads(x, spec.tasks), name=name)
    flag = keras.Input((1,), name=FLAG_INPUT)
    x = layers.Concatenate(name="with_flag")([x, flag])
    return keras.Model({IMAGE_INPUT: image, FLAG_INPUT: flag}, _heads(x, spec.tasks),
                       name=f"{name}_flag")


def _check_branch(name: str, model: keras.Model, spec: ModelSpec) -> None:
    """That a trained model can serve as a branch (or base) of the spec's model: single-channel
    without the flag, the spec's image size and the spec's heads."""
    info = describe(model)
    if info.dual:
        raise ValueError(f"{name} must be a single-channel model without the flag input")
    if info.image_size != spec.image_size:
        raise ValueError(f"{name} takes {info.image_size} px images; the spec says "
                         f"{spec.image_size}")
    if {t.key for t in info.tasks} != {t.key for t in spec.tasks}:
        raise ValueError(f"{name} must be a {spec.level}-level model with the heads "
                         f"{[head_name(t) for t in spec.tasks]}")


def build_dual(spec: ModelSpec, flat_model: keras.Model, onmodel_model: keras.Model) -> keras.Model:
    """The length-level dual-channel fusion of a flat-lay and an on-model model (§3.3.2).

    As the paper: each single-channel model loses its top fully connected layers (its heads), so
    a branch (``flat_branch``, ``onmodel_branch``) ends at the model's ``features`` layer, its
    pooled features after its own Dropout(0.5). The flat branch then gets a further Dropout
    (``flat_dropout``, rate ``spec.dropout``; read literally, the flat-lay features thus pass two
    Dropouts, the stronger regularisation the paper motivates by flat-lay data overfitting more
    easily), the on-model branch a ``Dense(128)`` (``onmodel_dense``; no activation, as the
    paper writes ``Dense(128)``). The two are concatenated (``fusion``) and feed one softmax head
    per length task.

    How the flag enters: the paper fuses by concatenation and says no more. Here the flag (input
    ``flat``, 1.0 flat-lay / 0.0 on-model, from :class:`FlatFlags`) is one more feature in that
    concatenation: ``concat([flat_dropout, onmodel_dense, flat])``. Both branches see every
    image, as in a plain concatenation, and the heads also know which domain the screening put
    the image in. Gating (zeroing the branch of the other domain) was not chosen: it would turn
    the fusion back into two per-domain models routed by the flag, which is not what "concat"
    describes. Leaving the flag out was not chosen either: the fusion exists because the two
    domains differ (§3.3.2), and the screening's verdict is the one signal of which applies.
    With a constant flag the model is the paper's plain concatenation. Branch weights are the
    two trained models'; the stage schedule decides whether their base nets are frozen.

    Augmentation: the dual spec's own fast-twin layers (engine ``"keras"``) sit at the input, so
    both branches see the same augmented image; a branch starts at its model's ``preprocess``
    layer, so any augmentation layers inside the two single-channel models are left out.
    """
    for name, model in (("flat_model", flat_model), ("onmodel_model", onmodel_model)):
        _check_branch(name, model, spec)
    size = spec.image_size
    image = keras.Input((size, size, 3), name=IMAGE_INPUT)
    flag = keras.Input((1,), name=FLAG_INPUT)
    flat_branch, onmodel_branch = (
        _features_branch(model, name)
        for model, name in ((flat_model, FLAT_BRANCH), (onmodel_model, ONMODEL_BRANCH)))
    x = image
    for layer in augmentation_layers(spec):
        x = layer(x)
    f = layers.Dropout(spec.dropout, name="flat_dropout")(flat_branch(x))
    g = layers.Dense(spec.fusion_units, name="onmodel_dense")(onmodel_branch(x))
    fused = layers.Concatenate(name="fusion")([f, g, flag])
    return keras.Model({IMAGE_INPUT: image, FLAG_INPUT: flag}, _heads(fused, spec.tasks),
                       name=f"length_dual_{spec.backbone}")


def _model_file(path: str, base_dir: str | os.PathLike | None) -> pathlib.Path:
    """A spec's model file: an absolute path as it is, a relative one under ``base_dir``."""
    file = pathlib.Path(path)
    if file.is_absolute():
        return file
    if base_dir is None:
        raise ValueError(f"the spec names the model file {path!r} relative to a folder; pass "
                         "base_dir (training.train passes the models folder)")
    return pathlib.Path(base_dir) / file


def build_model(spec: ModelSpec, *, backbone_factory: BackboneFactory | None = None,
                base_dir: str | os.PathLike | None = None) -> keras.Model:
    """The model a spec describes: :func:`build_single` (from the spec's ``base_model`` file
    where it names one), or :func:`build_dual` over the spec's two trained branch files (a fresh
    single-channel model stands in for a missing one). A relative file path in the spec is
    resolved against ``base_dir``, so that a stored spec names no machine folder."""
    if spec.channels == "single":
        base = load_model(_model_file(spec.base_model, base_dir)) if spec.base_model else None
        return build_single(spec, backbone_factory=backbone_factory, base=base)
    single = ModelSpec(**{**asdict(spec), "channels": "single", "flat_model": None,
                          "onmodel_model": None})
    branches = [load_model(_model_file(path, base_dir)) if path else
                build_single(single, backbone_factory=backbone_factory)
                for path in (spec.flat_model, spec.onmodel_model)]
    return build_dual(spec, *branches)


# --------------------------------------------------------------------------- freezing


def _nested_models(model: keras.Model) -> Iterable[keras.Model]:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield layer
            yield from _nested_models(layer)


def backbones_of(model: keras.Model) -> list[keras.Model]:
    """The base nets inside a model: one in a single-channel model, two in a dual-channel one."""
    found = [m for m in _nested_models(model) if m.name == BACKBONE]
    if not found:
        raise ValueError(f"model {model.name!r} has no nested model named {BACKBONE!r}")
    return found


def set_backbone_trainable(model: keras.Model, fraction: float) -> None:
    """Freeze the base nets except the top ``fraction`` of their weighted layers (§3.3: "freeze the
    network layers", then fine-tune).

    ``0.0`` trains only what sits above the base nets (heads, fusion layers); ``1.0`` trains all.
    Layers are counted in the base net's topological order, so a fraction unfreezes the blocks
    nearest the output first. A frozen BatchNormalization runs in inference mode (Keras 3), as in
    the usual fine-tuning. Recompile after calling this.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"train_backbone must be in [0, 1], got {fraction}")
    for net in backbones_of(model):
        net.trainable = True  # a frozen parent would override its layers' own flags
        weighted = [layer for layer in net.layers if layer.weights]
        n_train = math.ceil(fraction * len(weighted))
        for i, layer in enumerate(weighted):
            layer.trainable = i >= len(weighted) - n_train


# --------------------------------------------------------------------------- describing and loading


@dataclass(frozen=True)
class ModelInfo:
    """What prediction needs to know about a model, read from the model itself."""

    image_size: int
    tasks: tuple[Task, ...]
    dual: bool
    """Whether the model takes the flag input ``flat``: a dual-channel model, or a
    single-channel one given the flag (``ModelSpec.flag_input``); either needs flags."""


def describe(model: keras.Model) -> ModelInfo:
    """Image size, tasks and channel form of a model built by this module (or a ModelFileError)."""
    # Input tensors' names are not stable across backends; the input layer names are.
    input_layers = {layer.name: layer for layer in model.layers
                    if isinstance(layer, keras.layers.InputLayer)}
    if IMAGE_INPUT not in input_layers:
        raise ModelFileError(f"model {model.name!r} has no input named {IMAGE_INPUT!r}")
    unexpected = set(input_layers) - {IMAGE_INPUT, FLAG_INPUT}
    if unexpected:
        raise ModelFileError(f"model {model.name!r} has unexpected inputs {sorted(unexpected)}")
    shape = tuple(input_layers[IMAGE_INPUT].batch_shape)
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != 3:
        raise ModelFileError(f"model {model.name!r}: image input has shape {shape}; expected "
                             "(None, size, size, 3)")
    tasks = []
    for name in model.output_names:
        if not name.startswith(HEAD_PREFIX):
            raise ModelFileError(f"model {model.name!r}: output {name!r} is not a head_<task>")
        try:
            task = get_task(name[len(HEAD_PREFIX):])
        except KeyError:
            raise ModelFileError(f"model {model.name!r}: output {name!r} names no known task") \
                from None
        units = model.get_layer(name).units
        if units != task.n_values:
            raise ModelFileError(f"model {model.name!r}: {name} has {units} units; {task.key} "
                                 f"has {task.n_values} values")
        tasks.append(task)
    order = {t.key: i for i, t in enumerate(tasks_of_level("design") + tasks_of_level("length"))}
    return ModelInfo(image_size=int(shape[1]),
                     tasks=tuple(sorted(tasks, key=lambda t: order[t.key])),
                     dual=FLAG_INPUT in input_layers)


def _register_custom_layers() -> None:
    """Import the modules whose registered layers (e.g. ScaledResidual) a model file may name.

    Safe mode still allows registered classes: they are code of this package, not of the file.
    """
    from replication.learning import augmentation  # noqa: F401  (registration)
    from replication.nets import registry

    registry.import_modules()


def open_model_file(path: str | os.PathLike) -> keras.Model:
    """Open any ``.keras`` model file in Keras safe mode, uncompiled: the one place where this
    project reads a model file (recognition models, the human parser, the person segmenter, the
    flat/on-model classifier).

    Only the Keras 3 zip format is accepted: a pickle (``.pkl``, ``.joblib``, ...), a legacy
    HDF5 or a SavedModel raises :class:`ModelFileError`, so no file can run code on loading. Safe
    mode refuses a file with a ``Lambda`` layer (Python bytecode); the error says so.
    """
    path = pathlib.Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(
            f"{path}: unsupported model format {path.suffix or '(no suffix)'!r}; only Keras 3 "
            "'.keras' files are loaded (in safe mode); pickled models are never loaded")
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a Keras 3 '.keras' file (not a zip archive)")
    _register_custom_layers()
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except ValueError as error:
        if "safe_mode" in str(error) or "Lambda" in str(error):
            raise ModelFileError(
                f"{path}: refused in Keras safe mode: the file holds arbitrary Python code (a "
                f"Lambda layer or similar), which is never executed from a model file") from None
        raise ModelFileError(f"{path}: cannot load model: {error}") from None
    except (TypeError, KeyError, OSError) as error:
        raise ModelFileError(f"{path}: cannot load model: {error}") from None


def load_model(path: str | os.PathLike) -> keras.Model:
    """A recognition model of this module from a ``.keras`` file (:func:`open_model_file`: safe
    mode, uncompiled); :func:`describe` checks that it is one."""
    model = open_model_file(path)
    describe(model)
    return model


# --------------------------------------------------------------------------- flat / on-model flags


@runtime_checkable
class FlatFlags(Protocol):
    """Maps image paths to flat-lay (True) / on-model (False), paper §3.2's screening output.

    Called with the images as a data set names them (``"Images/<task>/<name>.jpg"``, relative
    to its root) or as file paths; returns a bool array, one flag per image.
    """

    def __call__(self, images: Sequence[str]) -> np.ndarray: ...


class FlagTable:
    """Flat/on-model flags looked up in a table ``{image name: flat}`` (``FlatFlags``): by the
    name a data set uses, or by a file path under ``root`` (absolute or relative to the working
    directory). Raises KeyError for an image the table does not list, naming ``source``."""

    def __init__(self, flat: Mapping[str, bool], *, root: str | os.PathLike | None, source: str):
        self._flat = dict(flat)
        self.root = pathlib.Path(root) if root is not None else None
        self._real_root = os.path.realpath(root) if root is not None else None
        self.source = source

    def __len__(self) -> int:
        return len(self._flat)

    def _key(self, image: str) -> str:
        if image in self._flat or self._real_root is None:
            return image
        real = os.path.realpath(image)
        if real.startswith(os.path.join(self._real_root, "")):
            return pathlib.Path(os.path.relpath(real, self._real_root)).as_posix()
        return image

    def __call__(self, images: Sequence[str]) -> np.ndarray:
        flags = np.empty(len(images), dtype=bool)
        for i, image in enumerate(images):
            key = self._key(str(image))
            if key not in self._flat:
                raise KeyError(f"image {image!r} has no flat/on-model flag in {self.source}")
            flags[i] = self._flat[key]
        return flags


class TruthFlatFlags(FlagTable):
    """The synthetic set's ground-truth flags (``Truth/truth.csv``)."""

    def __init__(self, root: str | os.PathLike):
        from replication.data.truth import read_truth

        flat = {image: entry["flat"] for image, entry in read_truth(root).items()}
        super().__init__(flat, root=root, source=f"the truth under {root}")


def split_by_flag(rows: Sequence[LabelRow], flags: FlatFlags
                  ) -> tuple[list[LabelRow], list[LabelRow]]:
    """(flat-lay rows, on-model rows): the two training sets of §3.3.2's per-domain models."""
    flat = flags([row.image for row in rows])
    return ([row for row, f in zip(rows, flat) if f], [row for row, f in zip(rows, flat) if not f])


def masked_targets(rows: Sequence[LabelRow], tasks: Sequence[Task]) -> tuple[dict, dict]:
    """One-hot targets and 0/1 sample weights per head for a batch of rows of mixed tasks.

    Masking (§3.3 multi-task training, one shared base net): a row's own head gets its one-hot
    ``y`` and weight 1; every other head gets an all-zero target and weight 0. The heads' loss is
    ``CategoricalCrossentropy(reduction="mean_with_sample_weight")``, i.e. the sum of weighted
    per-sample losses divided by the sum of weights: each head's loss is the mean cross entropy
    over the batch's rows of *its own* task, not diluted by the other tasks' rows (the plain
    all-zero-target trick divides by the whole batch size). A head with no row in a batch
    contributes 0 (divide-no-nan), and no gradient reaches it. Metrics are ``weighted_metrics``,
    so per-head accuracy counts only the head's own rows. The zero targets are a second guard:
    even an unweighted cross entropy is 0 there.
    """
    n = len(rows)
    targets = {head_name(t): np.zeros((n, t.n_values), dtype="float32") for t in tasks}
    weights = {head_name(t): np.zeros((n,), dtype="float32") for t in tasks}
    heads = {t.key: head_name(t) for t in tasks}
    for i, row in enumerate(rows):
        head = heads.get(row.task)
        if head is None:
            raise ValueError(f"row {row.row} ({row.image}) has task {row.task}, which the model "
                             f"has no head for (heads: {sorted(heads.values())})")
        targets[head][i, row.value] = 1.0
        weights[head][i] = 1.0
    return targets, weights
