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
    from replication.synthetic.writer import FORMAT_VERSION

    assert smoke.default_data_root().name == \
        f"synthetic-n{spec.images_per_task}-px{spec.size}-seed{spec.seed}-v{FORMAT_VERSION}"
    # In the home, relative to it: no page shows the machine's folders.
    assert params["data_root"] == f"data/{smoke.default_data_root().name}"
    assert smoke.parameters("01_data", "/given")["data_root"] == "/given"  # a given root wins
    with pytest.raises(KeyError, match="choose one of smoke"):
        profiles.get_profile("nope")


def test_a_data_root_in_the_home_is_injected_relative_and_read_back_there(monkeypatch, tmp_path,
                                                                         synthetic_set):
    import shutil

    monkeypatch.setattr(profiles, "HOME", tmp_path)
    smoke = profiles.get_profile("smoke")
    relative = smoke.parameters("02_resolution")["data_root"]
    assert relative == f"data/{smoke.default_data_root().name}"
    shutil.copytree(synthetic_set(1, 48), smoke.default_data_root())  # as if rendered
    assert profiles.ensure_data("smoke", relative) == tmp_path / relative
    assert results.shown(tmp_path / relative / "x.csv") == f"{relative}/x.csv"
    assert results.resolve(f"{relative}/x.csv") == tmp_path / relative / "x.csv"
    assert results.shown("/elsewhere/x.csv") == "/elsewhere/x.csv"  # the user's folders as given
    # A folder that is not the profile's own is never rendered into: it must hold the data.
    with pytest.raises(FileNotFoundError, match="not a FashionAI data folder"):
        profiles.ensure_data("smoke", "data/other")


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
            # A student's run by hand loads what chapter 0 of the smoke profile writes.
            assert defaults["weights"] == profiles.pretrained_weights("smoke"), source.stem


def test_notebook_02s_training_ablations_per_profile():
    """Chapter 2's normalisation and optimizer ablations (§3.1.2 (1), §2.2): at one of the sizes
    swept, the data set's statistics against another mode, and the SGD stages of the model
    chapters after the Adam stages; in smoke and synthetic the Adam stages are the sweep's
    whole schedule, so both arms continue the sweep's model instead of training it again."""
    from replication.book import training_ablations
    from replication.learning import normalisation

    for profile in profiles.PROFILES.values():
        sweep = profile.parameters("02_resolution")
        assert sweep["ablation_size"] in sweep["image_sizes"]
        arms = sweep["normalisation_arms"]
        assert arms[0] == "dataset" and len(set(arms)) == len(arms) == 2
        assert set(arms) <= set(normalisation.MODES)
        assert 1 <= sweep["convergence_epoch"] <= sum(s["epochs"] for s in sweep["schedule"])
        schedules = training_ablations.optimizer_arms(sweep["schedule"], sweep["sgd_stages"])
        assert sum(s["epochs"] for s in schedules["adam then sgd"]) == \
            sum(s["epochs"] for s in schedules["adam alone"])
        # The model chapters' SGD stages (smoke's have none: it borrows the synthetic profile's).
        chapter_sgd = [s for s in profile.parameters("06_per_dimension_ap")["schedule"]
                       if s["optimizer"] == "sgd"]
        assert sweep["sgd_stages"] == (chapter_sgd or [s for s in profiles.FINETUNE_SCHEDULE
                                                       if s["optimizer"] == "sgd"])
        if chapter_sgd:  # the sweep's own schedule is the "adam then sgd" arm
            assert schedules["adam then sgd"] == sweep["schedule"]
        else:
            assert schedules["adam alone"][:len(sweep["schedule"])] == sweep["schedule"]
    # The paper's own schedule is the "adam then sgd" arm of the paper profile.
    paper = profiles.get_profile("paper").parameters("02_resolution")
    assert training_ablations.optimizer_arms(paper["schedule"], paper["sgd_stages"])[
        "adam then sgd"] == paper["schedule"]
