"""Where a notebook records its numbers and figures, per profile (DESIGN §5).

Each notebook writes ``results/<profile>/<notebook>/numbers.json`` and its figures beside it;
later notebooks, the tests and the book read them from there.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from replication.book import profiles
from replication.book.profiles import get_profile

NUMBERS_FILE = "numbers.json"


def results_dir(profile: str, notebook: str) -> Path:
    """``results/<profile>/<notebook>/``, created if missing."""
    path = get_profile(profile).results_dir / notebook
    path.mkdir(parents=True, exist_ok=True)
    return path


def shown(path: str | Path) -> str:
    """``path`` as a page or a ``numbers.json`` shows it: relative to the run's home (the
    repository, for the README's commands) when it lies there, so that no page names the
    machine's folders; as given otherwise (e.g. the user's FashionAI folder)."""
    return profiles.in_home(path)


def resolve(path: str | Path) -> Path:
    """A path a ``numbers.json`` or a page names (see :func:`shown`), as an absolute path: a
    relative one lies in the run's home."""
    return profiles.home_path(path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; null says "not measurable"
    if isinstance(value, Path) or (isinstance(value, str) and value.startswith(str(profiles.HOME))):
        return shown(value)  # recorded numbers name no machine folder
    return value


def record(profile: str, notebook: str, numbers: dict[str, Any]) -> Path:
    """Write a notebook's numbers as JSON (NumPy values converted, NaN as null, paths in the
    run's home relative to it: read them back with :func:`resolve`)."""
    path = results_dir(profile, notebook) / NUMBERS_FILE
    path.write_text(json.dumps(_jsonable(numbers), indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


def load(profile: str, notebook: str) -> dict[str, Any]:
    """The numbers a notebook recorded; a clear error if it has not run under this profile."""
    path = get_profile(profile).results_dir / notebook / NUMBERS_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: run `python -m replication reproduce --profile {profile} "
            f"--only {notebook[:2]}` first"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def save_figure(fig, profile: str, notebook: str, name: str) -> Path:
    """Save a Matplotlib figure as PNG (for the book) and SVG (for print) beside the numbers."""
    folder = results_dir(profile, notebook)
    fig.savefig(folder / f"{name}.png", dpi=120, bbox_inches="tight")
    fig.savefig(folder / f"{name}.svg", bbox_inches="tight")
    return folder / f"{name}.png"
