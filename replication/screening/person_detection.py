"""Person detection for the flat-lay / on-model screening (paper §3.2).

The paper screens its images with Mask R-CNN used as a person detector: an image in which a person
is found is an on-model photo (someone wears the garment), one without is a flat-lay photo (the
garment alone). This module holds the detector protocol that the screening code relies on,
:class:`PersonDetector`, the two offline stand-ins for Mask R-CNN, :class:`OpenCVPersonDetector`
and :class:`SegmenterPersonDetector` (a person segmenter learned on the synthetic part masks,
:func:`train_default_segmenter`), and their registry by name (:data:`DETECTORS`,
:func:`make_detector`).

The OpenCV stand-in combines three classical detectors whose trained models ship inside the
OpenCV 4.x wheel, so nothing is downloaded: the HOG + linear SVM people detector (Dalal and Triggs,
``cv2.HOGDescriptor_getDefaultPeopleDetector``) for upright bodies, and the Haar cascades for
frontal faces (``haarcascade_frontalface_default.xml``) and profile faces
(``haarcascade_profileface.xml``, run on the image and its mirror, as it only knows one side).
OpenCV 5 dropped the HOG people model and the Haar cascades, which is why the project pins
``opencv-python-headless < 5``.

What it can do: find a visible frontal or profile face (at least 24 px once small images are
upscaled), and an upright, mostly whole standing person. What it cannot do: find a person whose
face is cropped away or turned from the camera and whose body is not a whole upright figure (a
headless torso in a shirt, legs in trousers: common in FashionAI's on-model photos); tell a face
printed on a garment or a coin from a real one; give a person mask (Mask R-CNN does).

How the defaults were chosen, on the photos that ship with scikit-image
(:func:`skimage_photo_check`) and a few more found in the installed packages (OpenCV 4.14):

* Faces: a real face gathers many overlapping raw windows: the astronaut, Grace Hopper
  (matplotlib's sample) and the cameraman are still found with ``face_min_neighbors=20``, and at
  128 px with 12. Texture hits gather fewer: none survives 3 on the cat, the coffee or the rocket,
  but scikit-image's ``cell`` survives 5, Greek ``coins`` (heads on them) 10 and sklearn's
  ``flower.jpg`` 12. ``face_min_neighbors=8`` keeps every real face seen while dropping the weaker
  texture hits; ``coins`` and ``flower.jpg`` remain false alarms. The frontal cascade alone misses
  the cameraman (profile, facing right); the mirrored profile cascade finds him.
* Bodies: on every photo tried, the HOG boxes with a positive margin were false (the rocket 0.76,
  the helmet the astronaut holds 0.87, a logo 0.82); no photo of a whole standing person ships
  with the packages, so its true hits were never measured. ``hog_threshold=1.0`` sits above
  all the false boxes seen; HOG decides none of the five check photos.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

KINDS = ("person", "face")

# HOG's detection window is 64 x 128 px and the frontal cascade's 24 x 24: smaller images are
# upscaled so that a person filling them is still several windows' worth of pixels.
_HOG_WINDOW = (64, 128)
_FACE_MIN_SIZE = (24, 24)
_FACE_SCALE = 1.1  # OpenCV's default pyramid step for the cascades
_HOG_SCALE = 1.05  # the usual pyramid step for the Dalal-Triggs detector
_HOG_STRIDE = (8, 8)  # one HOG cell; (4, 4) costs 4x the time (and moves the margins)
_HOG_PADDING = (8, 8)
_HOG_GROUP = 2  # OpenCV's default: a body needs 3+ overlapping windows
_MAX_LONG_SIDE = 4096  # upscaling never makes the long side longer than this
_FACE_NMS_IOU = 0.3  # frontal, profile and mirrored-profile boxes on one face count once


@dataclass(frozen=True)
class Detection:
    """One detected person (``kind="person"``, a body box) or face (``kind="face"``).

    ``box`` is ``(x0, y0, x1, y1)`` in the pixels of the image given to ``detect``, ``x1`` and
    ``y1`` exclusive (``image[y0:y1, x0:x1]`` is the box). ``score`` is the detector's own
    confidence (for :class:`OpenCVPersonDetector`: the HOG SVM margin, or the cascade's last-stage
    weight), comparable only within one detector and kind. ``mask`` is an optional ``(H, W)`` bool
    person mask, given by detectors that segment (Mask R-CNN does; the OpenCV one does not).
    """

    box: tuple[int, int, int, int]
    score: float
    kind: str
    # Left out of == and repr: comparing arrays with == is elementwise, and masks are large.
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)


@runtime_checkable
class PersonDetector(Protocol):
    """Mask R-CNN's role in paper §3.2: finds people in images, independent of the human parser."""

    name: str

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Per image (uint8 RGB ``(H, W, 3)`` or grey ``(H, W)``, any size), the detections at
        or above the detector's own score threshold; an empty list means no person was found."""
        ...


