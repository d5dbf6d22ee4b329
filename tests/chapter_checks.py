"""Checks the chapter tests of the smoke reproduction share: the validation rows and answer files
a chapter wrote, read back exactly, a claim record checked against its recomputed gap, and the
executed page's hygiene (hidden code, no machine folders)."""

import json

import pytest


def truth_rows(numbers: dict) -> list:
    """The validation rows the notebook scored, in its order (its truth ``label.csv``)."""
    from replication.book.results import resolve
    from replication.data import fashionai

    truth = resolve(numbers["truth"])
    rows, problems = fashionai.read_labels(truth.parent.parent, check_files=False,
                                           csv=f"{truth.parent.name}/{truth.name}")
    assert not problems and len(rows) == numbers["val_images"]
    return rows


def answer_predictions(answer: str) -> dict:
    """``{image: {task: probs}}`` from an ``answer.csv`` the notebook wrote (exact floats)."""
    from replication.book.results import resolve
    from replication.data import fashionai

    return {image: {task: probs} for image, task, probs, _ in fashionai.read_answer(resolve(answer))}


def check_comparison(record: dict, gap: dict) -> None:
    """A recorded comparison is ``gap`` (recomputed), and its verdict follows from its interval."""
    from replication.book import claims

    assert record["measured"] == pytest.approx(gap["gap"], abs=1e-12)
    assert record["interval"] == pytest.approx([gap["low"], gap["high"]], abs=1e-12)
    assert record["verdict"] == claims.decide(*record["interval"])


def check_page_hygiene(smoke_run, notebook: str) -> None:
    """The executed notebook hides every code cell but the parameters cell, and no cell or output
    names a machine folder (the reproduction's home) or shows a path object."""
    executed = smoke_run.home / "book" / "executed" / f"{notebook}.ipynb"
    cells = json.loads(executed.read_text())["cells"]
    for cell in (c for c in cells if c["cell_type"] == "code"):
        tags = set(cell.get("metadata", {}).get("tags", []))
        assert tags & {"parameters", "injected-parameters", "hide-input"}, cell["source"][:80]
    # What the page shows: the cells and their outputs (papermill's own metadata is not shown).
    text = json.dumps([{k: c.get(k) for k in ("source", "outputs")} for c in cells])
    assert str(smoke_run.home) not in text and "PosixPath" not in text
