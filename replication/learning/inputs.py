"""The input pipeline: images streamed from disk in batches, for training and prediction.

:class:`ImageBatches` decodes and resizes images in worker threads and prefetches batches (never
the whole set in memory); a training batch carries the multi-task targets and their masks, a
prediction batch can carry the horizontal mirrors of its images (flip test-time augmentation,
paper §3.4). Only Keras 3 APIs: it runs on the JAX backend too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence

import keras
import numpy as np
from PIL import Image

from replication.data.fashionai import LabelRow, load_image
from replication.data.tasks import Task
from replication.learning import models
from replication.learning.models import FLAG_INPUT, IMAGE_INPUT

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
"""Per-image augmentation (§3.1.2(3)): a uint8 (size, size, 3) array and a generator seeded per
image and epoch in, an array of the same shape out."""


def load_resized(path: str | os.PathLike, size: int) -> np.ndarray:
    """An image as a uint8 (size, size, 3) RGB array: decoded, then resized to the input square."""
    image = load_image(path)
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def default_workers() -> int:
    # At least 2: with one worker Keras reads batches in the training loop, without prefetch.
    return max(2, min(16, os.cpu_count() or 1))


class ImageBatches(keras.utils.PyDataset):
    """Batches decoded from disk in worker threads and prefetched (never the whole set in memory).

    Items are ``(x,)``, or ``(x, targets, sample_weights)`` when ``rows`` are given (targets and
    weights per head from :func:`replication.learning.models.masked_targets`). ``x`` is the float32 image
    batch in 0..255, or ``{"image", "flat"}`` when ``flags`` are given (dual channel). ``order``
    permutes the items (an epoch's shuffle). ``flip`` makes each batch its images followed by their
    horizontal mirrors (flip test-time augmentation, §3.4), ``2 * n`` rows. Threads suffice:
    Pillow releases the GIL while it decodes and resizes. Batch ``i`` depends only on ``i``, so
    the order batches are decoded in never changes the numbers.
    """

    def __init__(self, paths: Sequence[str | os.PathLike], *, image_size: int, batch_size: int,
                 rows: Sequence[LabelRow] | None = None, tasks: Sequence[Task] = (),
                 flags: np.ndarray | None = None, order: np.ndarray | None = None,
                 flip: bool = False, augment: Augment | None = None,
                 augment_seed: Sequence[int] = (0,), workers: int | None = None):
        workers = default_workers() if workers is None else max(1, int(workers))
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=2 * workers)
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.paths = [os.fspath(p) for p in paths]
        n = len(self.paths)
        if rows is not None and len(rows) != n:
            raise ValueError("rows and paths must have the same length")
        if flags is not None and len(flags) != n:
            raise ValueError("flags and paths must have the same length")
        self.order = np.arange(n) if order is None else np.asarray(order)
        self.image_size = int(image_size)
        self.batch_size = int(batch_size)
        self.rows = rows
        self.tasks = tuple(tasks)
        self.flags = None if flags is None else np.asarray(flags, dtype="float32").reshape(-1, 1)
        self.flip = flip
        self.augment = augment
        self.augment_seed = tuple(int(s) for s in augment_seed)

    def __len__(self) -> int:
        return math.ceil(len(self.order) / self.batch_size)

    def batch_indices(self, i: int) -> np.ndarray:
        return self.order[i * self.batch_size:(i + 1) * self.batch_size]

    def _image(self, index: int) -> np.ndarray:
        array = load_resized(self.paths[index], self.image_size)
        if self.augment is not None:
            rng = np.random.default_rng([*self.augment_seed, int(index)])
            array = self.augment(array, rng)
        return array

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        indices = self.batch_indices(i)
        images = np.stack([self._image(j) for j in indices]).astype("float32")
        flags = None if self.flags is None else self.flags[indices]
        if self.flip:
            images = np.concatenate([images, images[:, :, ::-1, :]])
            flags = None if flags is None else np.concatenate([flags, flags])
        x = images if flags is None else {IMAGE_INPUT: images, FLAG_INPUT: flags}
        if self.rows is None:
            return (x,)
        targets, weights = models.masked_targets([self.rows[j] for j in indices], self.tasks)
        return x, targets, weights
