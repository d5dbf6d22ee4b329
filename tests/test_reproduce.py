"""The reproduction pipeline: notebook selection, failures that keep partial output, and the
smoke reproduction of every notebook into the book, in a fresh home, asserting on the numbers
each notebook records."""

import csv
import html
import json
import os
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pytest

from conftest import checkout_files
from replication.data import fashionai
from replication.book import profiles, reproduce
from replication.book.profiles import SOURCE_ROOT, get_profile
from replication.data.tasks import TASKS


def test_list_notebooks_in_order_and_by_prefix():
    every = reproduce.list_notebooks()
    assert [p.stem for p in every] == sorted(p.stem for p in every)
    assert every[0].stem == "01_data"
    assert reproduce.list_notebooks(["01"]) == [every[0]]
    with pytest.raises(ValueError, match="no notebook matches 77"):
        reproduce.list_notebooks(["77"])


def test_a_failing_notebook_names_itself_and_its_cell_and_keeps_partial_output(tmp_path):
    source = tmp_path / "42_broken.py"
    source.write_text(
        '# %% tags=["parameters"]\nx = 1\n\n# %%\nprint("before", x)\n\n# %%\nraise ValueError("boom")\n'
        '\n# %%\nprint("never")\n'
    )
    output = tmp_path / "out" / "42_broken.ipynb"
    with pytest.raises(reproduce.NotebookFailed) as failed:
        reproduce.run_notebook(source, {"x": 7}, output, progress=False)
    message = str(failed.value)
    assert "42_broken" in message and "ValueError: boom" in message and str(output) in message
    # In [1] parameters, In [2] injected parameters, In [3] print, In [4] the raising cell.
    assert failed.value.cell == 4 and 'In [4] (raise ValueError("boom"))' in message
    executed = nbformat.read(output, as_version=4)
    texts = [o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert "before 7\n" in texts  # the injected parameter reached the notebook, output kept


def test_every_notebook_is_in_one_group_of_the_parallel_run():
    """A new notebook must be placed in reproduce.GROUPS (or deliberately left to run after them)."""
    every = reproduce.list_notebooks()
    groups, after = reproduce.group_notebooks(every)
    assert sorted(s.stem for group in groups for s in group) == [s.stem for s in every] and not after
    groups, after = reproduce.group_notebooks([every[2], every[5]])  # --only 03 06
    assert groups == [[every[2]], [every[5]]] and after == []


def test_a_group_runs_in_order_in_its_own_process_and_a_failure_names_notebook_and_cell(
        tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setattr(reproduce, "HOME", home)  # the child writes there, its kernels see it
    fine = tmp_path / "41_fine.py"
    fine.write_text('# %% tags=["parameters"]\nx = 1\n\n# %%\nimport os\n'
                    'print(os.environ["REPLICATION_HOME"], x)\n')
    broken = tmp_path / "42_broken.py"
    broken.write_text('# %% tags=["parameters"]\nx = 1\n\n# %%\nprint(x)\n\n# %%\n'
                      'raise ValueError("boom")\n')
    with pytest.raises(reproduce.NotebookFailed) as failed:
        reproduce._run_group_process("smoke", [fine, broken], lambda source: {"x": 7}, False)
    assert (failed.value.notebook, failed.value.cell) == ("42_broken", 4)
    assert "ValueError: boom" in str(failed.value)
    executed = nbformat.read(home / "book" / "executed" / "41_fine.ipynb", as_version=4)
    texts = [o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert f"{home} 7\n" in texts
    assert (home / "book" / "executed" / "42_broken.ipynb").exists()  # partial output kept


def test_book_sources_are_copied_into_a_separate_home_and_left_alone_in_the_repository(tmp_path):
    reproduce.copy_book_sources(tmp_path)
    for name in ("_toc.yml", "intro.md"):
        assert (tmp_path / "book" / name).read_bytes() == (reproduce.BOOK_SOURCES / name).read_bytes()
    assert (tmp_path / "_config.yml").read_bytes() == reproduce.CONFIG.read_bytes()
    assert not (tmp_path / "book" / "executed").exists()  # output, never copied as a source
    before = checkout_files()
    reproduce.copy_book_sources(SOURCE_ROOT)  # the README's default: home is the repository
    assert checkout_files() == before


@dataclass(frozen=True)
class SmokeRun:
    """The smoke reproduction's home and profile (whose paths point into that home)."""

    home: Path
    profile: profiles.Profile
    checkout_before: dict
    checkout_after: dict

    def __getattr__(self, name):  # results_dir, default_data_root(), parameters(), ...
        if name.startswith("__") or name == "profile":
            raise AttributeError(name)
        return getattr(self.profile, name)

    def page(self, notebook: str) -> str:
        return (self.home / "_build" / "html" / "book" / "executed" / f"{notebook}.html").read_text()


@pytest.fixture(scope="module")
def smoke_run(smoke_reproduction, session_notes):
    """The README's reproduction (smoke profile, every notebook, the book), run once in a fresh
    home (conftest starts it in the background): it renders its own data and trains its own
    models, so it cannot pass on what an earlier run left in the checkout, and it must write
    nothing there."""
    assert smoke_reproduction is not None  # conftest starts it whenever this fixture is used
    status = smoke_reproduction.wait()
    session_notes.append(smoke_reproduction.summary())
    assert status == 0, smoke_reproduction.output()
    home = smoke_reproduction.home
    with pytest.MonkeyPatch.context() as patch:  # the in-process readers look in the same home
        patch.setattr(profiles, "HOME", home)
        yield SmokeRun(home, get_profile("smoke"), smoke_reproduction.before,
                       smoke_reproduction.after)


def _paths_in(value) -> list[str]:
    """Every absolute path a numbers.json names (models, answer files, truth files)."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in _paths_in(v)]
    if isinstance(value, list):
        return [p for v in value for p in _paths_in(v)]
    return [value] if isinstance(value, str) and value.startswith(os.sep) else []


@pytest.mark.slow
def test_smoke_reproduction_runs_in_its_own_home_and_writes_nothing_into_the_checkout(smoke_run):
    added = sorted(set(smoke_run.checkout_after) - set(smoke_run.checkout_before))
    changed = sorted(p for p in smoke_run.checkout_before
                     if smoke_run.checkout_after.get(p) != smoke_run.checkout_before[p])
    assert (added, changed) == ([], []), f"the run wrote into the checkout: {added[:20]} {changed[:20]}"
    assert smoke_run.default_data_root().is_relative_to(smoke_run.home)
    assert (smoke_run.default_data_root() / fashionai.LABEL_CSV).exists()
    # Every model, answer and truth file the notebooks name was made by this run, in its home.
    named = {source.stem: _paths_in(json.loads((smoke_run.results_dir / source.stem / "numbers.json").read_text()))
             for source in reproduce.list_notebooks()}
    every = [path for paths in named.values() for path in paths]
    assert every and all(Path(p).is_relative_to(smoke_run.home) and Path(p).exists() for p in every), every
    # The groups that ran at the same time trained no model folder in common (reproduce.GROUPS).
    groups, _ = reproduce.group_notebooks(reproduce.list_notebooks())
    folders = [{str(Path(p).parent) for s in group for p in named[s.stem] if p.endswith(".keras")}
               for group in groups]
    assert all(not (a & b) for i, a in enumerate(folders) for b in folders[i + 1:]), folders


@pytest.mark.slow
def test_smoke_reproduction_builds_the_book_with_every_notebook(smoke_run):
    for source in reproduce.list_notebooks():
        page = smoke_run.home / "_build" / "html" / "book" / "executed" / f"{source.stem}.html"
        assert page.exists(), page
    assert smoke_run.page("01_data").count("<img") >= 2  # the value-count figure and the sample grid
    seconds = json.loads((smoke_run.results_dir / reproduce.TIMINGS_FILE).read_text())
    assert set(seconds) == {"data", "book", *(s.stem for s in reproduce.list_notebooks())}


@pytest.mark.slow
def test_notebook_01_records_the_numbers_of_the_data(smoke_run):
    numbers = json.loads((smoke_run.results_dir / "01_data" / "numbers.json").read_text())
    root = smoke_run.default_data_root()
    rows, problems = fashionai.read_labels(root)
    spec = smoke_run.synthetic
    assert numbers["rows"] == len(rows) == 8 * spec.images_per_task and numbers["skipped"] == 0
    for task in TASKS:
        expected = np.bincount([r.value for r in rows if r.task == task.key], minlength=task.n_values)
        assert numbers["tasks"][task.key]["values"] == expected.tolist()
        assert numbers["tasks"][task.key]["maybe_rows"] == sum(r.has_maybe for r in rows if r.task == task.key)
        flat_share = numbers["tasks"][task.key]["flat_share"]
        assert 0.0 <= flat_share <= 1.0
        if task.level == "length":
            assert 0.0 < flat_share < 1.0  # both flat-lays and on-model images
    assert numbers["m_rate"] == pytest.approx(np.mean([r.has_maybe for r in rows]))

    # The channel statistics, recomputed here from the pixels of the training split.
    train, val = fashionai.stratified_split(rows, val_fraction=numbers["split"]["val_fraction"],
                                            seed=numbers["split"]["seed"])
    assert (numbers["split"]["train"], numbers["split"]["val"]) == (len(train), len(val))
    pixels = np.concatenate([np.asarray(fashionai.load_image(root / r.image), dtype=np.float64).reshape(-1, 3)
                             for r in train]) / 255
    stats = numbers["channel_stats"]
    assert stats["n_images"] == len(train) and stats["n_pixels"] == len(pixels)
    np.testing.assert_allclose(stats["mean"], pixels.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(stats["var"], pixels.var(axis=0), rtol=1e-9)
    np.testing.assert_allclose(stats["std"], pixels.std(axis=0), rtol=1e-9)
    for name in ("value_counts", "samples"):
        assert (smoke_run.results_dir / "01_data" / f"{name}.png").stat().st_size > 10_000


def _numbers(smoke_run, notebook: str) -> dict:
    return json.loads((smoke_run.results_dir / notebook / "numbers.json").read_text())


def _submission(smoke_run) -> dict:
    """Notebook 08's answer.csv, scored again, independently, against its label file."""
    from replication.data import metric

    folder = smoke_run.results_dir / "08_doublenet"
    return metric.evaluate_files(folder / "Annotations" / "label.csv", folder / "answer.csv")


def _same_scores(recorded: dict, rescored: dict) -> None:
    """A recorded score (overall and per dimension) equals the rescored submission's: the same
    doubleNet, flip TTA, weights 0.5/0.5, whose probabilities each notebook blends again (sums
    in another order: APs to 1e-6)."""
    assert recorded["mAP"] == pytest.approx(rescored["mAP"], abs=1e-6)
    assert recorded["acc"] == pytest.approx(rescored["acc"], abs=1e-12)
    for task, entry in rescored["tasks"].items():
        assert recorded["tasks"][task]["ap"] == pytest.approx(entry["ap"], abs=1e-6), task
        assert (recorded["tasks"][task]["acc"], recorded["tasks"][task]["n"]) == pytest.approx(
            (entry["acc"], entry["n"]), abs=1e-12), task


@pytest.mark.slow
def test_notebook_06_records_the_doublenet_ap_per_dimension_and_its_verdicts(smoke_run):
    numbers = _numbers(smoke_run, "06_per_dimension_ap")
    _same_scores(numbers, _submission(smoke_run))
    aps = {t.short: numbers["tasks"][t.key]["ap"] for t in TASKS}
    assert all(0.0 <= ap <= 1.0 for ap in aps.values())
    assert numbers["mAP"] == pytest.approx(np.mean(list(aps.values())))
    for level in ("design", "length"):
        assert numbers["level_mAP"][level] == pytest.approx(
            np.mean([numbers["tasks"][t.key]["ap"] for t in TASKS if t.level == level]))
    assert sum(numbers["tasks"][t.key]["n"] for t in TASKS) == numbers["val_images"]
    # The verdicts (paper §4.2: most dimensions above 95 %, lapel and neck lowest), recomputed.
    claims = numbers["claims"]
    above = sum(ap > 0.95 for ap in aps.values())
    lowest = sorted(sorted(aps, key=aps.get)[:2])
    assert claims == {"dimensions_above_95": above, "most_above_95": above > len(aps) / 2,
                      "two_lowest": lowest, "lapel_and_neck_lowest": lowest == ["lapel", "neck"]}
    for path in numbers["models"].values():
        assert Path(path).exists()


@pytest.mark.slow
def test_notebook_07_and_08_agree_with_an_independent_scoring_of_the_submission(smoke_run):
    from replication.book import experiments

    base = _numbers(smoke_run, "07_base_nets")
    assert set(base["models"]) == {"inception_v4", "inception_resnet_v2", "doublenet"}
    doublenet = _numbers(smoke_run, "08_doublenet")
    rescored = _submission(smoke_run)
    assert rescored["mAP"] == pytest.approx(doublenet["submission"]["mAP"], abs=1e-12)
    assert rescored["acc"] == pytest.approx(doublenet["submission"]["acc"], abs=1e-12)
    assert sum(t["n"] for t in rescored["tasks"].values()) == doublenet["submission"]["rows"] \
        == doublenet["val_images"] == base["val_images"]
    # The same doubleNet (flip TTA, 0.5/0.5) in notebooks 07 and 08.
    _same_scores(base["models"]["doublenet"], rescored)
    assert doublenet["ensemble_sweep"]["0.5"]["mAP"] == pytest.approx(rescored["mAP"], abs=1e-6)
    # w = 1 is Inception-v4 alone, w = 0 InceptionResNet-v2 alone (both with flip TTA), and
    # 08's flip-on rows are 07's single nets.
    tta = doublenet["flip_tta"]
    shown = {net: experiments.display_name(net) for net in base["models"]}
    for w, net in (("1.0", "inception_v4"), ("0.0", "inception_resnet_v2")):
        assert doublenet["ensemble_sweep"][w]["mAP"] == pytest.approx(base["models"][net]["mAP"], abs=1e-6)
    for net in base["models"]:
        for key in ("acc", "mAP"):
            assert tta[f"{shown[net]}/on"][key] == pytest.approx(base["models"][net][key], abs=1e-9)

    # 07's verdicts (paper §4.3: the doubleNet is the best of the three), recomputed.
    singles = [net for net in base["models"] if net != "doublenet"]
    assert base["claims"] == {
        f"doublenet_best_{key}": base["models"]["doublenet"][key] >= max(base["models"][n][key] for n in singles)
        for key in ("acc", "mAP")}
    # 08's verdicts (paper §3.4: flip TTA helps, w = 0.5 is a good weight), recomputed.
    sweep = doublenet["ensemble_sweep"]
    weights = sorted(sweep, key=float)
    assert weights == [f"{w / 10:.1f}" for w in range(11)]
    best_w = float(max(weights, key=lambda w: (sweep[w]["mAP"], -float(w))))  # the first maximum
    assert doublenet["best_w"] == best_w
    assert doublenet["claims"] == {
        "flip_tta_helps": {net: tta[f"{shown[net]}/on"]["mAP"] >= tta[f"{shown[net]}/off"]["mAP"]
                           for net in base["models"]},
        "best_w_within_0.2_of_0.5": abs(best_w - 0.5) <= 0.2}


def _rescored(numbers: dict, entry: dict) -> dict:
    """A size's or an arm's numbers scored again, independently, from the files the notebook wrote."""
    from replication.data import metric

    return metric.evaluate_files(numbers["truth"], entry["answer"])


def _run_config(model: str) -> dict:
    """The configuration a model trained under (its ``state.json``), as ``training.train`` wrote it."""
    state = json.loads((Path(model).parent / "state.json").read_text())
    assert state["completed_stages"] == len(state["config"]["schedule"])  # finished, not partial
    return state["config"]


@pytest.mark.slow
def test_notebook_02_records_the_resolution_sweep(smoke_run):
    numbers = json.loads((smoke_run.results_dir / "02_resolution" / "numbers.json").read_text())
    params = smoke_run.parameters("02_resolution")
    sizes = sorted(params["image_sizes"])
    assert [int(s) for s in numbers["sizes"]] == sizes and len(sizes) >= 2
    maps, accs, speeds = {}, {}, {}
    configs = []
    for size in sizes:
        entry = numbers["sizes"][str(size)]
        assert 0.0 <= entry["acc"] <= 1.0 and 0.0 <= entry["mAP"] <= 1.0
        assert entry["train_images_per_second"] > 0 and entry["inference_images_per_second"] > 0
        rescored = _rescored(numbers, entry)
        assert rescored["mAP"] == pytest.approx(entry["mAP"], abs=1e-6)
        assert rescored["acc"] == pytest.approx(entry["acc"], abs=1e-12)
        assert sum(t["n"] for t in rescored["tasks"].values()) == numbers["val_images"]
        config = _run_config(entry["model"])
        assert config["spec"]["image_size"] == size and config["spec"]["level"] == numbers["level"]
        speed = json.loads((Path(entry["model"]).parent / "speed.json").read_text())
        assert speed["train_images_per_second"] == pytest.approx(entry["train_images_per_second"])
        configs.append(config)
        maps[size], accs[size], speeds[size] = entry["mAP"], entry["acc"], entry["train_images_per_second"]
    # One model, one budget: only the input size differs between the runs.
    for config in configs:
        assert {k: v for k, v in config["spec"].items() if k != "image_size"} == \
            {k: v for k, v in configs[0]["spec"].items() if k != "image_size"}
        assert (config["schedule"], config["seed"], config["batch_size"], config["train_data"]) == (
            configs[0]["schedule"], configs[0]["seed"], configs[0]["batch_size"], configs[0]["train_data"])
    assert configs[0]["schedule"] == numbers["schedule"] == params["schedule"]
    # The verdicts follow from the numbers.
    small, large = sizes[0], sizes[-1]
    claims = numbers["claims"]
    assert claims["mAP_rises_with_size"] == (maps[large] > maps[small])
    assert claims["acc_rises_with_size"] == (accs[large] > accs[small])
    assert claims["training_slows_with_size"] == (speeds[large] < speeds[small])
    assert numbers["best_size_by_mAP"] == max(sizes, key=lambda s: (maps[s], -sizes.index(s)))
    assert claims["largest_size_best_mAP"] == (numbers["best_size_by_mAP"] == large)
    gap = numbers["mAP_gap_largest_minus_smallest"]
    assert gap["gap"] == pytest.approx(maps[large] - maps[small], abs=1e-9)
    assert gap["low"] <= gap["high"]
    assert (smoke_run.results_dir / "02_resolution" / "fig2_resolution.png").stat().st_size > 10_000
    page = smoke_run.page("02_resolution")
    assert page.count("<img") >= 1 and "a higher resolution raises accuracy" in page
    assert numbers["normalisation_description"][:40] in html.unescape(page)


@pytest.mark.slow
def test_notebook_03_records_the_augmentation_ablation(smoke_run):
    from replication.learning import augmentation

    numbers = json.loads((smoke_run.results_dir / "03_augmentation" / "numbers.json").read_text())
    expected = {"none": [], **{name: [name] for name in augmentation.PAPER_AUGMENTERS},
                "all": list(augmentation.PAPER_AUGMENTERS),
                "all + crop": [*augmentation.PAPER_AUGMENTERS, "crop"]}
    assert {arm: entry["augmenters"] for arm, entry in numbers["arms"].items()} == expected
    configs = {}
    for arm, entry in numbers["arms"].items():
        assert 0.0 <= entry["acc"] <= 1.0 and 0.0 <= entry["mAP"] <= 1.0
        rescored = _rescored(numbers, entry)
        assert rescored["mAP"] == pytest.approx(entry["mAP"], abs=1e-6)
        assert rescored["acc"] == pytest.approx(entry["acc"], abs=1e-12)
        config = _run_config(entry["model"])
        assert sorted(config["spec"]["augment"]) == sorted(expected[arm])
        if expected[arm]:  # an unaugmented model keeps the default engine
            assert config["spec"]["augment_engine"] == numbers["augment_engine"]
        configs[arm] = config
    assert len({Path(e["model"]).parent for e in numbers["arms"].values()}) == len(expected)
    # The same model and budget in every arm: only the augmenters differ.
    base = configs["none"]
    for config in configs.values():
        assert {k: v for k, v in config["spec"].items() if k not in ("augment", "augment_engine")} == \
            {k: v for k, v in base["spec"].items() if k not in ("augment", "augment_engine")}
        assert (config["schedule"], config["seed"], config["batch_size"], config["train_data"],
                config["val_data"]) == (base["schedule"], base["seed"], base["batch_size"],
                                        base["train_data"], base["val_data"])
    assert base["spec"]["image_size"] == numbers["image_size"]
    # The verdicts follow from the numbers.
    arms = numbers["arms"]
    singles = list(augmentation.PAPER_AUGMENTERS)
    claims = numbers["claims"]
    assert claims["augmentation_helps_mAP"] == (arms["all"]["mAP"] > arms["none"]["mAP"])
    assert claims["augmentation_helps_acc"] == (arms["all"]["acc"] > arms["none"]["acc"])
    assert claims["crop_hurts_mAP"] == (arms["all + crop"]["mAP"] < arms["all"]["mAP"])
    assert claims["crop_hurts_acc"] == (arms["all + crop"]["acc"] < arms["all"]["acc"])
    assert claims["combination_beats_each_alone"] == (
        arms["all"]["mAP"] > max(arms[s]["mAP"] for s in singles))
    assert arms[numbers["best_single"]]["mAP"] == max(arms[s]["mAP"] for s in singles)
    for claim, gap in numbers["mAP_gaps"].items():
        first, second = gap["arms"]
        assert gap["gap"] == pytest.approx(arms[first]["mAP"] - arms[second]["mAP"], abs=1e-9)
        assert gap["low"] <= gap["high"] and 0.0 <= gap["share_positive"] <= 1.0
    # The "none" arm is notebook 02's model at the same size (one configuration, one folder),
    # and it scores the same in both chapters.
    sweep = json.loads((smoke_run.results_dir / "02_resolution" / "numbers.json").read_text())
    same = sweep["sizes"][str(numbers["image_size"])]
    assert same["model"] == arms["none"]["model"]
    assert (same["acc"], same["mAP"]) == pytest.approx((arms["none"]["acc"], arms["none"]["mAP"]), abs=1e-12)
    folder = smoke_run.results_dir / "03_augmentation"
    for name in ("augmenter_samples", "ablation"):
        assert (folder / f"{name}.png").stat().st_size > 10_000
    page = smoke_run.page("03_augmentation")
    assert page.count("<img") >= 2 and "adding Crop hurts" in page and "augmentation helps" in page


@pytest.mark.slow
def test_notebook_04_scores_every_screening_stage_against_truth(smoke_run):
    from replication.book import experiments
    from replication.learning import models
    from replication.screening import cascade, classifier, screen_csv
    from replication.data.tasks import get_task

    numbers = json.loads((smoke_run.results_dir / "04_screening" / "numbers.json").read_text())
    root = smoke_run.default_data_root()
    rows, _ = fashionai.read_labels(root)
    length = [r for r in rows if get_task(r.task).level == "length"]
    assert numbers["images"] == len(length) and numbers["skipped"] == 0 and numbers["has_truth"]
    # The screen CSV holds every length image, and its provenance says it screens this data
    # root as it is now; its flags are the ones chapters 5-8 read.
    flags = screen_csv.ScreenedFlatFlags.for_root(experiments.screen_csv("smoke"), root)
    screened = flags([r.image for r in length])
    assert len(flags) == len(length)
    assert numbers["summary"]["flat_lay"] == int(screened.sum())
    # The classifier decides every image unless it does no better than the cascade's majority
    # class on the validation split; then the re-screen's verdicts stay (and the CSV says so).
    check = numbers["classifier_check"]
    assert check["used"] == (check["accuracy"] > check["majority"])
    assert numbers["summary"]["classifier_used"] == check["used"]
    if check["used"]:
        assert numbers["summary"]["decided_by"] == {"classifier": len(length)}
    else:
        assert "classifier" not in numbers["summary"]["decided_by"]
    # Every stage is scored on the validation split against truth, per length dimension and
    # over all; the "all" rows recount from the CSV's per-stage columns and the truth.
    params = smoke_run.parameters("04_screening")
    _, val = fashionai.stratified_split(rows, val_fraction=params["val_fraction"], seed=params["seed"])
    val_length = {r.image for r in val} & {r.image for r in length}
    assert numbers["val_images"] == len(val_length)
    truth = models.TruthFlatFlags(root)
    with open(experiments.screen_csv("smoke"), newline="") as handle:
        table = [row for row in csv.DictReader(handle) if row["image"] in val_length]
    true_flat = truth([row["image"] for row in table])
    stages = {(s["stage"], s["task"]): s for s in numbers["stages"]}
    tasks = {get_task(r.task).short for r in length}
    assert set(stages) == {(stage, task) for stage in cascade.STAGES for task in [*tasks, "all"]}
    for stage, column in cascade.STAGE_COLUMNS.items():
        predicted = np.array([row[column] == "1" for row in table])
        entry = stages[(stage, "all")]
        assert entry["n"] == len(table)
        assert entry["tp"] == int(np.sum(predicted & true_flat))
        assert entry["accuracy"] == pytest.approx(np.mean(predicted == true_flat))
    # The rule's threshold was calibrated on those images; stage 1's verdicts follow from it.
    threshold = numbers["calibration"]["threshold"]
    assert all((float(row["body_share"]) > threshold) == (row["parser_flat"] == "0") for row in table)
    # The parser's IoU covers the body parts, the classifier records every schedule stage with
    # the paper's three numbers beside stages 1, 3 and 5.
    assert 0.0 <= numbers["parser_iou"]["mean"] <= 1.0 and "face" in numbers["parser_iou"]
    assert [c["stage"] for c in numbers["classifier"]] == list(range(1, len(params["classifier_schedule"]) + 1))
    assert {c["stage"]: c["paper_acc"] for c in numbers["classifier"] if c["paper_acc"]} == \
        classifier.PAPER_CLASSIFIER_ACCURACY
    # OpenCV's detector on the scikit-image photos: the people are found, no false alarm.
    outcomes = {p["photo"]: p["outcome"] for p in numbers["opencv_photos"]}
    assert outcomes == {"astronaut": "hit", "camera": "hit", "coffee": "correct rejection",
                        "chelsea": "correct rejection", "rocket": "correct rejection"}
    assert set(numbers["detectors_on_val"]) == {"opencv", "segmenter"}
    with open(experiments.screen_csv("smoke"), newline="") as handle:
        final = {row["image"]: row for row in csv.DictReader(handle)}
    column = "classifier_flat" if check["used"] else "rescreen_flat"
    assert all(row["flat"] == row[column] for row in final.values())
    # The verdicts of the claims follow from the recorded numbers.
    claims = {c["claim"]: c for c in numbers["claims"]}
    stage1 = [row for row in table if row["parser_flat"] == "0"]
    stage2 = [row for row in table if row["rescreen_flat"] == "0"]
    left1 = sum(truth([row["image"]])[0] for row in stage1)
    left2 = sum(truth([row["image"]])[0] for row in stage2)
    assert claims["stage 1 leaves flat-lays among its on-model images"]["agrees"] == (left1 > 0)
    assert claims["the re-screen (stage 2) removes such flat-lays"]["agrees"] == (left2 < left1)
    final_acc = numbers["classifier"][-1]["val_acc_vs_cascade"]
    assert claims["the classifier reaches accuracy 0.957"]["agrees"] == (final_acc >= 0.957)
    page = smoke_run.page("04_screening")
    assert page.count("<img") >= 4 and "the classifier reaches accuracy 0.957" in page


@pytest.mark.slow
def test_notebook_05_compares_single_and_dual_channel_per_length_dimension(smoke_run):
    from replication.book import experiments
    from replication.learning import models, training
    from replication.screening import screen_csv
    from replication.data.tasks import get_task, tasks_of_level

    params = smoke_run.parameters("05_dual_channel")
    root = smoke_run.default_data_root()
    rows, _ = fashionai.read_labels(root)
    train, _ = fashionai.stratified_split(rows, val_fraction=params["val_fraction"], seed=params["seed"])
    train_rows = [r for r in train if get_task(r.task).level == "length"]

    numbers = json.loads((smoke_run.results_dir / "05_dual_channel" / "numbers.json").read_text())
    arms = numbers["arms"]
    assert set(arms) == {"single", "dual (truth flags)", "dual (screened flags)"}
    length = [t.key for t in tasks_of_level("length")]
    for name, arm in arms.items():
        assert set(arm["tasks"]) == set(length)
        assert arm["mAP"] == pytest.approx(np.mean([arm["tasks"][k]["ap"] for k in length]))
        assert sum(arm["tasks"][k]["n"] for k in length) == numbers["val_images"]
    # Same data and budget for every arm: the single model and each branch share the spec and the
    # schedule, the branches split the training rows between them, and the single model gets
    # the fusion's frozen-base-net epochs as a last stage of its own.
    single = _run_config(numbers["models"]["single"])
    assert single["schedule"][:len(numbers["schedule"])] == numbers["schedule"]
    assert single["schedule"][len(numbers["schedule"]):] == numbers["fusion_schedule"]
    for source in ("truth", "screened"):
        fusion = _run_config(numbers["models"][f"dual ({source} flags)"])
        # The fusion trained on exactly the single model's rows, each with its flag.
        flags = (models.TruthFlatFlags(root) if source == "truth"
                 else screen_csv.ScreenedFlatFlags.for_root(experiments.screen_csv("smoke"), root))
        assert fusion["spec"]["channels"] == "dual"
        assert single["train_data"] == training._fingerprint(train_rows, None)
        assert fusion["train_data"] == training._fingerprint(
            train_rows, flags([r.image for r in train_rows]))
        assert fusion["schedule"] == numbers["fusion_schedule"]
        branches = [_run_config(fusion["spec"][key]) for key in ("flat_model", "onmodel_model")]
        for branch in branches:
            assert branch["schedule"] == numbers["schedule"]
            assert branch["spec"] == single["spec"]
        counts = {d["split"]: d for d in numbers["domains"] if d["flags"] == source}
        assert counts["train"]["flat-lay"] + counts["train"]["on-model"] == numbers["train_images"]
        # The verdict follows from the per-dimension accuracies.
        better = [t.short for t in tasks_of_level("length")
                  if arms[f"dual ({source} flags)"]["tasks"][t.key]["acc"] > arms["single"]["tasks"][t.key]["acc"]]
        claim = numbers["claims"][source]
        assert claim["dimensions_better"] == better
        assert claim["every_dimension"] == (len(better) == len(length))
        gap = claim["acc_gap"]
        assert gap["gap"] == pytest.approx(arms[f"dual ({source} flags)"]["acc"] - arms["single"]["acc"], abs=1e-9)
    # The screened dual-channel model is the length model of chapters 6-8 (same backbone).
    later = json.loads((smoke_run.results_dir / "06_per_dimension_ap" / "numbers.json").read_text())
    backbone = numbers["backbone"]
    assert later["models"][f"length-{backbone}"] == numbers["models"]["dual (screened flags)"]
    assert (smoke_run.results_dir / "05_dual_channel" / "fig3_dual_vs_single.png").stat().st_size > 10_000
    page = smoke_run.page("05_dual_channel")
    assert page.count("<img") >= 1 and "dual-channel beats single-channel on every length dimension" in page
