"""Flat-lay / on-model screening of the length-level images (paper §3.2): the cascade of a human
parser, a person detector and a learned classifier, each stage scored against truth.

The paper's procedure, and where each piece lives:

1. **Stage 1, the parser rule** (JPPNet's role, ``replication.human_parsing``): every length image
   is parsed; it is on-model when a body-part group covers more than a calibrated share of it.
2. **Stage 2, the re-screen** (Mask R-CNN's role, ``replication.person_detection``): the paper
   found many flat-lays left among stage 1's on-model images and re-screened by dimension
   (:data:`RESCREEN`): coat and sleeve "with Mask R-CNN and JPPNet jointly": an image that stage
   1 called on-model stays on-model only when the detector also finds a person (a stage-1
   flat-lay is not revisited); skirt and pant, where JPPNet "made many errors", with the detector
   alone, over all their images.
3. **Stage 3, the classifier**: a base net trained on the cascade's stage-2 labels of the training
   split with the paper's schedule (Adam 1e-3 x 3 epochs, 2.5e-5, 7.5e-6, SGD 4.5e-6, 1e-6),
   its accuracy recorded after every stage (paper: 0.9024, 0.9411, 0.957). Its verdict is the
   final flag of every length image.

Unlike the paper, the synthetic set knows every image's truth, so each stage is scored
(:func:`stage_scores`: precision and recall of "flat-lay", accuracy, per length dimension). The
result is a table with one row per image (:data:`SCREEN_COLUMNS`), written by :func:`write_screen`
(``python -m replication screen ROOT --out CSV`` and notebook 04) and read back as flags by
:class:`ScreenedFlatFlags` for the dual-channel length models (notebook 05 onwards).
"""

from __future__ import annotations

import csv
import hashlib
import os
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np
from tqdm import tqdm

from . import fashionai, human_parsing, models, segmentation, training
from .fashionai import load_image, safe_image_path
from .person_detection import PersonDetector, person_found

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
SCREEN_COLUMNS = ("image", "task", "flat", "label", "decided_by", "body_share", "parser_flat",
                  "person_found", "rescreen_flat", "classifier_flat_prob", "classifier_flat")
"""The screen CSV: ``flat`` 1/0 is the final verdict (``label`` says it in words), ``decided_by``
the stage that gave it; the other columns are each stage's own output (empty where a stage did
not run)."""
PAPER_CLASSIFIER_ACCURACY = {1: 0.9024, 3: 0.9411, 5: 0.957}
"""§3.2: the classifier's accuracy after 3 Adam epochs at 1e-3 (stage 1), after the Adam stages
at 2.5e-5 and 7.5e-6 (stage 3), and at the end of the SGD stages (stage 5)."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


# --------------------------------------------------------------------------- stages 1 and 2


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
    """False where the classifier ran but did no better on the validation split than always
    answering the majority class (:func:`classifier_beats_majority`): the re-screen decides."""

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
        if self.classifier_flat_prob is not None and self.classifier_used:
            return ["classifier"] * len(self.images)
        out = []
        for task, stage1_flat in zip(self.tasks, self._parser_or_none()):
            mode = rescreen_mode(task, self.parser_flat is not None)
            if mode == "detector":
                out.append("detector")
            else:
                out.append("parser" if stage1_flat else "parser+detector")
        return out

    def _parser_or_none(self):
        return self.parser_flat if self.parser_flat is not None else [None] * len(self.images)

    def stage(self, name: str) -> np.ndarray | None:
        """A stage's flat-lay verdicts by name (:data:`STAGES`)."""
        return {"parser": self.parser_flat, "rescreen": self.rescreen_flat,
                "classifier": self.classifier_flat}[name]


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
                    skipped=skipped, threshold=threshold if parser is not None else None)


# --------------------------------------------------------------------------- stage 3: the classifier

FLAT_HEAD = "flat_onmodel"
"""The classifier's output: softmax over (on-model, flat-lay)."""


