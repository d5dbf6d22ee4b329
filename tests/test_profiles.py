import json
import math

import numpy as np
import pytest

from replication import profiles, results


def test_profiles_and_their_parameters():
    assert set(profiles.PROFILES) == {"smoke", "synthetic", "paper"}
    smoke = profiles.get_profile("smoke")
    params = smoke.parameters("01_data")
    assert params["profile"] == "smoke" and params["data_root"].endswith(
        "synthetic-n48-px128-seed0") and params["samples_per_task"] == 4
    assert profiles.get_profile("paper").synthetic is None
    with pytest.raises(KeyError, match="smoke"):
        profiles.get_profile("nope")


def test_paper_profile_without_data_names_what_to_do(monkeypatch, tmp_path):
    monkeypatch.delenv(profiles.DATA_ROOT_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="--data-root"):
        profiles.ensure_data("paper")
    with pytest.raises(FileNotFoundError, match="label.csv"):
        profiles.ensure_data("paper", tmp_path)
    monkeypatch.setenv(profiles.DATA_ROOT_ENV, str(tmp_path))
    assert profiles.get_profile("paper").default_data_root() == tmp_path


def test_record_converts_numpy_and_nan(monkeypatch, tmp_path):
    monkeypatch.setattr(profiles, "REPO_ROOT", tmp_path)
    path = results.record("smoke", "99_test", {"a": np.float32(0.5), "b": np.arange(3), "c": math.nan,
                                               "d": {"e": (np.int64(2),)}})
    assert path == tmp_path / "results" / "smoke" / "99_test" / "numbers.json"
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2], "c": None, "d": {"e": [2]}}
    assert results.load("smoke", "99_test")["b"] == [0, 1, 2]
    with pytest.raises(FileNotFoundError, match="--only 98"):
        results.load("smoke", "98_missing")


def test_every_profile_parameter_is_declared_by_its_notebook():
    from replication import reproduce

    declared = {source.stem: set(reproduce.declared_parameters(source)) for source in reproduce.list_notebooks()}
    for profile in profiles.PROFILES.values():
        for stem, names in declared.items():
            injected = set(profile.parameters(stem))
            assert injected <= names, (profile.name, stem, injected - names)


def test_the_preprocessing_experiments_and_the_normalisation_mode_per_profile():
    from replication import normalisation

    for profile in profiles.PROFILES.values():
        sweep = profile.parameters("02_resolution")
        assert sweep["image_sizes"] == sorted(sweep["image_sizes"]) and min(sweep["image_sizes"]) >= 75
        assert len(sweep["image_sizes"]) >= 2 and "image_size" not in sweep
        ablation = profile.parameters("03_augmentation")
        assert ablation["augment_engine"] in ("imgaug", "keras")
        # Both experiments train the same model (net, size range, schedule) within a profile.
        assert (sweep["backbone"], sweep["variant"], sweep["schedule"]) == (
            ablation["backbone"], ablation["variant"], ablation["schedule"])
        assert ablation["image_size"] in sweep["image_sizes"]  # 03's "none" arm is a point of 02's
        for stem in ("02_resolution", "03_augmentation", *profiles.MODEL_NOTEBOOKS):
            assert profile.parameters(stem)["normalisation"] in normalisation.MODES
    assert 480 in profiles.get_profile("paper").parameters("02_resolution")["image_sizes"]
    # The paper normalises with its data set's own statistics (§3.1.2 (1)).
    assert profiles.get_profile("paper").parameters("06_per_dimension_ap")["normalisation"] == "dataset"
    assert profiles.get_profile("smoke").parameters("06_per_dimension_ap")["normalisation"] == "inception"


def test_notebook_defaults_are_the_smoke_profile():
    """A student who runs a notebook by hand gets what ``reproduce --profile smoke`` runs."""
    import jupytext

    from replication import reproduce

    smoke = profiles.get_profile("smoke")
    for source in reproduce.list_notebooks():
        cell = [c for c in jupytext.read(source).cells
                if "parameters" in c.get("metadata", {}).get("tags", [])][0]
        defaults: dict = {}
        exec(cell.source, defaults)
        injected = {k: v for k, v in smoke.parameters(source.stem).items() if k != "data_root"}
        assert {k: defaults[k] for k in injected} == injected, source.stem
