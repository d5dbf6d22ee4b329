"""Pretraining in ImageNet's role: base nets for the synthetic profiles (chapter 0).

The paper imports ImageNet-pretrained Inception-v4 and InceptionResNet-v2, freezes them, trains
new heads, then fine-tunes the whole net with Adam and SGD at small rates (§3.3.1, §3.3.2, §3.4).
Offline there are no ImageNet weights, and from random weights that schedule moves nothing. So
each base net is pretrained once on a **pretext set**: a synthetic set rendered with a seed of
its own (:func:`ensure_pretext` refuses the evaluation set's seed, :func:`shared_images` counts
byte-identical images), with one head per attribute dimension (the level ``"all"``). Its base
net is then written in the format a user's ImageNet weights come in (:func:`export`: a timm
state dict for Inception-v4, a keras.applications-layout ``.h5`` for InceptionResNet-v2), and
every later chapter loads it through the ``weights`` parameter and the same loaders as the
``paper`` profile.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from replication.book.profiles import SyntheticSpec, get_profile, synthetic_root

PRETEXT_LEVEL = "all"
"""The pretext task: one head per attribute dimension, all eight (``models.ALL_LEVELS``)."""


def pretext_root(images_per_task: int, size: int, seed: int) -> Path:
    """Where the pretext set is rendered: ``data/pretext-n<N>-px<S>-seed<s>-v<format>``."""
    return synthetic_root("pretext", SyntheticSpec(images_per_task, size, seed))


def ensure_pretext(profile: str, *, images_per_task: int, size: int, seed: int,
                   progress: bool = True) -> Path:
    """The pretext set's folder, rendered if missing. Its seed must differ from the seed of the
    profile's evaluation set, so that no image a chapter scores is one the base nets saw."""
    from replication import synthetic
    from replication.data import fashionai

    evaluation = get_profile(profile).synthetic
    if evaluation is not None and int(seed) == evaluation.seed:
        raise ValueError(f"pretext_seed {seed} is the {profile} profile's evaluation seed: the "
                         "pretext set must be disjoint from the images the chapters score; "
                         "choose another seed")
    root = pretext_root(images_per_task, size, seed)
    if not (root / fashionai.LABEL_CSV).exists():
        synthetic.generate(root, images_per_task=images_per_task, seed=seed, size=size,
                           progress=progress)
    return root


def _image_digests(root: Path) -> set[str]:
    return {hashlib.sha256(path.read_bytes()).hexdigest()
            for path in (root / "Images").rglob("*") if path.is_file()}


def shared_images(pretext: Path, evaluation: Path) -> int:
    """How many images of ``pretext`` are byte for byte an image of ``evaluation`` (0 for a
    disjoint pretext set)."""
    return len(_image_digests(pretext) & _image_digests(evaluation))


def export(model_path: Path, backbone: str, variant: str, destination: Path, *,
           seed: int = 0) -> dict[str, Any]:
    """Write the base net of a trained model (``model.keras``) to ``destination`` in
    ``backbone``'s ImageNet format, then read it back through the loader a user's weights go
    through (``registry.build_backbone(..., weights=destination)``) and compare the two nets'
    features on random images. Returns ``{"bytes", "parameters", "max_abs_difference"}``."""
    from replication.learning import models, prediction
    from replication.nets import registry

    model = prediction.loaded_model(model_path)
    net = model.get_layer(models.BACKBONE)
    size = models.describe(model).image_size
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.stem + ".partial" + destination.suffix)
    registry.save_backbone_weights(backbone, net, partial)
    partial.replace(destination)  # a file at the final path is always a whole one
    reread = registry.build_backbone(backbone, variant, input_shape=(size, size, 3),
                                     weights=destination)
    images = np.random.default_rng(seed).uniform(-1, 1, (4, size, size, 3))
    images = images.astype("float32")
    difference = np.max(np.abs(np.asarray(net(images, training=False))
                               - np.asarray(reread(images, training=False))))
    return {"bytes": destination.stat().st_size, "parameters": int(net.count_params()),
            "max_abs_difference": float(difference)}
