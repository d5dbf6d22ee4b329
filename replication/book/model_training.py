"""Training one model of a chapter's setup into its folder (paper §3.1.2, §3.3, §3.4).

:func:`train_model` trains (or resumes, or reuses) the setup's single-channel model of a level,
or a variant of it under a tag of the caller's; :func:`train_variant` trains a variant into the
folder its whole configuration names (:func:`variant_tag`: input size, augmentation, ModelSpec
options, and a hash of the schedule, seed, batch size, validation share and weights), so that
every chapter that asks for the same model gets the same folder. Every model that trains here
records its steady-state training speed (``speed.json``; :func:`training_speed`), and
:func:`inference_speed` measures a model's prediction speed the same way. ``replication.book.
experiments`` re-exports these names.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from replication.book import results
from replication.book.configuration import (
    Setup, augmentation_suffix, model_dir, model_spec, of_level, options_tag, require_weights,
    with_augmentation)
from replication.data.fashionai import LabelRow
from replication.learning.schedule import parse_schedule

SPEED_JSON = "speed.json"
"""Written beside a model's ``log.csv`` when it trains: its steady-state training images/s."""


def _speed_callback(n_images: int, batch_size: int):
    """A Keras callback that times each epoch from the end of its first batch to its end: the
    steady-state training speed, without the first batch, which traces the training step after
    every compile. ``.epochs`` collects ``{"images", "seconds", "images_per_second"}``."""
    import keras  # here, so that importing this module does not import Keras

    class TrainingSpeed(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs: list[dict] = []
            self._start: float | None = None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = None

        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            images = n_images - min(batch_size, n_images)
            if self._start is not None and images > 0:
                seconds = time.perf_counter() - self._start
                self.epochs.append({"images": images, "seconds": seconds,
                                    "images_per_second": images / seconds})

    return TrainingSpeed()


def train_model(setup: Setup, level: str, backbone: str, train: Sequence[LabelRow],
                val: Sequence[LabelRow], *, image_size: int | None = None,
                augment: Sequence[str] | None = None, augment_engine: str | None = None,
                tag: str | None = None, validate: bool = True, progress: bool = True,
                normalise_on: Sequence[LabelRow] | None = None,
                spec_options: Mapping[str, Any] | None = None) -> Path:
    """Train (or resume, or reuse) one single-channel model; returns its ``model.keras``.

    Without options it is the setup's model (notebooks 06-08), trained with the setup's
    augmentation. ``image_size`` and ``augment`` / ``augment_engine`` (names from
    ``augmentation.AUGMENTERS``, applied to training images only; None: the setup's) make a
    variant: give it a ``tag`` so that it gets a folder of its own (the folder names the
    augmentation itself). ``spec_options`` (:data:`SPEC_OPTIONS`) are named in the folder too.
    ``level`` may be ``"all"``: one model for all eight dimensions.
    ``validate`` scores the level's validation rows after every epoch (``log.csv``'s ``val_*``
    columns); a notebook that only scores the finished model can save that time.
    ``normalise_on`` (default ``train``) are the rows whose statistics the ``dataset``
    normalisation uses: a dual-channel branch trains on one domain's rows but normalises as the
    whole training split does.
    """
    setup = with_augmentation(setup, augment, augment_engine)
    tag = "-".join(part for part in (tag, options_tag(spec_options or {})) if part) or None
    return _train_single(setup, level, backbone, train, val, model_dir(setup, level, backbone, tag),
                         image_size=image_size, validate=validate, progress=progress,
                         normalise_on=normalise_on, spec_options=spec_options)


def _train_single(setup: Setup, level: str, backbone: str, train: Sequence[LabelRow],
                  val: Sequence[LabelRow], out_dir: Path, *, image_size: int | None,
                  validate: bool, progress: bool, normalise_on: Sequence[LabelRow] | None,
                  spec_options: Mapping[str, Any] | None) -> Path:
    """:func:`train_model` and :func:`train_variant` into ``out_dir``, with the setup's
    augmentation; records the training speed."""
    from replication.learning import training

    require_weights(setup, [backbone])
    spec = model_spec(setup, level, backbone, normalise_on or train, image_size=image_size,
                      spec_options=spec_options)
    rows = of_level(train, level)
    speed = _speed_callback(len(rows), setup.batch_size)
    result = training.train(spec, rows, setup.root, out_dir=out_dir, schedule=setup.schedule,
                            val_rows=of_level(val, level) if validate else (),
                            batch_size=setup.batch_size,
                            seed=setup.seed, progress=progress, callbacks=[speed])
    if speed.epochs:  # it trained (a finished run is returned as it is, with its speed.json)
        (out_dir / SPEED_JSON).write_text(json.dumps({
            "image_size": spec.image_size, "batch_size": setup.batch_size,
            "train_images_per_second": statistics.median(e["images_per_second"]
                                                         for e in speed.epochs),
            "epochs": speed.epochs}, indent=1) + "\n", encoding="utf-8")
    return Path(result["model"])


def variant_tag(setup: Setup, backbone: str, *, image_size: int, augment: Sequence[str] = (),
                augment_engine: str = "imgaug",
                spec_options: Mapping[str, Any] | None = None) -> str:
    """The folder tag of a variant model, named by its whole configuration:
    ``<variant>-px<size>[-aug-<names>-<engine>][-<spec options>]-<hash>``, the hash over what
    else determines it (schedule, seed, batch size, validation share, base net weights). Any
    notebook that asks for the same model gets the same folder, and a changed parameter gets a
    new one."""
    import hashlib
    from dataclasses import asdict

    rest = {"schedule": [asdict(stage) for stage in parse_schedule(setup.schedule)],
            "seed": setup.seed, "batch_size": setup.batch_size, "val_fraction": setup.val_fraction,
            # A weight file in the run's home is named relative to it: moving the home keeps
            # the folder (results.shown).
            "weights": results.shown(setup.weights[backbone]) if setup.weights.get(backbone)
            else None}
    if setup.weights.get(backbone) and Path(setup.weights[backbone]).is_file():
        # Other weights rewritten under the same name (chapter 0 rerun): another folder.
        from replication.learning.training import weights_digest

        rest["weights_sha256"] = weights_digest(setup.weights[backbone])
    digest = hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:8]
    options = options_tag(spec_options or {})
    return (f"{setup.variant}-px{int(image_size)}{augmentation_suffix(augment, augment_engine)}"
            f"{'-' + options if options else ''}-{digest}")


