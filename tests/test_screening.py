"""Tests for the flat-lay / on-model screening of paper §3.2 (replication.screening): the two
segmentation nets (segmentation), the parser rule (human_parsing), the learned person detector
(person_detection.SegmenterPersonDetector), the cascade (cascade), the classifier's rules
(classifier), the scoring (scoring), the screen CSV with its provenance (screen_csv) and the whole
stage on a data set (screen).

Everything runs on tiny nets (a few filters, 16-56 px) whose last layer is set by hand where a
known output is needed: a 1x1 convolution with zero kernel and a chosen bias gives the same class
everywhere, whatever the image. The OpenCV detector has its own tests (test_person_detection.py).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import pathlib
import pickle

import keras
import numpy as np
import pytest
from keras import layers
from PIL import Image

from replication.data import fashionai
from replication.screening import (cascade, classifier, human_parsing, scoring, screen,
                                   screen_csv, segmentation)
from replication.learning import models
from replication import synthetic
from replication.data import truth as truth_format
from replication.screening.human_parsing import KerasHumanParser
from replication.learning.models import ModelFileError
from replication.screening.person_detection import Detection, SegmenterPersonDetector
from replication.screening.cascade import Screened
from replication.screening.screen_csv import ScreenedFlatFlags, ScreenMismatch
from replication.data.truth import LIP
from replication.data.tasks import tasks_of_level

SLEEVE, COAT, SKIRT, PANT = ("sleeve_length_labels", "coat_length_labels",
                             "skirt_length_labels", "pant_length_labels")
LENGTH_TASKS = {t.key for t in tasks_of_level("length")}


# --------------------------------------------------------------------------- helpers, fixtures


def force_class(model: keras.Model, layer: str, cls: int, strength: float = 20.0) -> None:
    """Make a 1x1 convolution ``layer`` output class ``cls`` at every pixel, whatever the input."""
    conv = model.get_layer(layer)
    kernel, bias = conv.get_weights()
    bias = np.zeros_like(bias)
    bias[cls] = strength
    conv.set_weights([np.zeros_like(kernel), bias])


def tiny_parser(size: int = 16, n_classes: int = segmentation.N_LIP_CLASSES,
                cls: int | None = None) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = segmentation.build_parser_net(size, widths=(4, 8), n_classes=n_classes)
    if cls is not None:
        force_class(model, segmentation.OUTPUT, cls)
    return model


def tiny_person(size: int = 16, person: bool | None = None) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = segmentation.build_person_net(size, widths=(4,))
    if person is not None:
        force_class(model, "logits", int(person))
    return model


def red_person_net(size: int = 16) -> keras.Model:
    """A person segmenter that calls red pixels person and every other pixel background.

    Untrained BatchNormalization is the identity (up to 1/sqrt(1 + eps)) at inference, so
    ``down0`` and ``same0`` pass the preprocessed red channel (-1..1, ReLU keeps 0..1) through
    their first filter, and ``logits`` turns it into person logit 10 * red - 5."""
    model = tiny_person(size)
    for name in ("down0_conv", "same0_conv"):
        conv = model.get_layer(name)
        (kernel,) = conv.get_weights()
        kernel = np.zeros_like(kernel)
        kernel[1, 1, 0, 0] = 1.0  # centre tap, input channel 0 -> filter 0
        conv.set_weights([kernel])
    conv = model.get_layer("logits")
    kernel, bias = conv.get_weights()
    kernel, bias = np.zeros_like(kernel), np.zeros_like(bias)
    kernel[0, 0, 0, 1] = 10.0
    bias[1] = -5.0
    conv.set_weights([kernel, bias])
    return model


def save(model: keras.Model, path) -> str:
    model.save(path)
    return str(path)


def solid(h: int, w: int, rgb=(0, 0, 0)) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (h, w, 3)).copy()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def face_parser_file(model_dir) -> str:
    """A 16 px parser that labels every pixel face (LIP 13)."""
    return save(tiny_parser(16, cls=LIP["face"]), model_dir / "face_parser.keras")


@pytest.fixture(scope="module")
def person_files(model_dir) -> dict[str, str]:
    """16 px person segmenters: person everywhere, nowhere, and on red pixels only."""
    return {"all": save(tiny_person(16, person=True), model_dir / "all.keras"),
            "none": save(tiny_person(16, person=False), model_dir / "none.keras"),
            "red": save(red_person_net(16), model_dir / "red.keras")}


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    """A tiny synthetic set: 6 images per task, 64 px."""
    root = tmp_path_factory.mktemp("synth") / "d"
    synthetic.generate(root, images_per_task=6, size=64, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def screen_work(tmp_path_factory):
    """Where screen_root keeps the 1-epoch parser and segmenter it trains on ``synth_root``:
    shared, so that the tests calling it with the same options train them once."""
    return tmp_path_factory.mktemp("screen_work")


# --------------------------------------------------------------------------- segmentation: nets


def test_parser_net_gives_20_class_probabilities_at_input_size() -> None:
    """build_parser_net: (N, S, S, 20) softmax at the input resolution, output named classes."""
    model = tiny_parser(16)
    assert model.input_shape == (None, 16, 16, 3)
    assert model.output_shape == (None, 16, 16, segmentation.N_LIP_CLASSES)
    assert model.get_layer(segmentation.OUTPUT) is model.layers[-1]
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    probs = np.asarray(model.predict_on_batch(x))
    assert probs.shape == (2, 16, 16, 20)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


def test_person_net_gives_2_class_probabilities_at_input_size() -> None:
    """build_person_net: (N, S, S, 2) softmax, upsampled back to the input resolution."""
    model = segmentation.build_person_net(24, widths=(4, 8, 8))
    assert model.output_shape == (None, 24, 24, segmentation.PERSON_CLASSES)
    probs = np.asarray(model.predict_on_batch(np.zeros((3, 24, 24, 3), "float32")))
    assert probs.shape == (3, 24, 24, 2)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("build, size, widths, stride", [
    (segmentation.build_parser_net, 18, (4, 8, 8), 4),    # 18 % 4
    (segmentation.build_parser_net, 4, (4, 8, 8, 8), 8),  # smaller than the stride
    (segmentation.build_person_net, 20, (4, 8, 8), 8),    # 20 % 8
    (segmentation.build_person_net, 4, (4, 8, 8), 8),
])
def test_nets_refuse_sizes_their_strides_do_not_divide(build, size, widths, stride) -> None:
    """An input size the pooling / strides cannot divide is refused up front, with the stride."""
    with pytest.raises(ValueError, match=f"divisible by {stride}, got {size}"):
        build(size, widths)


# --------------------------------------------------------------------------- segmentation: data


def test_resize_image_grey_rgba_and_already_sized() -> None:
    """Grey becomes 3 equal channels, RGBA loses alpha, a right-sized image passes unchanged."""
    grey = np.arange(35, dtype=np.uint8).reshape(5, 7)
    out = segmentation.resize_image(grey, 8)
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])

    rgba = np.random.default_rng(0).integers(0, 256, (8, 8, 4), dtype=np.uint8)
    out = segmentation.resize_image(rgba, 8)
    assert out.shape == (8, 8, 3)
    assert np.array_equal(out, rgba[..., :3])

    rgb = np.random.default_rng(1).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    assert np.array_equal(segmentation.resize_image(rgb, 6), rgb)
    # Bilinear resizing of a constant image keeps the constant.
    out = segmentation.resize_image(solid(10, 30, (200, 10, 90)), 16)
    assert out.shape == (16, 16, 3)
    assert np.array_equal(out, solid(16, 16, (200, 10, 90)))


def test_person_targets_flat_images_have_no_person() -> None:
    """Every labelled pixel of an on-model image is person; a flat-lay has none, garment incl."""
    parts = np.array([[[0, LIP["coat"]], [LIP["left_arm"], 0]],
                      [[0, LIP["coat"]], [LIP["left_arm"], 0]]], dtype=np.uint8)
    targets = segmentation.person_targets(parts, np.array([True, False]))
    assert targets.dtype == np.uint8
    assert targets[0].sum() == 0
    assert np.array_equal(targets[1], [[0, 1], [1, 0]])


def test_class_weights_inverse_sqrt_frequency_mean_one_absent_zero() -> None:
    """freq ** -0.5 per class, 0 for an absent class, mean weight over pixels exactly 1."""
    targets = np.array([[0, 0, 0, 0], [0, 0, 2, 2]], dtype=np.uint8)  # class 0: 6 px, 2: 2 px
    weights = segmentation.class_weights(targets, 4)
    assert weights.shape == (4,) and weights.dtype == np.float32
    assert weights[1] == 0 and weights[3] == 0
    assert weights[2] / weights[0] == pytest.approx(math.sqrt(6 / 2))
    assert weights[targets].mean() == pytest.approx(1.0)


def test_per_class_iou_by_hand() -> None:
    """IoU per class over all pixels; NaN for a class in neither prediction nor truth."""
    predicted = np.array([[0, 0], [1, 1]])
    truth = np.array([[0, 1], [1, 2]])
    iou = segmentation.per_class_iou(predicted, truth, 4)
    assert iou[0] == pytest.approx(1 / 2)   # both at 1 px, union 2 px
    assert iou[1] == pytest.approx(1 / 3)   # both at 1 px, union 3 px
    assert iou[2] == 0.0                    # in the truth only
    assert np.isnan(iou[3])


def test_cached_model_trains_once_and_retrains_on_changed_config(tmp_path) -> None:
    """Same config: the saved model is reused (train() not called again); a changed config gets
    a new folder; config.json keeps the configuration and the history."""
    calls = []

    def train():
        calls.append(1)
        return tiny_person(8), [{"epoch": 1, "loss": 0.5, "acc": 0.75}]

    first = segmentation.cached_model(tmp_path, "person", {"size": 8, "epochs": 1}, train)
    again = segmentation.cached_model(tmp_path, "person", {"epochs": 1, "size": 8}, train)
    assert len(calls) == 1
    assert first == again and first.name == segmentation.MODEL_FILE and first.exists()
    assert first.parent.name.startswith("person-")
    stored = json.loads((first.parent / segmentation.CONFIG_JSON).read_text())
    assert stored["config"] == {"size": 8, "epochs": 1}
    assert segmentation.read_history(first) == [{"epoch": 1, "loss": 0.5, "acc": 0.75}]
    assert not list(first.parent.glob("*.partial*"))

    other = segmentation.cached_model(tmp_path, "person", {"size": 8, "epochs": 2}, train)
    assert len(calls) == 2
    assert other.parent != first.parent and other.exists()


def test_load_masked_images_from_synthetic_truth(synth_root) -> None:
    """Images, LIP masks and flat truth at the requested size, in the order asked for; an image
    without a mask is a KeyError."""
    truth = truth_format.read_truth(synth_root)
    images = sorted(truth)[:5]
    x, parts, flat = segmentation.load_masked_images(synth_root, images, 16, progress=False)
    assert x.shape == (5, 16, 16, 3) and x.dtype == np.uint8
    assert parts.shape == (5, 16, 16) and parts.dtype == np.uint8
    assert parts.max() < segmentation.N_LIP_CLASSES
    assert flat.tolist() == [truth[i]["flat"] for i in images]
    # Same image as loading it by hand.
    direct = segmentation.resize_image(np.asarray(fashionai.load_image(synth_root / images[2])), 16)
    assert np.array_equal(x[2], direct)
    with pytest.raises(KeyError, match="no mask"):
        segmentation.load_masked_images(synth_root, [*images, "Images/x/nope.jpg"], 16,
                                        progress=False)


# --------------------------------------------------------------------------- the parser rule


def test_part_shares_and_body_share_by_hand() -> None:
    """Share of pixels per body-part group; clothes do not count; the score is the largest."""
    m = np.zeros((2, 4, 4), dtype=np.uint8)
    m[0, 0, :2] = LIP["face"]
    m[0, 0, 2] = LIP["hair"]
    m[0, 1, :] = LIP["left_arm"]
    m[0, 2, 0] = LIP["right_shoe"]
    m[0, 3, :] = LIP["upper_clothes"]
    m[1, :, :] = LIP["coat"]
    shares = human_parsing.part_shares(m)
    assert set(shares) == {"head", "arms", "legs", "feet"}
    np.testing.assert_allclose(shares["head"], [3 / 16, 0])
    np.testing.assert_allclose(shares["arms"], [4 / 16, 0])
    np.testing.assert_allclose(shares["legs"], [0, 0])
    np.testing.assert_allclose(shares["feet"], [1 / 16, 0])
    np.testing.assert_allclose(human_parsing.body_share(m), [4 / 16, 0])


def test_on_model_is_strictly_above_threshold() -> None:
    """A score equal to the threshold is not on-model."""
    assert human_parsing.on_model(np.array([0.1, 0.2, 0.3]), 0.2).tolist() == [False, False, True]


def test_calibrate_threshold_separable_scores() -> None:
    """Separable scores: accuracy 1 with the threshold between the classes."""
    scores = np.array([0.0, 0.001, 0.01, 0.02])
    flat = np.array([True, True, False, False])
    result = human_parsing.calibrate_threshold(scores, flat)
    assert result["accuracy"] == 1.0 and result["images"] == 4
    assert 0.001 <= result["threshold"] < 0.01
    assert np.array_equal(~human_parsing.on_model(scores, result["threshold"]), flat)


def test_calibrate_threshold_ties_go_to_smallest_and_empty_raises() -> None:
    """0 and 0.25 both reach 2/3 here; the smaller wins (the paper's "contains any")."""
    result = human_parsing.calibrate_threshold(np.array([0.1, 0.2, 0.3]),
                                               np.array([False, True, False]))
    assert result["threshold"] == 0.0
    assert result["accuracy"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="no images"):
        human_parsing.calibrate_threshold(np.array([]), np.array([], dtype=bool))


# --------------------------------------------------------------------------- KerasHumanParser


def test_keras_parser_label_maps_for_any_image_size(face_parser_file) -> None:
    """(N, S, S) uint8 maps at the parser's own size, for RGB images of any size and grey."""
    parser = KerasHumanParser(face_parser_file)
    assert isinstance(parser, human_parsing.HumanParser)
    assert parser.size == 16 and parser.name == "keras:face_parser.keras"
    images = [solid(16, 16), solid(40, 23, (9, 200, 30)),
              np.full((7, 50), 128, dtype=np.uint8)]
    maps = parser.parse(images)
    assert maps.shape == (3, 16, 16) and maps.dtype == np.uint8
    assert (maps == LIP["face"]).all()
    assert parser.parse([]).shape == (0, 16, 16)


def test_keras_parser_refuses_wrong_class_count(tmp_path) -> None:
    """A model with other than 20 classes per pixel: ModelFileError naming the file."""
    path = save(tiny_parser(16, n_classes=5), tmp_path / "five.keras")
    with pytest.raises(ModelFileError, match=r"five\.keras.*20 classes.*gives 5"):
        KerasHumanParser(path)


def test_keras_parser_refuses_a_non_segmentation_model(tmp_path) -> None:
    """A classifier (no per-pixel output) is not a parser: ModelFileError naming the file."""
    image = keras.Input((16, 16, 3))
    out = layers.Dense(20)(layers.GlobalAveragePooling2D()(image))
    path = save(keras.Model(image, out), tmp_path / "clf.keras")
    with pytest.raises(ModelFileError, match=r"clf\.keras: not a human parser"):
        KerasHumanParser(path)


class _Evil:
    def __reduce__(self):
        return (print, ("pickle ran code",))


def test_keras_parser_refuses_pickles_non_zips_and_lambda_layers(tmp_path) -> None:
    """Only Keras 3 zip files in safe mode: a .pkl, a non-zip .keras and a Lambda layer fail."""
    pkl = tmp_path / "parser.pkl"
    pkl.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(ModelFileError, match=r"parser\.pkl.*pickled models are never loaded"):
        KerasHumanParser(pkl)
    fake = tmp_path / "fake.keras"
    fake.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(ModelFileError, match=r"fake\.keras.*not a zip"):
        KerasHumanParser(fake)
    image = keras.Input((16, 16, 3), name="image")
    x = layers.Lambda(lambda t: t / 255.0)(image)
    out = layers.Conv2D(20, 1, activation="softmax", name="classes")(x)
    path = save(keras.Model(image, out), tmp_path / "lambda.keras")
    with pytest.raises(ModelFileError, match=r"lambda\.keras.*safe mode"):
        KerasHumanParser(path)


# --------------------------------------------------------------------------- the learned detector


def test_segmenter_detector_forced_person_and_background(person_files) -> None:
    """Person everywhere: one detection with the whole image as box and a mask; background
    everywhere: nothing found."""
    images = [solid(30, 50), np.zeros((20, 12), dtype=np.uint8)]
    found = SegmenterPersonDetector(person_files["all"]).detect(images)
    assert [len(d) for d in found] == [1, 1]
    for image, (det,) in zip(images, found):
        assert isinstance(det, Detection) and det.kind == "person"
        assert det.box == (0, 0, image.shape[1], image.shape[0])
        assert det.mask is not None and det.mask.dtype == bool and det.mask.all()
        assert det.score > 0.99
    assert SegmenterPersonDetector(person_files["none"]).detect(images) == [[], []]


def test_segmenter_detector_min_share_is_strict(person_files) -> None:
    """A person is found only where more than min_share of the pixels are person."""
    image = [solid(16, 16)]
    assert len(SegmenterPersonDetector(person_files["all"], min_share=0.99).detect(image)[0]) == 1
    assert SegmenterPersonDetector(person_files["all"], min_share=1.0).detect(image) == [[]]


def test_segmenter_detector_partial_person_box_and_share(person_files) -> None:
    """Red on the left half: the box covers that half (in the given image's pixels), the mask
    roughly half the pixels; min_share below / above that share decides."""
    image = solid(32, 48)
    image[:, :24] = (255, 0, 0)
    (det,) = SegmenterPersonDetector(person_files["red"], min_share=0.3).detect([image])[0]
    x0, y0, x1, y1 = det.box
    assert (x0, y0, y1) == (0, 0, 32)
    assert 18 <= x1 <= 30
    assert 0.35 < det.mask.mean() < 0.65
    assert SegmenterPersonDetector(person_files["red"], min_share=0.7).detect([image]) == [[]]
    # Nothing red: nobody.
    assert SegmenterPersonDetector(person_files["red"]).detect([solid(32, 48)]) == [[]]


def test_segmenter_detector_refuses_a_20_class_model(face_parser_file) -> None:
    """A human parser's file is not a person segmenter: ModelFileError naming the file."""
    with pytest.raises(ModelFileError, match=r"face_parser\.keras.*2 classes.*not 20"):
        SegmenterPersonDetector(face_parser_file)


def test_segmenter_detector_box_stays_inside_image(tmp_path) -> None:
    """The box of a whole-image person never reaches past the image's own width and height."""
    path = save(tiny_person(56, person=True), tmp_path / "p56.keras")
    image = solid(29, 29)
    (det,) = SegmenterPersonDetector(path).detect([image])[0]
    assert det.box == (0, 0, 29, 29)


def test_segmenter_detector_mask_has_the_image_shape(person_files) -> None:
    """Detection.mask is the (H, W) mask of the image given to detect, as its box is."""
    image = solid(30, 50)
    (det,) = SegmenterPersonDetector(person_files["all"]).detect([image])[0]
    assert det.mask.shape == image.shape[:2]


# --------------------------------------------------------------------------- screening: stage 2


def test_rescreen_joint_for_sleeve_and_coat() -> None:
    """Joint: on-model only when the parser said on-model and a person was found; a stage-1
    flat-lay stays flat whatever the detector says."""
    parser_flat = np.array([True, True, False, False])
    person = np.array([True, False, True, False])
    for task in (SLEEVE, COAT):
        out = cascade.rescreen([task] * 4, parser_flat, person)
        assert out.tolist() == [True, True, False, True]


def test_rescreen_detector_alone_for_skirt_and_pant() -> None:
    """Detector mode: the detector decides, even against stage 1 (a stage-1 flat with a person
    becomes on-model)."""
    parser_flat = np.array([True, True, False, False])
    person = np.array([True, False, True, False])
    for task in (SKIRT, PANT):
        out = cascade.rescreen([task] * 4, parser_flat, person)
        assert out.tolist() == [False, True, False, True]


def test_rescreen_unknown_task_joint_with_parser_detector_without() -> None:
    """A task-less image (a folder of photos) is joint with a parser, detector-only without;
    without a parser every task is detector-only."""
    person = np.array([True, False, True])
    assert cascade.rescreen(["", "", ""], np.array([True, False, False]),
                              person).tolist() == [True, True, False]
    assert cascade.rescreen(["", SLEEVE, COAT], None, person).tolist() == [False, True, False]
    assert cascade.rescreen_mode("", True) == "joint"
    assert cascade.rescreen_mode("", False) == "detector"
    assert cascade.rescreen_mode(SKIRT, True) == "detector"


def _screened(tasks, parser_flat, person, prob=None) -> Screened:
    parser_flat = None if parser_flat is None else np.asarray(parser_flat, dtype=bool)
    person = np.asarray(person, dtype=bool)
    n = len(tasks)
    share = (np.where(parser_flat, 0.0, 0.25) if parser_flat is not None
             else np.full(n, np.nan))
    return Screened(images=[f"Images/t/{i}.jpg" for i in range(n)], tasks=list(tasks),
                    body_share=share, parser_flat=parser_flat, person_found=person,
                    rescreen_flat=cascade.rescreen(tasks, parser_flat, person), skipped=[],
                    classifier_flat_prob=None if prob is None else np.asarray(prob, "float32"),
                    threshold=None if parser_flat is None else 0.1)


def test_decided_by_per_case() -> None:
    """parser (stage-1 flat in a joint task), parser+detector (joint, stage-1 on-model),
    detector (detector tasks, or no parser), classifier (whenever it ran)."""
    s = _screened([SLEEVE, SLEEVE, SKIRT, PANT, "", COAT],
                  [True, False, True, False, False, True], [True] * 6)
    assert s.decided_by() == ["parser", "parser+detector", "detector", "detector",
                              "parser+detector", "parser"]
    s = _screened([SLEEVE, "", SKIRT], None, [True, False, True])
    assert s.decided_by() == ["detector"] * 3
    assert s.parser_flat is None and s.stage("parser") is None
    s = _screened([SLEEVE, SKIRT, ""], [True, False, True], [True, True, False],
                  prob=[0.2, 0.5, 0.9])
    assert s.decided_by() == ["classifier"] * 3
    # The final verdict is the classifier's (>= 0.5 is flat), not the re-screen's.
    assert s.flat.tolist() == [False, True, True]
    assert s.rescreen_flat.tolist() == [True, False, True]
    assert s.stage("classifier").tolist() == [False, True, True]


def test_stage_scores_by_hand() -> None:
    """Precision / recall of flat-lay and accuracy per task and over all; NaN precision when
    nothing is predicted flat; a stage that did not run is left out."""
    tasks = ["a", "a", "b", "b", "b"]
    truth = np.array([True, False, True, False, False])
    rows = scoring.stage_scores(tasks, truth, {
        "parser": np.array([True, True, False, False, False]),
        "rescreen": np.zeros(5, bool), "classifier": None})
    assert [(r["stage"], r["task"]) for r in rows] == [
        ("parser", "a"), ("parser", "b"), ("parser", "all"),
        ("rescreen", "a"), ("rescreen", "b"), ("rescreen", "all")]
    by = {(r["stage"], r["task"]): r for r in rows}
    a = by["parser", "a"]
    assert (a["n"], a["tp"], a["fp"], a["fn"], a["tn"]) == (2, 1, 1, 0, 0)
    assert (a["precision"], a["recall"], a["accuracy"]) == (0.5, 1.0, 0.5)
    b = by["parser", "b"]
    assert np.isnan(b["precision"]) and b["recall"] == 0.0
    assert b["accuracy"] == pytest.approx(2 / 3)
    total = by["parser", "all"]
    assert (total["n"], total["tp"], total["fp"], total["fn"], total["tn"]) == (5, 1, 1, 1, 2)
    assert (total["precision"], total["recall"], total["accuracy"]) == (0.5, 0.5, 0.6)
    r = by["rescreen", "all"]
    assert np.isnan(r["precision"]) and r["recall"] == 0.0 and r["accuracy"] == 0.6


def test_validation_stage_scores_keep_the_validation_images_and_short_names() -> None:
    """Only the images of the validation mask are scored, each dimension by its short name, and
    a stage that did not run (no classifier) is left out."""
    s = _screened([SLEEVE, SLEEVE, SKIRT, SKIRT], [True, False, True, False],
                  [False, True, True, False])
    val = np.array([True, True, False, True])
    truth = np.array([True, True, False, False])
    rows = scoring.validation_stage_scores(s, val, truth)
    assert [(r["stage"], r["task"]) for r in rows] == [
        ("parser", "skirt"), ("parser", "sleeve"), ("parser", "all"),
        ("rescreen", "skirt"), ("rescreen", "sleeve"), ("rescreen", "all")]
    by = {(r["stage"], r["task"]): r for r in rows}
    assert by["parser", "all"]["n"] == 3 and by["parser", "skirt"]["n"] == 1
    # Validation parser verdicts [flat, on-model, on-model] against truth [flat, flat, on-model].
    assert (by["parser", "all"]["tp"], by["parser", "all"]["fn"], by["parser", "all"]["tn"]) == \
        (1, 1, 1)


def test_score_detector_by_hand() -> None:
    """A person is present exactly in the on-model images: found counts on-model images only."""
    found = np.array([True, True, False, False, True])
    flat = np.array([False, True, False, True, False])
    assert scoring.score_detector(found, flat) == {
        "accuracy": 3 / 5, "on-model found": 2, "on-model missed": 1, "person in a flat-lay": 1}


def test_claim_evidence_per_image_by_hand() -> None:
    """The per-image evidence behind §3.2's claims, on the validation mask only: the truth of
    stage 1's on-model images, what the re-screen did to the flat-lays (+1 taken off the on-model
    side, -1 put on it), and the classifier's agreement with the cascade's labels."""
    # Sleeve (joint): stage 2 can only add flat-lays; skirt (detector alone) can also drop them.
    s = _screened([SLEEVE, SLEEVE, SLEEVE, SKIRT, SKIRT, PANT],
                  [False, False, True, True, False, False], [False, True, True, True, True, False])
    truth = np.array([True, True, False, True, False, False])
    val = np.array([True, True, True, True, True, False])
    # Stage 1 on-model among val: images 0, 1, 4; of them 0 and 1 are flat-lays.
    assert scoring.stage1_leftovers(s, val, truth).tolist() == [True, True, False]
    # Image 0: sleeve, no person -> flat (+1); 1: person -> stays on-model (0); 3: a flat-lay
    # stage 1 got right, the detector finds a person -> on-model (-1); 5 is not in val.
    assert s.rescreen_flat.tolist() == [True, False, True, False, False, True]
    assert scoring.rescreen_removals(s, val, truth).tolist() == [1, 0, 0, -1, 0]
    predicted = np.array([True, True, True, True, False])
    assert scoring.classifier_correct(predicted, s, val).tolist() == [True, False, True, False, True]
    with pytest.raises(ValueError, match="4 classifier verdicts for 5 validation images"):
        scoring.classifier_correct(predicted[:4], s, val)


def test_paper_claims_are_claim_records_with_bootstrap_intervals() -> None:
    """screening_figures.paper_claims: one claims.record per §3.2 claim, each measured on the
    validation images with metric.bootstrap_mean's interval (seeded), decided by the claims
    module's rules; the classifier's stages 1, 3, 5 against 0.9024, 0.9411, 0.957; stages the
    schedule lacks are left out; without truth the first two are undecided."""
    from replication.book import claims, screening_figures
    from replication.data import metric

    rng = np.random.default_rng(0)
    n = 60
    tasks = [SLEEVE, SKIRT] * (n // 2)
    parser_flat = rng.random(n) < 0.3
    person = rng.random(n) < 0.6
    s = _screened(tasks, parser_flat, person)
    truth = rng.random(n) < 0.4
    val = np.arange(n) % 3 != 0
    labels = s.rescreen_flat[val]
    predictions = {1: labels.copy(), 2: ~labels, 3: ~labels}  # perfect after 1, all wrong after 3
    records = screening_figures.paper_claims(s, val, truth, predictions, seed=7)
    assert claims.check(records) == records
    by = {r["claim"]: r for r in records}
    assert list(by) == [screening_figures.STAGE1_CLAIM, screening_figures.RESCREEN_CLAIM,
                        screening_figures.classifier_claim(1), screening_figures.classifier_claim(3)]
    for claim, per_image in ((screening_figures.STAGE1_CLAIM, scoring.stage1_leftovers),
                             (screening_figures.RESCREEN_CLAIM, scoring.rescreen_removals)):
        mean = metric.bootstrap_mean(per_image(s, val, truth), seed=7)
        assert by[claim]["measured"] == pytest.approx(mean["value"])
        assert by[claim]["interval"] == pytest.approx([mean["low"], mean["high"]])
        assert by[claim]["verdict"] == claims.decide(mean["low"], mean["high"])
    first = by[screening_figures.classifier_claim(1)]
    assert (first["paper"], first["measured"], first["verdict"]) == (0.9024, 1.0, "yes")
    assert first["interval"] == [1.0, 1.0]
    third = by[screening_figures.classifier_claim(3)]
    assert (third["paper"], third["measured"], third["verdict"]) == (0.9411, 0.0, "no")
    assert classifier.PAPER_CLASSIFIER_ACCURACY == {1: 0.9024, 3: 0.9411, 5: 0.957}
    # A share whose interval reaches 0 is undecided, never yes.
    none_left = screening_figures.paper_claims(s, val, np.zeros(n, bool), {}, seed=7)
    assert [r["verdict"] for r in none_left] == ["undecided", "undecided"]
    no_truth = screening_figures.paper_claims(s, val, None, {5: labels}, seed=7)
    assert [(r["verdict"], r["interval"]) for r in no_truth[:2]] == [("undecided", None)] * 2
    assert no_truth[2]["claim"] == screening_figures.classifier_claim(5)
    assert no_truth[2]["verdict"] == "yes"
    assert "| §3.2 | stage 1 leaves" in claims.markdown(records)


def test_split_images_validation_is_the_model_chapters_split(synthetic_set) -> None:
    """screen.split_images: the validation split is experiments.load_split's (the model
    chapters score on it), the calibration split a stratified share of the rest, the training
    split what remains."""
    from replication.book import experiments

    root = synthetic_set(12, 64)
    setup = experiments.Setup(profile="smoke", root=root, variant="tiny", image_size=32,
                              batch_size=4, schedule=[], seed=3, val_fraction=0.3)
    train_rows, val_rows, _ = experiments.load_split(setup)
    split = screen.split_images(root, val_fraction=0.3, seed=3, calibration_fraction=0.3)
    assert split.validation == [r.image for r in val_rows]
    rest_train, rest_calibration = fashionai.stratified_split(train_rows, val_fraction=0.3, seed=3)
    assert split.train == [r.image for r in rest_train]
    assert split.calibration == [r.image for r in rest_calibration]
    assert split.calibration and split.validation
    assert split.of(split.calibration[:1] + split.validation[:1]) == ["calibration", "validation"]
    with pytest.raises(KeyError, match="1 images are in no split.*nope"):
        split.of(["Images/nope.jpg"])
    with pytest.raises(ValueError, match="calibration_fraction must be in"):
        screen.split_images(root, val_fraction=0.3, seed=3, calibration_fraction=1.0)


# --------------------------------------------------------------------------- the screen CSV


def test_write_screen_and_flags_round_trip(tmp_path) -> None:
    """The CSV has SCREEN_COLUMNS, one row per image; ScreenedFlatFlags reads back the final
    verdicts; an image the file does not list is a KeyError naming the file."""
    s = _screened([SLEEVE, SKIRT, "", COAT], [True, False, False, False],
                  [True, False, True, False])
    path = screen_csv.write_screen(s, tmp_path / "out" / "screen.csv", root=tmp_path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == screen_csv.SCREEN_COLUMNS
    assert len(rows) == 5
    table = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert [r["flat"] for r in table] == ["1", "1", "0", "1"]
    assert [r["label"] for r in table] == ["flat-lay", "flat-lay", "on-model", "flat-lay"]
    assert [r["decided_by"] for r in table] == ["parser", "detector", "parser+detector",
                                                "parser+detector"]
    assert table[0]["classifier_flat"] == "" and table[0]["classifier_flat_prob"] == ""
    assert table[1]["body_share"] == "0.25"
    assert not list(path.parent.glob("*.partial"))

    flags = ScreenedFlatFlags(path)
    assert len(flags) == 4
    assert np.array_equal(flags(s.images[::-1]), s.flat[::-1])
    with pytest.raises(KeyError, match=r"Images/t/nope\.jpg.*screen\.csv"):
        flags(["Images/t/nope.jpg"])


def test_write_screen_without_parser_and_with_classifier(tmp_path) -> None:
    """No parser: empty stage-1 cells; a classifier: its verdict is the flag read back."""
    s = _screened([SLEEVE, SKIRT], None, [True, False])
    path = screen_csv.write_screen(s, tmp_path / "a.csv", root=tmp_path)
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    assert [r["body_share"] for r in rows] == ["", ""]
    assert [r["parser_flat"] for r in rows] == ["", ""]
    assert ScreenedFlatFlags(path)(s.images).tolist() == [False, True]

    s = _screened([SLEEVE, SKIRT], [True, True], [False, True], prob=[0.1, 0.7])
    path = screen_csv.write_screen(s, tmp_path / "b.csv", root=tmp_path)
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    assert [r["rescreen_flat"] for r in rows] == ["1", "0"]
    assert [r["classifier_flat"] for r in rows] == ["0", "1"]
    assert ScreenedFlatFlags(path)(s.images).tolist() == [False, True]


def test_screened_flags_errors(tmp_path) -> None:
    """Missing file, a CSV without the flat column, a bad flat value with its line number."""
    with pytest.raises(FileNotFoundError, match=r"gone\.csv not found"):
        ScreenedFlatFlags(tmp_path / "gone.csv")
    no_flat = tmp_path / "no_flat.csv"
    no_flat.write_text("image,label\nImages/a.jpg,flat-lay\n")
    with pytest.raises(ValueError, match=r"no_flat\.csv.*no column \['flat'\]"):
        ScreenedFlatFlags(no_flat)
    bad = tmp_path / "bad.csv"
    bad.write_text("image,flat\nImages/a.jpg,1\nImages/b.jpg,yes\n")
    with pytest.raises(ValueError, match=r"bad\.csv, line 3: flat must be 0 or 1, got 'yes'"):
        ScreenedFlatFlags(bad)


def test_flags_digest_changes_with_a_flag() -> None:
    """The digest names the flags: same flags, same digest; one flag flipped, another."""
    images = ["Images/a.jpg", "Images/b.jpg", "Images/c.jpg"]
    table = {"Images/a.jpg": True, "Images/b.jpg": False, "Images/c.jpg": False}

    def flags(names):
        return np.array([table[n] for n in names])

    first = screen_csv.flags_digest(flags, images)
    assert len(first) == 8 and screen_csv.flags_digest(flags, images) == first
    table["Images/c.jpg"] = True
    assert screen_csv.flags_digest(flags, images) != first


def test_flags_digest_keeps_the_names_of_models_trained_before() -> None:
    """The digest hashes "image,flag" lines (not the CSV file), so the dual-channel model folders
    named by it keep their names whatever the CSV around the flags holds."""
    import hashlib

    images = ["Images/a.jpg", "Images/b.jpg"]
    expected = hashlib.sha256(b"Images/a.jpg,1\nImages/b.jpg,0").hexdigest()[:8]
    assert screen_csv.flags_digest(lambda names: np.array([True, False]), images) == expected


def _fake_root(path: pathlib.Path, labels: str = "Images/a.jpg,sleeve_length_labels,ny\n"):
    """A root with only a label.csv: enough for a data fingerprint."""
    (path / "Annotations").mkdir(parents=True)
    (path / fashionai.LABEL_CSV).write_text(labels)
    return path


def test_write_screen_records_its_provenance_beside_the_csv(tmp_path) -> None:
    """<csv>.json: the CSV's hash and row count, the root's name and data fingerprint, the stages
    that ran and what ran them, the package's version; the CSV itself holds only its rows."""
    from replication import __version__

    root = _fake_root(tmp_path / "my-data")
    s = _screened([SLEEVE, SKIRT], [True, False], [True, False], prob=[0.9, 0.2])
    s.parser_name, s.detector_name, s.classifier_name = "keras:p.keras", "opencv", "keras:c.keras"
    s.classifier_used = False
    path = screen_csv.write_screen(s, tmp_path / "out" / "screen.csv", root=root)
    sidecar = screen_csv.provenance_path(path)
    assert sidecar == tmp_path / "out" / "screen.csv.json"
    provenance = json.loads(sidecar.read_text())
    assert provenance == screen_csv.read_provenance(path)
    assert provenance["csv"] == "screen.csv" and provenance["rows"] == 2
    assert provenance["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert provenance["root"] == "my-data"
    assert provenance["data_fingerprint"] == fashionai.data_fingerprint(root)
    assert provenance["stages"] == ["parser", "rescreen", "classifier"]
    assert (provenance["parser"], provenance["detector"], provenance["classifier"]) == \
        ("keras:p.keras", "opencv", "keras:c.keras")
    assert provenance["threshold"] == 0.1 and provenance["classifier_used"] is False
    assert provenance["splits"] is None  # not split
    assert provenance["calibration"] == {"split": None, "images": 0, "sha256": None}
    assert provenance["package"] == f"replication {__version__}"
    assert path.read_text().splitlines()[0] == ",".join(screen_csv.SCREEN_COLUMNS)
    assert not list(path.parent.glob("*.partial"))
    # No parser, no classifier: the stages and the names say so.
    s = _screened([SLEEVE], None, [True])
    provenance = screen_csv.read_provenance(screen_csv.write_screen(s, tmp_path / "b.csv",
                                                                    root=root))
    assert provenance["stages"] == ["rescreen"] and provenance["classifier_used"] is None
    assert provenance["threshold"] is None


def test_calibration_images_are_the_ones_that_calibrated(tmp_path) -> None:
    """The CSV's split column names each image's split; the provenance counts and hashes the
    split that calibrated; calibration_images returns exactly its images, none where nothing
    was calibrated, and refuses a CSV whose split column was changed afterwards."""
    root = _fake_root(tmp_path / "data")
    s = _screened([SLEEVE, SKIRT, COAT, PANT], [True, False, False, True],
                  [True, False, True, False])
    s.split = ["train", "calibration", "validation", "calibration"]
    s.calibrated_on = "calibration"
    path = screen_csv.write_screen(s, tmp_path / "screen.csv", root=root)
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    assert [r["split"] for r in rows] == s.split
    provenance = screen_csv.read_provenance(path)
    assert provenance["splits"] == {"train": 1, "calibration": 2, "validation": 1}
    expected = {"Images/t/1.jpg", "Images/t/3.jpg"}
    assert provenance["calibration"] == {
        "split": "calibration", "images": 2,
        "sha256": hashlib.sha256("\n".join(sorted(expected)).encode()).hexdigest()}
    assert screen_csv.calibration_images(path) == expected
    # A set too small to spare calibration images calibrates on the training split: its
    # images are the ones returned, never the validation split's.
    s.split = ["train", "validation", "validation", "train"]
    assert s.calibration_split() == "train"
    s.calibrated_on = s.calibration_split()
    path = screen_csv.write_screen(s, tmp_path / "screen.csv", root=root)
    assert screen_csv.calibration_images(path) == {"Images/t/0.jpg", "Images/t/3.jpg"}
    path.write_text(path.read_text().replace(",validation,", ",train,", 1))
    with pytest.raises(ScreenMismatch, match=r"screen\.csv: its 'train' images are not the ones"):
        screen_csv.calibration_images(path)
    s.calibrated_on = None  # a given threshold and no classifier: nothing calibrated
    path = screen_csv.write_screen(s, tmp_path / "screen.csv", root=root)
    assert screen_csv.calibration_images(path) == set()


def test_check_screens_accepts_its_root_and_refuses_others_with_what_to_rerun(tmp_path) -> None:
    """The CSV screens the root it was written for; another root, the same root re-rendered
    (another label.csv), a CSV edited afterwards and a CSV without provenance are refused, each
    error naming the CSV and what to rerun."""
    root = _fake_root(tmp_path / "data")
    s = _screened([SLEEVE, SKIRT], [True, False], [True, False])
    path = screen_csv.write_screen(s, tmp_path / "screen.csv", root=root)
    assert screen_csv.check_screens(path, root)["root"] == "data"
    flags = ScreenedFlatFlags.for_root(path, root)
    assert flags(s.images).tolist() == s.flat.tolist()
    assert flags([str(root / s.images[0])]).tolist() == [bool(s.flat[0])]  # by path under root

    other = _fake_root(tmp_path / "other")
    with pytest.raises(ScreenMismatch, match=r"screen\.csv screens 'data'.*not .*other.*"
                                             r"python -m replication screen .*other"):
        ScreenedFlatFlags.for_root(path, other)
    (root / fashionai.LABEL_CSV).write_text("Images/b.jpg,sleeve_length_labels,ny\n")
    with pytest.raises(ScreenMismatch, match=r"older rendering.*run notebook 04"):
        screen_csv.check_screens(path, root, rerun="(run notebook 04)")
    assert isinstance(ScreenMismatch("x"), ValueError)  # callers that catch ValueError still do

    path = screen_csv.write_screen(s, tmp_path / "screen.csv", root=root)  # screened again
    screen_csv.check_screens(path, root)
    path.write_text(path.read_text().replace(",1,flat-lay,", ",0,on-model,", 1))
    with pytest.raises(ScreenMismatch, match=r"screen\.csv changed after it was screened"):
        screen_csv.check_screens(path, root)
    screen_csv.provenance_path(path).unlink()
    with pytest.raises(FileNotFoundError, match=r"screen\.csv has no provenance.*screen again"):
        screen_csv.check_screens(path, root)
    screen_csv.provenance_path(path).write_text('{"format": "something else"}')
    with pytest.raises(ScreenMismatch, match=r"screen\.csv\.json: not a screen CSV's provenance"):
        screen_csv.check_screens(path, root)
    with pytest.raises(FileNotFoundError, match=r"gone\.csv not found.*notebook 04"):
        screen_csv.check_screens(tmp_path / "gone.csv", root, rerun="(notebook 04)")


# --------------------------------------------------------------------------- listing images


def test_list_images_fashionai_root_gives_length_rows_only(synth_root) -> None:
    """A FashionAI root: the length-level rows of label.csv, in file order, with their tasks."""
    images, tasks = cascade.list_images(synth_root)
    rows, _ = fashionai.read_labels(synth_root)
    length = [r for r in rows if r.task in LENGTH_TASKS]
    assert images == [r.image for r in length] and tasks == [r.task for r in length]
    assert set(tasks) == LENGTH_TASKS and len(images) == 24


def test_list_images_plain_folder_recursive_sorted(tmp_path) -> None:
    """A folder without label.csv: every image file below it (any case of suffix), sorted,
    relative, task empty; other files are ignored."""
    for rel in ("b.jpg", "a/x.png", "sub/deeper/d.JPEG", "c.webp", "notes.txt", "a/y.json"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    images, tasks = cascade.list_images(tmp_path)
    assert images == ["a/x.png", "b.jpg", "c.webp", "sub/deeper/d.JPEG"]
    assert tasks == ["", "", "", ""]


def test_list_images_empty_or_missing_folder(tmp_path) -> None:
    """No images below the folder, or no folder: FileNotFoundError naming it."""
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images")
    with pytest.raises(FileNotFoundError, match="nothing_here: no Annotations/label.csv"):
        cascade.list_images(empty)
    with pytest.raises(FileNotFoundError, match="missing: not a folder"):
        cascade.list_images(tmp_path / "missing")


# --------------------------------------------------------------------------- run_cascade


class FakeParser:
    """Arms (LIP 14) on every pixel of an image whose red channel is bright, else background."""

    name = "fake-parser"

    def __init__(self):
        self.calls: list[list[tuple]] = []

    def parse(self, images):
        self.calls.append([np.asarray(i).shape for i in images])
        out = np.zeros((len(images), 4, 4), dtype=np.uint8)
        for k, image in enumerate(images):
            if image[..., 0].mean() > 128:
                out[k] = LIP["left_arm"]
        return out


class FakeDetector:
    """A person wherever the green channel is bright."""

    name = "fake-detector"

    def detect(self, images):
        return [[Detection((0, 0, 1, 1), 1.0, "person")] if image[..., 1].mean() > 128 else []
                for image in images]


def _cascade_files(tmp_path):
    """(paths, names, tasks): red = parser on-model, green = person; one corrupt file."""
    colours = {"rg": (255, 255, 0), "r": (255, 0, 0), "g": (0, 255, 0), "none": (0, 0, 0)}
    spec = [("rg", SLEEVE), ("r", SLEEVE), ("g", COAT), ("bad", SLEEVE),
            ("rg", SKIRT), ("r", PANT), ("g", SKIRT), ("none", ""), ("rg", "")]
    paths, names, tasks = [], [], []
    for i, (colour, task) in enumerate(spec):
        path = tmp_path / f"{i}_{colour}.png"
        if colour == "bad":
            path.write_bytes(b"this is not an image")
        else:
            Image.fromarray(solid(12 + i, 20, colours[colour])).save(path)
        paths.append(path)
        names.append(f"img/{path.name}")
        tasks.append(task)
    return paths, names, tasks


def test_run_cascade_with_fakes_skips_corrupt_image(tmp_path) -> None:
    """Stages 1-2 over files: the corrupt file is skipped with its reason, the rest are screened
    in input order across chunks, with the joint / detector rules per task."""
    paths, names, tasks = _cascade_files(tmp_path)
    parser = FakeParser()
    s = cascade.run_cascade(paths, names, tasks, parser=parser, detector=FakeDetector(),
                              threshold=0.5, chunk=2, progress=False)
    assert len(s.skipped) == 1
    name, reason = s.skipped[0]
    assert name == "img/3_bad.png" and "DataError" in reason and "3_bad.png" in reason
    keep = [0, 1, 2, 4, 5, 6, 7, 8]
    assert s.images == [names[i] for i in keep] and s.tasks == [tasks[i] for i in keep]
    # The parser saw RGB arrays of the files' own sizes, a chunk at a time, never the bad file.
    assert [shape for call in parser.calls for shape in call] == [(12 + i, 20, 3) for i in keep]
    assert all(len(call) <= 2 for call in parser.calls)
    np.testing.assert_allclose(s.body_share, [1, 1, 0, 1, 1, 0, 0, 1])
    assert s.parser_flat.tolist() == [False, False, True, False, False, True, True, False]
    assert s.person_found.tolist() == [True, False, True, True, False, True, False, True]
    #                                 rg/sl  r/sl   g/coat rg/sk r/pant g/sk  none/"" rg/""
    assert s.rescreen_flat.tolist() == [False, True, True, False, True, False, True, False]
    assert s.decided_by() == ["parser+detector", "parser+detector", "parser", "detector",
                              "detector", "detector", "parser", "parser+detector"]
    assert s.threshold == 0.5


def test_run_cascade_without_parser_detector_decides(tmp_path) -> None:
    """No parser: no stage 1 (NaN shares, no threshold), the detector decides every image."""
    paths, names, tasks = _cascade_files(tmp_path)
    s = cascade.run_cascade(paths, names, tasks, parser=None, detector=FakeDetector(),
                              threshold=0.5, chunk=4, progress=False)
    assert s.parser_flat is None and s.threshold is None
    assert np.isnan(s.body_share).all() and len(s.body_share) == 8
    assert np.array_equal(s.rescreen_flat, ~s.person_found)
    assert s.decided_by() == ["detector"] * 8
    assert [n for n, _ in s.skipped] == ["img/3_bad.png"]


def test_run_cascade_all_unreadable(tmp_path) -> None:
    """Every file unreadable: nothing screened, every file skipped, no crash."""
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    s = cascade.run_cascade([bad, tmp_path / "missing.jpg"], ["a", "b"], [SLEEVE, SKIRT],
                              parser=FakeParser(), detector=FakeDetector(), threshold=0.1,
                              progress=False)
    assert s.images == [] and len(s.rescreen_flat) == 0
    assert [n for n, _ in s.skipped] == ["a", "b"]


# --------------------------------------------------------------------------- stage 3


def test_train_classifier_refuses_one_class(tmp_path) -> None:
    """Every training label the same class: ValueError before anything is trained or written."""
    spec = models.ModelSpec(level="length", backbone="tiny", image_size=32)
    schedule = [{"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1}]
    with pytest.raises(ValueError, match="one class"):
        classifier.train_classifier(tmp_path, ["Images/a.jpg", "Images/b.jpg"],
                                   np.array([True, True]), ["Images/c.jpg"], np.array([False]),
                                   spec=spec, schedule=schedule, out_dir=tmp_path / "work",
                                   progress=False)
    assert not (tmp_path / "work").exists()


def test_train_classifier_records_every_stage_and_compiles_once_per_optimizer(
        synth_root, tmp_path, monkeypatch) -> None:
    """Every stage's verdicts on the validation images are recorded (stage_predictions), its
    accuracy against the cascade's labels and the truth follow from them, history_table shows
    the accuracies with the paper's beside stages 1, 3, 5; a stage with the optimizer and frozen
    share of the one before restarts the optimizer instead of compiling (tracing) again."""
    from conftest import tiny_backbone

    images, _ = cascade.list_images(synth_root)
    flat = scoring.truth_flat(synth_root, images)
    train, val = images[:16], images[16:]
    labels_val = ~flat[16:]  # the "cascade's" labels: here the truth's opposite
    compiles = []
    compile_model = keras.Model.compile
    monkeypatch.setattr(keras.Model, "compile",
                        lambda self, *a, **k: compiles.append(1) or compile_model(self, *a, **k))
    schedule = [{"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1},
                {"optimizer": "adam", "learning_rate": 1e-4, "epochs": 1},
                {"optimizer": "sgd", "learning_rate": 1e-3, "epochs": 1}]
    spec = models.ModelSpec(level="length", backbone="tiny", image_size=32)
    path = classifier.train_classifier(synth_root, train, flat[:16], val, labels_val, spec=spec,
                                       schedule=schedule, out_dir=tmp_path, val_truth=flat[16:],
                                       batch_size=4, progress=False,
                                       backbone_factory=tiny_backbone)
    assert len(compiles) == 2  # adam, then sgd
    predictions = classifier.stage_predictions(path)
    table = classifier.history_table(path)
    assert list(predictions) == [row["stage"] for row in table] == [1, 2, 3]
    for row in table:
        predicted = predictions[row["stage"]]
        assert predicted.shape == (len(val),) and classifier.VAL_PREDICTIONS not in row
        assert row["val_acc_vs_cascade"] == pytest.approx(np.mean(predicted == labels_val))
        assert row["val_acc_vs_truth"] == pytest.approx(np.mean(predicted == flat[16:]))
        assert row["paper_acc"] == classifier.PAPER_CLASSIFIER_ACCURACY.get(row["stage"])
    final = classifier.classifier_probs(models.open_model_file(path),
                                        [synth_root / i for i in val], batch_size=4) >= 0.5
    assert np.array_equal(final, predictions[3])


# --------------------------------------------------------------------------- the whole stage


def test_screen_dataset_end_to_end_smoke(synthetic_set, tmp_path) -> None:
    """screen_dataset on a tiny synthetic set: every length image screened with its split, the
    parser and the segmenter trained on the training split, the threshold calibrated on the
    calibration split (never the validation split) and applied, the CSV readable; models
    reused."""
    synth_root = synthetic_set(12, 64)  # big enough to spare calibration length images
    split = screen.split_images(synth_root, val_fraction=0.3, seed=0, calibration_fraction=0.3)
    config = screen.ScreeningConfig(parser_size=32, parser_epochs=1, person_size=32,
                                       person_epochs=1, classifier=None)
    work = tmp_path / "work"
    run = screen.screen_dataset(synth_root, split, config=config, work_dir=work, progress=False)
    s = run.screened
    images, tasks = cascade.list_images(synth_root)
    assert s.images == images and s.tasks == tasks and s.skipped == []
    assert s.split == split.of(images)
    assert run.val.tolist() == [i in set(split.validation) for i in images]
    assert run.val.any() and not run.val.all()
    calibration = [i in set(split.calibration) for i in images]
    assert any(calibration) and s.calibrated_on == "calibration"
    assert run.calibrated.tolist() == calibration and not (run.calibrated & run.val).any()
    assert run.calibration["source"] == "calibrated on the calibration split"
    assert run.calibration["images"] == sum(calibration)
    assert s.threshold == run.calibration["threshold"] == human_parsing.calibrate_threshold(
        s.body_share[run.calibrated],
        scoring.truth_flat(synth_root, np.asarray(images)[run.calibrated]))["threshold"]
    assert np.array_equal(s.parser_flat, ~human_parsing.on_model(s.body_share, s.threshold))
    assert np.array_equal(s.rescreen_flat, cascade.rescreen(s.tasks, s.parser_flat,
                                                              s.person_found))
    assert run.classifier_model is None and s.classifier_flat_prob is None
    assert run.parser_model.exists() and run.person_model.exists()
    trained_on = json.loads((run.parser_model.parent / "config.json").read_text())["config"]
    assert trained_on["images"] == segmentation.images_digest(split.train)
    assert set(s.decided_by()) <= {"parser", "parser+detector", "detector"}

    path = screen_csv.write_screen(s, tmp_path / "screen.csv", root=synth_root)
    flags = ScreenedFlatFlags.for_root(path, synth_root)  # it screens this root: no error
    assert len(flags) == len(images) == 48 and np.array_equal(flags(images), s.flat)
    provenance = screen_csv.read_provenance(path)
    assert provenance["stages"] == ["parser", "rescreen"] and provenance["classifier"] is None
    assert provenance["parser"] == f"keras:{run.parser_model.parent.name}/model.keras"
    assert provenance["detector"] == f"segmenter:{run.person_model.parent.name}/model.keras"
    assert provenance["threshold"] == s.threshold
    rates = scoring.stage_scores(s.tasks, scoring.truth_flat(synth_root, s.images),
                                   {"parser": s.parser_flat, "rescreen": s.rescreen_flat})
    assert {r["task"] for r in rates} == LENGTH_TASKS | {"all"}

    assert screen_csv.calibration_images(path) == set(np.asarray(images)[run.calibrated])

    # A second run reuses both models (same files, not rewritten).
    stamps = (run.parser_model.stat().st_mtime_ns, run.person_model.stat().st_mtime_ns)
    again = screen.screen_dataset(synth_root, split, config=config, work_dir=work,
                                  progress=False)
    assert (again.parser_model, again.person_model) == (run.parser_model, run.person_model)
    assert (again.parser_model.stat().st_mtime_ns,
            again.person_model.stat().st_mtime_ns) == stamps
    assert np.array_equal(again.screened.rescreen_flat, s.rescreen_flat)


def test_screened_flags_find_images_by_file_path_under_their_root(tmp_path) -> None:
    """Like the truth's flags, a screen's flags answer for a file path under the data root (the
    FlatFlags protocol: prediction passes paths of image files)."""
    screened = Screened(images=["Images/t/a.jpg", "Images/t/b.jpg"], tasks=["", ""],
                        body_share=np.array([0.0, 0.5]), parser_flat=np.array([True, False]),
                        person_found=np.array([False, True]),
                        rescreen_flat=np.array([True, False]), skipped=[])
    path = screen_csv.write_screen(screened, tmp_path / "screen.csv", root=tmp_path)
    flags = ScreenedFlatFlags(path, root=tmp_path)
    assert flags([str(tmp_path / "Images/t/b.jpg"), "Images/t/a.jpg"]).tolist() == [False, True]
    with pytest.raises(KeyError, match="screen.csv"):
        ScreenedFlatFlags(path)([str(tmp_path / "Images/t/b.jpg")])  # no root: names only


def test_keras_parser_adapter_takes_any_size_and_coarse_outputs(tmp_path) -> None:
    """A user's LIP parser need not be this project's shape: a fully convolutional model (any
    input size) runs at the size given, and a stride-2 output comes back at the input side."""
    image = keras.Input((None, None, 3), name="image")
    x = layers.Conv2D(20, 3, strides=2, padding="same", name="scores")(image)
    path = tmp_path / "coarse.keras"
    keras.Model(image, x).save(path)
    parser = KerasHumanParser(path, size=32)
    maps = parser.parse([np.zeros((50, 40, 3), np.uint8), np.full((20, 20, 3), 200, np.uint8)])
    assert parser.size == 32 and maps.shape == (2, 32, 32) and maps.dtype == np.uint8
    # A nearest-neighbour upsampling of the stride-2 argmax: each label fills a 2x2 block.
    assert (maps[:, ::2, ::2] == maps[:, 1::2, 1::2]).all()
    assert KerasHumanParser(path).size == human_parsing.JPPNET_INPUT


def test_a_classifier_no_better_than_the_majority_class_does_not_overrule_the_cascade() -> None:
    """Its verdicts are used only when they agree with the cascade's labels more often than the
    cascade's majority class does; otherwise the re-screen decides, and decided_by says so."""
    labels = np.array([True, False, False, False])
    assert classifier.classifier_beats_majority(np.zeros(4, bool), labels) == \
        {"accuracy": 0.75, "majority": 0.75, "used": False}
    assert classifier.classifier_beats_majority(labels, labels)["used"] is True
    screened = Screened(images=["a", "b"], tasks=["skirt_length_labels"] * 2,
                        body_share=np.zeros(2), parser_flat=np.array([True, True]),
                        person_found=np.array([True, False]),
                        rescreen_flat=np.array([False, True]), skipped=[],
                        classifier_flat_prob=np.array([0.9, 0.1]))
    assert screened.flat.tolist() == [True, False] and screened.decided_by() == ["classifier"] * 2
    screened.classifier_used = False
    assert screened.flat.tolist() == [False, True] and screened.decided_by() == ["detector"] * 2


def test_screen_root_checks_a_given_classifier_on_the_calibration_split(synth_root, screen_work,
                                                                      monkeypatch) -> None:
    """The CLI's rule is notebook 04's: on a synthetic root a user's classifier overrules the
    cascade only where it beats the cascade's majority class on the calibration split."""
    work = screen_work
    options = {"work_dir": work, "parser_epochs": 1, "person_epochs": 1, "progress": False}
    screened, _, check = screen.screen_root(synth_root, **options)
    assert check is None and "classifier" not in screened.decided_by()
    labels = {image: flat for image, flat in zip(screened.images, screened.rescreen_flat)}

    open_model_file = models.open_model_file  # the parser and segmenter still load for real
    monkeypatch.setattr(models, "open_model_file",
                        lambda path: path if path == "c.keras" else open_model_file(path))

    def screen_with(verdict):
        monkeypatch.setattr(classifier, "classifier_probs", lambda model, paths, **_: np.array(
            [verdict(str(pathlib.Path(p).relative_to(synth_root))) for p in paths], float))
        return screen.screen_root(synth_root, classifier_model="c.keras", **options)

    agreeing, _, check = screen_with(lambda image: float(labels[image]))
    # This set is too small to spare calibration length images: the check runs on the training
    # split's, never on the validation split's.
    train = screened.in_split("train")
    assert screened.calibration_split() == "train" and agreeing.calibrated_on == "train"
    assert (check["images"], check["split"], check["on"]) == (
        int(train.sum()), "train", "the training split")
    assert not (train & screened.in_split("validation")).any()
    assert check["accuracy"] == 1.0 and check["majority"] < 1.0 and check["used"] is True
    assert agreeing.decided_by() == ["classifier"] * len(agreeing.images)
    constant, _, check = screen_with(lambda image: 0.0)  # always "on-model"
    assert check["used"] is False and check["accuracy"] <= check["majority"]
    assert np.array_equal(constant.flat, screened.rescreen_flat)
    assert constant.decided_by() == screened.decided_by()


def test_a_csv_from_the_screen_command_feeds_the_dual_channel_flags(synth_root, screen_work,
                                                                   tmp_path, monkeypatch,
                                                                   capsys) -> None:
    """`python -m replication screen ROOT --out CSV` writes the provenance the dual-channel
    models check (experiments.flat_flags): its CSV is accepted for ROOT and refused, naming
    notebook 04, for the same set under another path (another data fingerprint)."""
    import shutil

    from replication import cli
    from replication.book import experiments

    out = tmp_path / "screen.csv"
    assert cli.main(["screen", str(synth_root), "--out", str(out), "--work", str(screen_work),
                     "--parser-epochs", "1", "--person-epochs", "1", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["provenance"] == str(screen_csv.provenance_path(out))
    monkeypatch.setattr(experiments, "screen_csv", lambda profile: out)
    schedule = [{"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1}]
    setup = experiments.Setup(profile="smoke", root=synth_root, variant="tiny", image_size=32,
                              batch_size=4, schedule=schedule)
    flags = experiments.flat_flags(setup, "screened")
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert flags([r["image"] for r in rows]).tolist() == [r["flat"] == "1" for r in rows]
    moved = tmp_path / "moved"
    shutil.copytree(synth_root, moved)
    with pytest.raises(ScreenMismatch, match=r"screen\.csv screens .*moved.*notebook 04"):
        experiments.flat_flags(experiments.Setup(**{**vars(setup), "root": moved}), "screened")
