"""Tests for replication.screening.person_detection: the offline OpenCV stand-in for the paper's
Mask R-CNN (§3.2) and the detectors' registry by name (the learned segmenter is tested in
test_screening.py).

Measured with the defaults (hog_threshold=1.0, face_min_neighbors=8, min_side=256, profile faces
on), opencv-python-headless 4.14.0.94, on the photos that ship inside scikit-image:

    astronaut  person     hit                frontal face, score 5.83
    camera     person     hit                profile face (mirrored cascade), score 1.84
    coffee     no person  correct rejection
    chelsea    no person  correct rejection  (a cat)
    rocket     no person  correct rejection  (HOG's best box on the rocket scores 0.76 < 1.0)

No HOG body box reaches 1.0 on any of the five: the faces decide them.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import skimage.data

from replication.screening import person_detection as pd
from replication.screening.person_detection import (DETECTORS, Detection, OpenCVPersonDetector,
                                                    PersonDetector, SegmenterPersonDetector,
                                                    make_detector, person_found,
                                                    skimage_photo_check)

EXPECTED = {
    "astronaut": "hit",
    "camera": "hit",
    "coffee": "correct rejection",
    "chelsea": "correct rejection",
    "rocket": "correct rejection",
}


@pytest.fixture(scope="module")
def detector() -> OpenCVPersonDetector:
    return OpenCVPersonDetector()


class _Recording:
    """A PersonDetector that keeps what the OpenCV one returned, so boxes can be checked too."""

    name = "recording"

    def __init__(self, inner: PersonDetector) -> None:
        self.inner = inner
        self.results: list[list[Detection]] = []

    def detect(self, images):
        self.results = self.inner.detect(images)
        return self.results


@pytest.fixture(scope="module")
def recorded(detector: OpenCVPersonDetector) -> _Recording:
    return _Recording(detector)


@pytest.fixture(scope="module")
def check_rows(recorded: _Recording) -> list[dict]:
    # skimage_photo_check takes any PersonDetector, not only the OpenCV one.
    return skimage_photo_check(recorded)


def _inside(box: tuple[int, int, int, int], height: int, width: int) -> bool:
    x0, y0, x1, y1 = box
    return 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


def test_skimage_photos_give_the_measured_outcomes(check_rows: list[dict]) -> None:
    assert [r["photo"] for r in check_rows] == list(EXPECTED)
    outcomes = {r["photo"]: r["outcome"] for r in check_rows}
    assert outcomes == EXPECTED
    found = {r["photo"]: r["found"] for r in check_rows}
    assert found == {"astronaut": True, "camera": True, "coffee": False, "chelsea": False,
                     "rocket": False}
    by_photo = {r["photo"]: r for r in check_rows}
    # Both people are found by their faces alone (one face each), not by a HOG body.
    for photo in ("astronaut", "camera"):
        assert by_photo[photo]["kinds"] == ["face"]
        assert by_photo[photo]["detections"] == 1
    assert by_photo["astronaut"]["best_score"] == pytest.approx(5.83, abs=0.01)
    assert by_photo["camera"]["best_score"] == pytest.approx(1.84, abs=0.01)
    for photo in ("coffee", "chelsea", "rocket"):
        assert by_photo[photo]["detections"] == 0
        assert by_photo[photo]["kinds"] == []
        assert by_photo[photo]["best_score"] is None


def test_check_rows_are_plain_data(check_rows: list[dict]) -> None:
    # The book prints this table: it must survive JSON unchanged (no numpy scalars, no arrays).
    assert json.loads(json.dumps(check_rows)) == check_rows
    for row in check_rows:
        assert set(row) == {"photo", "person", "found", "outcome", "detections", "kinds",
                            "best_score"}
        assert type(row["found"]) is bool and type(row["detections"]) is int


def test_faces_lie_on_the_faces(check_rows: list[dict], recorded: _Recording) -> None:
    # Hand-checked boxes: the astronaut's face and the cameraman's head (he faces right, so the
    # profile cascade finds him on the mirrored image).
    (astronaut,), (camera,) = recorded.results[:2]
    assert astronaut.kind == "face" and astronaut.box == (177, 66, 272, 161)
    assert camera.kind == "face" and camera.box == (179, 101, 277, 199)
    assert astronaut.mask is None


def test_frontal_faces_alone_miss_the_cameraman() -> None:
    # Why the profile cascade is there: without it nothing finds the cameraman.
    frontal_only = OpenCVPersonDetector(profile_faces=False)
    assert frontal_only.detect([skimage.data.camera()]) == [[]]


def test_a_lower_hog_threshold_turns_the_rocket_into_a_false_alarm() -> None:
    # Why hog_threshold is 1.0: HOG's best body box on the rocket scores 0.76.
    rocket = skimage.data.rocket()
    (dets,) = OpenCVPersonDetector(hog_threshold=0.5).detect([rocket])
    assert [d.kind for d in dets] == ["person"]
    assert dets[0].score == pytest.approx(0.76, abs=0.01)
    assert _inside(dets[0].box, *rocket.shape[:2])


def test_small_image_is_upscaled_and_boxes_map_back() -> None:
    # Astronaut at 128 px: upscaled to 256 for detection, the face box must come back in 128-px
    # coordinates, close to the 512-px box (177, 66, 272, 161) divided by 4.
    small = cv2.resize(skimage.data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    (dets,) = OpenCVPersonDetector().detect([small])
    faces = [d for d in dets if d.kind == "face"]
    assert len(faces) == 1
    assert _inside(faces[0].box, 128, 128)
    np.testing.assert_allclose(faces[0].box, np.array([177, 66, 272, 161]) / 4, atol=3)


def test_grey_images_work(detector: OpenCVPersonDetector) -> None:
    rgb = cv2.resize(skimage.data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    from_rgb, from_grey, from_one_channel = detector.detect([rgb, grey, grey[:, :, None]])
    # The detector works on intensity, so an RGB image and its grey version agree exactly.
    assert from_grey == from_rgb
    assert from_one_channel == from_rgb
    assert [d.kind for d in from_grey] == ["face"]


def test_blank_images_give_no_detection(detector: OpenCVPersonDetector) -> None:
    blanks = [
        np.zeros((512, 512, 3), np.uint8),
        np.full((300, 200, 3), 255, np.uint8),
        np.full((64, 64), 128, np.uint8),  # smaller than HOG's 64 x 128 window: upscaled
        np.zeros((1, 1, 3), np.uint8),
        np.zeros((10, 3000), np.uint8),  # a sliver: upscaling capped at a 4096-px long side
    ]
    detections = detector.detect(blanks)
    assert detections == [[] for _ in blanks]
    assert person_found(detections).tolist() == [False] * len(blanks)


def test_person_found_is_any_detection() -> None:
    face = Detection((0, 0, 5, 5), 1.0, "face")
    found = person_found([[], [face], [face, face], []])
    assert found.dtype == bool
    assert found.tolist() == [False, True, True, False]
    assert person_found([]).shape == (0,)


def test_satisfies_the_protocol(detector: OpenCVPersonDetector) -> None:
    assert isinstance(detector, PersonDetector)
    assert detector.name == "opencv"

    class NoDetect:
        name = "broken"

    assert not isinstance(NoDetect(), PersonDetector)


def test_deterministic(detector: OpenCVPersonDetector) -> None:
    # Small copies (fast) of a profile-face hit and of the rocket, whose HOG box is below 1.0.
    images = [
        cv2.resize(skimage.data.camera(), (256, 256), interpolation=cv2.INTER_AREA),
        cv2.resize(skimage.data.rocket(), (320, 214), interpolation=cv2.INTER_AREA),
    ]
    first = detector.detect(images)
    assert person_found(first).tolist() == [True, False]
    assert OpenCVPersonDetector().detect(images) == first
    assert detector.detect(images) == first


def test_bad_input_is_refused(detector: OpenCVPersonDetector) -> None:
    with pytest.raises(ValueError, match="uint8"):
        detector.detect([np.zeros((64, 64, 3), np.float32)])
    with pytest.raises(ValueError, match="shape"):
        detector.detect([np.zeros((64, 64, 2), np.uint8)])
    with pytest.raises(ValueError, match="empty"):
        detector.detect([np.zeros((0, 64, 3), np.uint8)])
    with pytest.raises(TypeError, match="sequence of images"):
        detector.detect(skimage.data.camera())


def test_missing_cascade_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # As in OpenCV 5, which ships no Haar cascades.
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path) + "/")
    with pytest.raises(RuntimeError, match="haarcascade_frontalface_default.xml.*OpenCV"):
        OpenCVPersonDetector()


def test_missing_hog_names_the_opencv_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(pd._import_cv2(), "HOGDescriptor_getDefaultPeopleDetector")
    with pytest.raises(RuntimeError, match=f"OpenCV {cv2.__version__}.*HOGDescriptor"):
        OpenCVPersonDetector()


def test_make_detector_by_name(tmp_path) -> None:
    """The registry builds each detector by its name, and the detector carries that name; the
    segmenter needs its model file; an unknown name is refused with the known ones."""
    from replication.screening import segmentation

    segmentation.build_person_net(16, widths=(4,)).save(tmp_path / "person.keras")
    for name in DETECTORS:
        assert make_detector(name, tmp_path / "person.keras").name == name
    assert isinstance(make_detector("opencv"), OpenCVPersonDetector)
    segmenter = make_detector("segmenter", tmp_path / "person.keras")
    assert isinstance(segmenter, SegmenterPersonDetector)
    assert segmenter.path == tmp_path / "person.keras"
    with pytest.raises(ValueError, match="segmenter detector needs a trained person segmenter"):
        make_detector("segmenter")
    with pytest.raises(ValueError, match=r"one of \('segmenter', 'opencv'\), got 'maskrcnn'"):
        make_detector("maskrcnn")
