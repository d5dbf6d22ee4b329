"""The reproduction pipeline: notebook selection, failures that keep partial output, and the
smoke reproduction of every notebook into the book, asserting on the numbers each records."""

import json
import subprocess
from pathlib import Path
import sys

import nbformat
import numpy as np
import pytest

from replication import fashionai, reproduce
from replication.profiles import REPO_ROOT, get_profile
from replication.tasks import TASKS


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


@pytest.fixture(scope="module")
def smoke_run():
    """Run the README's reproduction (smoke profile, every notebook, the book) once."""
    done = subprocess.run([sys.executable, "-m", "replication", "reproduce", "--profile", "smoke",
                           "--no-progress"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-5000:]
    return get_profile("smoke")


@pytest.mark.slow
def test_smoke_reproduction_builds_the_book_with_every_notebook(smoke_run):
    for source in reproduce.list_notebooks():
        page = REPO_ROOT / "_build" / "html" / "book" / "executed" / f"{source.stem}.html"
        assert page.exists(), page
    page = (REPO_ROOT / "_build" / "html" / "book" / "executed" / "01_data.html").read_text()
    assert page.count("<img") >= 2  # the value-count figure and the sample grid


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


@pytest.mark.slow
def test_notebook_06_records_the_doublenet_ap_per_dimension(smoke_run):
    numbers = json.loads((smoke_run.results_dir / "06_per_dimension_ap" / "numbers.json").read_text())
    aps = [numbers["tasks"][t.key]["ap"] for t in TASKS]
    assert all(0.0 <= ap <= 1.0 for ap in aps)
    assert numbers["mAP"] == pytest.approx(np.mean(aps))
    for level in ("design", "length"):
        assert numbers["level_mAP"][level] == pytest.approx(
            np.mean([numbers["tasks"][t.key]["ap"] for t in TASKS if t.level == level]))
    assert sum(numbers["tasks"][t.key]["n"] for t in TASKS) == numbers["val_images"]
    assert numbers["claims"]["dimensions_above_95"] == sum(ap > 0.95 for ap in aps)
    for path in numbers["models"].values():
        assert Path(path).exists()


@pytest.mark.slow
def test_notebook_07_and_08_agree_with_an_independent_scoring_of_the_submission(smoke_run):
    from replication import metric

    base = json.loads((smoke_run.results_dir / "07_base_nets" / "numbers.json").read_text())
    assert set(base["models"]) == {"inception_v4", "inception_resnet_v2", "doublenet"}
    doublenet = json.loads((smoke_run.results_dir / "08_doublenet" / "numbers.json").read_text())
    folder = smoke_run.results_dir / "08_doublenet"
    rescored = metric.evaluate_files(folder / "Annotations" / "label.csv", folder / "answer.csv")
    assert rescored["mAP"] == pytest.approx(doublenet["submission"]["mAP"], abs=1e-12)
    # The same doubleNet (flip TTA, 0.5/0.5) in notebooks 06, 07 and 08.
    assert base["models"]["doublenet"]["mAP"] == pytest.approx(rescored["mAP"], abs=1e-6)
    assert doublenet["ensemble_sweep"]["0.5"]["mAP"] == pytest.approx(rescored["mAP"], abs=1e-6)
    first = json.loads((smoke_run.results_dir / "06_per_dimension_ap" / "numbers.json").read_text())
    assert first["mAP"] == pytest.approx(rescored["mAP"], abs=1e-6)
    # w = 1 is Inception-v4 alone, w = 0 InceptionResNet-v2 alone (both with flip TTA).
    assert doublenet["ensemble_sweep"]["1.0"]["mAP"] == pytest.approx(base["models"]["inception_v4"]["mAP"], abs=1e-6)
    assert doublenet["ensemble_sweep"]["0.0"]["mAP"] == pytest.approx(
        base["models"]["inception_resnet_v2"]["mAP"], abs=1e-6)
