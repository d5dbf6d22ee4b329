"""Stages 1 and 2 of the flat-lay / on-model screening (paper §3.2): the parser rule, then the
re-screen with a person detector, over a list of image files.

1. **Stage 1, the parser rule** (JPPNet's role, :mod:`replication.screening.human_parsing`):
   every length image is parsed; it is on-model when a body-part group covers more than a
   calibrated share of it.
2. **Stage 2, the re-screen** (Mask R-CNN's role, :mod:`replication.screening.person_detection`):
   the paper found many flat-lays left among stage 1's on-model images and re-screened by
   dimension (:data:`RESCREEN`): coat and sleeve "with Mask R-CNN and JPPNet jointly": an image
   that stage 1 called on-model stays on-model only when the detector also finds a person (a
   stage-1 flat-lay is not revisited); skirt and pant, where JPPNet "made many errors", with the
   detector alone, over all their images.

:func:`run_cascade` gives a :class:`Screened`, the one record of every stage's verdicts that the
rest of the package reads. The other modules of the stage:

- :mod:`~replication.screening.classifier`: stage 3, the flat/on-model classifier trained on
  stage 2's labels, and whether its verdicts stand;
- :mod:`~replication.screening.scoring`: every stage against the synthetic truth;
- :mod:`~replication.screening.screen_csv`: the screen CSV, its provenance, and its flags;
- :mod:`~replication.screening.screen`: the whole stage on a data set or a folder (notebook 04,
  ``python -m replication screen``).
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from replication.data.fashionai import load_image
from replication.screening import human_parsing
from replication.screening.person_detection import PersonDetector, person_found

RESCREEN: dict[str, str] = {
    "sleeve_length_labels": "joint",
    "coat_length_labels": "joint",
    "skirt_length_labels": "detector",
    "pant_length_labels": "detector",
}
"""§3.2 stage 2 per length dimension: ``joint`` (parser and detector must both see a person) or
``detector`` (the detector alone). An image of no known dimension (a folder of photos) is
re-screened jointly when a parser is at hand, else by the detector alone."""
STAGES = ("parser", "rescreen", "classifier")
STAGE_COLUMNS = {"parser": "parser_flat", "rescreen": "rescreen_flat",
                 "classifier": "classifier_flat"}
"""Each stage's own verdict column in the screen CSV (:mod:`~replication.screening.screen_csv`)."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SPLITS = ("train", "calibration", "validation")
"""The screening's three splits of a data set (``screen.split_images``): ``train`` fits the
default parser, the person segmenter and the classifier; ``calibration`` sets the rule's threshold
and decides whether the classifier's verdicts are used; ``validation`` (the model chapters' own
validation split) scores every stage and calibrates nothing."""
SPLIT_WORDS = {"train": "the training split", "calibration": "the calibration split",
               "validation": "the validation split"}


@dataclass
class Screened:
    """The cascade's output for the images it could read, in input order; ``skipped`` holds
    ``(image, reason)`` for those it could not."""

    images: list[str]
    tasks: list[str]
    body_share: np.ndarray
    parser_flat: np.ndarray | None
    person_found: np.ndarray
    rescreen_flat: np.ndarray
    skipped: list[tuple[str, str]]
    classifier_flat_prob: np.ndarray | None = None
    threshold: float | None = None
    classifier_used: bool = True
    """False where the classifier ran but did no better on the calibration split than always
    answering the majority class (``classifier.check_classifier``): the re-screen decides."""
    parser_name: str | None = None
    """The parser's ``name`` (None: stage 1 skipped); the screen CSV's provenance records it."""
    detector_name: str | None = None
    """The person detector's ``name``."""
    classifier_name: str | None = None
    """The classifier's model file (None: no stage 3)."""
    split: list[str] | None = None
    """Per image, its split (:data:`SPLITS`); None where the images were not split (a folder of
    photos)."""
    calibrated_on: str | None = None
    """The split that calibrated the threshold and the classifier-use decision: ``calibration``,
    or ``train`` where the calibration split holds no image to screen (a tiny set); None where
    nothing was calibrated (a given threshold and no classifier, or no split)."""

    def in_split(self, name: str) -> np.ndarray:
        """Per image, whether it is in the split ``name`` (:data:`SPLITS`)."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        if self.split is None:
            raise ValueError("these images were not split (a folder of photos)")
        return np.array([s == name for s in self.split], dtype=bool)

    def calibration_split(self) -> str:
        """The split that calibrates: ``calibration``, or ``train`` where the calibration split
        holds none of these images (a set too small to spare any), never ``validation``."""
        return "calibration" if self.in_split("calibration").any() else "train"

    @property
    def classifier_flat(self) -> np.ndarray | None:
        return None if self.classifier_flat_prob is None else self.classifier_flat_prob >= 0.5

    @property
    def flat(self) -> np.ndarray:
        """The final verdict: the classifier's where it ran and is used, else the re-screen's."""
        if self.classifier_flat is not None and self.classifier_used:
            return self.classifier_flat
        return self.rescreen_flat

    def decided_by(self) -> list[str]:
        """Per image, the stage that gave the final verdict: ``classifier``, ``detector`` (stage
        2 alone), ``parser`` (a stage-1 flat-lay a joint re-screen keeps) or ``parser+detector``."""
        if self.classifier_flat_prob is not None and self.classifier_used:
            return ["classifier"] * len(self.images)
        out = []
        for task, stage1_flat in zip(self.tasks, self.parser_or_none()):
            mode = rescreen_mode(task, self.parser_flat is not None)
            if mode == "detector":
                out.append("detector")
            else:
                out.append("parser" if stage1_flat else "parser+detector")
        return out

    def parser_or_none(self):
        """Stage 1's verdicts, or None per image where it did not run."""
        return self.parser_flat if self.parser_flat is not None else [None] * len(self.images)

    def stage(self, name: str) -> np.ndarray | None:
        """A stage's flat-lay verdicts by name (:data:`STAGES`)."""
        return {"parser": self.parser_flat, "rescreen": self.rescreen_flat,
                "classifier": self.classifier_flat}[name]

    def stages_run(self) -> list[str]:
        """The names of the stages that ran (:data:`STAGES` order)."""
        return [name for name in STAGES if self.stage(name) is not None]


