"""The reproduction pipeline: notebook selection, failures that keep partial output, and the
smoke reproduction of every notebook into the book, in a fresh home, asserting on the numbers
each notebook records."""

import json
from pathlib import Path

import nbformat
import pytest

from conftest import checkout_files, paths_in
from replication.data import fashionai
from replication.book import reproduce
from replication.book.profiles import SOURCE_ROOT


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


@pytest.mark.slow
def test_smoke_reproduction_runs_in_its_own_home_and_writes_nothing_into_the_checkout(smoke_run):
    added = sorted(set(smoke_run.checkout_after) - set(smoke_run.checkout_before))
    changed = sorted(p for p in smoke_run.checkout_before
                     if smoke_run.checkout_after.get(p) != smoke_run.checkout_before[p])
    assert (added, changed) == ([], []), f"the run wrote into the checkout: {added[:20]} {changed[:20]}"
    assert smoke_run.default_data_root().is_relative_to(smoke_run.home)
    assert (smoke_run.default_data_root() / fashionai.LABEL_CSV).exists()
    # Every model, answer and truth file the notebooks name was made by this run, in its home.
    named = {source.stem: paths_in(json.loads((smoke_run.results_dir / source.stem / "numbers.json").read_text()))
             for source in reproduce.list_notebooks()}
    every = [path for paths in named.values() for path in paths]
    # Recorded relative to the home (no machine folder in any numbers.json), and there.
    assert every and all(not Path(p).is_absolute() and (smoke_run.home / p).exists() for p in every), every
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
