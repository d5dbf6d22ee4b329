"""keras.applications' ``InceptionResNetV2`` weights for the Keras Inception-ResNet-v2.

Reference:
    Christian Szegedy, Sergey Ioffe, Vincent Vanhoucke, Alex Alemi (2016/2017).
    "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning".
    AAAI 2017, https://arxiv.org/abs/1602.07261 (Figures 3, 16-18).

The canonical member of :func:`replication.nets.inception_resnet_v2.inception_resnet_v2` has the
same graph as ``keras.applications.InceptionResNetV2``, so :func:`load_keras_applications_weights`
copies the weights one weight-holding layer to the next, from a model or its ``.h5`` /
``.weights.h5`` file. :func:`save_keras_applications_weights` writes any member of the family
(any width and blocks) in the legacy Keras 2 ``.h5`` layout of keras.applications' files, which
:func:`load_keras_applications_weights` reads back into a net of the same width and blocks
(and, for the canonical network, ``keras.applications.InceptionResNetV2`` too). Nothing is
downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
from keras import layers

from replication.nets.inception import MIN_INPUT_SIZE

__all__ = ["load_keras_applications_weights", "save_keras_applications_weights"]

#: What a weight file of another member of the family is told.
_CANONICAL_ONLY = "only the canonical network (width=1, blocks=(10, 20, 10)) takes these weights."
_SAME_MEMBER = (
    "a weight file fits only a network of the width and blocks it was written for "
    "(keras.applications' files: the canonical network, width=1, blocks=(10, 20, 10))."
)


def _weighted_layers(model: keras.Model) -> list[Any]:
    """Layers that hold weights, in the model's (graph-determined) layer order."""
    return [layer for layer in model.layers if layer.weights]


