"""The one training path of the model notebooks (paper §3.1.2, §3.3, §3.4; Figures 2, 4 and 5).

Notebooks 06-08 all need the same models: a design-level and a length-level model for each base
net of the registry (``replication.nets.registry``; the paper's are Inception-v4 and
InceptionResNet-v2). :func:`train_all` trains them under ``results/<profile>/models/`` the first
time and, through ``training.train``'s resume, returns the finished models at once afterwards, so
the notebooks never train twice and an interrupted run continues where it stopped. A base net
added to the registry is trained, scored and tabulated by every chapter without a change here.

The preprocessing experiments train variants of one model through the same :func:`train_model`
(:func:`train_variant`): notebook 02 (resolution, Fig. 2) at other input sizes, notebook 03
(augmentation ablation) with other augmenters. A variant lives in ``models/<level>-<backbone>-<tag>``,
the tag naming its configuration (:func:`variant_tag`), so the two notebooks share a model they
both need. A normalisation mode other than the default adds ``-norm-<mode>`` to every folder, so
that switching modes never collides with a model trained under another. Every model that trains
here also records its steady-state training speed (``speed.json``).

A chapter opens with :func:`chapter_setup` (its parameters cell's values -> :class:`Chapter`)
and scores its models with :func:`score_models` (02, 03, 05) or :func:`predict` (06-08).
"""

from __future__ import annotations

import functools
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Hashable, Mapping, Sequence

import numpy as np

from replication.book.profiles import FUSION_SCHEDULE, get_profile
from replication.data import fashionai, metric, truth
from replication.data.fashionai import LabelRow
from replication.data.tasks import LEVELS, get_task, tasks_of_level
from replication.learning.schedule import parse_schedule
from replication.nets import registry

DOUBLENET = "doublenet"
"""The name the chapters give the paper's ensemble of base nets, the "doubleNet" (§3.4)."""
DOUBLENET_WEIGHTS: Mapping[str, float] = {"inception_v4": 0.5, "inception_resnet_v2": 0.5}
"""§3.4: the doubleNet averages Inception-v4 and InceptionResNet-v2 with weights 0.5/0.5 (each
net's probabilities flip-averaged first): base net name -> weight."""
DEFAULT_NORMALISATION = "inception"
"""The input scaling the models use unless a profile or notebook says otherwise: ``X / 127.5 - 1``,
the range of the base nets' ImageNet weights (see ``replication.learning.normalisation.MODES``)."""
SPEED_JSON = "speed.json"
"""Written beside a model's ``log.csv`` when it trains: its steady-state training images/s."""
LENGTH_MODELS = ("single", "dual-truth", "dual-screened")
"""The length-level model of notebooks 06-08: single-channel, or the dual-channel fusion (§3.3.2)
with its flat/on-model flags from the synthetic truth or from the screening of notebook 04 (the
paper's pipeline, the default)."""
FLAG_SOURCES = ("truth", "screened")
SCREENING_NOTEBOOK = "04_screening"
SCREEN_CSV = "screen.csv"
"""Notebook 04 writes the flags of every length image here (``results/<profile>/04_screening/``)."""


# --------------------------------------------------------------------------- the base nets


def backbone_names() -> tuple[str, ...]:
    """The base nets every chapter trains and compares: the registry's (``nets.registry.names``),
    in registration order."""
    return registry.names()


def display_name(name: str) -> str:
    """The name the book prints for a base net (``Inception-v4``) or for :data:`DOUBLENET`."""
    return "doubleNet" if name == DOUBLENET else registry.display_name(name)


def compared_models() -> dict[str, dict[str, float]]:
    """The models chapters 7 and 8 compare, as ensembles ``{base net: weight}``: each registered
    base net alone, then the doubleNet (:data:`DOUBLENET_WEIGHTS`), keyed by name."""
    return {**{name: {name: 1.0} for name in backbone_names()}, DOUBLENET: dict(DOUBLENET_WEIGHTS)}


def parameter_count(ensemble: Mapping[str, float] | Sequence[str], variant: str,
                    image_size: int) -> int:
    """The parameters of the base nets of ``ensemble`` (names, or ``{name: weight}``) without
    their heads, each built as ``variant`` at ``image_size`` px (chapter 7's table)."""
    return sum(registry.build_backbone(name, variant, input_shape=(image_size, image_size, 3))
               .count_params() for name in ensemble)


