"""The shared training path of the model notebooks: model folders, normalisation, score gaps."""

from pathlib import Path

import numpy as np
import pytest

from replication import experiments
from replication.fashionai import LabelRow
from replication.tasks import get_task

COLLAR, NECK = "collar_design_labels", "neck_design_labels"


def _setup(**overrides):
    options = dict(profile="smoke", root=Path("/nowhere"), variant="tiny", image_size=96,
                   batch_size=16, schedule=[{"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1}])
    return experiments.Setup(**{**options, **overrides})


def test_model_folders_keep_the_default_models_names_and_separate_variants_and_modes():
    setup = _setup()
    assert setup.normalisation == experiments.DEFAULT_NORMALISATION == "inception"
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
    same = experiments.bootstrap_gap(rows, good, good, resamples=50)
    assert same["gap"] == same["low"] == same["high"] == 0.0 and same["share_positive"] == 0.0
    gap = experiments.bootstrap_gap(rows, good, bad, resamples=200, seed=3)
    assert gap["gap"] == pytest.approx(experiments.score(rows, good)["mAP"] - experiments.score(rows, bad)["mAP"])
    assert 0 < gap["low"] <= gap["gap"] <= gap["high"] and gap["share_positive"] == 1.0
    again = experiments.bootstrap_gap(rows, good, bad, resamples=200, seed=3)
    assert again == gap  # seeded
    acc = experiments.bootstrap_gap(rows, bad, good, metric="acc", resamples=20)
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
    from replication import fashionai, normalisation, profiles, synthetic

    monkeypatch.setattr(profiles, "REPO_ROOT", tmp_path)  # results/<profile>/ under tmp_path
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