def _legacy_weights(layer: Any) -> list[Any]:
    """A layer's variables in the order legacy ``.h5`` files store them (trainable first)."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _decode(value: Any) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _h5_names(group: Any, name: str) -> list[str]:
    """A list-of-names attribute, which Keras splits into ``name0, name1, ...`` when long."""
    if name in group.attrs:
        return [_decode(v) for v in group.attrs[name]]
    names: list[str] = []
    chunk = 0
    while f"{name}{chunk}" in group.attrs:
        names += [_decode(v) for v in group.attrs[f"{name}{chunk}"]]
        chunk += 1
    return names


def _legacy_root(f: Any) -> Any | None:
    """The group of a legacy Keras 2 ``.h5`` file that holds ``layer_names``, or None."""
    for root in (f, f.get("model_weights")):
        if root is not None and (
            "layer_names" in root.attrs or "layer_names0" in root.attrs
        ):
            return root
    return None


def _is_legacy_file(path: str) -> bool:
    import h5py  # a dependency of Keras

    with h5py.File(path, "r") as f:
        return _legacy_root(f) is not None


def _read_legacy_file(path: str) -> list[tuple[str, list[np.ndarray]]]:
    """``[(layer name, [arrays])]`` of a legacy ``.h5`` file's weight-holding layers, in file
    order (the order of its ``layer_names``; each layer's arrays in its ``weight_names`` order)."""
    import h5py

    out = []
    with h5py.File(path, "r") as f:
        root = _legacy_root(f)
        if root is None:
            return []
        for name in _h5_names(root, "layer_names"):
            group = root[name]
            weight_names = _h5_names(group, "weight_names")
            if weight_names:
                out.append((name, [np.asarray(group[w]) for w in weight_names]))
    return out


def _file_head(path: str) -> int | None:
    """Number of classes of the classifier stored in a Keras weight file, or None if it has none.

    Understands Keras 3 ``.weights.h5`` files (``layers/<class>/vars/<i>``) and the legacy
    Keras 2 ``.h5`` files that keras.applications downloads (``layer_names`` attribute).
    """
    import h5py  # a dependency of Keras

    with h5py.File(path, "r") as f:
        if "layers" in f and _legacy_root(f) is None:  # Keras 3 .weights.h5
            for name, group in f["layers"].items():
                if name.startswith("dense") and "vars" in group and "0" in group["vars"]:
                    return int(group["vars"]["0"].shape[-1])
            return None
    for _, arrays in _read_legacy_file(path):
        if any(a.ndim == 2 for a in arrays):
            return int(next(a for a in arrays if a.ndim == 2).shape[-1])
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


#: One source layer: (description for errors, its type name or None, weight shapes, a function
#: giving its arrays in ``layer.get_weights()`` order of the matching model layer).
_SourceLayer = tuple[str, str | None, list[tuple[int, ...]], Callable[[], list[np.ndarray]]]


def _model_source(source: keras.Model) -> tuple[list[_SourceLayer], bool]:
    src = _weighted_layers(source)
    has_head = bool(src) and isinstance(src[-1], layers.Dense)
    return [
        (f"{source.name}/{s.name}", type(s).__name__, [tuple(w.shape) for w in s.weights],
         s.get_weights)
        for s in src
    ], has_head


def _file_source(path: str) -> tuple[list[_SourceLayer], bool]:
    entries = _read_legacy_file(path)
    # A classifier is a Dense layer: the only weight-holding layer with a 2-D (in, out) kernel.
    has_head = bool(entries) and any(a.ndim == 2 for a in entries[-1][1])
    return [
        (f"{path}: layer {name}", None, [tuple(a.shape) for a in arrays],
         (lambda arrays=arrays: arrays))
        for name, arrays in entries
    ], has_head


def _copy_weights(
    model: keras.Model, src: Sequence[_SourceLayer], src_has_head: bool, source_name: str,
    hint: str, legacy_order: bool,
) -> keras.Model:
    """Copy ``src`` onto ``model``'s weight-holding layers in order (heads handled apart)."""

    def variables(layer: Any) -> list[Any]:
        return _legacy_weights(layer) if legacy_order else list(layer.weights)

    dst = _weighted_layers(model)
    dst_head = dst[-1] if dst and isinstance(dst[-1], layers.Dense) else None
    src_head = src[-1] if src_has_head else None
    src = list(src[:-1]) if src_has_head else list(src)
    if dst_head is not None:
        dst = dst[:-1]
    for i, (d, (s_label, s_kind, s_shapes, _)) in enumerate(zip(dst, src, strict=False)):
        d_shapes = [tuple(w.shape) for w in variables(d)]
        kind = "" if s_kind is None else f"{s_kind}, "
        if (s_kind is not None and type(d).__name__ != s_kind) or d_shapes != s_shapes:
            raise ValueError(
                f"weight layer #{i}: {model.name}/{d.name} ({type(d).__name__}, {d_shapes}) does "
                f"not match {s_label} ({kind}{s_shapes}); {hint}"
            )
    if len(dst) != len(src):
        first = dst[len(src)].name if len(dst) > len(src) else src[len(dst)][0]
        raise ValueError(
            f"{model.name} has {len(dst)} weight layers before its head, {source_name} has "
            f"{len(src)}; the first without a partner is {first!r}. {hint}"
        )
    if dst_head is not None and src_head is None:
        raise ValueError(
            f"{model.name} has a classifier ({dst_head.name}) but {source_name} has none; "
            "build the model with include_top=False or give weights with the top."
        )
    for d, (_, _, _, values) in zip(dst, src, strict=True):
        for variable, value in zip(variables(d), values(), strict=True):
            variable.assign(value)
    if dst_head is not None and src_head is not None:
        if [tuple(w.shape) for w in variables(dst_head)] == src_head[2]:
            for variable, value in zip(variables(dst_head), src_head[3](), strict=True):
                variable.assign(value)
    return model


def load_keras_applications_weights(
    model: keras.Model, source: keras.Model | str | os.PathLike
) -> keras.Model:
    """Copy the weights of ``keras.applications.InceptionResNetV2`` (or a file written by
    :func:`save_keras_applications_weights`) into ``model``.

    Args:
        model: built by :func:`inception_resnet_v2` (any input size, with or without the top):
            with ``width=1`` and ``blocks=(10, 20, 10)`` for keras.applications' weights, with
            the width and blocks of the net that wrote a file for our own.
        source: a ``keras.applications.InceptionResNetV2`` model (any input size), or the path of
            a weight file: a legacy Keras 2 ``.h5`` file, as keras.applications downloads
            (``inception_resnet_v2_weights_tf_dim_ordering_tf_kernels[_notop].h5``) or
            :func:`save_keras_applications_weights` writes (any width and blocks), read
            directly with h5py; or a Keras 3 ``.weights.h5`` of
            ``keras.applications.InceptionResNetV2`` (canonical only). Nothing is downloaded.

    The networks have the same graph, so their weight-holding layers correspond one to one
    in the order Keras gives them (the order in which Keras' own weight files store them). A
    source classifier (a Dense last layer) is dropped if ``model`` has none; a classifier of
    another size in ``model`` keeps its own weights (a new head).

    Raises:
        ValueError: naming the first pair of layers whose type or weight shapes differ (the file
            or source model, the layer index and both shapes: a model of another width or
            depth), or if ``model`` has a head and the source has none.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no weight file at {path!r}")
        if _is_legacy_file(path):
            src, src_has_head = _file_source(path)
            return _copy_weights(model, src, src_has_head, path, _SAME_MEMBER, legacy_order=True)
        source = _reference_from_file(path)
    src, src_has_head = _model_source(source)
    return _copy_weights(model, src, src_has_head, source.name, _CANONICAL_ONLY,
                         legacy_order=False)


def save_keras_applications_weights(model: keras.Model, path: str | os.PathLike) -> str:
    """Write ``model``'s weights in the legacy Keras 2 ``.h5`` layout of keras.applications'
    weight files, for :func:`load_keras_applications_weights`.

    The root has the attributes ``layer_names`` (bytes), ``backend`` and ``keras_version``; each
    weight-holding layer, in ``model.layers`` order, is a group with attribute ``weight_names``
    (``"<layer>/<weight>:0"``) and one dataset per weight, trainable weights first (the legacy
    order). Any member of :func:`inception_resnet_v2` (any width and blocks, with or without
    the top) can be written; the canonical network's file also loads into
    ``keras.applications.InceptionResNetV2(weights=path)``. Returns the path written.
    """
    import h5py  # a dependency of Keras

    path = os.fspath(path)
    if not path.lower().endswith(".h5") or path.lower().endswith(".weights.h5"):
        raise ValueError(
            f"{path!r}: a legacy Keras 2 weight file ends in .h5 (not .weights.h5, which is "
            "Keras 3's format: use model.save_weights for that)"
        )
    weighted = _weighted_layers(model)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([layer.name.encode("utf8") for layer in weighted])
        f.attrs["backend"] = keras.backend.backend().encode("utf8")
        f.attrs["keras_version"] = str(keras.__version__).encode("utf8")
        for layer in weighted:
            group = f.create_group(layer.name)
            variables = _legacy_weights(layer)
            names = [f"{layer.name}/{v.name}:0".encode("utf8") for v in variables]
            group.attrs["weight_names"] = np.array(names)
            for name, variable in zip(names, variables, strict=True):
                group.create_dataset(name.decode("utf8"),
                                     data=keras.ops.convert_to_numpy(variable))
    return path
