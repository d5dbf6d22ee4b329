"""The FashionAI data format: read, validate, split, and write answers (DESIGN §3).

Layout of a data set root::

    <root>/Annotations/label.csv   no header: Images/<task>/<name>.jpg,<task>,<labels>
    <root>/Images/<task>/<name>.jpg
    <root>/Tests/question.csv      same 3 columns, the third a placeholder

``<labels>`` has one character per value of the task (``y`` yes, ``n`` no, ``m`` maybe) and
exactly one ``y``. A bad row never crashes a reader and is never dropped silently: it becomes a
:class:`Problem` (file, 1-based line, kind, message) and is skipped. Only a problem with the file
as a whole (missing, not text) raises :class:`DataError`.
"""

from __future__ import annotations

import concurrent.futures
import csv as _csv
import hashlib
import io
import math
import os
import pathlib
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from replication.data.tasks import TASK_KEYS, TASKS

LABEL_CSV = "Annotations/label.csv"
QUESTION_CSV = "Tests/question.csv"
PROBLEM_KINDS = (
    "malformed_row",
    "unknown_task",
    "bad_label",
    "unsafe_path",
    "missing_image",
    "unreadable_image",
    "duplicate_row",
)
_N_VALUES = {t.key: t.n_values for t in TASKS}
_DRIVE = re.compile(r"[A-Za-z]:")  # "C:x.jpg" is a Windows drive path; backslashes are refused


class DataError(Exception):
    """An input problem that cannot be skipped; the message names the file (and row)."""


@dataclass(frozen=True)
class Problem:
    """One skipped row: ``row`` is the 1-based line of the row in ``file``."""

    file: str
    row: int
    kind: str
    message: str


@dataclass(frozen=True)
class LabelRow:
    """One usable row of ``label.csv`` (or ``question.csv``, whose ``labels`` is a placeholder)."""

    image: str
    """Exactly as in the CSV: ``"Images/<task>/<name>.jpg"`` (POSIX, relative to the root)."""
    task: str
    """The task key, e.g. ``"coat_length_labels"``."""
    labels: str
    """One character per value, e.g. ``"nnynn"``."""
    row: int
    """The 1-based line of the row in its CSV."""

    @property
    def value(self) -> int:
        """Index of the single ``y`` (the ground-truth value)."""
        index = self.labels.find("y")
        if index < 0:
            raise ValueError(f"row {self.row}: labels {self.labels!r} have no 'y'")
        return index

    @property
    def has_maybe(self) -> bool:
        """Whether any value is marked ``m`` (maybe); the metric treats those specially (§4)."""
        return "m" in self.labels


# --------------------------------------------------------------------------- paths and images


def safe_image_path(root: str | os.PathLike, image: str) -> pathlib.Path:
    """``root / image``, or :class:`DataError` if ``image`` could point outside ``root``.

    Rejects empty or absolute paths, any ``..`` segment, backslashes and drive letters (a
    Windows-style path must not sneak past a POSIX check), NUL bytes, and anything that resolves
    (following symlinks) outside ``root``. The returned path is not resolved.
    """
    return pathlib.Path(_safe_path(os.fspath(root), image, {}))


def _safe_path(root: str, image: str, real_dirs: dict[str, str]) -> str:
    """safe_image_path on strings, with a cache of resolved folders shared by one CSV's rows.

    Resolving every path in full (and pathlib itself) costs seconds on 80k rows; the images of a
    task share one folder, so each folder is resolved once and a file costs one lstat.
    """
    if not isinstance(image, str) or not image:
        raise DataError(f"image path {image!r} is empty")
    if "\\" in image or "\0" in image:
        raise DataError(f"image path {image!r} contains a backslash or NUL byte")
    if image.startswith("/") or _DRIVE.match(image):
        raise DataError(f"image path {image!r} is absolute; it must be relative to the root")
    if ".." in image.split("/"):
        raise DataError(f"image path {image!r} contains '..'")
    path = os.path.join(root, image)
    real_root = real_dirs.get(root)
    if real_root is None:
        real_root = real_dirs[root] = os.path.realpath(root)
    folder, name = os.path.split(path)
    real_folder = real_dirs.get(folder)
    if real_folder is None:
        real_folder = real_dirs[folder] = os.path.realpath(folder)
    real = os.path.join(real_folder, name)
    if os.path.islink(real):
        real = os.path.realpath(real)
    # realpath follows symlinks that exist, so a link inside the root that points out is caught.
    if real != real_root and not real.startswith(os.path.join(real_root, "")):
        raise DataError(f"image path {image!r} resolves outside the root {root!r}")
    return path


