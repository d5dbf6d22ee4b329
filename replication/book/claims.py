"""The paper's claims, one record shape for every chapter, decided by one set of rules.

A chapter records each claim it tests as a :func:`record`::

    {"section": "§3.1.2 (2)", "claim": "mAP rises with the input size",
     "paper": "480 px best (Fig. 2)" or 0.9024 or None,   # what the paper reports
     "quantity": "mAP(96 px) - mAP(75 px)",               # what "measured" is
     "measured": 0.012, "interval": [-0.010, 0.031],      # its 95 % bootstrap interval
     "verdict": "yes" | "no" | "undecided"}

and lists them under ``"claims"`` in its ``numbers.json``. The rules, in one place:

- a *comparison* ("A beats B") is decided by the 95 % bootstrap interval of the gap A - B
  (``metric.bootstrap_gap``): ``yes`` when it lies above 0, ``no`` when it lies below 0,
  ``undecided`` when it holds 0. A tie is therefore never a win (:func:`comparison`);
- a claim *against a number the paper reports* ("the classifier reaches 0.9024") is decided by
  the interval of the measured value: ``yes`` when it lies at or above the paper's number, ``no``
  when it lies below, ``undecided`` when it straddles it (:func:`reaches`);
- no verdict rests on a tolerance the paper does not state.

:func:`markdown` renders a chapter's records; :func:`collect` gathers every chapter's for the
results-at-a-glance page.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

VERDICTS = ("yes", "no", "undecided")
FIELDS = ("section", "claim", "paper", "quantity", "measured", "interval", "verdict")


def record(section: str, claim: str, *, measured: float | str, verdict: str,
           interval: Sequence[float] | None = None, paper: float | str | None = None,
           quantity: str = "") -> dict[str, Any]:
    """One claim record (see the module docstring); checks the shape, not the rules."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r} of claim {claim!r}: use one of {', '.join(VERDICTS)}")
    if interval is not None:
        low, high = (float(v) for v in interval)
        if low > high:  # NaN (not measurable) passes: its verdict is undecided
            raise ValueError(f"interval {interval!r} of claim {claim!r}: low must not exceed high")
        interval = [low, high]
    if not isinstance(measured, str):
        measured = float(measured)
    return {"section": section, "claim": claim, "paper": paper, "quantity": quantity,
            "measured": measured, "interval": interval, "verdict": verdict}


def decide(low: float, high: float) -> str:
    """The verdict of a gap's 95 % interval: ``yes`` if it lies above 0 (strictly: a tie is no
    win), ``no`` if it lies below 0, else ``undecided``."""
    if any(math.isnan(v) for v in (low, high)):
        return "undecided"
    return "yes" if low > 0 else "no" if high < 0 else "undecided"


def comparison(section: str, claim: str, gap: Mapping[str, float], *, quantity: str,
               paper: float | str | None = None) -> dict[str, Any]:
    """A claim that one arm beats another, from ``metric.bootstrap_gap``'s result (first - second):
    ``yes`` only when the whole 95 % interval lies above 0."""
    return record(section, claim, paper=paper, quantity=quantity, measured=gap["gap"],
                  interval=[gap["low"], gap["high"]], verdict=decide(gap["low"], gap["high"]))


def reaches(section: str, claim: str, value: float, interval: Sequence[float], *,
            paper: float, quantity: str) -> dict[str, Any]:
    """A claim that a measured value reaches the number the paper reports: ``yes`` when the
    whole 95 % interval of ``value`` lies at or above ``paper``, ``no`` when below."""
    low, high = (float(v) for v in interval)
    verdict = ("undecided" if any(math.isnan(v) for v in (low, high)) else
               "yes" if low >= paper else "no" if high < paper else "undecided")
    return record(section, claim, paper=paper, quantity=quantity, measured=value,
                  interval=[low, high], verdict=verdict)


