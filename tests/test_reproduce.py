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
    assert every[0].stem == "00_pretraining" and every[1].stem == "01_data"
    assert reproduce.list_notebooks(["01"]) == [every[1]]
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
    # Papermill's record of where it read and wrote names no machine folder it need not.
    assert executed.metadata.papermill["input_path"] == "42_broken.py"
    assert str(tmp_path) not in json.dumps(executed.metadata.papermill["input_path"])


def test_dependencies_name_notebooks_and_follow_those_not_chosen():
    every = reproduce.list_notebooks()
    numbers = {source.stem.split("_")[0] for source in every}
    for notebook, before in reproduce.DEPENDS_ON.items():
        assert notebook in numbers and set(before) <= numbers, (notebook, before)
    needs = reproduce.dependencies(every)
    assert needs["05_dual_channel"] == {"04_screening", "06_per_dimension_ap"}
    assert needs["01_data"] == set() and needs["00_pretraining"] == set()
    # Every chapter that loads the pretrained base nets waits for chapter 0.
    assert needs["02_resolution"] == {"00_pretraining"} == needs["04_screening"]
    by_number = {source.stem.split("_")[0]: source for source in every}
    # --only 03 06: what they need ran before (or not); --only 04 05: 05 waits for 04 through 06.
    assert reproduce.dependencies([by_number["03"], by_number["06"]]) == {
        "03_augmentation": set(), "06_per_dimension_ap": set()}
    assert reproduce.dependencies([by_number["04"], by_number["05"]])["05_dual_channel"] == {
        "04_screening"}


def test_schedule_order_puts_each_notebook_after_what_it_needs_longest_chain_first():
    every = reproduce.list_notebooks()
    needs = reproduce.dependencies(every)
    for estimates in ({}, {"02_resolution": 500.0}):
        order = [source.stem for source in reproduce.schedule_order(every, estimates)]
        assert sorted(order) == [source.stem for source in every]
        assert all(order.index(before) < order.index(stem)
                   for stem, befores in needs.items() for before in befores)
    # One notebook per unit: 00 heads the longest chain (00, 04, 06, then 05, 07 or 08).
    assert reproduce.schedule_order(every)[0].stem == "00_pretraining"
    # Recorded seconds decide: a long 01 goes first.
    assert reproduce.schedule_order(every, {"01_data": 5000.0})[0].stem == "01_data"


def test_scheduled_notebooks_respect_the_jobs_limit_and_a_failure_stops_only_its_dependents(
        tmp_path, monkeypatch):
    """The scheduler with a stand-in for the notebook process: at most the limit at a time (the
    jobs file lowers it), each after its dependencies, a failure's dependents not run, the
    independent ones run, the failure raised at the end."""
    import threading
    import time

    sources = [tmp_path / f"{n}.py" for n in ("41_first", "42_broken", "43_after", "44_free")]
    monkeypatch.setattr(reproduce, "DEPENDS_ON", {"43": ("42",), "42": ("41",)})
    jobs_file = tmp_path / "jobs"
    jobs_file.write_text("1")
    monkeypatch.setenv(reproduce.JOBS_FILE_ENV, str(jobs_file))
    lock, running, most, started = threading.Lock(), [0], [0], []

    def fake_run(profile, group, parameters, progress):
        (source,) = group
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            started.append(source.stem)
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        if source.stem == "42_broken":
            raise reproduce.NotebookFailed(source.stem, 4, "ValueError: boom", tmp_path / "x")
        return [reproduce.NotebookRun(source.stem, tmp_path / f"{source.stem}.ipynb", 0.3)]

    monkeypatch.setattr(reproduce, "_run_in_process", fake_run)
    finished = []
    with pytest.raises(reproduce.NotebookFailed) as failed:
        reproduce._run_scheduled("smoke", sources, None, False, 2, finished.append, {})
    assert (failed.value.notebook, failed.value.cell) == ("42_broken", 4)
    assert sorted(started) == ["41_first", "42_broken", "44_free"]  # 43 needs the broken one
    assert started.index("41_first") < started.index("42_broken")
    assert most[0] == 1  # the jobs file held the limit at one
    assert sorted(run.notebook for run in finished) == ["41_first", "44_free"]
    jobs_file.write_text("2")
    started.clear()
    monkeypatch.setattr(reproduce, "DEPENDS_ON", {})
    runs = reproduce._run_scheduled("smoke", [sources[0], sources[3]], None, False, 2,
                                    lambda run: None, {})
    assert most[0] == 2 and sorted(run.notebook for run in runs) == ["41_first", "44_free"]


def test_notebooks_run_in_order_in_a_child_process_and_a_failure_names_notebook_and_cell(
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
        reproduce._run_in_process("smoke", [fine, broken], lambda source: {"x": 7}, False)
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
    # (an image, Images/<task>/<name>.jpg, as label.csv names it: in the data root).
    def where(p: str) -> Path:
        return (smoke_run.default_data_root() if p.startswith("Images/") else smoke_run.home) / p

    missing = [p for p in every if Path(p).is_absolute() or not where(p).exists()]
    assert every and not missing, missing
    # Notebooks that may run at the same time (neither waits for the other, reproduce.DEPENDS_ON)
    # name no model folder in common: two processes never train the same folder.
    needs = reproduce.dependencies(reproduce.list_notebooks())

    def waits_for(stem: str) -> set[str]:
        return needs[stem] | {w for before in needs[stem] for w in waits_for(before)}

    folders = {stem: {str(Path(p).parent) for p in paths if p.endswith(".keras")}
               for stem, paths in named.items()}
    for a in folders:
        for b in folders:
            if a < b and a not in waits_for(b) and b not in waits_for(a):
                assert not folders[a] & folders[b], (a, b, folders[a] & folders[b])


@pytest.mark.slow
def test_smoke_reproduction_builds_the_book_with_every_notebook(smoke_run):
    for source in reproduce.list_notebooks():
        page = smoke_run.home / "_build" / "html" / "book" / "executed" / f"{source.stem}.html"
        assert page.exists(), page
    assert smoke_run.page("01_data").count("<img") >= 2  # the value-count figure and the sample grid
    seconds = json.loads((smoke_run.results_dir / reproduce.TIMINGS_FILE).read_text())
    assert set(seconds) == {"data", "book", *(s.stem for s in reproduce.list_notebooks())}


def test_one_job_runs_the_notebooks_in_the_books_order_where_dependencies_allow():
    order = [s.stem[:2] for s in reproduce.schedule_order(reproduce.list_notebooks(),
                                                          by_number=True)]
    assert order == ["00", "01", "02", "03", "04", "06", "05", "07", "08"]