def _to_8bit_gray(image: Image.Image) -> Image.Image:
    """Scale a 16/32-bit integer image to 8 bit: Pillow's own convert clips at 255 instead."""
    array = np.asarray(image).astype(np.float64)
    # "I;16*" is 0..65535 by definition; "I" is how 16-bit PNG/TIFF data often arrives, so it is
    # read on the same 16-bit scale (values outside it are clipped).
    scaled = np.clip(np.rint(array / 257.0), 0, 255).astype(np.uint8)
    return Image.fromarray(scaled, "L")


def _on_white(image: Image.Image) -> Image.Image:
    """Composite an image with alpha on white, as a browser would show a transparent product shot."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode == "I":
        return _to_8bit_gray(image).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in image.info
    ):
        return _on_white(image)
    # L, 1, P, CMYK, YCbCr, RGBX, F ...: Pillow's conversions are right for these.
    return image.convert("RGB")


def load_image(path: str | os.PathLike) -> Image.Image:
    """Decode an image fully and return it as RGB, EXIF orientation applied.

    The format is taken from the content, not the name (a PNG behind ``.jpg`` loads). Raises
    :class:`DataError` for a missing, empty, truncated or non-image file.
    """
    path = pathlib.Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise DataError(f"{path}: cannot read image ({error.strerror or error})") from None
    if size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")
    try:
        with Image.open(path) as opened:
            # load() forces the full decode: open() only reads the header, so a truncated
            # JPEG would otherwise pass.
            opened.load()
            try:
                oriented = ImageOps.exif_transpose(opened)
            except Exception:  # noqa: BLE001 - a broken EXIF block must not make pixels unreadable
                oriented = opened
            rgb = _to_rgb(oriented)
            if rgb is opened:
                rgb = opened.copy()  # leaving `with` closes `opened`; hand back a detached copy
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image (unknown format)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: cannot decode image ({error})") from None
    return rgb


# --------------------------------------------------------------------------- CSV reading


def _read_text(path: pathlib.Path, name: str) -> str:
    """The file's text (UTF-8, BOM allowed), or DataError naming it."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{name}: cannot read ({error.strerror or error})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(f"{name}: not UTF-8 text (row {line}: {error.reason})") from None


def _csv_rows(text: str) -> Iterable[tuple[int, list[str] | None]]:
    """Yield (first line of the row, fields); fields is None where the csv module gave up."""
    # newline="" keeps CRLF inside the csv module, which handles it (and quoted newlines).
    reader = _csv.reader(io.StringIO(text, newline=""))
    last_line = 0
    while True:
        start = last_line + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except _csv.Error:
            last_line = reader.line_num
            yield start, None
            continue
        last_line = reader.line_num
        # A blank line is [] and a whitespace-only line [" "]: both are skipped, not problems.
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        yield start, fields


