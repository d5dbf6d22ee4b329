"""Per-channel data set statistics for input normalisation (paper §3.1.2(1), eq. 6-7).

The paper normalises with the data set's own mean and std and prints
mean = [0.6400, 0.6001, 0.5878] and "std" = [0.0840, 0.0880, 0.0892]. Those "std" values are
very likely variances (DESIGN §2): the competition code the paper appears to derive from prints
E[x^2] - mean^2, and their square roots (0.290, 0.297, 0.299) match other teams' FashionAI stds.
:func:`channel_stats` therefore reports mean, std *and* variance, so a reader can compare both
readings with the data at hand.

Normalisation modes (:data:`MODES`) are a profile parameter (``ModelSpec.normalisation``); the
book says which one each result used (:func:`describe_mode`). ``x`` is a pixel on the [0, 1] scale:

- ``inception``: ``2x - 1`` (``X / 127.5 - 1`` on 0..255), the [-1, 1] range both base nets'
  ImageNet weights expect. The default; no data-set statistics.
- ``dataset``: ``(x - mean) / std`` with the training split's own per-channel mean and std
  (:func:`dataset_stats`): eq. (6) read as the text describes it, with the std, not the variance.
- ``per_image``: eq. (7) as TensorFlow defines it (``tf.image.per_image_standardization``): each
  image minus its own mean over all pixels and channels, divided by
  ``max(its own std, 1 / sqrt(N))``, ``N = H * W * C``; computed on the 0..255 input as TensorFlow
  computes it on a uint8 image.
- ``paper_literal``: eq. (6)-(7) with the paper's numbers as printed:
  ``(x - PAPER_MEAN) / max(PAPER_STD_AS_PRINTED, 1 / sqrt(N))``. The printed "std" is most likely
  a variance (DESIGN §2), so this divides by about 0.085 where the data's std is about 0.29:
  inputs about 3.45 times larger than ``dataset`` gives. The floor ``1 / sqrt(N)`` never acts at a
  real image size (480 px: 0.0012).
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from tqdm import tqdm

PAPER_MEAN = (0.6400365359276026, 0.6001295694316631, 0.5877540247206047)
"""Per-channel (RGB) mean printed in the paper, pixels scaled to [0, 1]."""
PAPER_STD_AS_PRINTED = (0.08403916220581975, 0.08801511335355927, 0.08918949844575702)
"""The paper's "std" as printed; most likely the variance (DESIGN §2)."""
MODES = ("inception", "dataset", "per_image", "paper_literal")
"""Input normalisation modes; see the module documentation."""
STATS_CACHE_FORMAT = 1


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel statistics of RGB pixels scaled to [0, 1]."""

    mean: np.ndarray
    var: np.ndarray
    n_pixels: int
    n_images: int

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.var)


def _image_moments(path: Path, size: int | None) -> tuple[int, np.ndarray, np.ndarray]:
    """Pixel count, per-channel mean and per-channel sum of squared deviations of one image."""
    from replication.data.fashionai import load_image

    image = load_image(path)
    if size is not None:
        image = image.resize((size, size))
    pixels = np.asarray(image, dtype=np.float64).reshape(-1, 3) / 255.0
    mean = pixels.mean(axis=0)
    return len(pixels), mean, ((pixels - mean) ** 2).sum(axis=0)


def _merge(a: tuple[int, np.ndarray, np.ndarray], b: tuple[int, np.ndarray, np.ndarray]):
    """Chan et al.'s pairwise update: exact and numerically stable, unlike E[x^2] - mean^2."""
    n_a, mean_a, m2_a = a
    n_b, mean_b, m2_b = b
    n = n_a + n_b
    delta = mean_b - mean_a
    return n, mean_a + delta * (n_b / n), m2_a + m2_b + delta**2 * (n_a * n_b / n)


def channel_stats(paths: Sequence[str | Path] | Iterable[str | Path], *, size: int | None = None,
                  workers: int | None = None, progress: bool = True) -> ChannelStats:
    """Stream over images (never all in memory) and return per-channel mean and variance.

    Every pixel weighs the same, so larger images count more, as in the paper's computation.
    ``size`` resizes each image to ``size`` x ``size`` first (the model's input), when given.
    Results are merged in input order, so they do not depend on ``workers``.
    """
    paths = list(paths)
    if not paths:
        raise ValueError("channel_stats needs at least one image")
    total = (0, np.zeros(3), np.zeros(3))
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        moments = pool.map(lambda p: _image_moments(Path(p), size), paths)
        # No explicit disable=False: that would override $TQDM_DISABLE, which `reproduce` sets.
        bar_off = {} if progress else {"disable": True}
        for m in tqdm(moments, total=len(paths), desc="channel stats", **bar_off):
            total = _merge(total, m)
    n, mean, m2 = total
    return ChannelStats(mean=mean, var=m2 / n, n_pixels=n, n_images=len(paths))