def rescreen_mode(task: str, have_parser: bool) -> str:
    """``joint`` or ``detector``: how stage 2 treats an image of ``task`` (:data:`RESCREEN`)."""
    if not have_parser:
        return "detector"
    return RESCREEN.get(task, "joint")


def rescreen(tasks: Sequence[str], parser_flat: np.ndarray | None,
             person: np.ndarray) -> np.ndarray:
    """§3.2 stage 2's flat-lay verdicts from stage 1's and the detector's (see :data:`RESCREEN`)."""
    person = np.asarray(person, dtype=bool)
    out = np.empty(len(tasks), dtype=bool)
    for i, task in enumerate(tasks):
        if rescreen_mode(task, parser_flat is not None) == "detector":
            out[i] = not person[i]
        else:  # joint: on-model only when the parser and the detector both say so
            out[i] = bool(parser_flat[i]) or not person[i]
    return out


def _read_array(path: pathlib.Path) -> np.ndarray:
    return np.asarray(load_image(path), dtype=np.uint8)


def run_cascade(paths: Sequence[os.PathLike | str], images: Sequence[str], tasks: Sequence[str],
                *, parser: human_parsing.HumanParser | None, detector: PersonDetector,
                threshold: float, chunk: int = 64, progress: bool = True) -> Screened:
    """Stages 1 and 2 over images read from ``paths`` (``images`` are their names in the
    output, ``tasks`` their dimensions). Without a parser, stage 1 is skipped and the detector
    decides every image. An unreadable image is skipped, with its reason, not fatal."""
    from concurrent.futures import ThreadPoolExecutor

    kept, kept_tasks, shares, persons, skipped = [], [], [], [], []
    bar = tqdm(total=len(paths), desc="screening", unit="img", disable=not progress)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for start in range(0, len(paths), chunk):
            part = list(range(start, min(start + chunk, len(paths))))

            def read(i):
                try:
                    return _read_array(pathlib.Path(paths[i]))
                except Exception as error:  # noqa: BLE001 - reported per image, never fatal
                    return error

            arrays, ok = [], []
            for i, array in zip(part, pool.map(read, part)):
                if isinstance(array, Exception):
                    skipped.append((images[i], f"{type(array).__name__}: {array}"))
                else:
                    arrays.append(array)
                    ok.append(i)
            if arrays:
                if parser is not None:
                    shares.append(human_parsing.body_share(parser.parse(arrays)))
                persons.append(person_found(detector.detect(arrays)))
                kept.extend(images[i] for i in ok)
                kept_tasks.extend(tasks[i] for i in ok)
            bar.update(len(part))
    bar.close()
    share = np.concatenate(shares) if shares else np.full(len(kept), np.nan)
    parser_flat = ~human_parsing.on_model(share, threshold) if parser is not None else None
    person = np.concatenate(persons) if persons else np.zeros(0, dtype=bool)
    return Screened(images=kept, tasks=kept_tasks, body_share=share, parser_flat=parser_flat,
                    person_found=person, rescreen_flat=rescreen(kept_tasks, parser_flat, person),
                    skipped=skipped, threshold=threshold if parser is not None else None,
                    parser_name=parser.name if parser is not None else None,
                    detector_name=detector.name)


def list_images(root: os.PathLike | str, skipped: list | None = None
                ) -> tuple[list[str], list[str]]:
    """The length-level images to screen under ``root`` and their dimensions: the length rows of
    ``Annotations/label.csv`` where there is one (FashionAI layout), else every image file below
    ``root`` (sorted; dimension empty). Rows of ``label.csv`` that cannot be used (a missing
    image, a bad label, an unsafe path) are appended to ``skipped`` as ``(file and row, why)``."""
    from replication.data.fashionai import LABEL_CSV, read_labels
    from replication.data.tasks import get_task

    root = pathlib.Path(root)
    if (root / LABEL_CSV).exists():
        rows, problems = read_labels(root)
        if skipped is not None:
            skipped.extend((f"{p.file}, row {p.row}", f"{p.kind}: {p.message}") for p in problems)
        rows = [r for r in rows if get_task(r.task).level == "length"]
        return [r.image for r in rows], [r.task for r in rows]
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"{root}: no {LABEL_CSV} and no image files "
                                f"({', '.join(IMAGE_SUFFIXES)}) below it")
    return files, [""] * len(files)