def _check_row(
    root: str, fields: list[str] | None, real_dirs: dict[str, str], *, check_labels: bool
) -> tuple[str, str] | str:
    """(kind, message) of the first problem of a row's content, or its image path if usable."""
    if fields is None:
        return "malformed_row", "not parseable as CSV"
    if len(fields) != 3:
        return "malformed_row", f"expected 3 columns (image,task,labels), got {len(fields)}"
    names = ("image", "task", "labels") if check_labels else ("image", "task")
    for name, field in zip(names, fields):
        if not field.strip():
            return "malformed_row", f"empty {name} field"
    image, task, labels = fields
    if task not in _N_VALUES:
        return "unknown_task", f"unknown task {task!r}; known tasks: {', '.join(TASK_KEYS)}"
    if check_labels:
        n_values = _N_VALUES[task]
        bad_chars = sorted(set(labels) - set("ynm"))
        if len(labels) != n_values:
            return "bad_label", (
                f"labels {labels!r} have {len(labels)} characters; {task} has {n_values} values"
            )
        if bad_chars:
            return "bad_label", f"labels {labels!r} contain {bad_chars!r}; only y/n/m are allowed"
        if labels.count("y") != 1:
            return "bad_label", (
                f"labels {labels!r} have {labels.count('y')} 'y'; exactly one is required"
            )
    try:
        path = _safe_path(root, image, real_dirs)
    except DataError as error:
        return "unsafe_path", str(error)
    parts = image.split("/")
    if "" in parts or "." in parts:
        # "Images//t/x.jpg" or "Images/./t/x.jpg" would name a file twice past the duplicate check.
        return "unsafe_path", f"image path {image!r} has an empty or '.' segment"
    if len(parts) < 3 or parts[0] != "Images" or parts[1] != task:
        return "unsafe_path", (
            f"image path {image!r} is not under Images/{task}/ of its own task {task!r}"
        )
    return path


def _decode_problem(path: str) -> str | None:
    """None if the image decodes, else why not (runs in a worker thread)."""
    try:
        load_image(path)
    except DataError as error:
        return str(error)
    return None


def _read_rows(
    root: str | os.PathLike,
    csv: str | os.PathLike,
    *,
    check_labels: bool,
    check_files: bool,
    decode: bool,
    workers: int | None,
    progress: bool,
) -> tuple[list[LabelRow], list[Problem]]:
    root = os.fspath(root)
    name = pathlib.Path(csv).as_posix()
    text = _read_text(pathlib.Path(root, csv), name)
    rows: list[LabelRow] = []
    problems: list[Problem] = []
    first_row: dict[str, LabelRow] = {}
    paths: list[str] = []  # image path of each usable row
    real_dirs: dict[str, str] = {}
    for line, fields in _csv_rows(text):
        found = _check_row(root, fields, real_dirs, check_labels=check_labels)
        if isinstance(found, str):
            path = found
            found = None
            image, task, labels = fields  # type: ignore[misc]
            first = first_row.get(image)
            if first is not None:
                same = "same labels" if first.labels == labels else (
                    f"labels differ: {first.labels!r} there, {labels!r} here"
                )
                found = "duplicate_row", (
                    f"image {image!r} already appears in row {first.row} (that row is kept; {same})"
                )
            else:
                row = LabelRow(image=image, task=task, labels=labels, row=line)
                first_row[image] = row
                if check_files and not os.path.isfile(path):
                    found = "missing_image", f"image {image!r} not found under {root!r}"
                else:
                    rows.append(row)
                    paths.append(path)
        if found is not None:
            problems.append(Problem(name, line, *found))

    if decode and rows:
        workers = workers or os.cpu_count() or 1
        # No explicit disable=False: it would override $TQDM_DISABLE (set by `reproduce`).
        bar = tqdm(total=len(paths), desc=f"decoding {name}", unit="img", file=sys.stderr,
                   **({} if progress else {"disable": True}))
        with bar:
            if workers == 1:
                reasons = []
                for path in paths:
                    reasons.append(_decode_problem(path))
                    bar.update()
            else:
                # Threads suffice: Pillow releases the GIL while it decodes.
                with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
                    reasons = []
                    for reason in pool.map(_decode_problem, paths, chunksize=16):
                        reasons.append(reason)
                        bar.update()
        kept = []
        for row, reason in zip(rows, reasons):
            if reason is None:
                kept.append(row)
            else:
                problems.append(Problem(name, row.row, "unreadable_image",
                                        f"image {row.image!r}: {reason}"))
        rows = kept
        problems.sort(key=lambda problem: problem.row)  # stable: keeps order within a row
    return rows, problems