def person_found(detections: Sequence[Sequence[Detection]]) -> np.ndarray:
    """Bool per image: True where the image has any detection (an on-model photo)."""
    return np.array([len(d) > 0 for d in detections], dtype=bool)


def _import_cv2():
    try:
        import cv2
    except ImportError as e:  # pragma: no cover - opencv is a pinned dependency
        raise ImportError(
            "OpenCVPersonDetector needs opencv-python-headless 4.x (pinned < 5 in pyproject.toml)"
        ) from e
    return cv2


def _to_grey(image: np.ndarray, cv2) -> np.ndarray:
    """A contiguous uint8 (H, W) grey image: both HOG and the cascades work on intensity."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (0..255); got dtype {image.dtype}")
    if image.ndim in (2, 3) and (image.shape[0] == 0 or image.shape[1] == 0):
        raise ValueError(f"empty image of shape {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        grey = image
    elif image.ndim == 3 and image.shape[2] == 3:
        grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    elif image.ndim == 3 and image.shape[2] == 4:
        grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGBA2GRAY)
    else:
        raise ValueError(f"images must be (H, W) or (H, W, 3) arrays; got shape {image.shape}")
    return np.ascontiguousarray(grey)


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _nms(detections: list[Detection], iou: float) -> list[Detection]:
    """Greedy non-maximum suppression, highest score first (ties: input order, so deterministic)."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        if all(_iou(det.box, k.box) <= iou for k in kept):
            kept.append(det)
    return kept


