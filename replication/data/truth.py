"""The ground truth the synthetic set carries and the real FashionAI data lacks (DESIGN §6).

One module owns the format: the renderer (:mod:`replication.synthetic`) writes it through
:func:`write_truth`, and the screening, the dual-channel models and the tests read it through
:func:`read_truth` and :func:`has_truth`.

- ``Truth/truth.csv``: header ``image,flat,mask``; one row per image of ``label.csv``: its path as
  in ``label.csv``, ``1`` for a flat-lay and ``0`` for on-model, its part mask's path.
- ``Truth/masks/<task>/<name>.png``: a label map in the LIP human-parsing label set (:data:`LIP`).
- ``Truth/synthetic.json``: the renderer's arguments (seed, images per task, size, format version).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["LIP", "ON_MODEL_LABELS", "TRUTH_CSV", "MASK_DIR", "PARAMS_JSON", "TruthError",
           "has_truth", "read_truth", "write_truth"]

TRUTH_CSV = "Truth/truth.csv"
MASK_DIR = "Truth/masks"
PARAMS_JSON = "Truth/synthetic.json"
_HEADER = ["image", "flat", "mask"]

LIP: dict[str, int] = {
    "background": 0, "hat": 1, "hair": 2, "glove": 3, "sunglasses": 4, "upper_clothes": 5,
    "dress": 6, "coat": 7, "socks": 8, "pants": 9, "jumpsuits": 10, "scarf": 11, "skirt": 12,
    "face": 13, "left_arm": 14, "right_arm": 15, "left_leg": 16, "right_leg": 17,
    "left_shoe": 18, "right_shoe": 19,
}
"""The LIP human-parsing label set (what JPPNet predicts, paper §3.2)."""

ON_MODEL_LABELS: tuple[int, ...] = (2, 13, 14, 15, 16, 17, 18, 19)
"""Body-part labels whose presence makes an image on-model (paper §3.2, stage 1: head, face,
arms, legs, feet; LIP's label for the head is hair)."""


class TruthError(ValueError):
    """A malformed ``Truth/truth.csv``; the message names the file and the line."""


def has_truth(root: str | os.PathLike) -> bool:
    """Whether ``root`` carries the synthetic truth (the real data never does)."""
    return (Path(root) / TRUTH_CSV).is_file()


def mask_path(task_key: str, name: str) -> str:
    """The mask's path relative to the data root, for image ``Images/<task>/<name>.jpg``."""
    return f"{MASK_DIR}/{task_key}/{name}.png"


def write_truth(root: str | os.PathLike, rows: Iterable[tuple[str, str, bool]]) -> Path:
    """Write ``Truth/truth.csv`` from ``(image path, task key, flat)`` rows, in their order."""
    path = Path(root) / TRUTH_CSV
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        f.write(",".join(_HEADER) + "\n")
        for image, task_key, flat in rows:
            name = image.rsplit("/", 1)[1][:-len(".jpg")]
            f.write(f"{image},{int(flat)},{mask_path(task_key, name)}\n")
    return path


def read_truth(root: str | os.PathLike) -> dict[str, dict]:
    """``Truth/truth.csv`` as ``{image path: {"flat": bool, "mask": Path}}``.

    The image path is as in ``label.csv``; the mask path is absolute (root joined). Raises
    FileNotFoundError when the file is missing and :class:`TruthError` (naming file and line)
    for a malformed one.
    """
    root = Path(root)
    path = root / TRUTH_CSV
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: only the embedded synthetic data set carries "
                                "a Truth/ folder (python -m replication synth)")
    out: dict[str, dict] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != _HEADER:
            raise TruthError(f"{path}, line 1: expected the header 'image,flat,mask', got {header!r}")
        for line, row in enumerate(reader, start=2):
            if len(row) != 3:
                raise TruthError(f"{path}, line {line}: expected 3 columns, got {len(row)}: {row!r}")
            image, flat, mask = row
            if flat not in ("0", "1"):
                raise TruthError(f"{path}, line {line}: flat must be 0 or 1, got {flat!r}")
            if not image.startswith("Images/") or not mask.startswith(MASK_DIR + "/") or ".." in mask:
                raise TruthError(f"{path}, line {line}: unexpected paths {image!r}, {mask!r}")
            if image in out:
                raise TruthError(f"{path}, line {line}: duplicate image {image!r}")
            out[image] = {"flat": flat == "1", "mask": root / mask}
    return out