@dataclass(frozen=True)
class Setup:
    """What the model notebooks' parameters say about training, in one value."""

    profile: str
    root: Path
    variant: str
    image_size: int
    batch_size: int
    schedule: Sequence[Mapping[str, Any]]
    seed: int = 0
    val_fraction: float = 0.2
    weights: Mapping[str, str] = field(default_factory=dict)
    """Base net name -> a user-given ImageNet weight file (empty or absent: random
    initialisation); every name must be a registered base net."""
    normalisation: str = DEFAULT_NORMALISATION
    """The models' input normalisation, one of ``replication.learning.normalisation.MODES`` (§3.1.2(1))."""
    length_model: str = "single"
    """The length level's model in :func:`train_all`, one of :data:`LENGTH_MODELS`."""
    fusion_schedule: Sequence[Mapping[str, Any]] = tuple(FUSION_SCHEDULE)
    """How the dual-channel fusion trains on top of its two trained branches."""
    allow_random_init: bool = False
    """Let a profile that fine-tunes ImageNet weights (``paper``) start a base net from random
    weights instead (:func:`require_weights`)."""

    def __post_init__(self) -> None:
        from replication.learning import normalisation

        if self.normalisation not in normalisation.MODES:
            raise ValueError(f"normalisation must be one of {', '.join(normalisation.MODES)}, "
                             f"got {self.normalisation!r}")
        if self.length_model not in LENGTH_MODELS:
            raise ValueError(f"length_model must be one of {', '.join(LENGTH_MODELS)}, got "
                             f"{self.length_model!r}")
        if not isinstance(self.weights, Mapping):
            raise ValueError("the weights parameter maps base net names to weight files, e.g. "
                             f"{{'inception_v4': '/path/w.safetensors'}}; got {self.weights!r}")
        unknown = sorted(set(self.weights) - set(backbone_names()))
        if unknown:  # a misspelt name would silently train from random weights
            raise ValueError(f"weights name unknown base net(s) {', '.join(map(repr, unknown))}; "
                             f"registered: {', '.join(backbone_names())}")

    @property
    def models_dir(self) -> Path:
        return get_profile(self.profile).results_dir / "models"

    @property
    def stats_dir(self) -> Path:
        """Where the training split's channel statistics are cached (the ``dataset`` mode)."""
        return get_profile(self.profile).results_dir / "normalisation"


def setup_from_parameters(profile: str, data_root: str, *, variant: str, image_size: int,
                          batch_size: int, schedule: Sequence[Mapping[str, Any]], seed: int,
                          val_fraction: float, weights: Mapping[str, Any] | None = None,
                          normalisation: str = DEFAULT_NORMALISATION,
                          length_model: str = "single",
                          fusion_schedule: Sequence[Mapping[str, Any]] = FUSION_SCHEDULE,
                          allow_random_init: bool = False) -> Setup:
    """The :class:`Setup` of a model notebook's ``parameters`` cell (data rendered if missing).

    ``weights`` maps base net names to ImageNet weight files the user has (empty or absent:
    random initialisation), as the notebooks' ``weights`` parameter does.
    """
    from replication.book.profiles import ensure_data

    # A non-mapping goes to Setup as it is, whose check names the mistake.
    files = ({name: str(path) if path else "" for name, path in weights.items()}
             if isinstance(weights, Mapping) else {} if weights is None else weights)
    return Setup(profile=profile, root=ensure_data(profile, data_root or None), variant=variant,
                 image_size=image_size, batch_size=batch_size, schedule=schedule, seed=seed,
                 val_fraction=val_fraction, weights=files,
                 normalisation=normalisation, length_model=length_model,
                 fusion_schedule=tuple(fusion_schedule), allow_random_init=bool(allow_random_init))


@dataclass(frozen=True)
class Chapter:
    """A training chapter's setup and the split it trains and scores on (:func:`chapter_setup`)."""

    setup: Setup
    train: list[LabelRow]
    val: list[LabelRow]
    skipped: int
    """Rows of ``label.csv`` that could not be used (``python -m replication validate`` names them)."""

    @functools.cached_property
    def normalisation(self) -> str:
        """One sentence for the page: the input normalisation the chapter's models use."""
        return describe_normalisation(self.setup, self.train)

    def describe(self, level: str | None = None) -> str:
        """Two lines for the page: the split's size (of one level, or all), the normalisation."""
        train, val = (self.train, self.val) if level is None else (
            of_level(self.train, level), of_level(self.val, level))
        kind = f"{level}-level images" if level else "images"
        return (f"{len(train):,} training and {len(val):,} validation {kind} ({self.skipped} rows "
                f"skipped)\nnormalisation: {self.normalisation}")

    def train_all(self, *, progress: bool = True) -> dict[tuple[str, str], Path]:
        """:func:`train_all` on this chapter's split: every (level, base net) model."""
        return train_all(self.setup, self.train, self.val, progress=progress)


