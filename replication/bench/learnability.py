"""Learnability bounds of the synthetic tasks: the majority class against a logistic regression
on 32 x 32 RGB pixels, per task.

The regression should beat the majority class on most tasks (the labels are in the pixels) but
stay well below 90 % (fine details need resolution and a real model, so that the paper's
resolution sweep and model comparisons can show something). ``python -m replication bench
learnability``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from replication.data.tasks import TASKS

LOGREG_C = 0.005
"""Inverse L2 strength of the learnability regression: strong, as 3072 standardised pixels
face about 750 training images per task."""


def _read_labels(root: Path) -> list[tuple[str, str, int]]:
    """(image path, task key, index of the 'y') per row of Annotations/label.csv."""
    rows = []
    with open(root / "Annotations" / "label.csv", encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            parts = line.rstrip("\n").split(",")
            if len(parts) != 3 or parts[2].count("y") != 1:
                raise ValueError(f"{root / 'Annotations' / 'label.csv'}, line {line_no}: "
                                 f"malformed row {line!r}")
            rows.append((parts[0], parts[1], parts[2].index("y")))
    return rows


def load_pixels(root: str | os.PathLike, images: list[str], pixels: int) -> np.ndarray:
    """Images squashed to ``pixels x pixels`` RGB, as float32 rows in [0, 1].

    JPEG draft mode decodes at a reduced scale first, which makes this fast.
    """
    from PIL import Image

    root = Path(root)
    out = np.empty((len(images), pixels * pixels * 3), dtype=np.float32)
    for i, rel in enumerate(images):
        with Image.open(root / rel) as im:
            im.draft("RGB", (pixels * 2, pixels * 2))
            arr = np.asarray(im.convert("RGB").resize((pixels, pixels), Image.BILINEAR), dtype=np.float32)
        out[i] = arr.reshape(-1) / 255.0
    return out


def learnability(root: str | os.PathLike, *, pixels: int = 32, seed: int = 0,
                 max_per_task: int | None = None, test_size: float = 0.25, C: float = LOGREG_C) -> dict:
    """Majority class and logistic regression on ``pixels x pixels`` RGB per task.

    Held-out accuracy on a stratified split (``test_size``). Pixels are standardised with the
    training split's mean and std. Prints a table and returns
    ``{task_key: {"majority", "logreg", "n"}, "beats_majority": count, "max_logreg": max}``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    root = Path(root)
    rows = _read_labels(root)
    result: dict = {}
    print(f"learnability on {root} ({pixels}x{pixels} RGB, held-out {test_size:.0%}, C={C}):")
    print(f"  {'task':<10} {'n':>6} {'classes':>7} {'majority':>9} {'logreg':>7}  beats")
    beats, best = 0, 0.0
    t0 = time.perf_counter()
    for task in TASKS:
        mine = [(img, y) for img, key, y in rows if key == task.key]
        if max_per_task is not None:
            mine = mine[:max_per_task]
        if len(mine) < 10:
            continue
        y = np.array([v for _, v in mine])
        X = load_pixels(root, [img for img, _ in mine], pixels)
        counts = np.bincount(y)
        stratify = y if counts[counts > 0].min() >= 2 else None
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, random_state=seed,
                                                  stratify=stratify)
        majority = float(np.mean(y_te == np.bincount(y_tr).argmax()))
        scaler = StandardScaler().fit(X_tr)
        clf = LogisticRegression(C=C, max_iter=300)
        clf.fit(scaler.transform(X_tr), y_tr)
        acc = float(clf.score(scaler.transform(X_te), y_te))
        result[task.key] = {"majority": round(majority, 4), "logreg": round(acc, 4), "n": len(mine)}
        beats += acc > majority
        best = max(best, acc)
        print(f"  {task.short:<10} {len(mine):>6} {len(np.unique(y)):>7} {majority:>9.3f} {acc:>7.3f}  "
              f"{'yes' if acc > majority else 'no'}")
    result["beats_majority"] = int(beats)
    result["max_logreg"] = round(best, 4)
    print(f"  logistic regression beats the majority class on {beats} of {len(TASKS)} tasks; "
          f"best {best:.3f}; {time.perf_counter() - t0:.1f} s")
    return result
