"""Run the notebooks in order with papermill and build the book (DESIGN §5).

``notebooks/NN_name.py`` (py:percent) is read with jupytext, executed by papermill with the
profile's parameters injected after its ``parameters`` cell, and written to
``book/executed/NN_name.ipynb``; Jupyter Book 1 then builds ``_build/html`` from those
executed notebooks without executing anything itself (``execute_notebooks: off``).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from replication.profiles import REPO_ROOT, ensure_data, get_profile

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
EXECUTED_DIR = REPO_ROOT / "book" / "executed"
BOOK_HTML = REPO_ROOT / "_build" / "html"
KERNEL = "python3"


class NotebookFailed(RuntimeError):
    """A notebook raised; the partially executed notebook was kept at ``output``."""

    def __init__(self, notebook: str, cell: int | None, error: str, output: Path, source: str = ""):
        self.notebook, self.cell, self.error, self.output = notebook, cell, error, output
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
    # papermill's own bar shows progress per cell in the terminal.
    kernel_env = {"TF_CPP_MIN_LOG_LEVEL": "2", "TQDM_DISABLE": "1"}
    saved = {name: os.environ.get(name) for name in kernel_env}
    os.environ.update(kernel_env)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            notebook, str(output), parameters=parameters, kernel_name=KERNEL,
            language="python", cwd=str(REPO_ROOT), progress_bar=progress, log_output=False,
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
    return NotebookRun(source.stem, output, time.perf_counter() - start)


def build_book(*, strict: bool = True) -> Path:
    """Build ``_build/html`` with Jupyter Book 1; warnings are errors when ``strict``."""
    toc = REPO_ROOT / "book" / "_toc.yml"
    missing = [name for name in _toc_notebooks(toc) if not (REPO_ROOT / f"{name}.ipynb").exists()]
    if missing:
        raise FileNotFoundError(
            "the book needs " + ", ".join(f"{m}.ipynb" for m in missing)
            + ": run `python -m replication reproduce` without --only once first"
        )
    exe = Path(sys.executable).with_name("jupyter-book")
    command = [str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book"),
               "build", str(REPO_ROOT), "--toc", str(toc), "--config", str(REPO_ROOT / "_config.yml")]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {done.returncode}):\n"
                           f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return BOOK_HTML / "index.html"


def _toc_notebooks(toc: Path) -> list[str]:
    """The ``book/executed/...`` entries of the table of contents."""
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
              book: bool = True, progress: bool = True) -> list[NotebookRun]:
    """Render data if needed, run the chosen notebooks in order, then build the book.

    ``overrides`` set notebook parameters over the profile's values, in every chosen notebook
    that declares them (e.g. ``{"inception_v4_weights": "/path/w.safetensors"}``).
    """
    chosen = get_profile(profile)
    sources = list_notebooks(only)
    declared = {source.stem: declared_parameters(source) for source in sources}
    unknown = sorted(set(overrides or {}) - {name for names in declared.values() for name in names})
    if unknown:
        raise ValueError(f"no chosen notebook has the parameter(s) {', '.join(unknown)}")
    root = ensure_data(chosen, data_root, progress=progress)
    runs = []
    for source in sources:
        print(f"[{chosen.name}] running {source.name} ...", file=sys.stderr, flush=True)
        output = EXECUTED_DIR / f"{source.stem}.ipynb"
        parameters = chosen.parameters(source.stem, root)
        parameters.update({k: v for k, v in (overrides or {}).items() if k in declared[source.stem]})
        run = run_notebook(source, parameters, output, progress=progress)
        print(f"[{chosen.name}] {source.stem} done in {run.seconds:.0f} s", file=sys.stderr, flush=True)
        runs.append(run)
    if book:
        index = build_book()
        print(f"[{chosen.name}] book built: {index}", file=sys.stderr, flush=True)
    return runs