def chapter_setup(profile: str, data_root: str, **parameters: Any) -> Chapter:
    """A training chapter's opening: its parameters cell's values (the keywords of
    :func:`setup_from_parameters`) -> its :class:`Chapter` (data rendered if missing, the split
    loaded)."""
    setup = setup_from_parameters(profile, data_root, **parameters)
    return Chapter(setup, *load_split(setup))


def load_split(setup: Setup) -> tuple[list[LabelRow], list[LabelRow], int]:
    """Training and validation rows (stratified by task and value, seeded) and the skip count.

    The validation split is the held-out set every model notebook scores on.
    """
    rows, problems = fashionai.read_labels(setup.root)
    if not rows:
        raise fashionai.DataError(f"{setup.root / fashionai.LABEL_CSV}: no usable rows "
                                  f"({len(problems)} problems; run `python -m replication validate`)")
    train, val = fashionai.stratified_split(rows, val_fraction=setup.val_fraction, seed=setup.seed)
    return train, val, len(problems)


def of_level(rows: Sequence[LabelRow], level: str) -> list[LabelRow]:
    return [row for row in rows if get_task(row.task).level == level]


# --------------------------------------------------------------------------- normalisation


def channel_stats(setup: Setup, train: Sequence[LabelRow], *, progress: bool = True):
    """The training split's per-channel statistics (``normalisation.ChannelStats``) where the
    setup's mode needs them (``dataset``), else None; computed once, cached under
    ``results/<profile>/normalisation/``."""
    from replication.learning import normalisation

    if setup.normalisation != "dataset":
        return None
    return normalisation.dataset_stats(setup.root, list(train), cache_dir=setup.stats_dir,
                                       progress=progress)


def describe_normalisation(setup: Setup, train: Sequence[LabelRow]) -> str:
    """One sentence for the book: which input normalisation the setup's models use."""
    from replication.learning import normalisation

    return normalisation.describe_mode(setup.normalisation, channel_stats(setup, train,
                                                                          progress=False))


# --------------------------------------------------------------------------- training


def model_dir(setup: Setup, level: str, backbone: str, tag: str | None = None) -> Path:
    """``models/<level>-<backbone>[-<tag>][-norm-<mode>]`` (the mode only when not the default)."""
    name = f"{level}-{backbone}" + (f"-{tag}" if tag else "")
    if setup.normalisation != DEFAULT_NORMALISATION:
        name += f"-norm-{setup.normalisation}"
    return setup.models_dir / name


def require_weights(setup: Setup, backbones: Sequence[str]) -> None:
    """Refuse to train ``backbones`` from random weights under a profile that fine-tunes ImageNet
    weights (the ``paper`` profile: its rates barely move a random net), unless the setup allows
    it. The error names the parameter and each missing net's weight file format."""
    missing = [b for b in backbones if not setup.weights.get(b)]
    if not missing or setup.allow_random_init or not get_profile(setup.profile).requires_weights:
        return
    formats = "; ".join(f"{b}: {registry.BACKBONES[b].weights_format}" for b in missing)
    example = ", ".join(f"{b}: /path/to/{b}-weights" for b in missing)
    raise ValueError(
        f"the {setup.profile} profile fine-tunes ImageNet weights, and none were given for "
        f"{', '.join(missing)}: pass them in the weights parameter, e.g. "
        f"-p 'weights={{{example}}}' ({formats}); nothing is downloaded. To train from random "
        "weights anyway, pass -p allow_random_init=true.")