class OpenCVPersonDetector:
    """Offline stand-in for Mask R-CNN: OpenCV's HOG people detector plus Haar face cascades.

    An image counts as showing a person when HOG finds a body whose SVM margin is at least
    ``hog_threshold``, or a frontal or profile face cascade finds a face backed by more than
    ``face_min_neighbors`` overlapping raw windows (OpenCV's ``minNeighbors``). Images whose
    shorter side is below ``min_side`` are upscaled to it first; boxes are mapped back to the
    given image's pixels. ``profile_faces=False`` leaves out the profile cascade (frontal faces
    and HOG bodies only). Deterministic: the same images always give the same detections.
    """

    name = "opencv"

    def __init__(
        self,
        *,
        hog_threshold: float = 1.0,
        face_min_neighbors: int = 8,
        min_side: int = 256,
        profile_faces: bool = True,
    ) -> None:
        if face_min_neighbors < 0:
            raise ValueError(f"face_min_neighbors must be >= 0; got {face_min_neighbors}")
        if min_side < _HOG_WINDOW[1]:
            raise ValueError(f"min_side must be >= {_HOG_WINDOW[1]} (HOG's window height)")
        cv2 = _import_cv2()
        self._cv2 = cv2
        self.hog_threshold = float(hog_threshold)
        self.face_min_neighbors = int(face_min_neighbors)
        self.min_side = int(min_side)
        self.profile_faces = bool(profile_faces)

        version = getattr(cv2, "__version__", "unknown")
        if not hasattr(cv2, "HOGDescriptor") or not hasattr(
            cv2, "HOGDescriptor_getDefaultPeopleDetector"
        ):
            raise RuntimeError(
                f"OpenCV {version} has no cv2.HOGDescriptor people detector (OpenCV 5 removed it);"
                " install opencv-python-headless < 5 as pinned in pyproject.toml"
            )
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self._frontal = self._cascade("haarcascade_frontalface_default.xml")
        self._profile = self._cascade("haarcascade_profileface.xml") if self.profile_faces else None

    def _cascade(self, filename: str):
        cv2 = self._cv2
        version = getattr(cv2, "__version__", "unknown")
        folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
        path = pathlib.Path(folder) / filename if folder else None
        if path is None or not path.is_file():
            raise RuntimeError(
                f"Haar cascade {filename} not found (looked in cv2.data.haarcascades = {folder!r},"
                f" OpenCV {version}); OpenCV 5 dropped the cascades: install"
                " opencv-python-headless < 5 as pinned in pyproject.toml"
            )
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise RuntimeError(f"OpenCV {version} could not load the Haar cascade {path}")
        return cascade

    def __repr__(self) -> str:
        return (
            f"OpenCVPersonDetector(hog_threshold={self.hog_threshold}, face_min_neighbors="
            f"{self.face_min_neighbors}, min_side={self.min_side}, "
            f"profile_faces={self.profile_faces})"
        )

    def _faces(self, cascade, grey: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
        boxes, _levels, weights = cascade.detectMultiScale3(
            grey,
            scaleFactor=_FACE_SCALE,
            minNeighbors=self.face_min_neighbors,
            minSize=_FACE_MIN_SIZE,
            outputRejectLevels=True,  # gives each face its last-stage weight, used as the score
        )
        return [
            ((int(x), int(y), int(x + w), int(y + h)), float(s))
            for (x, y, w, h), s in zip(np.reshape(boxes, (-1, 4)), np.ravel(weights))
        ]

    def _detect_one(self, image: np.ndarray) -> list[Detection]:
        cv2 = self._cv2
        grey = _to_grey(image, cv2)
        height, width = grey.shape
        scale = max(1.0, self.min_side / min(height, width))
        # A sliver (say 10 x 2000 px) would upscale to a huge image; cap the long side instead.
        scale = min(scale, max(1.0, _MAX_LONG_SIDE / max(height, width)))
        if scale > 1.0:
            size = (round(width * scale), round(height * scale))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_LINEAR)
        sh, sw = grey.shape

        def back(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
            # Scaled pixels -> the given image's pixels, clipped: HOG's padding lets boxes overhang.
            x0, y0, x1, y1 = (v / scale for v in box)
            x0, x1 = (min(max(int(round(v)), 0), width) for v in (x0, x1))
            y0, y1 = (min(max(int(round(v)), 0), height) for v in (y0, y1))
            return x0, y0, x1, y1

        people: list[Detection] = []
        if sh >= _HOG_WINDOW[1] and sw >= _HOG_WINDOW[0]:
            boxes, weights = self._hog.detectMultiScale(
                grey,
                hitThreshold=0.0,
                winStride=_HOG_STRIDE,
                padding=_HOG_PADDING,
                scale=_HOG_SCALE,
                groupThreshold=_HOG_GROUP,  # grouped box's weight is its best window's margin
            )
            for (x, y, w, h), s in zip(np.reshape(boxes, (-1, 4)), np.ravel(weights)):
                if s >= self.hog_threshold:
                    people.append(Detection(back((x, y, x + w, y + h)), float(s), "person"))

        faces = [Detection(back(b), s, "face") for b, s in self._faces(self._frontal, grey)]
        if self._profile is not None:
            faces += [Detection(back(b), s, "face") for b, s in self._faces(self._profile, grey)]
            # The profile cascade knows faces turned one way; the mirror finds the other way.
            mirrored = np.ascontiguousarray(grey[:, ::-1])
            for (x0, y0, x1, y1), s in self._faces(self._profile, mirrored):
                faces.append(Detection(back((sw - x1, y0, sw - x0, y1)), s, "face"))
        faces = _nms(faces, _FACE_NMS_IOU)

        detections = [d for d in people + faces if d.box[2] > d.box[0] and d.box[3] > d.box[1]]
        return sorted(detections, key=lambda d: (d.kind, -d.score, d.box))

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Per image, the person and face detections (see the class docstring); [] for none."""
        if isinstance(images, np.ndarray) and images.ndim in (2, 3) and images.dtype == np.uint8:
            if images.ndim == 2 or images.shape[-1] in (1, 3, 4):
                # A lone image is a common slip; refuse rather than treat its rows as images.
                raise TypeError("detect takes a sequence of images; wrap a single image in a list")
        return [self._detect_one(image) for image in images]


# The photos that ship inside scikit-image (no download) and whether a person is in them.
SKIMAGE_PHOTOS: dict[str, bool] = {
    "astronaut": True,  # Eileen Collins, upper body, frontal face
    "camera": True,  # the cameraman: face in profile, body bent over and cut off by the frame
    "coffee": False,  # a cup of coffee
    "chelsea": False,  # a cat
    "rocket": False,  # a rocket on its launch pad: a tall upright object
}


def _outcome(person: bool, found: bool) -> str:
    if person:
        return "hit" if found else "miss"
    return "false alarm" if found else "correct rejection"


def skimage_photo_check(detector: PersonDetector | None = None) -> list[dict]:
    """Runs ``detector`` (default: ``OpenCVPersonDetector()``) on scikit-image's real photos.

    One plain dict per photo, in :data:`SKIMAGE_PHOTOS` order: ``{"photo", "person", "found",
    "outcome", "detections", "kinds", "best_score"}``; ``outcome`` is "hit", "miss", "false
    alarm" or "correct rejection", ``best_score`` the highest detection score (None for none).
    """
    import skimage.data

    detector = OpenCVPersonDetector() if detector is None else detector
    names = list(SKIMAGE_PHOTOS)
    images = [getattr(skimage.data, name)() for name in names]
    found = person_found(results := detector.detect(images))
    rows = []
    for name, dets, hit in zip(names, results, found):
        rows.append(
            {
                "photo": name,
                "person": SKIMAGE_PHOTOS[name],
                "found": bool(hit),
                "outcome": _outcome(SKIMAGE_PHOTOS[name], bool(hit)),
                "detections": len(dets),
                "kinds": sorted({d.kind for d in dets}),
                "best_score": max((float(d.score) for d in dets), default=None),
            }
        )
    return rows


# --------------------------------------------------------------------------- the learned detector


class SegmenterPersonDetector:
    """A person detector from a person segmenter (``segmentation.build_person_net``; any Keras 3
    ``.keras`` model giving (person / background) probabilities per pixel at its input size, opened
    in safe mode): a person is found where more than ``min_share`` of the pixels are person with
    probability above 0.5. Its one detection per image carries the mask, the mask's bounding box
    (in the given image's pixels) and the mean person probability inside the mask as its score.

    Trained on the synthetic truth (:func:`train_default_segmenter`), with an architecture and an
    input size of its own, so that its errors are not the parser's.
    """

    name = "segmenter"

    def __init__(self, path: str | os.PathLike, *, min_share: float = 0.05, batch_size: int = 32):
        from replication.learning.models import ModelFileError, open_model_file
        from replication.screening.segmentation import PERSON_CLASSES, input_size

        self.path = pathlib.Path(path)
        self.model = open_model_file(self.path)
        try:
            self.size = input_size(self.model)
        except ValueError as error:
            raise ModelFileError(f"{self.path}: not a person segmenter: {error}") from None
        if int(self.model.output_shape[-1]) != PERSON_CLASSES:
            raise ModelFileError(f"{self.path}: a person segmenter gives {PERSON_CLASSES} classes "
                                 f"per pixel (background, person), not "
                                 f"{self.model.output_shape[-1]}")
        self.min_share = float(min_share)
        self.batch_size = batch_size

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        from replication.screening.segmentation import predict_probs, resize_nearest

        person = predict_probs(self.model, images, batch_size=self.batch_size)[..., 1]
        out: list[list[Detection]] = []
        for image, prob in zip(images, person):
            mask = prob > 0.5
            if mask.mean() <= self.min_share:
                out.append([])
                continue
            score = float(prob[mask].mean())
            # The mask at the image's own size, so that the box indexes it.
            mask = resize_nearest(mask, *np.asarray(image).shape[:2])
            rows, cols = np.nonzero(mask)
            box = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
            out.append([Detection(box=box, score=score, kind="person", mask=mask)])
        return out


def train_default_segmenter(root: str | os.PathLike, images: Sequence[str], *, out_dir,
                            size: int = 64, epochs: int = 40, batch_size: int = 16,
                            learning_rate: float = 2e-3, seed: int = 0,
                            progress: bool = True) -> pathlib.Path:
    """Train (or reuse) the learned person segmenter on the synthetic truth of ``images`` (paths
    as in ``label.csv``, the training split): person = every labelled pixel of an on-model image
    (``segmentation.person_targets``). Returns its ``model.keras`` under ``out_dir``."""
    from replication.screening import segmentation

    return segmentation.train_cached_net(
        root, images, out_dir=out_dir, arch="person", build=segmentation.build_person_net,
        targets=segmentation.person_targets, size=size, epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, seed=seed, progress=progress)


# --------------------------------------------------------------------------- the registry

DETECTORS = ("segmenter", "opencv")
"""Stage 2's detectors by name: ``segmenter`` (:class:`SegmenterPersonDetector`, learned here on
the synthetic part masks) and ``opencv`` (:class:`OpenCVPersonDetector`, HOG + Haar faces)."""


def make_detector(name: str, person_model: str | os.PathLike | None = None) -> PersonDetector:
    """A stage-2 detector by name (:data:`DETECTORS`); the segmenter needs its trained
    ``person_model`` (:func:`train_default_segmenter`)."""
    if name not in DETECTORS:
        raise ValueError(f"detector must be one of {DETECTORS}, got {name!r}")
    if name == "opencv":
        return OpenCVPersonDetector()
    if person_model is None:
        raise ValueError("the segmenter detector needs a trained person segmenter model file")
    return SegmenterPersonDetector(person_model)
