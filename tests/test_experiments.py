"""The book's training path (``book.experiments``) and its tables: model folders, the weights
parameter, normalisation, score gaps, the claims table, and a third base net registered and
trained through the chapters' code without a change to it."""

from pathlib import Path

import numpy as np
import pytest

from replication.data import metric
from replication.book import experiments, profiles
from replication.data.fashionai import LabelRow
from replication.data.tasks import get_task

COLLAR, NECK = "collar_design_labels", "neck_design_labels"


def _setup(**overrides):
    options = dict(profile="smoke", root=Path("/nowhere"), variant="tiny", image_size=96,
                   batch_size=16, schedule=[{"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1}])
    return experiments.Setup(**{**options, **overrides})


def test_model_folders_keep_the_default_models_names_and_separate_variants_and_modes():
    # The folder names key the trained models of every earlier run: they must not drift.
    setup = _setup()
    assert experiments.model_dir(setup, "design", "inception_v4") == setup.models_dir / "design-inception_v4"
    assert experiments.model_dir(setup, "design", "inception_v4", "02-px128").name == \
        "design-inception_v4-02-px128"
    dataset = _setup(normalisation="dataset")
    assert experiments.model_dir(dataset, "length", "inception_resnet_v2").name == \
        "length-inception_resnet_v2-norm-dataset"
    assert dataset.stats_dir == setup.models_dir.parent / "normalisation"
    with pytest.raises(ValueError, match="normalisation must be one of"):
        _setup(normalisation="imagenet")


def _rows(n_per_task=12, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for task in (COLLAR, NECK):
        k = get_task(task).n_values
        for i in range(n_per_task):
            value = int(rng.integers(k))
            rows.append(LabelRow(f"Images/{task}/{i:03d}.jpg", task,
                                 "".join("y" if j == value else "n" for j in range(k)), len(rows) + 1))
    return rows


def _predictions(rows, *, right: float, seed: int):
    """Probabilities that put the top class on the truth for a share ``right`` of the rows."""
    rng = np.random.default_rng(seed)
    out = {}
    for row in rows:
        k = get_task(row.task).n_values
        probs = rng.dirichlet(np.ones(k))
        top = row.value if rng.random() < right else (row.value + 1) % k
        probs[top] += 1.0
        out[row.image] = {row.task: probs / probs.sum()}
    return out


def test_bootstrap_gap_of_a_model_with_itself_is_zero_and_of_a_better_one_positive():
    rows = _rows()
    good, bad = _predictions(rows, right=1.0, seed=1), _predictions(rows, right=0.0, seed=2)
    same = metric.bootstrap_gap(rows, good, good, resamples=50)
    assert same["gap"] == same["low"] == same["high"] == 0.0 and same["share_positive"] == 0.0
    gap = metric.bootstrap_gap(rows, good, bad, resamples=200, seed=3)
    assert gap["gap"] == pytest.approx(metric.score(rows, good)["mAP"] - metric.score(rows, bad)["mAP"])
    assert 0 < gap["low"] <= gap["gap"] <= gap["high"] and gap["share_positive"] == 1.0
    again = metric.bootstrap_gap(rows, good, bad, resamples=200, seed=3)
    assert again == gap  # seeded
    acc = metric.bootstrap_gap(rows, bad, good, metric="acc", resamples=20)
    assert acc["gap"] == pytest.approx(-1.0) and acc["high"] < 0


def test_a_variant_folder_names_its_whole_configuration():
    setup = _setup()
    tag = experiments.variant_tag(setup, "inception_v4", image_size=96)
    assert tag.startswith("tiny-px96-") and len(tag.rsplit("-", 1)[1]) == 8
    # The same configuration, however spelled, gets the same folder ...
    spelled = _setup(schedule=[{"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1,
                                "train_backbone": 1.0}])
    assert experiments.variant_tag(spelled, "inception_v4", image_size=96) == tag
    both = experiments.variant_tag(setup, "inception_v4", image_size=96, augment=("noise", "flip"))
    assert both == experiments.variant_tag(setup, "inception_v4", image_size=96, augment=["flip", "noise"])
    assert "-aug-flip+noise-imgaug-" in both
    # ... and anything that changes the model a new one.
    others = {experiments.variant_tag(setup, "inception_v4", image_size=128),
              experiments.variant_tag(_setup(seed=1), "inception_v4", image_size=96),
              experiments.variant_tag(_setup(batch_size=8), "inception_v4", image_size=96),
              experiments.variant_tag(_setup(weights={"inception_v4": "w.safetensors"}), "inception_v4",
                                      image_size=96),
              experiments.variant_tag(setup, "inception_v4", image_size=96, augment=("flip",),
                                      augment_engine="keras")}
    assert tag not in others and len(others) == 5


def test_the_models_normalisation_follows_the_setup_with_the_training_splits_statistics(monkeypatch, tmp_path):
    from replication.data import fashionai
    from replication.learning import normalisation
    from replication.book import profiles
    from replication import synthetic

    monkeypatch.setattr(profiles, "HOME", tmp_path)  # results/<profile>/ under tmp_path
    root = tmp_path / "data"
    synthetic.generate(root, images_per_task=4, size=64, progress=False)
    train = fashionai.read_labels(root)[0][::2]
    default = experiments.model_spec(_setup(root=root), "design", "inception_v4", train)
    assert default.normalisation == "inception" and default.mean is None and default.augment == ()
    dataset = _setup(root=root, normalisation="dataset")
    spec = experiments.model_spec(dataset, "design", "inception_v4", train, image_size=80,
                                  augment=("noise", "flip"), augment_engine="keras")
    stats = normalisation.channel_stats([root / r.image for r in train], progress=False)
    assert spec.normalisation == "dataset" and spec.image_size == 80
    np.testing.assert_allclose(spec.mean, stats.mean, rtol=1e-12)
    np.testing.assert_allclose(spec.std, stats.std, rtol=1e-12)
    assert set(spec.augment) == {"noise", "flip"} and spec.augment_engine == "keras"
    assert list(dataset.stats_dir.glob("channel_stats_*.json"))  # cached for the next model
    assert "dataset" in experiments.describe_normalisation(dataset, train)
    # An unaugmented model has no engine to choose: it keeps the default, whatever is asked.
    plain = experiments.model_spec(dataset, "design", "inception_v4", train, augment_engine="keras")
    assert plain.augment == () and plain.augment_engine == "imgaug"


def test_length_model_choice_and_its_flags_fail_clearly(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="length_model must be one of"):
        _setup(length_model="triple")
    assert experiments.length_flags(_setup()) is None  # single-channel: no flags
    monkeypatch.setattr(experiments, "screen_csv", lambda profile: tmp_path / "missing.csv")
    with pytest.raises(FileNotFoundError, match="notebook 04"):
        experiments.length_flags(_setup(length_model="dual-screened"))
    with pytest.raises(FileNotFoundError, match="no Truth"):
        experiments.flat_flags(_setup(root=tmp_path), "truth")
    with pytest.raises(ValueError, match="source must be one of"):
        experiments.flat_flags(_setup(), "guessed")


def test_the_weights_parameter_maps_registered_nets_to_files(tmp_path, monkeypatch):
    from replication.book import profiles

    monkeypatch.setattr(profiles, "HOME", tmp_path)
    root = tmp_path / "data"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "label.csv").write_text("")  # ensure_data only looks for the file
    common = dict(variant="tiny", image_size=96, batch_size=16, seed=0, val_fraction=0.2,
                  schedule=[{"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1}])
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "v4.safetensors").write_bytes(b"")  # only its existence is checked here
    setup = experiments.setup_from_parameters(
        "smoke", str(root), weights={"inception_v4": "w/v4.safetensors", "inception_resnet_v2": None},
        **common)
    # A net named with a file gets it (a relative path lies in the run's home); an empty or
    # absent entry trains from random weights.
    assert experiments.model_spec(setup, "design", "inception_v4", []).weights == str(
        tmp_path / "w" / "v4.safetensors")
    assert experiments.model_spec(setup, "design", "inception_resnet_v2", []).weights is None
    bare = experiments.setup_from_parameters("smoke", str(root), **common)
    assert experiments.model_spec(bare, "design", "inception_v4", []).weights is None
    with pytest.raises(ValueError, match="unknown base net.*'inception_v5'"):
        experiments.setup_from_parameters("smoke", str(root), weights={"inception_v5": "w.h5"},
                                          **common)
    with pytest.raises(ValueError, match="maps base net names to weight files"):
        experiments.setup_from_parameters("smoke", str(root), weights="/w/v4.safetensors", **common)
    # A missing file is named before any net trains; chapter 0's say how to make them.
    with pytest.raises(FileNotFoundError, match="w/missing.h5 not found.*nothing is downloaded"):
        experiments.setup_from_parameters("smoke", str(root),
                                          weights={"inception_v4": "w/missing.h5"}, **common)
    pretrained = profiles.pretrained_weights("smoke")["inception_v4"]
    with pytest.raises(FileNotFoundError, match="--profile smoke --only 00"):
        experiments.setup_from_parameters("smoke", str(root),
                                          weights={"inception_v4": pretrained}, **common)


TOY_NET_MODULE = '''"""ToyNet: a third base net, one strided convolution and global average pooling."""
import keras
from keras import layers

NUM_FEATURES = 8


def toy_net(*, input_shape, width=1.0, blocks=(1,), include_top=False, pooling="avg",
            name="toy_net"):
    image = keras.Input(input_shape)
    x = layers.Conv2D(int(NUM_FEATURES * width), 3, strides=2, activation="relu")(image)
    return keras.Model(image, layers.GlobalAveragePooling2D(name="avg_pool")(x), name=name)


def load_weights(model, weights):
    raise ValueError("ToyNet has no ImageNet weights")
'''
"""The one new file a third base net needs (its registry entry is the other thing)."""


def _register_toy_net(tmp_path, monkeypatch):
    """Register ToyNet for this test (the registry is restored afterwards), results under
    ``tmp_path``."""
    from replication.book import profiles
    from replication.nets import registry

    monkeypatch.setattr(profiles, "HOME", tmp_path)
    (tmp_path / "toy_net_module.py").write_text(TOY_NET_MODULE)
    monkeypatch.syspath_prepend(tmp_path)
    monkeypatch.setattr(registry, "BACKBONES", dict(registry.BACKBONES))  # restored afterwards
    registry.register(registry.Backbone(
        name="toy_net", display_name="ToyNet", module="toy_net_module",
        load_weights="toy_net_module:load_weights", weights_format="none",
        variants={"tiny": {"width": 1.0, "blocks": (1,)}, "canonical": {}}))


def _toy_chapter(tmp_path):
    """A smoke chapter on a 4-images-per-task set at 32 px, one Adam epoch, the toy net
    registered (:func:`_register_toy_net`) without weights."""
    from replication import synthetic

    root = tmp_path / "data"
    synthetic.generate(root, size=48, images_per_task=4, workers=1, progress=False)
    return experiments.chapter_setup(
        "smoke", str(root), variant="tiny", image_size=32, batch_size=8, seed=0,
        val_fraction=0.25, schedule=[{"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1}],
        weights={"toy_net": ""})


def test_a_third_base_net_needs_one_registry_entry_and_trains_through_the_chapters_code(
        tmp_path, monkeypatch):
    from replication.data import fashionai

    _register_toy_net(tmp_path, monkeypatch)
    assert experiments.backbone_names()[-1] == "toy_net"
    assert experiments.display_name("toy_net") == "ToyNet"
    # Chapters 7 and 8 compare it alone; the doubleNet stays the paper's pair (§3.4).
    compared = experiments.compared_models()
    assert compared["toy_net"] == {"toy_net": 1.0}
    assert compared[experiments.DOUBLENET] == {"inception_v4": 0.5, "inception_resnet_v2": 0.5}

    chapter = _toy_chapter(tmp_path)
    # train_all walks the registry; the paper's two nets train in the smoke reproduction, so
    # here only the toy net trains for real (one epoch) and the others' calls are recorded.
    calls, real = [], experiments.train_model

    def train_model(setup, level, backbone, *args, **kwargs):
        calls.append((level, backbone))
        if backbone == "toy_net":
            return real(setup, level, backbone, *args, **kwargs)
        return tmp_path / "not-trained-here"

    monkeypatch.setattr(experiments, "train_model", train_model)
    trained = chapter.train_all(progress=False)
    assert calls == [(level, net) for level in ("design", "length")
                     for net in ("inception_v4", "inception_resnet_v2", "toy_net")]
    for level in ("design", "length"):
        model = trained[(level, "toy_net")]
        assert model == experiments.model_dir(chapter.setup, level, "toy_net") / "model.keras"
        assert model.is_file() and (model.parent / experiments.SPEED_JSON).is_file()

    # Scored as chapters 2, 3 and 5 score their models: the answer file it writes scores the same.
    val = experiments.of_level(chapter.val, "design")
    answer, truth = tmp_path / "answers" / "toy.csv", tmp_path / "Annotations" / "label.csv"
    scored = experiments.score_models(chapter.setup, {"toy": trained[("design", "toy_net")]}, val,
                                      answers={"toy": answer}, truth_csv=truth)
    assert metric.evaluate_files(truth, answer)["mAP"] == pytest.approx(
        scored["toy"].scores["mAP"], abs=1e-6)
    assert set(scored["toy"].predictions) == {row.image for row in val}
    # ... and as chapters 6-8 score theirs: both levels, each row by its own level's model.
    both = experiments.predict(chapter.setup, trained, chapter.val, {"toy_net": 1.0})
    assert set(both) == {row.image for row in chapter.val}
    assert fashionai.read_labels(chapter.setup.root)[0]  # the data the models trained on is still there


def test_the_paper_profile_refuses_random_base_nets_unless_told(tmp_path):
    """The paper's fine-tuning rates barely move a random net: its profile refuses to train one,
    naming the parameter and the formats, before any net trains; allow_random_init overrides."""
    rows = [LabelRow(image="Images/x/a.jpg", task=COLLAR, labels="ynnnn", row=1)]
    paper = _setup(profile="paper", root=tmp_path, weights={"inception_v4": "/w/v4.safetensors"})
    with pytest.raises(ValueError, match=r"paper profile.*inception_resnet_v2.*weights=.*"
                                         r"keras\.applications.*allow_random_init=true"):
        experiments.train_model(paper, "design", "inception_resnet_v2", rows, rows)
    with pytest.raises(ValueError, match="inception_resnet_v2"):  # train_all: before the first net
        experiments.train_all(paper, rows, rows)
    experiments.require_weights(paper, ["inception_v4"])  # the given net may train
    experiments.require_weights(_setup(profile="paper", root=tmp_path, allow_random_init=True),
                                ["inception_v4", "inception_resnet_v2"])
    experiments.require_weights(_setup(root=tmp_path), ["inception_v4"])  # smoke: random is the point


def test_chapter_4s_classifier_is_refused_random_weights_under_the_paper_profile_too():
    """The screening classifier fine-tunes with the paper's rates as well (notebook 04 calls
    check_weights with its own parameter's name before anything trains)."""
    from replication.book import configuration

    with pytest.raises(ValueError, match=r"classifier_weights=/path/to/inception_v4-weights.*"
                                         r"allow_random_init=true"):
        configuration.check_weights("paper", {"inception_v4": ""}, ["inception_v4"],
                                    parameter="classifier_weights")
    configuration.check_weights("paper", {"inception_v4": ""}, ["inception_v4"],
                                allow_random_init=True, parameter="classifier_weights")
    configuration.check_weights("synthetic", {"inception_v4": ""}, ["inception_v4"],
                                parameter="classifier_weights")
    source = (profiles.SOURCE_ROOT / "notebooks" / "04_screening.py").read_text()
    assert "configuration.check_weights(" in source and "allow_random_init = False" in source


def test_the_setups_augmentation_names_its_folders_and_reaches_every_model_spec(tmp_path):
    from replication.book import profiles
    from replication.learning import augmentation

    plain = _setup(root=tmp_path)
    paper = _setup(root=tmp_path, augment=["noise", "flip", "affine", "rotate", "channel"])
    assert paper.augment == augmentation.check_names(augmentation.PAPER_AUGMENTERS)
    # Unaugmented models keep their folders; augmented ones get a folder of their own.
    assert experiments.model_dir(plain, "design", "inception_v4").name == "design-inception_v4"
    name = experiments.model_dir(paper, "length", "inception_v4", "dual-x").name
    assert name == "length-inception_v4-dual-x-aug-flip+affine+rotate+channel+noise-imgaug"
    keras_twin = _setup(root=tmp_path, augment=["flip"], augment_engine="keras")
    assert experiments.model_dir(keras_twin, "design", "inception_v4").name.endswith("-aug-flip-keras")
    spec = experiments.model_spec(paper, "design", "inception_v4", [])
    assert spec.augment == paper.augment and spec.augment_engine == "imgaug"
    assert experiments.model_spec(keras_twin, "design", "inception_v4", []).augment_engine == "keras"
    # An explicit augmentation (chapter 3's arms) overrides the setup's, none included.
    assert experiments.model_spec(paper, "design", "inception_v4", [], augment=()).augment == ()
    # The page says which augmentation trained the models.
    assert experiments.describe_augmentation(plain).startswith("none")
    assert "the paper's set" in experiments.describe_augmentation(paper)
    assert "not the paper's set" in experiments.describe_augmentation(keras_twin)
    with pytest.raises(ValueError, match="unknown augmenters"):
        _setup(augment=["blur"])
    with pytest.raises(ValueError, match="augment_engine must be one of"):
        _setup(augment=["flip"], augment_engine="opencv")
    # The synthetic and paper profiles train chapters 5-8 with the paper's set; smoke without.
    for name in ("synthetic", "paper"):
        for notebook in ("05_dual_channel", *profiles.MODEL_NOTEBOOKS):
            params = profiles.get_profile(name).parameters(notebook)
            assert augmentation.check_names(params["augment"]) == \
                augmentation.check_names(augmentation.PAPER_AUGMENTERS)
            assert params["augment_engine"] in augmentation.ENGINES
    for notebook in ("05_dual_channel", *profiles.MODEL_NOTEBOOKS):
        assert profiles.get_profile("smoke").parameters(notebook)["augment"] == []


def test_spec_options_and_the_level_all_name_their_folders_and_keep_the_default_ones():
    setup = _setup()
    default = experiments.variant_tag(setup, "inception_v4", image_size=96)
    assert experiments.variant_tag(setup, "inception_v4", image_size=96,
                                   spec_options={"pooling": "avg", "dropout": 0.5}) == default
    pooled = experiments.variant_tag(setup, "inception_v4", image_size=96,
                                     spec_options={"dropout": 0.2, "pooling": "max"})
    assert pooled == default.replace("-px96-", "-px96-pooling-max-dropout-0.2-")
    with pytest.raises(ValueError, match="may set only pooling, dropout"):
        experiments.options_tag({"fusion_units": 64})
    spec = experiments.model_spec(setup, "all", "inception_v4", [], spec_options={"pooling": "max"})
    assert spec.pooling == "max" and len(spec.tasks) == 8
    rows = _rows()
    assert experiments.of_level(rows, "all") == rows and experiments.of_level(rows, "length") == []


def test_one_model_for_all_eight_dimensions_with_max_pooling_trains_and_scores_per_dimension(
        tmp_path, monkeypatch):
    """The ablations' variants go through the chapters' training path: the level "all" (both
    levels' heads in one model) and max pooling, each named in its folder, scored per dimension."""
    from replication.data.tasks import TASKS
    from replication.learning import models

    _register_toy_net(tmp_path, monkeypatch)
    chapter = _toy_chapter(tmp_path)
    path = experiments.train_variant(chapter.setup, "all", "toy_net", chapter.train, chapter.val,
                                     spec_options={"pooling": "max"}, progress=False)
    assert path.parent.name.startswith("all-toy_net-tiny-px32-pooling-max-")
    model = models.load_model(path)
    assert model.get_layer("backbone").layers[-1].name == "max_pool"
    assert {t.key for t in models.describe(model).tasks} == {t.key for t in TASKS}
    rows = [*chapter.train, *chapter.val]  # every dimension (4 images each: few in val)
    scored = experiments.score_models(chapter.setup, {"all": path}, rows)["all"]
    assert set(scored.scores["tasks"]) == {t.key for t in TASKS}
    assert sum(s["n"] for s in scored.scores["tasks"].values()) == len(rows)
    assert set(experiments.level_map(scored.scores)) == {"design", "length"}


def _hand_made_screen(folder, rows, calibration):
    """A screen CSV and its provenance sidecar, written by hand as chapter 4 writes them: every
    row's split, ``calibration`` the images of the split that calibrated the screening."""
    import csv
    import hashlib
    import json

    from replication.screening import screen_csv

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "screen.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "task", "split", "flat"])
        for row in rows:
            writer.writerow([row.image, row.task,
                             "calibration" if row.image in calibration else "train", "1"])
    digest = hashlib.sha256("\n".join(sorted(calibration)).encode()).hexdigest()
    screen_csv.provenance_path(path).write_text(json.dumps({
        "format": screen_csv.PROVENANCE_FORMAT, "csv": path.name,
        "calibration": {"split": "calibration", "images": len(calibration), "sha256": digest}}))
    return path


def test_the_screened_arms_refuse_a_validation_image_that_calibrated_the_screening(
        tmp_path, monkeypatch):
    from replication.book import profiles

    monkeypatch.setattr(profiles, "HOME", tmp_path)
    rows = _rows(n_per_task=6)
    val, train = rows[::3], [r for i, r in enumerate(rows) if i % 3]
    folder = tmp_path / "results" / "smoke" / experiments.SCREENING_NOTEBOOK
    setup = _setup(root=tmp_path)
    # Calibrated on training images only: the validation split calibrated nothing.
    _hand_made_screen(folder, rows, {r.image for r in train[:4]})
    experiments.check_uncalibrated(setup, val)
    # One validation image among the calibration images: a clear error naming it and the fix.
    _hand_made_screen(folder, rows, {r.image for r in [*train[:4], val[1]]})
    with pytest.raises(ValueError, match=r"1 validation image\(s\).*calibrated the screening of "
                                         r"results/smoke/04_screening/screen\.csv, e\.g\. "
                                         + val[1].image + r".*Rerun notebook 04"):
        experiments.check_uncalibrated(setup, val)
    # flat_flags checks it wherever the screened flags are loaded (default: the setup's split).
    from replication.screening import screen_csv

    monkeypatch.setattr(screen_csv.ScreenedFlatFlags, "for_root",
                        classmethod(lambda cls, path, root, rerun=None: "flags"))
    with pytest.raises(ValueError, match="calibrated the screening"):
        experiments.flat_flags(setup, "screened", val=val)
    assert experiments.flat_flags(setup, "screened", val=train[4:]) == "flags"


def test_a_variant_folder_survives_moving_the_home_with_its_weight_files(tmp_path, monkeypatch):
    from replication.book import profiles

    tags = []
    for home in (tmp_path / "a", tmp_path / "b"):
        monkeypatch.setattr(profiles, "HOME", home)
        (home / "weights").mkdir(parents=True)
        (home / "weights" / "v4.safetensors").write_bytes(b"the same weights")
        setup = _setup(weights={"inception_v4": str(home / "weights" / "v4.safetensors")})
        tags.append(experiments.variant_tag(setup, "inception_v4", image_size=96))
    assert tags[0] == tags[1]
    # Other weights written under the same name (chapter 0 rerun otherwise): another folder.
    (tmp_path / "b" / "weights" / "v4.safetensors").write_bytes(b"other weights")
    assert experiments.variant_tag(setup, "inception_v4", image_size=96) != tags[0]
    elsewhere = _setup(weights={"inception_v4": "/elsewhere/v4.safetensors"})
    assert experiments.variant_tag(elsewhere, "inception_v4", image_size=96) != tags[0]
