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
        if not low <= high:
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
    never rests on a gap interval holding 0 (raises ``ValueError`` naming the claim)."""
    out = []
    for r in records:
        missing = [f for f in FIELDS if f not in r]
        if missing:
            raise ValueError(f"claim record {r.get('claim', r)!r} lacks {', '.join(missing)}")
        if r["verdict"] not in VERDICTS:
            raise ValueError(f"claim {r['claim']!r}: verdict {r['verdict']!r} is not one of {VERDICTS}")
        if r["paper"] is None and r["verdict"] == "yes" and r["interval"] is not None:
            low, high = r["interval"]
            if low <= 0 <= high:
                raise ValueError(f"claim {r['claim']!r}: 'yes' with an interval holding 0")
        out.append(dict(r))
    return out


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.0f}"


def _interval(interval: Sequence[float] | None) -> str:
    return "-" if interval is None else f"{interval[0]:+.3f} to {interval[1]:+.3f}"


def _cell(text: str) -> str:
    # Markdown would read * as emphasis and | as a column break.
    return str(text).replace("*", r"\*").replace("|", r"\|")


def markdown(records: Sequence[Mapping[str, Any]], *, note: str = "",
             link: Mapping[str, str] | None = None) -> str:
    """The Markdown claims table (the same columns in every chapter and on the results page):
    section, claim, the paper's number, what was measured, its 95 % interval, the verdict.
    ``link``: chapter name -> target, adds a chapter column (records then carry ``"chapter"``)."""
    records = check(records)
    header = ["§", "claim", "paper", "measured", "95 % interval", "verdict"]
    if link is not None:
        header.insert(0, "chapter")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in records:
        measured = _number(r["measured"])
        if r["quantity"]:
            measured += f" ({_cell(r['quantity'])})"
        paper = r["paper"] if isinstance(r["paper"], (str, type(None))) else f"{r['paper']:g}"
        cells = [r["section"], _cell(r["claim"]), _cell(_number(paper)), measured,
                 _interval(r["interval"]), f"**{r['verdict']}**"]
        if link is not None:
            cells.insert(0, f"[{r['chapter']}]({link[r['chapter']]})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n" + (f"\n{note}\n" if note else "")


def collect(results_dir: str | Path) -> list[dict[str, Any]]:
    """Every chapter's claim records under ``results_dir`` (``results/<profile>/``), in chapter
    order, each with ``"chapter"`` (the notebook's name) added."""
    out = []
    for numbers in sorted(Path(results_dir).glob("*/numbers.json")):
        data = json.loads(numbers.read_text(encoding="utf-8"))
        for r in check(data.get("claims", [])):
            out.append({"chapter": numbers.parent.name, **r})
    return out
