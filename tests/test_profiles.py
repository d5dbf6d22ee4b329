"""The profiles (DESIGN §5), the notebooks' parameters cells they feed, and the results files."""

import json
import math

import numpy as np
import pytest

from replication.book import profiles, results


def test_a_profiles_parameters_are_its_own_over_the_notebooks_and_its_data_root_names_its_spec():
    smoke = profiles.get_profile("smoke")
    params = smoke.parameters("06_per_dimension_ap")
    assert {k: params[k] for k in ("profile", "seed")} == {"profile": "smoke", "seed": smoke.seed}
    assert {k: v for k, v in params.items() if k not in ("profile", "seed", "data_root")} == \
        smoke.notebook_params["06_per_dimension_ap"]
    # The synthetic set's folder carries its spec, so that a changed spec never reuses it.
    spec = smoke.synthetic
    assert params["data_root"] == str(smoke.default_data_root())
    assert smoke.default_data_root().name == \
        f"synthetic-n{spec.images_per_task}-px{spec.size}-seed{spec.seed}"
    assert smoke.parameters("01_data", "/given")["data_root"] == "/given"  # a given root wins
    with pytest.raises(KeyError, match="choose one of smoke"):
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
    monkeypatch.setattr(profiles, "HOME", tmp_path)
    path = results.record("smoke", "99_test", {"a": np.float32(0.5), "b": np.arange(3), "c": math.nan,
                                               "d": {"e": (np.int64(2),)}})
    assert path == tmp_path / "results" / "smoke" / "99_test" / "numbers.json"
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2], "c": None, "d": {"e": [2]}}
    assert results.load("smoke", "99_test")["b"] == [0, 1, 2]
    with pytest.raises(FileNotFoundError, match="--only 98"):
        results.load("smoke", "98_missing")


def test_every_profile_parameter_is_declared_by_its_notebook():
    from replication.book import reproduce

    declared = {source.stem: set(reproduce.declared_parameters(source)) for source in reproduce.list_notebooks()}
    for profile in profiles.PROFILES.values():
        for stem, names in declared.items():
            injected = set(profile.parameters(stem))
            assert injected <= names, (profile.name, stem, injected - names)


def test_the_preprocessing_experiments_and_the_normalisation_mode_per_profile():
    from replication.learning import normalisation

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

    from replication.book import reproduce

    smoke = profiles.get_profile("smoke")
    for source in reproduce.list_notebooks():
        cell = [c for c in jupytext.read(source).cells
                if "parameters" in c.get("metadata", {}).get("tags", [])][0]
        defaults: dict = {}
        exec(cell.source, defaults)
        injected = {k: v for k, v in smoke.parameters(source.stem).items() if k != "data_root"}
        assert {k: defaults[k] for k in injected} == injected, source.stem


def _parameters_cell(source):
    import jupytext

    return [c for c in jupytext.read(source).cells
            if "parameters" in c.get("metadata", {}).get("tags", [])][0]


def test_papermill_reads_every_parameter_a_notebook_declares():
    """papermill parses the parameters cell line by line (a second ``=`` on a line, even in a
    comment, makes it skip the line) and warns of any injected name it did not find there."""
    from papermill.translators import PythonTranslator

    from replication.book import reproduce

    for source in reproduce.list_notebooks():
        parsed = [p.name for p in PythonTranslator.inspect(_parameters_cell(source))]
        assert parsed == reproduce.declared_parameters(source), source.stem


def test_no_notebook_names_a_base_net_outside_its_parameters_cell():
    """A base net added to the registry reaches every chapter: the notebooks' code takes the
    nets from ``experiments.backbone_names()`` and the doubleNet's pair from
    ``experiments.DOUBLENET_WEIGHTS``, never by name."""
    import jupytext

    from replication.book import reproduce
    from replication.nets import registry

    for source in reproduce.list_notebooks():
        code = "\n".join(c.source for c in jupytext.read(source).cells
                         if c.cell_type == "code"
                         and "parameters" not in c.get("metadata", {}).get("tags", []))
        named = [name for name in registry.names() if name in code]
        assert not named, (source.stem, named)


def test_the_weights_parameter_names_registered_nets_in_every_model_notebook():
    from replication.book import reproduce
    from replication.nets import registry

    for source in reproduce.list_notebooks():
        defaults: dict = {}
        exec(_parameters_cell(source).source, defaults)
        # One mapping, not a parameter per net (which a new net would have to add).
        assert not [f"{net}_weights" for net in registry.names() if f"{net}_weights" in defaults]
        if "weights" in defaults:
            assert set(defaults["weights"]) <= set(registry.names()), source.stem
            assert all(path == "" for path in defaults["weights"].values()), source.stem
