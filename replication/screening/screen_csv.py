"""The screen CSV (paper §3.2's result): one row per screened image, its provenance beside it,
and its flat/on-model flags read back for the dual-channel length models (§3.3.2).

:func:`write_screen` writes, for notebook 04 and ``python -m replication screen ROOT --out CSV``
alike, two files:

- ``<name>.csv``: the columns :data:`SCREEN_COLUMNS`, one row per image. ``flat`` (1/0) is the
  final verdict (``label`` says it in words), ``decided_by`` the stage that gave it; the other
  columns are each stage's own output (empty where a stage did not run). Plain CSV, nothing
  else in it, so that any CSV reader takes it.
- ``<name>.csv.json``, its **provenance** (:func:`provenance_path`): ``format``, the CSV's file
  name, its ``sha256`` and ``rows``; ``root``, the screened data root's folder name, and
  ``data_fingerprint``, ``fashionai.data_fingerprint`` of that root when it was screened (its
  resolved path, ``label.csv`` and the synthetic truth files); ``stages``, the stages that ran
  (``parser``, ``rescreen``, ``classifier``), with ``parser``, ``detector`` and ``classifier``
  naming what ran them, the rule's ``threshold`` and ``classifier_used`` (None: no stage 3);
  ``splits``, how many images each split holds (None: not split); ``calibration``, the
  ``split`` that calibrated the threshold and the classifier-use decision, how many ``images``
  and the ``sha256`` of their sorted names (:func:`calibration_images` returns them);
  ``package``, this package's version.

:func:`check_screens` is the check "this CSV screens this data root, as it is now": the
provenance exists, describes this very CSV (its hash) and carries the root's current data
fingerprint. :meth:`ScreenedFlatFlags.for_root` reads the flags only after that check; the
dual-channel models use it (``experiments.flat_flags``), so a CSV written by the ``screen``
command feeds them as well as notebook 04's does. :func:`calibration_images` names the images
that calibrated the screening, so that a model chapter can check that it scores none of them.
:func:`flags_digest` hashes the flags, not the file, to name the models trained on them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import pathlib
from collections.abc import Sequence

import numpy as np

from replication.data import fashionai
from replication.learning import models
from replication.screening import segmentation
from replication.screening.cascade import SPLITS, Screened

SCREEN_COLUMNS = ("image", "task", "split", "flat", "label", "decided_by", "body_share",
                  "parser_flat", "person_found", "rescreen_flat", "classifier_flat_prob",
                  "classifier_flat")
"""The screen CSV: ``split`` the image's split (``cascade.SPLITS``; empty where the images were
not split), ``flat`` 1/0 the final verdict (``label`` says it in words), ``decided_by`` the stage
that gave it; the other columns are each stage's own output (empty where a stage did not run)."""
PROVENANCE_FORMAT = "replication screen CSV provenance, version 2"


class ScreenMismatch(ValueError):
    """A screen CSV that does not (or no longer) screen the data root it is used for."""


def provenance_path(path: os.PathLike | str) -> pathlib.Path:
    """The provenance file of the screen CSV ``path``: ``<path>.json`` beside it."""
    path = pathlib.Path(path)
    return path.with_name(path.name + ".json")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{float(value):.6g}"
    return str(value)


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_atomically(path: pathlib.Path, write) -> None:
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        write(handle)
    os.replace(partial, path)


def _names_digest(images) -> str:
    return hashlib.sha256("\n".join(sorted(images)).encode()).hexdigest()


def _calibration_record(screened: Screened) -> dict:
    """The provenance's ``calibration``: the split that calibrated the threshold and the
    classifier-use decision, how many of the screened images it holds and their digest."""
    if screened.calibrated_on is None:
        return {"split": None, "images": 0, "sha256": None}
    images = [i for i, s in zip(screened.images, screened.split) if s == screened.calibrated_on]
    return {"split": screened.calibrated_on, "images": len(images),
            "sha256": _names_digest(images)}


def write_screen(screened: Screened, path: os.PathLike | str, *,
                 root: os.PathLike | str) -> pathlib.Path:
    """The screen CSV (:data:`SCREEN_COLUMNS`) of images screened under ``root``, one row per
    image, and its provenance (:func:`provenance_path`), each written atomically. Returns the
    CSV's path."""
    from replication import __version__

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(screened.images)
    none = [None] * n
    columns = {
        "image": screened.images, "task": screened.tasks,
        "split": screened.split if screened.split is not None else none, "flat": screened.flat,
        "label": ["flat-lay" if f else "on-model" for f in screened.flat],
        "decided_by": screened.decided_by(), "body_share": screened.body_share,
        "parser_flat": screened.parser_or_none(), "person_found": screened.person_found,
        "rescreen_flat": screened.rescreen_flat,
        "classifier_flat_prob": (screened.classifier_flat_prob
                                 if screened.classifier_flat_prob is not None else none),
        "classifier_flat": (screened.classifier_flat
                            if screened.classifier_flat is not None else none),
    }

    def rows(handle):
        writer = csv.writer(handle)
        writer.writerow(SCREEN_COLUMNS)
        for i in range(n):
            writer.writerow([_cell(columns[c][i]) for c in SCREEN_COLUMNS])

    _write_atomically(path, rows)
    ran_classifier = screened.classifier_flat_prob is not None
    provenance = {
        "format": PROVENANCE_FORMAT, "csv": path.name, "sha256": _sha256(path), "rows": n,
        "root": pathlib.Path(root).resolve().name,
        "data_fingerprint": fashionai.data_fingerprint(root),
        "stages": screened.stages_run(), "parser": screened.parser_name,
        "detector": screened.detector_name, "classifier": screened.classifier_name,
        "threshold": screened.threshold,
        "classifier_used": screened.classifier_used if ran_classifier else None,
        "splits": ({name: screened.split.count(name) for name in SPLITS}
                   if screened.split is not None else None),
        "calibration": _calibration_record(screened),
        "package": f"replication {__version__}",
    }
    _write_atomically(provenance_path(path),
                      lambda handle: handle.write(json.dumps(provenance, indent=1) + "\n"))
    return path


