"""The results edition: one finished run of the ``synthetic`` profile, committed as the book.

``python -m replication reproduce --profile synthetic`` runs every chapter into the run's home;
:func:`write` (``python -m replication edition``) then copies what the book needs into
``edition/`` in the repository: each chapter's executed notebook (with its outputs), its
``numbers.json`` and figures, chapter 0's pretrained base nets (so that one chapter can be rerun
without pretraining: :func:`restore_pretrained`) and the run's provenance (:data:`PROVENANCE`).
:func:`build` (``python -m replication book``) renders the HTML book from ``edition/`` without
training anything. The smoke run the tests use builds its own book in its own home and never
writes here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from replication.book.profiles import HOME, PRETRAINED_DIR, SOURCE_ROOT, get_profile
from replication.book.provenance import PROVENANCE

EDITION_DIR = SOURCE_ROOT / "edition"
PROFILE = "synthetic"
"""The profile the edition is a run of."""
NOTEBOOKS = "notebooks"
RESULTS = "results"
FIGURE_SUFFIXES = (".png",)
"""The figures as the book shows them (the SVGs beside them in a run are for print)."""
BUILD_DIR = HOME / "_build" / "edition"
"""Where :func:`build` renders the edition's book (``<BUILD_DIR>/_build/html``)."""
REBUILD = ("bash scripts/reproduce.sh --profile synthetic && "
           ".venv/bin/python -m replication edition")
"""The commands that make the edition again (README: "The results edition")."""


# --------------------------------------------------------------------------- writing


def chapters(profile: str = PROFILE) -> list[str]:
    """The notebook stems the edition holds: every chapter the profile runs."""
    from replication.book.reproduce import list_notebooks

    return [p.stem for p in list_notebooks() if p.stem not in get_profile(profile).skipped]


def recorded_parameters(notebook: Path) -> dict[str, Any]:
    """The parameters papermill injected into an executed notebook (its metadata)."""
    data = json.loads(notebook.read_text(encoding="utf-8"))
    return data.get("metadata", {}).get("papermill", {}).get("parameters", {})


def write(profile: str = PROFILE, *, destination: Path = EDITION_DIR) -> Path:
    """Copy the finished run of ``profile`` in this home into ``destination``: the executed
    notebooks, numbers and figures of every chapter, the pretrained base nets and the
    provenance. Refuses a run that is incomplete, or whose notebooks another profile ran since."""
    from replication.book.reproduce import EXECUTED_DIR

    results_dir = get_profile(profile).results_dir
    missing, foreign = [], []
    for stem in chapters(profile):
        notebook = EXECUTED_DIR / f"{stem}.ipynb"
        if not notebook.exists() or not (results_dir / stem / "numbers.json").exists():
            missing.append(stem)
        elif recorded_parameters(notebook).get("profile") != profile:
            foreign.append(stem)
    if not (results_dir / PROVENANCE).exists():
        missing.append(PROVENANCE)
    if missing or foreign:
        raise FileNotFoundError(
            f"no finished {profile} run to make the edition from"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; run under another profile since: {', '.join(foreign)}" if foreign else "")
            + f". Run `bash scripts/reproduce.sh --profile {profile}` first.")
    staging = destination.with_name(destination.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / NOTEBOOKS).mkdir(parents=True)
    for stem in chapters(profile):
        shutil.copy2(EXECUTED_DIR / f"{stem}.ipynb", staging / NOTEBOOKS / f"{stem}.ipynb")
        target = staging / RESULTS / stem
        target.mkdir(parents=True)
        for path in sorted((results_dir / stem).iterdir()):
            if path.name == "numbers.json" or path.suffix in FIGURE_SUFFIXES:
                shutil.copy2(path, target / path.name)
    if (results_dir / PRETRAINED_DIR).is_dir():
        shutil.copytree(results_dir / PRETRAINED_DIR, staging / PRETRAINED_DIR)
    shutil.copy2(results_dir / PROVENANCE, staging / PROVENANCE)
    shutil.rmtree(destination, ignore_errors=True)
    staging.replace(destination)
    return destination


def restore_pretrained(profile: str, *, source: Path = EDITION_DIR) -> list[Path]:
    """Copy the edition's pretrained base nets into this home's ``results/<profile>/pretrained``
    where they are missing, when the edition is a run of ``profile``: a chapter can then be
    rerun (``reproduce --only NN``) without rerunning chapter 0. Returns the files copied."""
    record = source / PROVENANCE
    if not record.exists() or json.loads(record.read_text(encoding="utf-8")).get(
            "profile") != profile or not (source / PRETRAINED_DIR).is_dir():
        return []
    target = get_profile(profile).results_dir / PRETRAINED_DIR
    copied = []
    for path in sorted((source / PRETRAINED_DIR).iterdir()):
        if not (target / path.name).exists():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.name)
            copied.append(target / path.name)
    return copied


# --------------------------------------------------------------------------- the book


def build(*, source: Path = EDITION_DIR, root: Path = BUILD_DIR, strict: bool = True) -> Path:
    """Render the HTML book from the edition in ``source`` (no notebook runs): the book's pages,
    the edition's executed notebooks, and the results-at-a-glance page written from its claim
    records, with the run's commit and date. Returns ``index.html``."""
    from replication.book import glance
    from replication.book.reproduce import copy_book_sources, run_jupyter_book

    record = source / PROVENANCE
    if not record.exists():
        raise FileNotFoundError(f"{record} not found: the edition has not been made; run "
                                f"`{REBUILD}`")
    run = json.loads(record.read_text(encoding="utf-8"))
    shutil.rmtree(root, ignore_errors=True)
    copy_book_sources(root)
    executed = root / "book" / "executed"
    shutil.copytree(source / NOTEBOOKS, executed)
    glance.write(run["profile"], executed, chapters=chapters(run["profile"]),
                 results_dir=source / RESULTS, built_by=run["commit"],
                 date=run["finished"][:10])
    return run_jupyter_book(root, strict=strict)
