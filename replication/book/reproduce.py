"""Run the notebooks in order with papermill and build the book (DESIGN §5).

``notebooks/NN_name.py`` (py:percent) is read with jupytext, executed by papermill with the
profile's parameters injected after its ``parameters`` cell, and written to
``book/executed/NN_name.ipynb``; Jupyter Book 1 then builds ``_build/html`` from those
executed notebooks without executing anything itself (``execute_notebooks: off``).

The sources (notebooks, the book's own pages, ``_toc.yml``, ``_config.yml``) are read from the
repository, ``profiles.SOURCE_ROOT``; everything a run writes goes under ``profiles.HOME``
(``$REPLICATION_HOME``, by default the repository itself). When the two differ, the book's
sources are copied into the home before the build, since Jupyter Book wants the table of
contents, the pages and the executed notebooks under one root.

With ``jobs > 1`` (``$REPLICATION_JOBS``; default 1) up to that many notebooks run at the same
time, each in its own process, in the order :data:`DEPENDS_ON` allows: a notebook starts once the
notebooks it reads from or shares trained models with have finished, the one with the longest
chain of work still behind it first (:func:`schedule_order`). A notebook's numbers do not depend
on it: each reads only what its dependencies finished writing (a smoke run with 2 gave the same
numbers.json as with 1, apart from the measured speeds). A smoke notebook keeps about one core
busy, so on 2 cores 2 jobs halve the wall time of the independent work; on one GPU keep 1, as
each process would claim the device's memory. ``$REPLICATION_JOBS_FILE`` names a file whose
number, while it exists, lowers the limit for the notebooks that start from then on: the test
suite runs one notebook at a time while its unit tests use the other core, then two.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from replication.book import provenance
from replication.book.profiles import (HOME, HOME_ENV, SOURCE_ROOT, ensure_data, get_profile,
                                       in_home)

NOTEBOOKS_DIR = SOURCE_ROOT / "notebooks"
BOOK_SOURCES = SOURCE_ROOT / "book"
"""The book's own pages and its ``_toc.yml`` (``book/executed/`` in it is output, not source)."""
CONFIG = SOURCE_ROOT / "_config.yml"
EXECUTED_DIR = HOME / "book" / "executed"
PRETRAINING = "00_pretraining"
"""Chapter 0: it writes the pretrained base nets the synthetic profiles' later chapters load."""
TIMINGS_FILE = "reproduce_seconds.json"
"""Written to ``results/<profile>/``: the wall-clock seconds of each notebook and of the build."""
KERNEL = "python3"
JOBS_ENV = "REPLICATION_JOBS"
"""Environment variable: how many groups of notebooks run at the same time (default 1)."""
JOBS_FILE_ENV = "REPLICATION_JOBS_FILE"
"""Environment variable: a file holding a number that, while the file exists, lowers the jobs
limit for the notebooks that start from then on (see the module docstring)."""
DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "02": ("00",),        # loads 00's pretrained base nets; its normalisation arm is 00's model
    "03": ("02",),        # 03's unaugmented arm is a model 02's sweep trains (same folder)
    "04": ("00",),        # its classifier loads 00's pretrained base net
    "06": ("04",),        # reads 04's screen CSV (the flags of its dual-channel length models)
    "05": ("04", "06"),   # reads 04's screen CSV; its screened dual-channel arm is 06's model
    "07": ("06",),        # reuses 06's trained models
    "08": ("06",),        # reuses 06's trained models
}
"""Notebook (by number) -> the notebooks that must finish before it starts: those whose files it
reads, and those that train a model folder it reuses (two processes must never train the same
folder). 01 and 02 read only the data, which is rendered before any notebook starts. A notebook
not named here depends on nothing."""


class NotebookFailed(RuntimeError):
    """A notebook raised; the partially executed notebook was kept at ``output``."""

    def __init__(self, notebook: str, cell: int | None, error: str, output: Path, source: str = ""):
        self.notebook, self.cell, self.error, self.output = notebook, cell, error, output
        self.source = source
        where = "start-up"
        if cell is not None:  # the execution count, as "In [n]" shows it in the kept notebook
            first_line = next((line for line in source.splitlines() if line.strip()), "")
            where = f"cell In [{cell}]" + (f" ({first_line.strip()[:80]})" if first_line else "")
        super().__init__(f"notebook {notebook} failed at {where}: {error}\n"
                         f"partial output kept at {output}")


@dataclass(frozen=True)
class NotebookRun:
    notebook: str
    output: Path
    seconds: float


