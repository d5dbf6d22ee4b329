"""The results-at-a-glance page: every claim of the paper the chapters test (§3-§4), one row each.

:func:`write` gathers the claim records every chapter recorded under ``results/<profile>/``
(``claims.collect``) into one Markdown page beside the executed notebooks, which the book's table
of contents lists right after the introduction. Each row gives the paper's number, the
replication's, its 95 % interval, the verdict (``claims``' rules) and a link to its chapter. The
page says which profile, commit and date built it, and, for the smoke profile, that its numbers
test the code, not the paper. A chapter whose record does not pass ``claims.check`` is left out
with a note saying why, rather than stopping the build.
"""

from __future__ import annotations

import datetime
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

from replication.book import claims
from replication.book.profiles import SOURCE_ROOT, get_profile

PAGE = "results_at_a_glance"
"""The page's name (``book/executed/<PAGE>.md`` in the run's home, in ``_toc.yml``)."""
TITLE = "Results at a glance"


def commit(repository: Path = SOURCE_ROOT) -> str:
    """The repository's commit (``git rev-parse --short HEAD``), marked when the working tree
    differs from it; ``"unknown"`` outside git (e.g. an unpacked archive)."""
    try:
        head = subprocess.run(["git", "-C", str(repository), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=30)
        if head.returncode != 0:
            return "unknown"
        changed = subprocess.run(["git", "-C", str(repository), "status", "--porcelain",
                                  "--untracked-files=no"], capture_output=True, text=True,
                                 timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    dirty = (" (with uncommitted changes)" if changed.returncode == 0 and changed.stdout.strip()
             else "")
    return head.stdout.strip() + dirty


def build_date() -> str:
    """Today's date (UTC), or that of ``$SOURCE_DATE_EPOCH`` where a reproducible build sets it."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch
              else datetime.datetime.now(datetime.timezone.utc))
    return moment.strftime("%Y-%m-%d")


SMOKE_NOTE = (
    "The **smoke** profile runs every chapter on a tiny synthetic set with tiny nets in minutes, "
    "to check that the code runs end to end. **Its numbers test the code, not the paper**: with "
    "so few images most intervals are wide and most verdicts undecided, and no verdict here says "
    "anything about the paper's method. The `synthetic` profile (the results edition) and the "
    "`paper` profile (the real FashionAI data) are the ones that measure the paper's claims."
)


def page(profile: str, records: Sequence[Mapping[str, Any]], *, built_by: str, date: str,
         skipped: Sequence[str] = (), not_run: Sequence[str] = ()) -> str:
    """The page's Markdown: provenance, the verdict counts, one table row per claim record
    (each with ``"chapter"``, linked to ``<chapter>.ipynb`` beside the page), and a note for
    every chapter left out (``skipped``: why) or that recorded no numbers (``not_run``)."""
    lines = [f"# {TITLE}", "",
             f"Built by the **{profile}** profile from commit {built_by} on {date}. Every "
             "number below was computed by the chapter it links to, from this run's data; the "
             "verdicts follow one set of rules (`replication.book.claims`): a comparison is "
             "*yes* only when the whole 95 % bootstrap interval of the gap lies above 0, so a "
             "tie is never a win, and a number the paper reports is reached only when the "
             "whole interval lies at or above it; an interval that holds either is "
             "*undecided*.", ""]
    if profile == "smoke":
        lines += [":::{warning}", SMOKE_NOTE, ":::", ""]
    else:
        lines += [get_profile(profile).description, ""]
    counts = Counter(r["verdict"] for r in records)
    lines += [f"{len(records)} claim{'' if len(records) == 1 else 's'}: " + ", ".join(
        f"{counts.get(v, 0)} {v}" for v in claims.VERDICTS) + ".", ""]
    if records:
        link = {r["chapter"]: f"{r['chapter']}.ipynb" for r in records}
        # Chapters by number, as the table of contents numbers them: the table stays narrow.
        labels = {c: str(int(c[:2])) for c in link if c[:2].isdigit()}
        lines += [claims.markdown(records, link=link, labels=labels)]
    notes = [f"- {claims.escape(note)}" for note in skipped]
    notes += [f"- {c}: not run under this profile yet" for c in not_run]
    if notes:
        lines += ["", "Not in the table:", "", *notes]
    return "\n".join(lines).rstrip() + "\n"


def write(profile: str, folder: Path, chapters: Sequence[str] = (), *,
          results_dir: Path | None = None, built_by: str | None = None,
          date: str | None = None) -> Path:
    """Write ``folder/<PAGE>.md`` from the claim records under ``results_dir`` (default
    ``results/<profile>/``); ``chapters`` (notebook stems) are the book's chapters, named in a
    note when they have recorded no numbers (or when the profile does not run them, with why).
    ``built_by`` and ``date`` default to this checkout's commit and today (the edition gives
    its run's). Returns the page's path."""
    results_dir = get_profile(profile).results_dir if results_dir is None else results_dir
    skipped: list[str] = []
    records = claims.collect(results_dir, skipped=skipped)
    not_run, not_for_profile = [], get_profile(profile).skipped
    for chapter in chapters:
        if chapter in not_for_profile:
            skipped.append(f"{chapter}: {not_for_profile[chapter]}")
        elif not (results_dir / chapter / "numbers.json").exists():
            not_run.append(chapter)
    text = page(profile, records, built_by=built_by or commit(), date=date or build_date(),
                skipped=skipped, not_run=not_run)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{PAGE}.md"
    path.write_text(text, encoding="utf-8")
    return path