def model_spec(setup: Setup, level: str, backbone: str, train: Sequence[LabelRow], *,
               image_size: int | None = None, augment: Sequence[str] = (),
               augment_engine: str | None = None):
    """The ``models.ModelSpec`` of one single-channel model of the setup (``image_size`` and
    the augmenters override the setup's defaults: its size, no augmentation)."""
    from replication.learning import models

    stats = channel_stats(setup, train)
    options: dict[str, Any] = {"normalisation": setup.normalisation, "augment": tuple(augment)}
    if stats is not None:
        options.update(mean=tuple(float(v) for v in stats.mean),
                       std=tuple(float(v) for v in stats.std))
    if augment_engine and augment:  # an unaugmented model has no engine: keep the default
        options["augment_engine"] = augment_engine
    return models.ModelSpec(level=level, backbone=backbone, variant=setup.variant,
                            image_size=int(image_size or setup.image_size),
                            weights=setup.weights.get(backbone) or None, **options)


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
                augment: Sequence[str] = (), augment_engine: str | None = None,
                tag: str | None = None, validate: bool = True, progress: bool = True,
                normalise_on: Sequence[LabelRow] | None = None) -> Path:
    """Train (or resume, or reuse) one single-channel model; returns its ``model.keras``.

    Without options it is the setup's model (notebooks 06-08). ``image_size`` (notebook 02) and
    ``augment`` / ``augment_engine`` (notebook 03: names from ``augmentation.AUGMENTERS``, applied
    to training images only) make a variant; give it a ``tag`` so that it gets a folder of its own.
    ``validate`` scores the level's validation rows after every epoch (``log.csv``'s ``val_*``
    columns); a notebook that only scores the finished model can save that time.
    ``normalise_on`` (default ``train``) are the rows whose statistics the ``dataset``
    normalisation uses: a dual-channel branch trains on one domain's rows but normalises as the
    whole training split does.
    """
    from replication.learning import training

    require_weights(setup, [backbone])
    spec = model_spec(setup, level, backbone, normalise_on or train, image_size=image_size,
                      augment=augment, augment_engine=augment_engine)
    rows = of_level(train, level)
    out_dir = model_dir(setup, level, backbone, tag)
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
                augment_engine: str = "imgaug") -> str:
    """The folder tag of a preprocessing-experiment model, named by its whole configuration:
    ``<variant>-px<size>[-aug-<names>-<engine>]-<hash>``, the hash over what else determines it
    (schedule, seed, batch size, validation share, base net weights). Any notebook that asks for
    the same model gets the same folder, and a changed parameter gets a new one."""
    import hashlib
    from dataclasses import asdict

    from replication.learning import augmentation

    names = augmentation.check_names(augment)
    rest = {"schedule": [asdict(stage) for stage in parse_schedule(setup.schedule)],
            "seed": setup.seed, "batch_size": setup.batch_size, "val_fraction": setup.val_fraction,
            "weights": setup.weights.get(backbone) or None}
    digest = hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:8]
    aug = f"-aug-{'+'.join(names)}-{augment_engine}" if names else ""
    return f"{setup.variant}-px{int(image_size)}{aug}-{digest}"


def train_variant(setup: Setup, level: str, backbone: str, train: Sequence[LabelRow],
                  val: Sequence[LabelRow], *, image_size: int | None = None,
                  augment: Sequence[str] = (), augment_engine: str = "imgaug",
                  progress: bool = True) -> Path:
    """One model of the preprocessing experiments (notebook 02: input size, notebook 03:
    augmentation), trained through :func:`train_model` into the folder :func:`variant_tag` names,
    so that a model both notebooks need (e.g. no augmentation at a size the sweep also tries) is
    trained once. These notebooks score each finished model themselves, so it trains without the
    per-epoch validation."""
    size = int(image_size or setup.image_size)
    tag = variant_tag(setup, backbone, image_size=size, augment=augment,
                      augment_engine=augment_engine)
    return train_model(setup, level, backbone, train, val, image_size=size, augment=augment,
                       augment_engine=augment_engine, tag=tag, validate=False, progress=progress)


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
    measured as training's speed is: a ``predict`` pass over the rows' images (decoded and resized
    as in prediction, no flip TTA; the rows repeated up to ``min_batches`` batches), timed from the
    end of its first batch, which traces the prediction step, to its end."""
    import itertools

    import keras

    from replication.learning import inputs, models

    net = model if isinstance(model, keras.Model) else models.load_model(model)
    paths = [setup.root / row.image for row in rows]
    n = max(len(paths), min_batches * setup.batch_size)
    batches = inputs.ImageBatches(list(itertools.islice(itertools.cycle(paths), n)),
                                    image_size=models.describe(net).image_size,
                                    batch_size=setup.batch_size)
    marks: dict[str, float] = {}

    class Timer(keras.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            if batch == 0:
                marks["start"] = time.perf_counter()

        def on_predict_end(self, logs=None):
            marks["end"] = time.perf_counter()

    net.predict(batches, verbose=0, callbacks=[Timer()])
    return (n - len(batches.batch_indices(0))) / (marks["end"] - marks["start"])


# --------------------------------------------------------------------------- dual channel


def screen_csv(profile: str) -> Path:
    """Where notebook 04 writes the screened flat/on-model flags of every length image."""
    return get_profile(profile).results_dir / SCREENING_NOTEBOOK / SCREEN_CSV


def flat_flags(setup: Setup, source: str):
    """The flat/on-model flags (``models.FlatFlags``) from ``source``: ``"truth"`` (the synthetic
    set's) or ``"screened"`` (notebook 04's screening, the paper's pipeline). The screen CSV must
    screen the setup's data root as it is now, whoever wrote it (notebook 04, or the ``screen``
    command): its provenance says so (``screen_csv.check_screens``)."""
    from replication.learning import models
    from replication.screening.screen_csv import ScreenedFlatFlags

    if source == "truth":
        if not truth.has_truth(setup.root):
            raise FileNotFoundError(f"{setup.root} has no Truth/: only the synthetic set knows "
                                    "the true flags; use the screened ones")
        return models.TruthFlatFlags(setup.root)
    if source == "screened":
        rerun = (f"(notebook 04: python -m replication reproduce --profile {setup.profile} "
                 "--only 04, with the same data root)")
        return ScreenedFlatFlags.for_root(screen_csv(setup.profile), setup.root, rerun=rerun)
    raise ValueError(f"source must be one of {FLAG_SOURCES}, got {source!r}")


def length_flags(setup: Setup):
    """The flags the setup's length model needs (None for a single-channel one)."""
    if setup.length_model == "single":
        return None
    return flat_flags(setup, setup.length_model.removeprefix("dual-"))