def list_notebooks(only: Sequence[str] | None = None) -> list[Path]:
    """The notebook sources in order; ``only`` selects by number prefix or stem (``"01"``)."""
    sources = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"))
    if not only:
        return sources
    chosen = [p for p in sources if any(p.stem == o or p.stem.split("_")[0] == o for o in only)]
    missing = [o for o in only if not any(p.stem == o or p.stem.split("_")[0] == o for p in sources)]
    if missing:
        known = ", ".join(p.stem for p in sources)
        raise ValueError(f"no notebook matches {', '.join(missing)}; notebooks: {known}")
    return chosen


def declared_parameters(source: Path) -> list[str]:
    """The names the notebook's ``parameters`` cell assigns (what a profile may inject)."""
    import jupytext

    notebook = jupytext.read(source)
    cells = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{source} needs exactly one cell tagged 'parameters', has {len(cells)}")
    names = []
    for node in ast.parse(cells[0].source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def run_notebook(source: Path, parameters: dict, output: Path, *, progress: bool = True) -> NotebookRun:
    """Execute one py:percent notebook with papermill; raise :class:`NotebookFailed` on error."""
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output.parent.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(source)
    # The kernel inherits the environment: keep TensorFlow's C++ start-up chatter and the
    # library's tqdm bars (every refresh would become a line of the page) out of the book;
    # papermill's own bar shows progress per cell in the terminal. The kernel imports this
    # repository's package and writes into this run's home, whatever the caller's setup.
    kernel_env = {"TF_CPP_MIN_LOG_LEVEL": "2", "TQDM_DISABLE": "1", HOME_ENV: str(HOME),
                  "PYTHONPATH": _python_path()}
    saved = {name: os.environ.get(name) for name in kernel_env}
    os.environ.update(kernel_env)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            notebook, str(output), parameters=parameters, kernel_name=KERNEL,
            language="python", cwd=str(HOME), progress_bar=progress, log_output=False,
            # C-level stderr (TensorFlow's start-up logging) stays in the terminal, out of the book.
            extra_arguments=["--IPKernelApp.capture_fd_output=False"],
        )
    except PapermillExecutionError as err:
        raise NotebookFailed(source.stem, err.exec_count, f"{err.ename}: {err.evalue}", output,
                             err.source) from err
    except Exception as err:  # kernel died, timeout, bad parameters cell ...
        raise NotebookFailed(source.stem, None, f"{type(err).__name__}: {err}", output) from err
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _name_paths_portably(output, source)
    return NotebookRun(source.stem, output, time.perf_counter() - start)


def _name_paths_portably(output: Path, source: Path) -> None:
    """Papermill records where it read and wrote the notebook in the notebook's metadata: the
    output's absolute path, and the whole source notebook as the "input path" when given a
    notebook object. Name the source relative to the repository and the output relative to the
    home, so that no executed notebook names the machine's folders."""
    import nbformat

    if not output.exists():  # papermill never started
        return
    notebook = nbformat.read(output, as_version=4)
    recorded = notebook.metadata.get("papermill")
    if recorded is None:
        return
    where = source.resolve()
    recorded["input_path"] = (where.relative_to(SOURCE_ROOT).as_posix()
                              if where.is_relative_to(SOURCE_ROOT) else source.name)
    recorded["output_path"] = in_home(output)
    partial = output.with_name(output.name + ".partial")
    nbformat.write(notebook, partial)
    os.replace(partial, output)


def _python_path() -> str:
    """``PYTHONPATH`` for a kernel or a child process: this repository's package first."""
    return os.pathsep.join(p for p in (str(SOURCE_ROOT), os.environ.get("PYTHONPATH")) if p)


def copy_book_sources(home: Path = HOME) -> None:
    """Copy the book's pages, ``_toc.yml`` and ``_config.yml`` into ``home`` (a no-op when the
    home is the repository): Jupyter Book builds from one root, and the run must not write into
    the repository."""
    if home.resolve() == SOURCE_ROOT:
        return
    target = home / "book"
    target.mkdir(parents=True, exist_ok=True)
    for path in BOOK_SOURCES.iterdir():
        if path.name == EXECUTED_DIR.name:
            continue
        if path.is_dir():
            shutil.copytree(path, target / path.name, dirs_exist_ok=True)
        else:
            shutil.copy2(path, target / path.name)
    shutil.copy2(CONFIG, home / CONFIG.name)