def build_classifier(spec: models.ModelSpec, *, bn_momentum: float | None = None,
                     backbone_factory: models.BackboneFactory | None = None) -> keras.Model:
    """§3.2's flat/on-model classifier: the recognition models' body (``preprocess``, base net
    with global average pooling, Dropout) with one two-way softmax ``flat_onmodel``
    (0 on-model, 1 flat-lay).

    ``bn_momentum`` replaces the base net's BatchNormalization momentum (Keras: 0.99). A net
    trained from scratch for a few dozen steps (the smoke profile) leaves moving statistics at
    0.99 close to their initial values, and at inference it then gives every image the same
    class, though it fits its training batches; 0.9 lets the statistics follow in time."""
    image = keras.Input((spec.image_size, spec.image_size, 3), name=models.IMAGE_INPUT)
    x = models.preprocessing(spec)(image)
    backbone = models.named_backbone(spec, backbone_factory or models.default_backbone)
    if bn_momentum is not None:
        for layer in backbone.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = float(bn_momentum)
    x = backbone(x)
    x = keras.layers.Dropout(spec.dropout, name=models.FEATURES)(x)
    out = keras.layers.Dense(2, activation="softmax", dtype="float32", name=FLAT_HEAD)(x)
    return keras.Model(image, out, name=f"flat_classifier_{spec.backbone}")


class _Labelled(keras.utils.PyDataset):
    """An :class:`training.ImageBatches` with a 0/1 label per image: ``(x, y)`` batches."""

    def __init__(self, batches: training.ImageBatches, labels: np.ndarray):
        super().__init__(workers=training.default_workers(), use_multiprocessing=False)
        self.batches, self.labels = batches, np.asarray(labels, dtype="int32")

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        (x,) = self.batches[i]
        return x, self.labels[self.batches.batch_indices(i)]


def classifier_probs(model: keras.Model, paths: Sequence[os.PathLike | str], *,
                     batch_size: int = 32) -> np.ndarray:
    """The classifier's flat-lay probability per image."""
    if not len(paths):
        return np.zeros(0, dtype=np.float32)
    if model.output_names != [FLAT_HEAD] or tuple(model.output_shape)[1:] != (2,):
        raise models.ModelFileError(f"model {model.name!r} is not a flat/on-model classifier (one "
                                    f"two-way output {FLAT_HEAD!r}; notebook 04 trains one)")
    size = int(model.input_shape[1])
    batches = training.ImageBatches(list(paths), image_size=size, batch_size=batch_size)
    return np.asarray(model.predict(batches, verbose=0), dtype=np.float32)[:, 1]