def train_dual(setup: Setup, backbone: str, train: Sequence[LabelRow], val: Sequence[LabelRow],
               *, source: str, progress: bool = True) -> Path:
    """The length level's dual-channel model (§3.3.2), trained where not yet done: a flat-lay
    model on the rows the flags call flat, an on-model model on the others (both through
    :func:`train_model`, with the setup's schedule), then their fusion (``models.build_dual``)
    on all length rows with the setup's ``fusion_schedule``. The folders carry the flag source and
    a hash of the flags, so that models trained on other flags are never reused."""
    from dataclasses import replace

    from replication.learning import models, training
    from replication.screening.screen_csv import flags_digest

    flags = flat_flags(setup, source)
    rows, val_rows = of_level(train, "length"), of_level(val, "length")
    tag = f"{source}-{flags_digest(flags, [r.image for r in [*rows, *val_rows]])}"
    flat_rows, onmodel_rows = models.split_by_flag(rows, flags)
    flat_val, onmodel_val = models.split_by_flag(val_rows, flags)
    if not flat_rows or not onmodel_rows:
        raise ValueError(f"the {source} flags put every training row in one domain "
                         f"({len(flat_rows)} flat-lay, {len(onmodel_rows)} on-model): a "
                         "dual-channel model needs both")
    branches = [train_model(setup, "length", backbone, part, part_val, tag=f"{name}-{tag}",
                            normalise_on=train, progress=progress)
                for name, part, part_val in (("flat", flat_rows, flat_val),
                                             ("onmodel", onmodel_rows, onmodel_val))]
    spec = replace(model_spec(setup, "length", backbone, train), channels="dual",
                   flat_model=str(branches[0]), onmodel_model=str(branches[1]))
    result = training.train(spec, rows, setup.root,
                            out_dir=model_dir(setup, "length", backbone, f"dual-{tag}"),
                            schedule=setup.fusion_schedule, val_rows=val_rows,
                            batch_size=setup.batch_size, seed=setup.seed, flags=flags,
                            progress=progress)
    return Path(result["model"])


def length_model_dir(setup: Setup, backbone: str, train: Sequence[LabelRow],
                     val: Sequence[LabelRow]) -> Path:
    """The folder of the setup's length model (single, or the dual-channel fusion)."""
    from replication.screening.screen_csv import flags_digest

    if setup.length_model == "single":
        return model_dir(setup, "length", backbone)
    source = setup.length_model.removeprefix("dual-")
    images = [r.image for r in [*of_level(train, "length"), *of_level(val, "length")]]
    tag = f"{source}-{flags_digest(flat_flags(setup, source), images)}"
    return model_dir(setup, "length", backbone, f"dual-{tag}")