def build_book(profile: str, *, strict: bool = True) -> Path:
    """Build ``_build/html`` under the home with Jupyter Book 1 from the executed notebooks and
    the results-at-a-glance page, which it first writes from ``profile``'s claim records
    (``glance.write``); warnings are errors when ``strict``."""
    from replication.book import glance

    copy_book_sources(HOME)
    _write_skipped_pages(profile)
    pages = _toc_notebooks(HOME / "book" / "_toc.yml")
    glance.write(profile, EXECUTED_DIR,
                 chapters=[Path(name).name for name in pages if Path(name).name != glance.PAGE])
    return run_jupyter_book(HOME, strict=strict)


def run_jupyter_book(root: Path, *, strict: bool = True) -> Path:
    """Build ``<root>/_build/html`` from the book's sources under ``root`` (``book/`` with its
    ``executed/`` pages and ``_toc.yml``, and ``_config.yml``); returns its ``index.html``."""
    toc = root / "book" / "_toc.yml"
    missing = [name for name in _toc_notebooks(toc) if not any(
        (root / f"{name}{suffix}").exists() for suffix in (".ipynb", ".md"))]
    if missing:
        raise FileNotFoundError(
            "the book needs " + ", ".join(f"{m}.ipynb" for m in missing)
            + ": run `python -m replication reproduce` without --only once first"
        )
    exe = Path(sys.executable).with_name("jupyter-book")
    command = [str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book"),
               "build", str(root), "--toc", str(toc), "--config", str(root / CONFIG.name)]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {done.returncode}):\n"
                           f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return root / "_build" / "html" / "index.html"


def _write_skipped_pages(profile: str) -> None:
    """A chapter the profile does not run (``Profile.skipped``) gets a page that says why, in
    place of an executed notebook another profile may have left in the home (and the other
    chapters lose such a page that an earlier run of another profile left)."""
    skipped = get_profile(profile).skipped
    for source in list_notebooks():
        if source.stem not in skipped:
            (EXECUTED_DIR / f"{source.stem}.md").unlink(missing_ok=True)
    for stem, why in skipped.items():
        (EXECUTED_DIR / f"{stem}.ipynb").unlink(missing_ok=True)
        title = next((line.removeprefix("# # ") for line in
                      (NOTEBOOKS_DIR / f"{stem}.py").read_text(encoding="utf-8").splitlines()
                      if line.startswith("# # ")), stem)
        EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
        (EXECUTED_DIR / f"{stem}.md").write_text(
            f"# {title}\n\nThis chapter does not run under the {profile} profile: {why}.\n",
            encoding="utf-8")


def _toc_notebooks(toc: Path) -> list[str]:
    """The ``book/executed/...`` entries of the table of contents (the executed notebooks and
    the generated results page)."""
    import yaml

    names: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if str(node.get("file", "")).startswith("book/executed/"):
                names.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(toc.read_text(encoding="utf-8")))
    return names


def reproduce(profile: str = "smoke", *, only: Sequence[str] | None = None,
              data_root: str | Path | None = None, overrides: dict | None = None,
              book: bool = True, progress: bool = True, jobs: int | None = None) -> list[NotebookRun]:
    """Render data if needed, run the chosen notebooks, then build the book.

    ``overrides`` set notebook parameters over the profile's values, in every chosen notebook
    that declares them (e.g. ``{"weights": {"inception_v4": "/path/w.safetensors"}}``).
    ``data_root``, if relative, is relative to the working folder. ``jobs`` (default
    ``$REPLICATION_JOBS`` or the profile's ``jobs``): how many notebooks run at the same time (:data:`DEPENDS_ON`
    says which may). The seconds each step took are printed and recorded in
    ``results/<profile>/reproduce_seconds.json``.
    """
    chosen = get_profile(profile)
    sources = [source for source in list_notebooks(only) if source.stem not in chosen.skipped]
    jobs = int(os.environ.get(JOBS_ENV) or chosen.jobs) if jobs is None else int(jobs)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    declared = {source.stem: declared_parameters(source) for source in sources}
    unknown = sorted(set(overrides or {}) - {name for names in declared.values() for name in names})
    if unknown:
        raise ValueError(f"no chosen notebook has the parameter(s) {', '.join(unknown)}")
    estimates = _recorded_seconds(chosen.results_dir)  # before this run overwrites them
    started = _now()
    start = time.perf_counter()
    root = ensure_data(chosen, Path(data_root).absolute() if data_root else None,
                       progress=progress)
    seconds = {"data": time.perf_counter() - start}

    def parameters(source: Path) -> dict:
        values = chosen.parameters(source.stem, root)
        values.update({k: v for k, v in (overrides or {}).items() if k in declared[source.stem]})
        return values

    def finished(run: NotebookRun) -> None:
        seconds[run.notebook] = run.seconds
        _record_seconds(chosen.results_dir, seconds)  # as each notebook ends

    if jobs == 1:
        runs = []
        for source in schedule_order(sources, by_number=True):
            runs.append(_run_one(chosen.name, source, parameters(source), progress))
            finished(runs[-1])
    else:
        runs = _run_scheduled(chosen.name, sources, parameters, progress, jobs, finished,
                              estimates)
    if book:
        start = time.perf_counter()
        index = build_book(chosen.name)
        seconds["book"] = time.perf_counter() - start
        print(f"[{chosen.name}] book built in {seconds['book']:.0f} s: {index}", file=sys.stderr,
              flush=True)
    recorded = _record_seconds(chosen.results_dir, seconds)
    provenance.write(chosen.results_dir, provenance.record(
        chosen.name, started=started, finished=_now(),
        seconds=json.loads(recorded.read_text(encoding="utf-8"))))
    return sorted(runs, key=lambda run: run.notebook)


