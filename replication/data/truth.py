"""The ground truth the synthetic set carries and the real FashionAI data lacks (DESIGN §6).

One module owns the format: the renderer (:mod:`replication.synthetic`) writes it through
:func:`write_truth`, and the screening, the dual-channel models and the tests read it through
:func:`read_truth` and :func:`has_truth`.

- ``Truth/truth.csv``: header ``image,flat,mask`` and then the mechanism columns
  (:data:`MECHANISM_COLUMNS`); one row per image of ``label.csv``: its path as in ``label.csv``,
  ``1`` for a flat-lay and ``0`` for on-model, its part mask's path, and which of the synthetic
  world's mechanisms (:mod:`replication.synthetic.mechanisms`) the image got. A file with only
  the first three columns (rendered before the mechanisms existed) still reads.
- ``Truth/masks/<task>/<name>.png``: a label map in the LIP human-parsing label set (:data:`LIP`).
- ``Truth/synthetic.json``: the renderer's arguments (seed, images per task, size, format version).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["LIP", "ON_MODEL_LABELS", "TRUTH_CSV", "MASK_DIR", "PARAMS_JSON", "MECHANISM_COLUMNS",
           "TruthError", "has_truth", "read_truth", "write_truth"]

TRUTH_CSV = "Truth/truth.csv"
MASK_DIR = "Truth/masks"
PARAMS_JSON = "Truth/synthetic.json"
_HEADER = ["image", "flat", "mask"]

PRESENTATIONS = ("worn", "laid", "mannequin", "hanger", "held")
"""How the garment is shown: worn by a model (on-model), or a flat-lay laid out, on a dress form,
on a hanger, or held up by a hand."""
OVERLAPS = ("none", "hair", "scarf", "jacket", "collar_under")
"""What lies over part of a neck or lapel region (``none``: nothing)."""

MECHANISM_COLUMNS: dict[str, type | tuple[str, ...]] = {
    "presentation": PRESENTATIONS,
    "skin_print": bool,          # the garment is skin-toned (colour or print)
    "camera_wide": bool,         # a wide camera draw (rotation, zoom, offset)
    "rotation": float,           # the camera's rotation in degrees, as drawn
    "zoom": float,               # the subject's size against the usual framing
    "shift_x": float,            # the subject's offset from the usual place, share of the width
    "shift_y": float,            # ... and of the height
    "light_wide": bool,          # a wide light draw
    "brightness": float,         # brightness factor
    "contrast": float,           # contrast factor around the image's mean
    "cast": float,               # largest deviation of a channel's gain from 1
    "overlap": OVERLAPS,
}
"""The truth's columns after ``image,flat,mask``: the mechanisms of the synthetic world
(:mod:`replication.synthetic.mechanisms`), as their type or their allowed values. Booleans are
written ``0``/``1``, floats with 4 decimals."""

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


def _cell(column: str, value) -> str:
    kind = MECHANISM_COLUMNS[column]
    if kind is bool:
        return str(int(bool(value)))
    if kind is float:
        return f"{float(value):.4f}"
    if value not in kind:
        raise ValueError(f"truth column {column!r}: {value!r} is not one of {kind}")
    return str(value)


def write_truth(root: str | os.PathLike,
                rows: Iterable[tuple[str, str, bool] | tuple[str, str, bool, Mapping]]) -> Path:
    """Write ``Truth/truth.csv`` from ``(image path, task key, flat[, mechanisms])`` rows, in
    their order. ``mechanisms`` maps every :data:`MECHANISM_COLUMNS` name to its value; rows
    without it make a file of the first three columns only (all rows alike)."""
    path = Path(root) / TRUTH_CSV
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    extended = {len(r) == 4 for r in rows}
    if len(extended) > 1:
        raise ValueError("write_truth: either every row has its mechanisms or none does")
    header = _HEADER + (list(MECHANISM_COLUMNS) if extended == {True} else [])
    with open(path, "w", newline="", encoding="utf-8") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            image, task_key, flat = row[:3]
            name = image.rsplit("/", 1)[1][:-len(".jpg")]
            cells = [image, str(int(flat)), mask_path(task_key, name)]
            if len(row) == 4:
                mech = row[3]
                missing = set(MECHANISM_COLUMNS) - set(mech)
                if missing:
                    raise ValueError(f"write_truth: {image}: no value for {sorted(missing)}")
                cells += [_cell(c, mech[c]) for c in MECHANISM_COLUMNS]
            f.write(",".join(cells) + "\n")
    return path


def _parse(path: Path, line: int, column: str, text: str):
    kind = MECHANISM_COLUMNS[column]
    if kind is bool:
        if text not in ("0", "1"):
            raise TruthError(f"{path}, line {line}: {column} must be 0 or 1, got {text!r}")
        return text == "1"
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise TruthError(f"{path}, line {line}: {column} must be a number, got {text!r}") from None
    if text not in kind:
        raise TruthError(f"{path}, line {line}: {column} must be one of {', '.join(kind)}, got {text!r}")
    return text


def read_truth(root: str | os.PathLike) -> dict[str, dict]:
    """``Truth/truth.csv`` as ``{image path: {"flat": bool, "mask": Path, ...}}``.

    The image path is as in ``label.csv``; the mask path is absolute (root joined). A file with
    the mechanism columns adds them to every record, typed (:data:`MECHANISM_COLUMNS`); a file
    of three columns gives ``flat`` and ``mask`` only. Raises
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
        if header not in (_HEADER, _HEADER + list(MECHANISM_COLUMNS)):
            raise TruthError(f"{path}, line 1: expected the header 'image,flat,mask' (and the "
                             f"mechanism columns {','.join(MECHANISM_COLUMNS)}), got {header!r}")
        extra = header[3:]
        for line, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise TruthError(f"{path}, line {line}: expected {len(header)} columns, got "
                                 f"{len(row)}: {row!r}")
            image, flat, mask = row[:3]
            if flat not in ("0", "1"):
                raise TruthError(f"{path}, line {line}: flat must be 0 or 1, got {flat!r}")
            if not image.startswith("Images/") or not mask.startswith(MASK_DIR + "/") or ".." in mask:
                raise TruthError(f"{path}, line {line}: unexpected paths {image!r}, {mask!r}")
            if image in out:
                raise TruthError(f"{path}, line {line}: duplicate image {image!r}")
            out[image] = {"flat": flat == "1", "mask": root / mask,
                          **{c: _parse(path, line, c, text) for c, text in zip(extra, row[3:])}}
    return out