def train_all(setup: Setup, train: Sequence[LabelRow], val: Sequence[LabelRow], *,
              progress: bool = True) -> dict[tuple[str, str], Path]:
    """The four models ``{(level, backbone): model.keras}``, trained where not yet done; the
    length level's is the setup's ``length_model`` (single or dual-channel)."""
    require_weights(setup, backbone_names())  # before the first net trains, not after it
    out = {}
    for level in LEVELS:
        for backbone in backbone_names():
            if level == "length" and setup.length_model != "single":
                out[(level, backbone)] = train_dual(
                    setup, backbone, train, val, source=setup.length_model.removeprefix("dual-"),
                    progress=progress)
            else:
                out[(level, backbone)] = train_model(setup, level, backbone, train, val,
                                                     progress=progress)
    return out


def training_logs(setup: Setup, train: Sequence[LabelRow],
                  val: Sequence[LabelRow]) -> dict[tuple[str, str], list[dict]]:
    """Each model's per-epoch log (``log.csv``) as rows (the fusion's for a dual-channel one)."""
    from replication.learning import training

    return {(level, backbone): training.read_log(
                length_model_dir(setup, backbone, train, val) if level == "length"
                else model_dir(setup, level, backbone))
            for level in LEVELS for backbone in backbone_names()}


def predict(setup: Setup, trained: Mapping[tuple[str, str], Path], rows: Sequence[LabelRow],
            ensemble: Mapping[str, float], *, flip_tta: bool = True,
            progress: bool = False) -> dict:
    """``{image: {task: probs}}`` of an ensemble ``{base net: weight}`` (weights summing to 1;
    ``{name: 1.0}`` for one net, :data:`DOUBLENET_WEIGHTS` for the paper's) over both levels,
    each row predicted by its own level's models of :func:`train_all`."""
    from replication.learning import prediction

    backbones, weights = list(ensemble), [float(w) for w in ensemble.values()]
    paths = [trained[(level, b)] for level in LEVELS for b in backbones]
    return prediction.predict_probs(paths, weights * len(LEVELS), rows, setup.root,
                                    flags=length_flags(setup), flip_tta=flip_tta,
                                    batch_size=setup.batch_size, progress=progress)


def level_map(scores: Mapping[str, Any]) -> dict[str, float]:
    """The mAP of each level (design, length): the mean AP of its dimensions in a
    ``metric.score`` result, dimensions without an AP left out."""
    return {level: float(np.nanmean([float(scores["tasks"][t.key]["ap"])
                                     for t in tasks_of_level(level)]))
            for level in LEVELS}


def predict_one(setup: Setup, model, rows: Sequence[LabelRow], *, flags=None,
                flip_tta: bool = True, progress: bool = False) -> dict:
    """``{image: {task: probs}}`` of one model (a ``model.keras`` path or a loaded model) on rows
    of its own level (notebooks 02, 03, 05); ``flags`` feed a dual-channel model."""
    from replication.learning import prediction

    return prediction.predict_probs([model], [1.0], rows, setup.root, flags=flags,
                                    flip_tta=flip_tta, batch_size=setup.batch_size,
                                    progress=progress)


@dataclass(frozen=True)
class Scored:
    """One model scored on the validation rows (:func:`score_models`)."""

    predictions: dict
    """``{image: {task: probs}}``, flip TTA included."""
    scores: dict
    """The official metric's ``metric.score`` of those predictions."""


def score_models(setup: Setup, models: Mapping[Hashable, Any], rows: Sequence[LabelRow], *,
                 flags: Mapping[Hashable, Any] | None = None,
                 answers: Mapping[Hashable, Path] | None = None, truth_csv: Path | None = None,
                 flip_tta: bool = True) -> dict[Hashable, Scored]:
    """Predict ``rows`` with each model (a ``model.keras`` path or a loaded model) and score it
    with the official metric (§4), flip TTA on (§3.4): the evaluation of notebooks 02, 03 and 05.

    ``flags`` gives a dual-channel model its flat/on-model flags (by the model's key);
    ``answers`` names a FashionAI ``answer.csv`` to write per model, and ``truth_csv`` a
    ``label.csv`` of the rows, so that ``python -m replication evaluate`` can score them again.
    """
    from replication.learning import prediction

    if truth_csv is not None:
        fashionai.write_labels(truth_csv, rows)
    out = {}
    for key, model in models.items():
        predictions = predict_one(setup, model, rows, flags=(flags or {}).get(key),
                                  flip_tta=flip_tta)
        if answers is not None:
            prediction.write_submission(answers[key], rows, predictions)
        out[key] = Scored(predictions, metric.score(rows, predictions))
    return out
