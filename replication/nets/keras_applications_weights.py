"""keras.applications' ``InceptionResNetV2`` weights for the Keras Inception-ResNet-v2.

Reference:
    Christian Szegedy, Sergey Ioffe, Vincent Vanhoucke, Alex Alemi (2016/2017).
    "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning".
    AAAI 2017, https://arxiv.org/abs/1602.07261 (Figures 3, 16-18).

The canonical member of :func:`replication.nets.inception_resnet_v2.inception_resnet_v2` has the
same graph as ``keras.applications.InceptionResNetV2``, so :func:`load_keras_applications_weights`
copies the weights one weight-holding layer to the next, from a model or its ``.h5`` /
``.weights.h5`` file. Nothing is downloaded.
"""

from __future__ import annotations

import os
from typing import Any

import keras
from keras import layers

from replication.nets.inception import MIN_INPUT_SIZE

__all__ = ["load_keras_applications_weights"]


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