def check(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``records`` as plain dicts, each checked for the shape and for the rule that a ``yes``
    never rests on an interval holding 0 (a gap's interval that holds 0 is ``undecided``; the
    interval of a value that reaches the paper's positive number never holds 0 either). Raises
    ``ValueError`` naming the claim; a ``claims`` entry that is not a list of records (e.g. the
    old ``{name: bool}`` form) is refused too."""
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
        raise ValueError(f"claims must be a list of claim records, got a {type(records).__name__}")
    out = []
    for r in records:
        if not isinstance(r, Mapping):
            raise ValueError(f"a claim record is a mapping with {', '.join(FIELDS)}; got {r!r}")
        missing = [f for f in FIELDS if f not in r]
        if missing:
            raise ValueError(f"claim record {r.get('claim', r)!r} lacks {', '.join(missing)}")
        if r["verdict"] not in VERDICTS:
            raise ValueError(f"claim {r['claim']!r}: verdict {r['verdict']!r} is not one of {VERDICTS}")
        if r["verdict"] == "yes" and r["interval"] is not None:
            # JSON writes NaN as null: either is an interval that cannot carry a verdict.
            low, high = (math.nan if v is None else float(v) for v in r["interval"])
            if low <= 0 <= high or any(math.isnan(v) for v in (low, high)):
                raise ValueError(f"claim {r['claim']!r}: 'yes' with the interval {r['interval']} "
                                 "holding 0 (or not measurable) is 'undecided'")
        out.append(dict(r))
    return out


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.0f}"


def _interval(interval: Sequence[float | None] | None) -> str:
    if interval is None or any(v is None or math.isnan(v) for v in interval):
        return "-"  # not measured, or not measurable (NaN, which JSON writes as null)
    return f"{interval[0]:+.3f} to {interval[1]:+.3f}"


_MARKDOWN_SPECIAL = "\\*_|<$[]"
"""Characters a table cell escapes outside code spans: emphasis, the column break, HTML, math
(the book enables ``dollarmath``) and links would otherwise change what the cell says. Inside a
code span (between backticks) only ``|`` is escaped, which a table reads as a column break even
there."""


def escape(text: Any) -> str:
    """``text`` as Markdown shows it literally in a table cell (see :data:`_MARKDOWN_SPECIAL`)."""
    parts = str(text).split("`")
    unpaired = len(parts) % 2 == 0  # an odd number of backticks: the last one opens no span
    out = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if i:
            out.append("\\`" if unpaired and last else "`")
        inside = i % 2 == 1 and not (unpaired and last)
        out.append(part.replace("|", "\\|") if inside else
                   "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in part))
    return "".join(out)


HEADER = ("§", "claim", "verdict", "paper", "measured", "95 % interval")
"""The columns of every claims table (:func:`markdown`): the verdict beside its claim, where a
narrow page still shows it."""


def markdown(records: Sequence[Mapping[str, Any]], *, note: str = "",
             link: Mapping[str, str] | None = None,
             labels: Mapping[str, str] | None = None) -> str:
    """The Markdown claims table (the same columns, :data:`HEADER`, in every chapter and on the
    results page): section, claim, the verdict, the paper's number, what was measured, its 95 %
    interval. ``link``: chapter name -> target, adds a first column linking each record's
    ``"chapter"``, shown as ``labels[chapter]`` (default: the chapter's name)."""
    records = check(records)
    header = list(HEADER)
    if link is not None:
        header.insert(0, "chapter")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in records:
        measured = escape(_number(r["measured"]))
        if r["quantity"]:
            measured += f" ({escape(r['quantity'])})"
        paper = r["paper"] if isinstance(r["paper"], (str, type(None))) else f"{r['paper']:g}"
        cells = [escape(r["section"]), escape(r["claim"]), f"**{r['verdict']}**",
                 escape(_number(paper)), measured, _interval(r["interval"])]
        if link is not None:
            label = (labels or {}).get(r["chapter"], r["chapter"])
            cells.insert(0, f"[{escape(label)}]({link[r['chapter']]})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n" + (f"\n{note}\n" if note else "")


def collect(results_dir: str | Path, *, skipped: list[str] | None = None
            ) -> list[dict[str, Any]]:
    """Every chapter's claim records under ``results_dir`` (``results/<profile>/``), in chapter
    order, each with ``"chapter"`` (the notebook's name) added. A chapter that records no
    ``"claims"`` adds none. A chapter whose ``"claims"`` fail :func:`check` raises ``ValueError``
    naming its file, unless ``skipped`` is a list: then the chapter is left out and one line
    saying why is appended to it (the results page reports it)."""
    out = []
    for numbers in sorted(Path(results_dir).glob("*/numbers.json")):
        chapter = numbers.parent.name
        data = json.loads(numbers.read_text(encoding="utf-8"))
        if data.get("claims") is None:
            continue
        try:
            records = check(data["claims"])
        except ValueError as error:
            if skipped is None:
                raise ValueError(f"{numbers}: {error}") from None
            skipped.append(f"{chapter}: {error}")
            continue
        out += [{"chapter": chapter, **r} for r in records]
    return out