def read_provenance(path: os.PathLike | str) -> dict:
    """The provenance :func:`write_screen` wrote beside the screen CSV ``path``;
    FileNotFoundError naming the CSV when it has none (written before provenance existed, or by
    hand)."""
    path = pathlib.Path(path)
    sidecar = provenance_path(path)
    if not sidecar.exists():
        raise FileNotFoundError(f"{path} has no provenance ({sidecar.name} beside it): it was "
                                "not written by this version's screening, so which data it "
                                "screens is unknown")
    try:
        provenance = json.loads(sidecar.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ScreenMismatch(f"{sidecar}: not valid JSON ({error})") from None
    if not isinstance(provenance, dict) or provenance.get("format") != PROVENANCE_FORMAT:
        raise ScreenMismatch(f"{sidecar}: not a screen CSV's provenance (format "
                             f"{PROVENANCE_FORMAT!r} expected)")
    return provenance


def check_screens(path: os.PathLike | str, root: os.PathLike | str, *,
                  rerun: str | None = None) -> dict:
    """That the screen CSV ``path`` screens the data root ``root`` as it is now: the CSV exists,
    its provenance (:func:`read_provenance`) describes this very file (same hash) and carries
    ``root``'s current data fingerprint. Returns the provenance. Each failure is an error naming
    the CSV and ending in ``rerun``, what to run to get a fitting CSV (default: the ``screen``
    command on ``root``): FileNotFoundError for a missing CSV or provenance,
    :class:`ScreenMismatch` (a ValueError) for a CSV changed since it was written or one that
    screens other data (another root, or an older rendering of this one)."""
    path = pathlib.Path(path)
    rerun = rerun or f"(python -m replication screen {root} --out {path})"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: screen the images first {rerun}")
    try:
        provenance = read_provenance(path)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{error}; screen again {rerun}") from None
    except ScreenMismatch as error:
        raise ScreenMismatch(f"{error}; screen again {rerun}") from None
    if provenance.get("sha256") != _sha256(path):
        raise ScreenMismatch(f"{path} changed after it was screened (its hash is not the one in "
                             f"{provenance_path(path).name}): screen again {rerun}")
    now = fashionai.data_fingerprint(root)
    if provenance.get("data_fingerprint") != now:
        raise ScreenMismatch(
            f"{path} screens {provenance.get('root')!r} (data fingerprint "
            f"{provenance.get('data_fingerprint')}), not {root} as it is now (data fingerprint "
            f"{now}): another data set, or an older rendering of it; screen again {rerun}")
    return provenance


def calibration_images(path: os.PathLike | str) -> set[str]:
    """The images (as the screen CSV ``path`` names them) that calibrated its screening: the
    rule's threshold and whether the classifier's verdicts are used. Empty where nothing was
    calibrated. The CSV's ``split`` column names them and its provenance counts and hashes
    them; :class:`ScreenMismatch` where the two disagree (the CSV was changed)."""
    path = pathlib.Path(path)
    record = read_provenance(path).get("calibration")
    if not isinstance(record, dict) or "split" not in record:
        raise ScreenMismatch(f"{provenance_path(path)}: no calibration record")
    if record["split"] is None:
        return set()
    with open(path, newline="", encoding="utf-8") as handle:
        images = {row["image"] for row in csv.DictReader(handle)
                  if row.get("split") == record["split"]}
    if len(images) != record["images"] or _names_digest(images) != record["sha256"]:
        raise ScreenMismatch(f"{path}: its {record['split']!r} images are not the ones its "
                             f"provenance says calibrated ({record['images']} images): the CSV "
                             "changed after it was screened")
    return images


class ScreenedFlatFlags(models.FlagTable):
    """The flat/on-model flags of a screen CSV (:func:`write_screen`): the ``FlatFlags`` the
    dual-channel length models use in place of the truth. Images are looked up by the CSV's names,
    or by file path under ``root`` when one is given. :meth:`for_root` also checks that the CSV
    screens that root."""

    def __init__(self, path: os.PathLike | str, *, root: os.PathLike | str | None = None):
        self.path = pathlib.Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path} not found: screen the images first (notebook "
                                    "04, or python -m replication screen ROOT --out CSV)")
        flat: dict[str, bool] = {}
        with open(self.path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"image", "flat"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{self.path}: not a screen CSV (no column {sorted(missing)})")
            for line, row in enumerate(reader, start=2):
                if row["flat"] not in ("0", "1"):
                    raise ValueError(f"{self.path}, line {line}: flat must be 0 or 1, got "
                                     f"{row['flat']!r}")
                flat[row["image"]] = row["flat"] == "1"
        super().__init__(flat, root=root, source=f"the screen {self.path}")

    @classmethod
    def for_root(cls, path: os.PathLike | str, root: os.PathLike | str, *,
                 rerun: str | None = None) -> ScreenedFlatFlags:
        """The flags of the screen CSV ``path`` once :func:`check_screens` has found that it
        screens ``root`` as it is now; images are looked up under ``root``."""
        check_screens(path, root, rerun=rerun)
        return cls(path, root=root)


def flags_digest(flags: models.FlatFlags, images: Sequence[str]) -> str:
    """A short hash of the flags of ``images``: it names the dual-channel models trained on them,
    so that changed screening never reuses a model trained on other flags."""
    return segmentation.labels_digest(images, flags(list(images)))[:8]