def train_classifier(root: os.PathLike | str, train_images: Sequence[str],
                     train_flat: np.ndarray, val_images: Sequence[str], val_flat: np.ndarray, *,
                     spec: models.ModelSpec, schedule: Sequence[Mapping], out_dir,
                     val_truth: np.ndarray | None = None, batch_size: int = 32, seed: int = 0,
                     bn_momentum: float | None = None, progress: bool = True,
                     backbone_factory: models.BackboneFactory | None = None) -> pathlib.Path:
    """Train (or reuse) §3.2's classifier on the cascade's flat-lay labels of the training
    images, stage by stage of ``schedule`` (each stage a fresh optimizer, the base net frozen to
    the stage's share). After every stage its accuracy on the validation images is recorded
    against the cascade's labels (what the paper could measure) and, given ``val_truth``, against
    the truth; :func:`segmentation.read_history` reads the records back. Returns the
    ``model.keras``."""
    stages = training.parse_schedule(schedule)
    train_paths = [safe_image_path(root, image) for image in train_images]
    val_paths = [safe_image_path(root, image) for image in val_images]
    config = {"data": fashionai.data_fingerprint(root), "spec": spec.to_dict(),
              "schedule": [vars(s) for s in stages],
              "train": _digest(train_images, train_flat), "val": _digest(val_images, val_flat),
              "batch_size": batch_size, "seed": seed, "bn_momentum": bn_momentum}
    if len(set(np.asarray(train_flat, dtype=bool).tolist())) < 2:
        raise ValueError("the cascade put every training image in one class: a flat/on-model "
                         "classifier cannot be trained on one class")

    def fit():
        keras.utils.set_random_seed(seed)
        model = build_classifier(spec, bn_momentum=bn_momentum, backbone_factory=backbone_factory)
        labels = np.asarray(train_flat, dtype=bool)
        history = []
        for k, stage in enumerate(stages, start=1):
            keras.utils.set_random_seed(int(np.random.default_rng([seed, k]).integers(2**31 - 1)))
            models.set_backbone_trainable(model, stage.train_backbone)
            model.compile(optimizer=training.make_optimizer(stage),
                          loss=keras.losses.SparseCategoricalCrossentropy(),
                          metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")])
            for epoch in tqdm(range(1, stage.epochs + 1), disable=not progress, unit="epoch",
                              desc=f"classifier stage {k}/{len(stages)}"):
                order = np.random.default_rng([seed, k, epoch]).permutation(len(train_paths))
                batches = training.ImageBatches(train_paths, image_size=spec.image_size,
                                                batch_size=batch_size, order=order)
                model.fit(_Labelled(batches, labels), epochs=1, verbose=0, shuffle=False)
            predicted = classifier_probs(model, val_paths, batch_size=batch_size) >= 0.5
            record = {"stage": k, "optimizer": stage.optimizer,
                      "learning_rate": stage.learning_rate, "epochs": stage.epochs,
                      "train_backbone": stage.train_backbone,
                      "val_acc_vs_cascade": float(np.mean(predicted == np.asarray(val_flat)))}
            if val_truth is not None:
                record["val_acc_vs_truth"] = float(np.mean(predicted == np.asarray(val_truth)))
            history.append(record)
        return model, history

    return segmentation.cached_model(out_dir, "classifier", config, fit)


def classifier_beats_majority(predicted_flat: np.ndarray, cascade_flat: np.ndarray) -> dict:
    """Whether the classifier's validation verdicts agree with the cascade's labels more often
    than always answering the cascade's majority class does. A classifier that does not (a net
    trained from scratch that learnt nothing, or the paper's frozen first stage without ImageNet
    weights) must not overrule the cascade: :func:`screen_dataset` then keeps stage 2's verdicts
    and says so."""
    predicted, labels = np.asarray(predicted_flat, bool), np.asarray(cascade_flat, bool)
    accuracy = float(np.mean(predicted == labels)) if len(labels) else float("nan")
    majority = float(max(labels.mean(), 1 - labels.mean())) if len(labels) else float("nan")
    return {"accuracy": accuracy, "majority": majority, "used": bool(accuracy > majority)}


def check_classifier(screened: Screened, val: np.ndarray) -> dict:
    """Whether stage 3's verdicts stand: :func:`classifier_beats_majority` on the validation
    images (on all of them where a set is too small to hold any, said so), recorded on
    ``screened`` (``classifier_used``). Notebook 04 and the ``screen`` command both decide so."""
    val = np.asarray(val, dtype=bool)
    on = val if val.any() else np.ones_like(val)
    check = {**classifier_beats_majority(screened.classifier_flat[on], screened.rescreen_flat[on]),
             "images": int(on.sum()),
             "on": "the validation split" if val.any() else "all images (no validation length images)"}
    screened.classifier_used = check["used"]
    return check


def _digest(images: Sequence[str], flags) -> str:
    text = "\n".join(f"{i},{int(f)}" for i, f in zip(images, np.asarray(flags, dtype=bool)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- scoring


def _rates(predicted: np.ndarray, truth: np.ndarray) -> dict:
    predicted, truth = np.asarray(predicted, dtype=bool), np.asarray(truth, dtype=bool)
    tp = int(np.sum(predicted & truth))
    fp = int(np.sum(predicted & ~truth))
    fn = int(np.sum(~predicted & truth))
    tn = int(np.sum(~predicted & ~truth))
    n = tp + fp + fn + tn
    return {"n": n, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / (tp + fn) if tp + fn else float("nan"),
            "accuracy": (tp + tn) / n if n else float("nan")}


def stage_scores(tasks: Sequence[str], truth_flat: np.ndarray,
                 stages: Mapping[str, np.ndarray | None]) -> list[dict]:
    """Every stage against truth, per dimension and over all (``task`` = ``"all"``): counts,
    precision and recall of *flat-lay* (the class the screening must find) and accuracy. A stage
    given as None (it did not run) is left out."""
    tasks = np.asarray(tasks)
    out = []
    for stage, predicted in stages.items():
        if predicted is None:
            continue
        predicted = np.asarray(predicted, dtype=bool)
        for task in [*sorted(set(tasks.tolist())), "all"]:
            keep = np.ones(len(tasks), bool) if task == "all" else tasks == task
            out.append({"stage": stage, "task": task,
                        **_rates(predicted[keep], np.asarray(truth_flat)[keep])})
    return out


# --------------------------------------------------------------------------- the screen CSV


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{float(value):.6g}"
    return str(value)


def write_screen(screened: Screened, path: os.PathLike | str) -> pathlib.Path:
    """The screen CSV (:data:`SCREEN_COLUMNS`), one row per screened image, written atomically."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(screened.images)
    none = [None] * n
    columns = {
        "image": screened.images, "task": screened.tasks, "flat": screened.flat,
        "label": ["flat-lay" if f else "on-model" for f in screened.flat],
        "decided_by": screened.decided_by(), "body_share": screened.body_share,
        "parser_flat": screened._parser_or_none(), "person_found": screened.person_found,
        "rescreen_flat": screened.rescreen_flat,
        "classifier_flat_prob": (screened.classifier_flat_prob
                                 if screened.classifier_flat_prob is not None else none),
        "classifier_flat": (screened.classifier_flat
                            if screened.classifier_flat is not None else none),
    }
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SCREEN_COLUMNS)
        for i in range(n):
            writer.writerow([_cell(columns[c][i]) for c in SCREEN_COLUMNS])
    os.replace(partial, path)
    return path


class ScreenedFlatFlags(models.FlagTable):
    """The flat/on-model flags of a screen CSV (:func:`write_screen`): the ``FlatFlags`` the
    dual-channel length models use in place of the truth. Images are looked up by the CSV's names,
    or by file path under ``root`` when one is given."""

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


def flags_digest(flags: models.FlatFlags, images: Sequence[str]) -> str:
    """A short hash of the flags of ``images``: it names the dual-channel models trained on them,
    so that changed screening never reuses a model trained on other flags."""
    return _digest(images, flags(list(images)))[:8]


# --------------------------------------------------------------------------- a folder or a root


def list_images(root: os.PathLike | str, skipped: list | None = None
                ) -> tuple[list[str], list[str]]:
    """The length-level images to screen under ``root`` and their dimensions: the length rows of
    ``Annotations/label.csv`` where there is one (FashionAI layout), else every image file below
    ``root`` (sorted; dimension empty). Rows of ``label.csv`` that cannot be used (a missing
    image, a bad label, an unsafe path) are appended to ``skipped`` as ``(file and row, why)``."""
    from .fashionai import LABEL_CSV, read_labels
    from .tasks import get_task

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


def has_truth(root: os.PathLike | str) -> bool:
    from .synthetic import TRUTH_CSV

    return (pathlib.Path(root) / TRUTH_CSV).exists()


def read_truth_images(root: os.PathLike | str) -> list[str]:
    """Every image of a synthetic set that has a part mask (all of them), in truth order."""
    from .synthetic import read_truth

    return list(read_truth(root))


def truth_flat(root: os.PathLike | str, images: Sequence[str]) -> np.ndarray:
    """The synthetic set's flat-lay truth of ``images``."""
    return models.TruthFlatFlags(root)(list(images))


def summary(screened: Screened) -> dict:
    """Counts for a report: images, flat-lay and on-model, per deciding stage, skipped."""
    decided: dict[str, int] = {}
    for stage in screened.decided_by():
        decided[stage] = decided.get(stage, 0) + 1
    flat = screened.flat
    return {"images": len(screened.images), "flat_lay": int(np.sum(flat)),
            "on_model": int(len(flat) - np.sum(flat)), "decided_by": decided,
            "skipped": len(screened.skipped), "threshold": screened.threshold,
            "classifier_used": (screened.classifier_used
                                if screened.classifier_flat_prob is not None else None)}


def history_table(model_path: os.PathLike | str) -> list[dict]:
    """The classifier's per-stage accuracies (:func:`train_classifier`), with the paper's beside
    the stages it reports."""
    return [{**row, "paper_acc": PAPER_CLASSIFIER_ACCURACY.get(row["stage"])}
            for row in segmentation.read_history(model_path)]




# --------------------------------------------------------------------------- the whole stage


@dataclass(frozen=True)
class ScreeningConfig:
    """What notebook 04 and ``python -m replication screen`` need to know to screen a data set:
    the profiles' ``04_screening`` parameters in one value."""

    parser_size: int = 64
    """The default parser's input side (trained here on the synthetic masks)."""
    parser_epochs: int = 10
    person_size: int = 64
    """The learned person segmenter's input side (it sees the input at 1/8 of that)."""
    person_epochs: int = 40
    detector: str = "segmenter"
    """Stage 2's person detector: ``segmenter`` (learned here) or ``opencv`` (HOG + Haar)."""
    parser_model: str = ""
    """A user's LIP-trained Keras parser (``.keras``, safe mode); empty: the default parser."""
    threshold: float | None = None
    """The rule's share of pixels; None: calibrated on the validation images against truth
    (:data:`human_parsing.DEFAULT_THRESHOLD` where there is no truth)."""
    classifier: Mapping | None = None
    """Stage 3: ``backbone``, ``variant``, ``image_size``, ``batch_size``, ``schedule`` (and
    optionally ``weights``, ``bn_momentum``: :func:`build_classifier`); None skips it."""
    mask_root: str = ""
    """Where the default parser and the person segmenter learn from: a synthetic set with part
    masks; empty: the screened data set itself (then it must be synthetic). The real data has
    no masks, so the paper profile points this at a synthetic set."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS}, got {self.detector!r}")
        if self.classifier is not None:
            missing = {"backbone", "variant", "image_size", "schedule"} - set(self.classifier)
            if missing:
                raise ValueError(f"classifier options lack {sorted(missing)}")


DETECTORS = ("segmenter", "opencv")


@dataclass
class ScreeningRun:
    """Everything one screening produced: the models, the calibration and the screened images
    (all length images of the data set, in ``label.csv`` order)."""

    screened: Screened
    val: np.ndarray
    """Per screened image: True for the validation split (the images every stage is scored on)."""
    parser_model: pathlib.Path | None
    person_model: pathlib.Path | None
    calibration: dict
    classifier_model: pathlib.Path | None
    classifier_check: dict | None = None
    """:func:`check_classifier`: whether the classifier's verdicts are used (None: no classifier)."""


def make_detector(name: str, person_model: os.PathLike | str | None = None) -> PersonDetector:
    """A stage-2 detector by name (:data:`DETECTORS`)."""
    from . import person_detection

    if name == "opencv":
        return person_detection.OpenCVPersonDetector()
    if person_model is None:
        raise ValueError("the segmenter detector needs a trained person segmenter model file")
    return person_detection.SegmenterPersonDetector(person_model)


def screen_dataset(root: os.PathLike | str, train_images: Sequence[str],
                   val_images: Sequence[str], *, config: ScreeningConfig, work_dir,
                   progress: bool = True) -> ScreeningRun:
    """The whole of §3.2 on a data set in the FashionAI layout, models trained where missing and
    reused afterwards (under ``work_dir``): the default parser and the person segmenter on the
    training split's part masks (a synthetic set; with a ``parser_model`` and the ``opencv``
    detector nothing needs masks), the rule's threshold calibrated on the validation split's
    length images, stages 1-2 on every length image, then the classifier trained on stage 2's
    labels of the training split. ``train_images`` / ``val_images`` may hold both levels' images;
    only the length level is screened."""
    from . import person_detection

    root = pathlib.Path(root)
    work_dir = pathlib.Path(work_dir)
    unusable: list[tuple[str, str]] = []
    images, tasks = list_images(root, unusable)
    truth = has_truth(root)
    val_set = set(val_images)
    mask_root, mask_images = root, list(train_images)
    if config.mask_root:
        mask_root = pathlib.Path(config.mask_root)
        mask_images = list(read_truth_images(mask_root))
    needs_masks = not config.parser_model or config.detector == "segmenter"
    if needs_masks and not has_truth(mask_root):
        raise FileNotFoundError(
            f"{mask_root} has no part masks (Truth/) to train the default human parser and person "
            "segmenter on: point mask_root at a synthetic set, or give a LIP-trained Keras parser "
            "(parser_model / --parser PATH.keras) and use the opencv detector")
    if config.parser_model:
        parser_model = pathlib.Path(config.parser_model)
    else:
        parser_model = human_parsing.train_default_parser(
            mask_root, mask_images, out_dir=work_dir, size=config.parser_size,
            epochs=config.parser_epochs, seed=config.seed, progress=progress)
    parser = human_parsing.KerasHumanParser(parser_model)
    person_model = None
    if config.detector == "segmenter":
        person_model = person_detection.train_default_segmenter(
            mask_root, mask_images, out_dir=work_dir, size=config.person_size,
            epochs=config.person_epochs, seed=config.seed, progress=progress)
    detector = make_detector(config.detector, person_model)
    paths = [safe_image_path(root, image) for image in images]
    # Stage 1's scores do not depend on the threshold: screen once, calibrate, apply.
    screened = run_cascade(paths, images, tasks, parser=parser, detector=detector,
                           threshold=config.threshold or 0.0, progress=progress)
    screened.skipped[:0] = unusable
    val = np.array([image in val_set for image in screened.images], dtype=bool)
    if config.threshold is not None:
        calibration = {"threshold": float(config.threshold), "source": "given"}
    elif truth:
        # A set too small to hold validation length images calibrates on all of them (said so).
        on = val if val.any() else np.ones_like(val)
        calibration = {**human_parsing.calibrate_threshold(
            screened.body_share[on], truth_flat(root, np.asarray(screened.images)[on])),
            "source": "calibrated on the validation split" if val.any()
            else "calibrated on all images (no validation length images)"}
    else:
        calibration = {"threshold": human_parsing.DEFAULT_THRESHOLD,
                       "source": "default (no truth to calibrate on)"}
    screened.threshold = calibration["threshold"]
    screened.parser_flat = ~human_parsing.on_model(screened.body_share, screened.threshold)
    screened.rescreen_flat = rescreen(screened.tasks, screened.parser_flat, screened.person_found)
    classifier_model, check = None, None
    if config.classifier is not None:
        options = dict(config.classifier)
        spec = models.ModelSpec(level="length", backbone=options["backbone"],
                                variant=options["variant"], image_size=options["image_size"],
                                weights=options.get("weights") or None)
        chosen = np.asarray(screened.images)
        classifier_model = train_classifier(
            root, list(chosen[~val]), screened.rescreen_flat[~val], list(chosen[val]),
            screened.rescreen_flat[val], spec=spec, schedule=options["schedule"],
            out_dir=work_dir, val_truth=truth_flat(root, chosen[val]) if truth else None,
            batch_size=int(options.get("batch_size", 32)), seed=config.seed,
            bn_momentum=options.get("bn_momentum"), progress=progress)
        screened.classifier_flat_prob = classifier_probs(
            models.open_model_file(classifier_model),
            [safe_image_path(root, image) for image in screened.images],
            batch_size=int(options.get("batch_size", 32)))
        check = check_classifier(screened, val)
    return ScreeningRun(screened=screened, val=val, parser_model=parser_model,
                        person_model=person_model, calibration=calibration,
                        classifier_model=classifier_model, classifier_check=check)


def screen_root(root: os.PathLike | str, *, work_dir: os.PathLike | str,
                parser_model: os.PathLike | str | None = None, detector: str = "auto",
                classifier_model: os.PathLike | str | None = None, threshold: float | None = None,
                parser_epochs: int = 10, person_epochs: int = 40, val_fraction: float = 0.2,
                seed: int = 0, progress: bool = True) -> tuple[Screened, dict, dict | None]:
    """``python -m replication screen``: screen every length image of a FashionAI-layout root, or
    every image file below a plain folder. Returns the screened images, the calibration and the
    classifier's check (None where there is none).

    On a synthetic root (with ``Truth/``) the default parser and the person segmenter are trained
    on its training split (or reused from ``work_dir``) and the threshold is calibrated on its
    validation split, as notebook 04 does (``detector="auto"``: the learned segmenter). Anywhere
    else nothing can be trained: stage 1 runs with ``parser_model`` if given (else it is skipped
    and the detector decides alone), the threshold is ``threshold`` or
    :data:`human_parsing.DEFAULT_THRESHOLD`, and ``detector="auto"`` means OpenCV's. A
    ``classifier_model`` (notebook 04's, under ``results/<profile>/screening/``) adds stage 3;
    on a synthetic root, as in notebook 04, its verdicts are used only where they beat the
    majority class on the validation split (:func:`check_classifier`); elsewhere the
    user's classifier decides.
    """
    from .fashionai import stratified_split

    root = pathlib.Path(root)
    unusable: list[tuple[str, str]] = []
    images, tasks = list_images(root, unusable)
    synthetic = has_truth(root) and images and tasks[0] != ""
    if detector not in ("auto", *DETECTORS):
        raise ValueError(f"detector must be auto or one of {DETECTORS}, got {detector!r}")
    if synthetic:
        from .fashionai import read_labels

        rows, _ = read_labels(root)
        train, val = stratified_split(rows, val_fraction=val_fraction, seed=seed)
        config = ScreeningConfig(parser_epochs=parser_epochs, person_epochs=person_epochs,
                                 detector="segmenter" if detector == "auto" else detector,
                                 parser_model=str(parser_model or ""), threshold=threshold,
                                 classifier=None, seed=seed)
        run = screen_dataset(root, [r.image for r in train], [r.image for r in val],
                             config=config, work_dir=work_dir, progress=progress)
        screened, calibration, val = run.screened, run.calibration, run.val
    else:
        if detector == "segmenter":
            raise ValueError(f"{root} has no Truth/ to train the person segmenter on: use the "
                             "opencv detector")
        parser = human_parsing.KerasHumanParser(parser_model) if parser_model else None
        value = human_parsing.DEFAULT_THRESHOLD if threshold is None else float(threshold)
        calibration = {"threshold": value if parser else None,
                       "source": ("given" if threshold is not None else "default")
                       if parser else "no parser: stage 1 skipped, the detector decides"}
        screened = run_cascade([root / image for image in images], images, tasks, parser=parser,
                               detector=make_detector("opencv"), threshold=value,
                               progress=progress)
        screened.skipped[:0] = unusable
    check = None
    if classifier_model is not None:
        screened.classifier_flat_prob = classifier_probs(
            models.open_model_file(classifier_model), [root / image for image in screened.images])
        if synthetic:
            check = check_classifier(screened, val)
    return screened, calibration, check