# --------------------------------------------------------------- the training split's statistics


def _image_of(row) -> str:
    return row if isinstance(row, str) else row.image


def split_fingerprint(root: str | os.PathLike, rows) -> tuple[str, list[str]]:
    """SHA-256 of the sorted ``(image, size in bytes, mtime in ns)`` of the rows' distinct images,
    and those images (sorted). Any added, removed, replaced or touched image changes it."""
    from replication.data.fashionai import safe_image_path

    images = sorted({_image_of(row) for row in rows})
    digest = hashlib.sha256()
    for image in images:
        info = os.stat(safe_image_path(root, image))
        digest.update(f"{image}\t{info.st_size}\t{info.st_mtime_ns}\n".encode())
    return digest.hexdigest(), images


def dataset_stats(root: str | os.PathLike, rows, *, cache_dir: str | os.PathLike | None = None,
                  progress: bool = True) -> ChannelStats:
    """Per-channel mean and variance of the training split's images (streamed, never all in
    memory), for the ``dataset`` mode: every pixel of every distinct image the rows name (rows are
    ``LabelRow`` or image paths relative to ``root``), at its own size, as the paper computes it.

    With ``cache_dir``, the result is cached as JSON in
    ``<cache_dir>/channel_stats_<fingerprint>.json``, keyed by :func:`split_fingerprint` (the
    sorted ``(image, size, mtime)`` list). A later call on the same split reads it, and a changed
    split (other rows, or an image rewritten) computes afresh.
    """
    from replication.data.fashionai import safe_image_path

    fingerprint, images = split_fingerprint(root, rows)
    if not images:
        raise ValueError("dataset_stats needs at least one row")
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"channel_stats_{fingerprint[:32]}.json"
        if cache.is_file():
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data.get("format") == STATS_CACHE_FORMAT and data.get("fingerprint") == fingerprint:
                return ChannelStats(mean=np.array(data["mean"], dtype=np.float64),
                                    var=np.array(data["var"], dtype=np.float64),
                                    n_pixels=int(data["n_pixels"]), n_images=int(data["n_images"]))
    stats = channel_stats([safe_image_path(root, image) for image in images], progress=progress)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({
            "format": STATS_CACHE_FORMAT, "fingerprint": fingerprint,
            "mean": stats.mean.tolist(), "var": stats.var.tolist(), "std": stats.std.tolist(),
            "n_pixels": stats.n_pixels, "n_images": stats.n_images}, indent=1) + "\n",
            encoding="utf-8")
        os.replace(tmp, cache)
    return stats


def _fmt(values) -> str:
    return "[" + ", ".join(f"{float(v):.4f}" for v in values) + "]"


def describe_mode(mode: str, stats=None) -> str:
    """One sentence for the book that says what a normalisation mode does, with its numbers.

    ``stats`` (a :class:`ChannelStats`, or anything with ``mean`` and ``std``) fills in the
    ``dataset`` mode's numbers; the other modes ignore it.
    """
    if mode == "inception":
        return ("inception: x / 127.5 - 1 on the 0..255 input, the [-1, 1] range both base nets' "
                "ImageNet weights expect; no data-set statistics.")
    if mode == "dataset":
        if stats is None:
            numbers = "its per-channel mean and std"
        else:
            numbers = f"mean {_fmt(stats.mean)} and std {_fmt(stats.std)}"
        return (f"dataset: (x - mean) / std per RGB channel, x on the [0, 1] scale, with the "
                f"training split's {numbers} (paper eq. 6 with the standard deviation).")
    if mode == "per_image":
        return ("per_image: each image minus its own mean over all pixels and channels, divided by "
                "max(its own std, 1/sqrt(N)), N = H*W*C (paper eq. 7 as TensorFlow's "
                "per_image_standardization defines it).")
    if mode == "paper_literal":
        return (f"paper_literal: (x - mean) / max(std, 1/sqrt(N)) per RGB channel, x on the [0, 1] "
                f"scale, with the paper's printed mean {_fmt(PAPER_MEAN)} and \"std\" "
                f"{_fmt(PAPER_STD_AS_PRINTED)} as printed (most likely variances: their square "
                f"roots are {_fmt(np.sqrt(PAPER_STD_AS_PRINTED))}).")
    raise ValueError(f"normalisation mode must be one of {MODES}, got {mode!r}")