def read_labels(
    root: str | os.PathLike,
    *,
    csv: str | os.PathLike = LABEL_CSV,
    check_files: bool = True,
    decode: bool = False,
    workers: int | None = None,
    progress: bool = False,
) -> tuple[list[LabelRow], list[Problem]]:
    """Read ``<root>/<csv>`` (DESIGN §3): the usable rows in file order, and one Problem per skipped row.

    ``check_files`` checks that each image exists; ``decode`` also decodes every image fully
    (in ``workers`` threads, default ``os.cpu_count()``; a tqdm bar on stderr if ``progress``).
    Raises :class:`DataError` only if the CSV itself is missing or not UTF-8 text.
    """
    return _read_rows(root, csv, check_labels=True, check_files=check_files, decode=decode,
                      workers=workers, progress=progress)


def read_questions(
    root: str | os.PathLike, *, csv: str | os.PathLike = QUESTION_CSV, check_files: bool = True
) -> tuple[list[LabelRow], list[Problem]]:
    """Read a test set's ``question.csv``: tasks, paths and (if ``check_files``) images are checked.

    The third column is a placeholder: it is kept in ``LabelRow.labels`` unvalidated and may be
    empty, so ``LabelRow.value`` is meaningless for these rows.
    """
    return _read_rows(root, csv, check_labels=False, check_files=check_files, decode=False,
                      workers=None, progress=False)


def validate(
    root: str | os.PathLike, *, decode: bool = True, workers: int | None = None,
    progress: bool = True,
) -> dict:
    """A JSON-ready report on ``<root>/Annotations/label.csv`` and its images.

    ``{"root", "rows", "skipped", "tasks": {key: {"rows", "values", "maybe_rows"}}, "problems"}``;
    every registry task is listed (zero-filled), ``values[i]`` counts rows whose ``y`` is at ``i``.
    """
    rows, problems = read_labels(root, check_files=True, decode=decode, workers=workers,
                                 progress=progress)
    tasks = {t.key: {"rows": 0, "values": [0] * t.n_values, "maybe_rows": 0} for t in TASKS}
    for row in rows:
        summary = tasks[row.task]
        summary["rows"] += 1
        summary["values"][row.value] += 1
        summary["maybe_rows"] += row.has_maybe
    return {
        "root": os.fspath(root),
        "rows": len(rows),
        "skipped": len(problems),
        "tasks": tasks,
        "problems": [
            {"file": p.file, "row": p.row, "kind": p.kind, "message": p.message} for p in problems
        ],
    }


# --------------------------------------------------------------------------- answers


def _format_prob(p: float) -> str:
    # repr() is the shortest string that float() reads back to the same double: exact round trip,
    # unlike a fixed '%.6f', which would also create ties the metric then breaks by order.
    return repr(float(p))