def _now() -> str:
    """The time now, UTC, ISO 8601 to the second."""
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _number(source: Path) -> str:
    return source.stem.split("_")[0]


def dependencies(sources: Sequence[Path]) -> dict[str, set[str]]:
    """Notebook stem -> the stems of the chosen notebooks it waits for: :data:`DEPENDS_ON`,
    followed through notebooks that were not chosen (``--only``: those ran before, or not)."""
    chosen = {_number(source): source.stem for source in sources}

    def needs(number: str, seen: frozenset = frozenset()) -> set[str]:
        out = set()
        for before in DEPENDS_ON.get(number, ()):
            if before in seen:
                raise ValueError(f"DEPENDS_ON has a cycle through {before}")
            out |= {before} if before in chosen else needs(before, seen | {before})
        return out

    return {stem: {chosen[n] for n in needs(number)} for number, stem in chosen.items()}


def schedule_order(sources: Sequence[Path], estimates: dict[str, float] | None = None, *,
                   by_number: bool = False) -> list[Path]:
    """The chosen notebooks in an order that runs each after its dependencies: among those
    ready, the one with the longest chain of estimated seconds still behind it (its own and its
    dependents', ``estimates`` by stem: the last run's recorded seconds, else one per notebook;
    ties by number), the priority by which :func:`_run_scheduled` picks each next notebook; or,
    ``by_number``, the lowest number (the order one job runs them in, the book's order where the
    dependencies allow)."""
    needs = dependencies(sources)
    priority = ({stem: [-ord(c) for c in stem] for stem in needs} if by_number
                else _priorities(needs, estimates or {}))
    by_stem = {source.stem: source for source in sources}
    done: set[str] = set()
    order = []
    while len(order) < len(sources):
        ready = [stem for stem in by_stem if stem not in done and needs[stem] <= done]
        stem = max(ready, key=priority.__getitem__)
        order.append(by_stem[stem])
        done.add(stem)
    return order


def _priorities(needs: dict[str, set[str]], estimates: dict[str, float]) -> dict[str, tuple]:
    """Per stem: (the estimated seconds of the longest chain from it to the end, how many
    notebooks wait on it, the lower number first)."""
    waiting = {stem: {other for other, before in needs.items() if stem in before}
               for stem in needs}
    chain: dict[str, float] = {}

    def longest(stem: str) -> float:
        if stem not in chain:
            chain[stem] = float(estimates.get(stem) or 1.0) + max(
                (longest(other) for other in waiting[stem]), default=0.0)
        return chain[stem]

    return {stem: (longest(stem), len(waiting[stem]), [-ord(c) for c in stem])
            for stem in needs}


def jobs_now(jobs: int) -> int:
    """The jobs limit for a notebook starting now: ``jobs``, lowered by the number in
    ``$REPLICATION_JOBS_FILE`` while that file exists."""
    path = os.environ.get(JOBS_FILE_ENV)
    try:
        return max(1, min(jobs, int(Path(path).read_text().strip()))) if path else jobs
    except (FileNotFoundError, ValueError):
        return jobs


