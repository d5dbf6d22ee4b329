"""The committed results edition (``edition/``): every chapter with its outputs, numbers and
verdicts, no machine path or log line, made with today's synthetic profile, a book that builds
from it, and a chapter that a rerun reproduces."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from replication.book import claims, edition, glance
from replication.book.profiles import get_profile

EDITION = edition.EDITION_DIR
REBUILD = f"rebuild the edition: {edition.REBUILD}"
FORBIDDEN = ("/tmp/", "/work/", "/home/", "/root/", "I0000", "W0000", "E0000", "WARNING:",
             "it/s]", "s/it]", "Traceback", "oneDNN")
"""Machine paths, TensorFlow's C++ log lines, Python warnings, tqdm bars and tracebacks: none
belongs in a page or a number of the edition."""


def _notebook(stem: str) -> dict:
    path = EDITION / edition.NOTEBOOKS / f"{stem}.ipynb"
    assert path.exists(), f"{path} is missing: {REBUILD}"
    return json.loads(path.read_text(encoding="utf-8"))


def _output_texts(notebook: dict) -> list[str]:
    texts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if "text" in output:
                texts.append("".join(output["text"]))
            for kind, value in output.get("data", {}).items():
                if kind.startswith("text/"):
                    texts.append("".join(value))
    return texts


def test_every_chapter_is_in_the_edition_with_its_outputs_numbers_and_figures():
    assert edition.chapters() == [p.stem for p in sorted((EDITION / "notebooks").glob("*.ipynb"))]
    for stem in edition.chapters():
        notebook = _notebook(stem)
        outputs = [o for cell in notebook["cells"] for o in cell.get("outputs", [])]
        assert outputs, f"{stem}: the edition's notebook has no outputs"
        assert not [o for o in outputs if o.get("output_type") == "error"], stem
        assert not [o for o in outputs if o.get("name") == "stderr"], f"{stem}: stderr in a page"
        assert (EDITION / edition.RESULTS / stem / "numbers.json").exists(), stem
    figures = list((EDITION / edition.RESULTS).glob("*/*.png"))
    assert len(figures) >= 8, figures


def test_every_chapter_records_claims_and_every_claim_has_a_verdict():
    records = claims.collect(EDITION / edition.RESULTS)  # raises on a record that breaks a rule
    assert {r["chapter"] for r in records} == set(edition.chapters())
    assert all(r["verdict"] in claims.VERDICTS for r in records)


def test_no_machine_path_or_log_line_in_the_edition():
    for stem in edition.chapters():
        notebook = _notebook(stem)
        texts = _output_texts(notebook) + [json.dumps(notebook["metadata"])]
        texts.append((EDITION / edition.RESULTS / stem / "numbers.json").read_text("utf-8"))
        for text in texts:
            found = [word for word in FORBIDDEN if word in text]
            assert not found, f"{stem}: {found} in {text[:200]!r}"
    provenance = (EDITION / edition.PROVENANCE).read_text(encoding="utf-8")
    assert not [word for word in ("/tmp/", "/work/", "/home/") if word in provenance]


def test_the_edition_was_made_with_todays_synthetic_profile():
    """A change to the synthetic profile without a new run fails here, saying how to rebuild."""
    profile = get_profile(edition.PROFILE)
    for stem in edition.chapters():
        recorded = edition.recorded_parameters(EDITION / edition.NOTEBOOKS / f"{stem}.ipynb")
        today = json.loads(json.dumps(profile.parameters(stem)))  # tuples as JSON lists
        changed = sorted(k for k in set(recorded) | set(today) if recorded.get(k) != today.get(k))
        assert not changed, (f"{stem}: the synthetic profile's {', '.join(changed)} changed since "
                             f"the edition was made; {REBUILD}")


def test_provenance_names_the_run():
    record = json.loads((EDITION / edition.PROVENANCE).read_text(encoding="utf-8"))
    assert set(record) >= {"profile", "commit", "started", "finished", "machine", "seconds",
                           "total_seconds", "packages"}
    assert record["profile"] == edition.PROFILE
    assert record["commit"] not in ("", "unknown")
    assert record["started"] < record["finished"]
    assert set(edition.chapters()) <= set(record["seconds"])
    assert math.isclose(record["total_seconds"], sum(record["seconds"].values()), abs_tol=0.5)
    assert record["machine"]["cores"] >= 1 and record["machine"]["gpu"]
    assert {"keras", "tensorflow"} <= set(record["packages"])


def test_the_pretrained_base_nets_are_in_the_edition_and_load():
    from replication.book import profiles
    from replication.nets import registry

    numbers = json.loads((EDITION / edition.RESULTS / "00_pretraining" / "numbers.json")
                         .read_text(encoding="utf-8"))
    for name, path in profiles.pretrained_weights(edition.PROFILE).items():
        file = EDITION / edition.PRETRAINED_DIR / Path(path).name
        assert file.exists(), f"{file} is missing: {REBUILD}"
        net = registry.build_backbone(name, numbers["variant"], weights=file,
                                      input_shape=(numbers["image_size"],) * 2 + (3,))
        assert net.count_params() == numbers["weights"][name]["parameters"]


def test_the_book_builds_from_the_edition(tmp_path):
    index = edition.build(root=tmp_path / "edition-book")
    html = index.parent
    record = json.loads((EDITION / edition.PROVENANCE).read_text(encoding="utf-8"))
    page = (html / "book" / "executed" / f"{glance.PAGE}.html").read_text(encoding="utf-8")
    assert "synthetic" in page and record["commit"].split()[0] in page
    for stem in edition.chapters():
        chapter = (html / "book" / "executed" / f"{stem}.html").read_text(encoding="utf-8")
        assert "95 % interval" in chapter, f"{stem}: no claims table on its page"


def _close(a, b, path="") -> list[str]:
    """Where two JSON values differ beyond a relative 1e-6 on numbers (kernels may differ in the
    last bits between CPUs; counts and verdicts must match exactly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in _close(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: lengths {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _close(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or not math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9):
            return [f"{path}: {a} != {b}"]
        return []
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


@pytest.mark.slow
def test_rerunning_chapter_1_reproduces_its_committed_numbers(tmp_path):
    """``reproduce --profile synthetic --only 01`` in a fresh home renders the synthetic set
    again and gives the edition's chapter-1 numbers (numbers within a relative 1e-6)."""
    env = {**os.environ, "REPLICATION_HOME": str(tmp_path), "TQDM_DISABLE": "1"}
    done = subprocess.run([sys.executable, "-m", "replication", "reproduce", "--profile",
                           edition.PROFILE, "--only", "01", "--no-book", "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    ours = json.loads((tmp_path / "results" / edition.PROFILE / "01_data" / "numbers.json")
                      .read_text(encoding="utf-8"))
    committed = json.loads((EDITION / edition.RESULTS / "01_data" / "numbers.json")
                           .read_text(encoding="utf-8"))
    assert not _close(ours, committed), _close(ours, committed)[:10]


def _fake_run(home: Path, profile: str, *, ran_by: str | None = None) -> None:
    """What a finished run of ``profile`` leaves in ``home``, in miniature."""
    from replication.book import provenance

    results = home / "results" / profile
    for stem in edition.chapters(profile):
        notebook = {"cells": [], "metadata": {"papermill": {"parameters": {
            "profile": ran_by or profile}}}, "nbformat": 4, "nbformat_minor": 5}
        (home / "book" / "executed").mkdir(parents=True, exist_ok=True)
        (home / "book" / "executed" / f"{stem}.ipynb").write_text(json.dumps(notebook))
        (results / stem).mkdir(parents=True, exist_ok=True)
        (results / stem / "numbers.json").write_text('{"claims": []}')
        (results / stem / "figure.png").write_bytes(b"png")
        (results / stem / "answers.csv").write_text("not for the edition")
    (results / "pretrained").mkdir()
    (results / "pretrained" / "inception_v4.safetensors").write_bytes(b"weights")
    provenance.write(results, {"profile": profile})


def test_write_copies_a_finished_run_and_refuses_another_profiles(tmp_path, monkeypatch):
    from replication.book import profiles, reproduce

    monkeypatch.setattr(profiles, "HOME", tmp_path / "home")
    monkeypatch.setattr(reproduce, "EXECUTED_DIR", tmp_path / "home" / "book" / "executed")
    with pytest.raises(FileNotFoundError, match="no finished synthetic run.*00_pretraining"):
        edition.write(destination=tmp_path / "edition")
    _fake_run(tmp_path / "home", "synthetic", ran_by="smoke")
    with pytest.raises(FileNotFoundError, match="run under another profile since: 00_pretraining"):
        edition.write(destination=tmp_path / "edition")
    for stem in edition.chapters():
        path = tmp_path / "home" / "book" / "executed" / f"{stem}.ipynb"
        path.write_text(path.read_text().replace('"smoke"', '"synthetic"'))
    out = edition.write(destination=tmp_path / "edition")
    assert sorted(p.name for p in (out / "results" / "01_data").iterdir()) == [
        "figure.png", "numbers.json"]
    assert (out / "pretrained" / "inception_v4.safetensors").read_bytes() == b"weights"
    assert len(list((out / "notebooks").glob("*.ipynb"))) == len(edition.chapters())
    # A chapter rerun alone gets the edition's pretrained nets where they are missing, and only
    # for the edition's own profile.
    (tmp_path / "home" / "results" / "synthetic" / "pretrained" / "inception_v4.safetensors").unlink()
    assert edition.restore_pretrained("smoke", source=out) == []
    restored = edition.restore_pretrained("synthetic", source=out)
    assert [p.name for p in restored] == ["inception_v4.safetensors"]
    assert edition.restore_pretrained("synthetic", source=out) == []