def train_variant(setup: Setup, level: str, backbone: str, train: Sequence[LabelRow],
                  val: Sequence[LabelRow], *, image_size: int | None = None,
                  augment: Sequence[str] | None = None, augment_engine: str | None = None,
                  spec_options: Mapping[str, Any] | None = None,
                  progress: bool = True) -> Path:
    """One variant model (notebook 02: input size, notebook 03: augmentation, the ablations of
    06-08: ``spec_options`` such as ``{"pooling": "max"}``, or the level ``"all"``), trained
    like :func:`train_model` into the folder :func:`variant_tag` names, so that a model several
    notebooks need (e.g. no augmentation at a size the sweep also tries) is trained once. The
    augmentation is the setup's unless ``augment`` / ``augment_engine`` say otherwise. These
    notebooks score each finished model themselves, so it trains without the per-epoch
    validation."""
    out_dir = variant_dir(setup, level, backbone, image_size=image_size, augment=augment,
                          augment_engine=augment_engine, spec_options=spec_options)
    return _train_single(with_augmentation(setup, augment, augment_engine), level, backbone,
                         train, val, out_dir, image_size=int(image_size or setup.image_size),
                         validate=False, progress=progress, normalise_on=None,
                         spec_options=spec_options)


def variant_dir(setup: Setup, level: str, backbone: str, *, image_size: int | None = None,
                augment: Sequence[str] | None = None, augment_engine: str | None = None,
                spec_options: Mapping[str, Any] | None = None) -> Path:
    """The folder :func:`train_variant` trains that variant in (same arguments)."""
    setup = with_augmentation(setup, augment, augment_engine)
    tag = variant_tag(setup, backbone, image_size=int(image_size or setup.image_size),
                      augment=setup.augment, augment_engine=setup.augment_engine,
                      spec_options=spec_options)
    # The tag names the augmentation already: the folder gets no second suffix.
    return model_dir(dataclasses.replace(setup, augment=()), level, backbone, tag)


def training_speed(model: str | Path) -> float | None:
    """The steady-state training images/s recorded when ``model`` (a ``model.keras``) trained,
    the median over its epochs; None where it trained before speeds were recorded."""
    path = Path(model).parent / SPEED_JSON
    if not path.exists():
        return None
    return float(json.loads(path.read_text(encoding="utf-8"))["train_images_per_second"])


def inference_speed(setup: Setup, model, rows: Sequence[LabelRow], *,
                    min_batches: int = 8) -> float:
    """Steady-state inference images/s of one model (a ``model.keras`` path or a loaded model),
    measured as training's speed is: a prediction pass over the rows' images (decoded and resized
    as in prediction, no flip TTA; the rows repeated up to ``min_batches`` batches), timed from the
    end of its first batch, which traces the prediction step, to its end."""
    import itertools

    import keras

    from replication.learning import inputs, models, prediction

    # The model scoring just used (its prediction step already traced), at one batch shape.
    net = model if isinstance(model, keras.Model) else prediction.loaded_model(model)
    paths = [setup.root / row.image for row in rows]
    n = max(len(paths), min_batches * setup.batch_size)
    batches = inputs.ImageBatches(list(itertools.islice(itertools.cycle(paths), n)),
                                    image_size=models.describe(net).image_size,
                                    batch_size=setup.batch_size)
    marks: dict[str, float] = {}
    for k, _ in enumerate(prediction.predict_batches(net, batches)):
        if k == 0:
            marks["start"] = time.perf_counter()
    marks["end"] = time.perf_counter()
    return (n - len(batches.batch_indices(0))) / (marks["end"] - marks["start"])
