"""Writing the synthetic data set in the FashionAI layout (DESIGN §3, §6): file names, label
strings, the truth files, and the parallel job runner behind :func:`generate`."""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from replication.data.fashionai import LABEL_CSV
from replication.data.tasks import TASKS, Task
from replication.data.truth import MASK_DIR, PARAMS_JSON, mask_path, write_truth
from replication.synthetic import mechanisms
from replication.synthetic.drawing import render_image
from replication.synthetic.sampling import Scene


# ==============================================================================================
# Names and labels
# ==============================================================================================

FORMAT_VERSION = 2
"""Bump whenever the renderer's output changes for the same arguments. 2: the mechanisms of
:mod:`.mechanisms` (issue 10) and their truth columns."""
GENERATOR = "replication.synthetic"
"""The renderer's name in ``Truth/synthetic.json``: the package, whichever module writes it."""


def image_name(seed: int, task: Task, index: int) -> str:
    """32 hex characters, like the real data's md5 file names."""
    return hashlib.md5(f"{seed}/{task.key}/{index}".encode()).hexdigest()


def labels_string(task: Task, value: int, maybe: int | None) -> str:
    """The label column: 'y' at the value, 'm' at an ambiguous neighbour, 'n' elsewhere."""
    chars = ["n"] * task.n_values
    chars[value] = "y"
    if maybe is not None:
        chars[maybe] = "m"
    return "".join(chars)


# ==============================================================================================
# Writing a data set
# ==============================================================================================

_Row = tuple[int, int, str, str, bool, dict]   # task, index, image path, labels, flat, mechanisms


def mechanisms_of(scene: Scene) -> dict:
    """The truth's mechanism columns (:data:`replication.data.truth.MECHANISM_COLUMNS`) of a
    rendered scene (its camera as realised)."""
    cam, light = scene.camera, scene.light
    return {
        "presentation": scene.presentation, "skin_print": scene.skin_print,
        "camera_wide": cam.wide, "rotation": math.degrees(cam.rotation), "zoom": cam.zoom,
        "shift_x": cam.shift[0], "shift_y": cam.shift[1],
        "light_wide": light.wide, "brightness": light.brightness, "contrast": light.contrast,
        "cast": max(abs(g - 1.0) for g in light.cast), "overlap": scene.overlap,
    }


def _render_job(job: tuple[str, int, int, int, int]) -> _Row:
    """Render one image, write it and its mask; the row for the CSVs."""
    out, seed, task_index, index, size = job
    task = TASKS[task_index]
    img, mask, scene = render_image(seed, task_index, index, size)
    name = image_name(seed, task, index)
    rel = f"Images/{task.key}/{name}.jpg"
    img.save(Path(out) / rel, "JPEG", quality=scene.quality)
    mask.save(Path(out) / mask_path(task.key, name), "PNG")
    return (task_index, index, rel, labels_string(task, scene.value, scene.maybe), scene.flat,
            mechanisms_of(scene))


def _render_chunk(jobs: list) -> list[_Row]:
    return [_render_job(j) for j in jobs]


def _chunks(jobs: list, n: int) -> Iterator[list]:
    for i in range(0, len(jobs), n):
        yield jobs[i:i + n]


def generate(out: str | os.PathLike, *, images_per_task: int, seed: int = 0, size: int = 256,
             workers: int | None = None, progress: bool = True) -> dict:
    """Render the synthetic data set into ``out`` in the FashionAI layout (DESIGN §3, §6).

    Writes ``Annotations/label.csv`` (rows by task, then index), ``Images/<task>/<name>.jpg``,
    ``Truth/truth.csv``, ``Truth/masks/<task>/<name>.png`` and ``Truth/synthetic.json`` (the
    arguments). Files it owns are overwritten; nothing else in ``out`` is touched or deleted.
    ``label.csv`` is written last, so a folder that has one is complete. ``size`` is the long
    side in pixels; ``workers`` processes render in parallel (default: all cores) and any
    number gives the same bytes. Returns a summary: counts per task and value, flat share,
    ``m`` rate, the share of each mechanism (:func:`.mechanisms.shares`), seconds.
    """
    if images_per_task < 1:
        raise ValueError(f"images_per_task must be at least 1, got {images_per_task}")
    if size < 32:
        raise ValueError(f"size must be at least 32 px, got {size}")
    t0 = time.perf_counter()
    root = Path(out)
    for task in TASKS:
        (root / "Images" / task.key).mkdir(parents=True, exist_ok=True)
        (root / MASK_DIR / task.key).mkdir(parents=True, exist_ok=True)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    jobs = [(str(root), seed, ti, i, size) for ti in range(len(TASKS)) for i in range(images_per_task)]
    workers = max(1, (os.cpu_count() or 1) if workers is None else workers)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc="synthetic images", unit="img", file=sys.stderr)
    rows: list[_Row] = []
    if workers == 1:
        for job in jobs:
            rows.append(_render_job(job))
            if bar:
                bar.update(1)
    else:
        chunk = max(1, min(32, len(jobs) // (workers * 8)))
        # fork starts workers at once and they need nothing but this package
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ctx.Pool(workers) as pool:
            for part in pool.imap(_render_chunk, list(_chunks(jobs, chunk))):
                rows.extend(part)
                if bar:
                    bar.update(len(part))
    if bar:
        bar.close()
    rows.sort(key=lambda r: (r[0], r[1]))
    write_truth(root, [(rel, TASKS[ti].key, flat, mech) for ti, _, rel, _, flat, mech in rows])
    (root / PARAMS_JSON).write_text(json.dumps(
        {"generator": GENERATOR, "format_version": FORMAT_VERSION, "seed": seed,
         "images_per_task": images_per_task, "size": size}, indent=1, sort_keys=True) + "\n")
    tmp = root / (LABEL_CSV + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        for ti, _, rel, labels, _, _ in rows:
            f.write(f"{rel},{TASKS[ti].key},{labels}\n")
    os.replace(tmp, root / LABEL_CSV)
    seconds = time.perf_counter() - t0
    counts = {t.key: [0] * t.n_values for t in TASKS}
    for ti, _, _, labels, _, _ in rows:
        counts[TASKS[ti].key][labels.index("y")] += 1
    n = len(rows)
    length_flat = [r[4] for r in rows if TASKS[r[0]].level == "length"]
    return {
        "root": str(root), "images": n, "size": size, "seed": seed, "counts": counts,
        "flat_share": round(sum(r[4] for r in rows) / n, 4),
        "flat_share_length": round(sum(length_flat) / len(length_flat), 4),
        "m_rate": round(sum("m" in r[3] for r in rows) / n, 4),
        "mechanisms": {m["name"]: round(m["share"], 4)
                       for m in mechanisms.shares(
                           {r[2]: {"flat": r[4], **r[5]} for r in rows},
                           {r[2]: TASKS[r[0]].short for r in rows}) if m["n"]},
        "seconds": round(seconds, 2),
        "images_per_second": round(n / seconds, 1),
    }
