"""The human parser of the screening stage (paper §3.2, stage 1: JPPNet's role) and the paper's
on-model rule on top of it.

The paper runs JPPNet (a human parser with the LIP label set) on every length-level image and
calls an image on-model when it "contains one of head, face, left/right arm, left/right leg,
left/right foot". A parser labels a few stray pixels in almost any image, so "contains" needs a
size: here an image is on-model when one of the four body-part groups (:data:`ON_MODEL_GROUPS`)
covers more than ``threshold`` of the image's pixels. The threshold is calibrated on the
calibration split (``screen.split_images``; never on the images the stages are scored on) against
the synthetic truth (:func:`calibrate_threshold`) and recorded.

:class:`HumanParser` is the interface: images in, LIP label maps out. :class:`KerasHumanParser`
is its one implementation: it opens any Keras 3 model file (in safe mode) that maps an RGB image
to 20 LIP class scores per pixel. That is the default parser trained here on the synthetic part
masks (:func:`train_default_parser`, ``segmentation.build_parser_net``) and equally a
user-supplied LIP-trained model: the real JPPNet is TensorFlow 1 code whose checkpoint lives on
cloud drives, so it cannot be the offline default (DESIGN §2).
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from replication.screening import segmentation
from replication.data.truth import LIP

ON_MODEL_GROUPS: dict[str, tuple[int, ...]] = {
    "head": (LIP["hair"], LIP["face"]),
    "arms": (LIP["left_arm"], LIP["right_arm"]),
    "legs": (LIP["left_leg"], LIP["right_leg"]),
    "feet": (LIP["left_shoe"], LIP["right_shoe"]),
}
"""§3.2's body parts as LIP labels: head (LIP's label for the head is hair) and face, arms, legs,
feet (LIP's shoes)."""
LIP_NAMES: tuple[str, ...] = tuple(sorted(LIP, key=LIP.get))
JPPNET_INPUT = 384
"""JPPNet's inference size (``evaluate_parsing_JPPNet-s2.py``): where a parser takes any size."""
DEFAULT_THRESHOLD = 0.002
"""The rule's share of pixels where no truth is at hand to calibrate it (real data): 0.2 % of the
image, a few hundred pixels at 480 px."""


@runtime_checkable
class HumanParser(Protocol):
    """JPPNet's role: RGB images (uint8 arrays of any size) to LIP label maps (``(N, S, S)``
    uint8, 20 classes, :data:`replication.data.truth.LIP`) at the parser's own resolution ``S``."""

    name: str

    def parse(self, images: Sequence[np.ndarray]) -> np.ndarray: ...


class KerasHumanParser:
    """A human parser from a Keras 3 ``.keras`` file, opened in safe mode (no pickle, no Lambda
    code; ``models.open_model_file``).

    The model must take ``(None, S, S, 3)`` RGB images with values 0..255 (a model that expects
    another input range must carry its own scaling layer, as this project's models do) and give
    LIP class scores ``(None, S', S', 20)`` (probabilities or logits: only the argmax is used).
    A fully convolutional model that takes any size, ``(None, None, None, 3)``, runs at ``size``
    (default :data:`JPPNET_INPUT`, JPPNet's own). An output coarser than the input (a stride-8
    parser, as JPPNet's) is brought back to ``S x S`` by nearest-neighbour sampling. Images of any
    size are resized to ``S x S`` bilinearly.
    """

    def __init__(self, path: str | os.PathLike, *, size: int | None = None,
                 batch_size: int = 32):
        from replication.learning.models import ModelFileError, open_model_file

        self.path = pathlib.Path(path)
        self.model = open_model_file(self.path)
        shape, out = tuple(self.model.input_shape), tuple(self.model.output_shape)
        if len(shape) != 4 or shape[3] != 3 or len(out) != 4:
            raise ModelFileError(f"{self.path}: not a human parser: it takes {shape} and gives "
                                 f"{out}; a parser takes (None, S, S, 3) RGB images and gives "
                                 "(None, S', S', 20) class scores")
        if shape[1] is None or shape[2] is None:
            self.size = int(size or JPPNET_INPUT)
        elif shape[1] != shape[2] or (size is not None and size != shape[1]):
            raise ModelFileError(f"{self.path}: takes {shape[1]} x {shape[2]} images; a parser "
                                 f"here takes square ones{f' of {size} px' if size else ''}")
        else:
            self.size = int(shape[1])
        classes = int(out[-1])
        if classes != segmentation.N_LIP_CLASSES:
            raise ModelFileError(f"{self.path}: a LIP human parser gives "
                                 f"{segmentation.N_LIP_CLASSES} classes per pixel; this model "
                                 f"gives {classes}")
        self.name = f"keras:{self.path.name}"
        self.batch_size = batch_size

    def parse(self, images: Sequence[np.ndarray]) -> np.ndarray:
        probs = segmentation.predict_probs(self.model, images, batch_size=self.batch_size,
                                           size=self.size)
        maps = probs.argmax(axis=-1).astype(np.uint8)
        if maps.shape[1:] != (self.size, self.size):  # a coarser output
            maps = segmentation.resize_nearest(maps, self.size, self.size)
        return maps


# --------------------------------------------------------------------------- the rule


def part_shares(maps: np.ndarray) -> dict[str, np.ndarray]:
    """Per body-part group (:data:`ON_MODEL_GROUPS`), the share of each map's pixels it covers."""
    maps = np.asarray(maps)
    pixels = maps.shape[1] * maps.shape[2]
    return {group: np.isin(maps, labels).sum(axis=(1, 2)) / pixels
            for group, labels in ON_MODEL_GROUPS.items()}


def body_share(maps: np.ndarray) -> np.ndarray:
    """The rule's score per image: the largest share any one body-part group covers."""
    return np.max(np.stack(list(part_shares(maps).values())), axis=0)


def on_model(scores: np.ndarray, threshold: float) -> np.ndarray:
    """§3.2 stage 1: on-model where some body-part group covers more than ``threshold``."""
    return np.asarray(scores) > threshold


def calibrate_threshold(scores: np.ndarray, flat_truth: np.ndarray) -> dict:
    """The threshold that makes the rule most accurate against truth on these images (the
    calibration split): every midpoint between consecutive distinct scores is tried, and 0.
    Ties go to the smallest threshold (the paper's rule is "contains any"). Returns
    ``{"threshold", "accuracy", "images"}``."""
    scores = np.asarray(scores, dtype=np.float64)
    truth_on = ~np.asarray(flat_truth, dtype=bool)
    if not len(scores):
        raise ValueError("no images to calibrate the on-model threshold on")
    values = np.unique(scores)
    candidates = np.concatenate([[0.0], (values[:-1] + values[1:]) / 2])
    accuracy = np.array([np.mean((scores > t) == truth_on) for t in candidates])
    best = int(np.argmax(accuracy))
    return {"threshold": float(candidates[best]), "accuracy": float(accuracy[best]),
            "images": int(len(scores))}


# --------------------------------------------------------------------------- the default parser


def train_default_parser(root: str | os.PathLike, images: Sequence[str], *, out_dir,
                         size: int = 64, epochs: int = 10, batch_size: int = 16,
                         learning_rate: float = 2e-3, seed: int = 0,
                         progress: bool = True) -> pathlib.Path:
    """Train (or reuse) the default parser on the synthetic part masks of ``images`` (paths as in
    ``label.csv``, the training split); returns its ``model.keras`` under ``out_dir``."""
    return segmentation.train_cached_net(
        root, images, out_dir=out_dir, arch="parser", build=segmentation.build_parser_net,
        targets=lambda parts, flat: parts, size=size, epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, seed=seed, progress=progress)


def parsing_iou(maps: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Per LIP class present in the truth or the prediction, the IoU of ``maps`` (the parser's
    output) against ``truth`` (label masks at the same resolution); plus ``mean`` over those
    classes."""
    iou = segmentation.per_class_iou(maps, truth, segmentation.N_LIP_CLASSES)
    out: Mapping[str, float] = {LIP_NAMES[c]: float(v) for c, v in enumerate(iou)
                                if not np.isnan(v)}
    return {**out, "mean": float(np.mean(list(out.values())))}