def write_answer(path: str | os.PathLike, rows: Iterable[tuple[str, str, Sequence[float]]]) -> None:
    """Write a submission (DESIGN §3): ``Images/t/x.jpg,t,p0;p1;...``, no header, ``\\n`` ends.

    Raises ValueError for an unknown task, a wrong number of probabilities, a non-finite one, or
    an image path that would break the CSV (comma, quote, newline). The file is replaced
    atomically, so a crash never leaves half an answer behind.
    """
    lines = []
    for index, (image, task, probs) in enumerate(rows):
        if any(ch in image for ch in ',"\r\n') or not image:
            raise ValueError(f"answer row {index + 1}: image path {image!r} cannot be written")
        n_values = _N_VALUES.get(task)
        if n_values is None:
            raise ValueError(f"answer row {index + 1}: unknown task {task!r}")
        values = np.asarray(probs, dtype=np.float64).ravel()
        if values.size != n_values:
            raise ValueError(
                f"answer row {index + 1}: {values.size} probabilities; {task} has {n_values}"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError(f"answer row {index + 1}: probabilities must be finite")
        lines.append(f"{image},{task},{';'.join(_format_prob(p) for p in values)}\n")
    _write_lines(path, lines)


def write_labels(path: str | os.PathLike, rows: Iterable[LabelRow]) -> None:
    """Write rows as a ``label.csv`` (DESIGN §3), e.g. a validation split that ``evaluate``
    scores an ``answer.csv`` against. Replaced atomically like :func:`write_answer`."""
    _write_lines(path, [f"{row.image},{row.task},{row.labels}\n" for row in rows])


def _write_lines(path: str | os.PathLike, lines: Sequence[str]) -> None:
    """Write via a temporary file and a rename, so a crash never leaves half a file behind."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.writelines(lines)
    os.replace(tmp, path)


def read_answer(path: str | os.PathLike) -> list[tuple[str, str, np.ndarray, int]]:
    """Read a submission: ``(image, task, probs, row)`` per row, ``row`` its 1-based line.

    Only the syntax is checked here (3 columns, finite numbers); that tasks and lengths match the
    truth is :func:`replication.data.metric.evaluate_files`' job. Raises :class:`DataError` naming the
    file and row.
    """
    name = str(path)
    text = _read_text(pathlib.Path(path), name)
    answers = []
    for line, fields in _csv_rows(text):
        if fields is None or len(fields) != 3 or not all(f.strip() for f in fields):
            raise DataError(f"{name}: row {line}: expected 3 non-empty columns image,task,p0;p1;...")
        image, task, cell = fields
        try:
            probs = np.array([float(part) for part in cell.split(";")], dtype=np.float64)
        except ValueError:
            raise DataError(f"{name}: row {line}: probabilities {cell!r} are not numbers") from None
        if not np.all(np.isfinite(probs)):
            raise DataError(f"{name}: row {line}: probabilities {cell!r} are not all finite")
        answers.append((image, task, probs, line))
    return answers


# --------------------------------------------------------------------------- splitting


def stratified_split(
    rows: Iterable[LabelRow], *, val_fraction: float = 0.1, seed: int = 0
) -> tuple[list[LabelRow], list[LabelRow]]:
    """Split rows into (train, val), stratified by (task, value).

    Rule: rows are grouped by (task, value) and sorted by image path within a group, so the input
    order does not matter. Each group of n rows sends ``min(floor(n * val_fraction + 0.5), n - 1)``
    rows to val, chosen by a permutation from ``numpy.random.default_rng([seed, task index,
    value])``; a group's draw therefore depends only on the seed and that group. Every class keeps
    at least one row in train. Both lists come back sorted by image path. ``seed`` must be
    a non-negative integer (a numpy seed-sequence entry).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    task_index = {key: i for i, key in enumerate(TASK_KEYS)}
    groups: dict[tuple[str, int], list[LabelRow]] = {}
    for row in rows:
        groups.setdefault((row.task, row.value), []).append(row)
    train: list[LabelRow] = []
    val: list[LabelRow] = []
    for (task, value), members in groups.items():
        members.sort(key=lambda row: (row.image, row.row))
        n = len(members)
        n_val = min(math.floor(n * val_fraction + 0.5), n - 1)
        rng = np.random.default_rng([seed, task_index[task], value])
        chosen = set(rng.permutation(n)[:n_val].tolist())
        for i, row in enumerate(members):
            (val if i in chosen else train).append(row)
    key = lambda row: (row.image, row.row)  # noqa: E731
    return sorted(train, key=key), sorted(val, key=key)


def data_fingerprint(root: os.PathLike | str) -> str:
    """A short hash of what a data root holds: its folder's name, ``label.csv`` and (synthetic)
    ``Truth/truth.csv`` and ``Truth/synthetic.json``. It keys the screening's trained models
    (parser, person segmenter, classifier) and marks notebook 04's results, so that a re-rendered
    or different data set never reuses them. The name, not the absolute path: a home moved to
    another folder or machine keeps its fingerprint, and so its trained models."""
    from replication.data.truth import PARAMS_JSON, TRUTH_CSV

    root = pathlib.Path(root).resolve()
    digest = hashlib.sha256(root.name.encode())
    for name in (LABEL_CSV, TRUTH_CSV, PARAMS_JSON):
        path = root / name
        digest.update(name.encode() + (path.read_bytes() if path.exists() else b"-"))
    return digest.hexdigest()[:16]