def _run_scheduled(profile: str, sources: Sequence[Path], parameters, progress: bool, jobs: int,
                   finished, estimates: dict[str, float]) -> list[NotebookRun]:
    """Run the notebooks, up to ``jobs`` (:func:`jobs_now`) at a time, each in its own process,
    each as soon as its dependencies finished, the ready one of highest priority first (as in
    :func:`schedule_order`). A notebook whose dependency failed (or did not run) does not run;
    the others run on, and the first failure is raised once every running notebook has ended."""
    needs = dependencies(sources)
    priority = _priorities(needs, estimates)
    pending = sorted(sources, key=lambda source: priority[source.stem], reverse=True)
    done: set[str] = set()
    not_run: set[str] = set()  # failed, or waiting on one that did not run
    failures: list[NotebookFailed] = []
    runs: list[NotebookRun] = []
    running: dict = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            for source in [s for s in pending if needs[s.stem] & not_run]:
                pending.remove(source)
                not_run.add(source.stem)
                print(f"[{profile}] {source.stem} not run: it needs "
                      f"{', '.join(sorted(needs[source.stem] & not_run))}", file=sys.stderr,
                      flush=True)
            ready = [s for s in pending if needs[s.stem] <= done]
            while ready and len(running) < jobs_now(jobs):
                source = ready.pop(0)
                pending.remove(source)
                running[pool.submit(_run_in_process, profile, [source], parameters,
                                    progress)] = source
            if not running:
                break
            # With notebooks ready but held back by the limit, look at the limit again soon.
            ended, _ = wait(running, timeout=2.0 if ready else None, return_when=FIRST_COMPLETED)
            for future in ended:
                source = running.pop(future)
                try:
                    runs += future.result()
                except NotebookFailed as failure:
                    failures.append(failure)
                    not_run.add(source.stem)
                    continue
                done.add(source.stem)
                finished(runs[-1])
    if failures:
        raise failures[0]
    return runs


def _recorded_seconds(results_dir: Path) -> dict[str, float]:
    path = results_dir / TIMINGS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except json.JSONDecodeError:
        return {}


def _run_one(profile: str, source: Path, parameters: dict, progress: bool) -> NotebookRun:
    print(f"[{profile}] running {source.name} ...", file=sys.stderr, flush=True)
    run = run_notebook(source, parameters, EXECUTED_DIR / f"{source.stem}.ipynb", progress=progress)
    print(f"[{profile}] {source.stem} done in {run.seconds:.0f} s", file=sys.stderr, flush=True)
    return run


def _run_in_process(profile: str, group: Sequence[Path], parameters, progress: bool
                       ) -> list[NotebookRun]:
    """Run notebooks, in order, in a child process (papermill and the kernels' environment are
    per process); its report comes back as JSON lines on stdout."""
    request = {"profile": profile, "progress": progress,
               "notebooks": [[str(source), parameters(source)] for source in group]}
    done = subprocess.run(
        [sys.executable, "-c", "from replication.book.reproduce import _child_main; _child_main()"],
        input=json.dumps(request), stdout=subprocess.PIPE, text=True,  # stderr: the terminal's
        env={**os.environ, HOME_ENV: str(HOME), "PYTHONPATH": _python_path()})
    runs = []
    for line in done.stdout.splitlines():
        if not line.startswith(_REPORT):
            continue
        report = json.loads(line[len(_REPORT):])
        if "failed" in report:
            raise NotebookFailed(**{**report["failed"], "output": Path(report["failed"]["output"])})
        runs.append(NotebookRun(report["notebook"], Path(report["output"]), report["seconds"]))
    if done.returncode != 0 or len(runs) != len(group):
        stem = group[min(len(runs), len(group) - 1)].stem
        raise NotebookFailed(stem, None, f"its process exited with status {done.returncode}",
                             EXECUTED_DIR / f"{stem}.ipynb")
    return runs


_REPORT = "replication-reproduce-report: "
"""Marks the child's report lines on its stdout, apart from anything a library prints there."""


def _child_main() -> None:
    """The child of :func:`_run_in_process`: the request on stdin, one JSON line per notebook
    (or per failure) on stdout."""
    request = json.loads(sys.stdin.read())
    for source, parameters in request["notebooks"]:
        try:
            run = _run_one(request["profile"], Path(source), parameters, request["progress"])
        except NotebookFailed as failure:
            print(_REPORT + json.dumps({"failed": {
                "notebook": failure.notebook, "cell": failure.cell, "error": failure.error,
                "output": str(failure.output), "source": failure.source}}), flush=True)
            sys.exit(1)
        print(_REPORT + json.dumps({"notebook": run.notebook, "output": str(run.output),
                                    "seconds": run.seconds}), flush=True)


def _record_seconds(results_dir: Path, seconds: dict[str, float]) -> Path:
    """Merge this run's step times into ``results_dir/reproduce_seconds.json`` (a run with
    ``--only`` updates its notebooks and keeps the others' last times)."""
    path = results_dir / TIMINGS_FILE
    recorded = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    recorded.update({name: round(value, 1) for name, value in seconds.items()})
    # In the order of the run: the data, the notebooks by number, the book.
    recorded = dict(sorted(recorded.items(), key=lambda item: {"data": "0", "book": "~"}.get(
        item[0], item[0])))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)  # a reader never sees half a file
    return path
