"""What a model chapter's parameters say, in one value: the :class:`Setup`, its split, and
the folders and specs of the models it trains (paper §3.1.2, §3.3, §3.4).

A model chapter's ``parameters`` cell becomes a :class:`Setup` (:func:`setup_from_parameters`):
base net size, input size, schedule, the input normalisation (§3.1.2 (1)), the training
augmentation (§3.1.2 (3): the ``augment`` parameter, on by default in the synthetic and paper
profiles, as the paper trains its models with it) and the length model. A model's folder
(:func:`model_dir`) and its ``models.ModelSpec`` (:func:`model_spec`) follow from the setup, so
that every chapter that asks for the same model gets the same folder. ``replication.book.
experiments`` trains and scores the models; it re-exports these names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from replication.book.profiles import FUSION_SCHEDULE, get_profile
from replication.data import fashionai
from replication.data.fashionai import LabelRow
from replication.data.tasks import get_task
from replication.nets import registry

DEFAULT_NORMALISATION = "inception"
"""The input scaling the models use unless a profile or notebook says otherwise: ``X / 127.5 - 1``,
the range of the base nets' ImageNet weights (see ``replication.learning.normalisation.MODES``)."""
LENGTH_MODELS = ("single", "dual-truth", "dual-screened")
"""The length-level model of notebooks 06-08: single-channel, or the dual-channel fusion (§3.3.2)
with its flat/on-model flags from the synthetic truth or from the screening of notebook 04 (the
paper's pipeline, the default)."""
SPEC_OPTIONS = ("pooling", "dropout")
"""``models.ModelSpec`` fields a model of the chapters may set away from their defaults (the
ablations of §3.4: max instead of mean pooling, another Dropout rate); a non-default value is
named in the model's folder (:func:`options_tag`)."""


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
    augment: Sequence[str] = ()
    """The training augmentation of the setup's models (§3.1.2 (3)): names from
    ``augmentation.AUGMENTERS`` (the paper's set: ``augmentation.PAPER_AUGMENTERS``); empty:
    none. Stored in the order they are applied."""
    augment_engine: str = "imgaug"
    """Where ``augment`` runs: ``"imgaug"`` (per image on the CPU, as the paper) or ``"keras"``
    (the in-model twin)."""

    def __post_init__(self) -> None:
        from replication.learning import augmentation, normalisation

        object.__setattr__(self, "augment", augmentation.check_names(self.augment))
        if self.augment_engine not in augmentation.ENGINES:
            raise ValueError(f"augment_engine must be one of {', '.join(augmentation.ENGINES)}, "
                             f"got {self.augment_engine!r}")

        if self.normalisation not in normalisation.MODES:
            raise ValueError(f"normalisation must be one of {', '.join(normalisation.MODES)}, "
                             f"got {self.normalisation!r}")
        if self.length_model not in LENGTH_MODELS:
            raise ValueError(f"length_model must be one of {', '.join(LENGTH_MODELS)}, got "
                             f"{self.length_model!r}")
        if not isinstance(self.weights, Mapping):
            raise ValueError("the weights parameter maps base net names to weight files, e.g. "
                             f"{{'inception_v4': '/path/w.safetensors'}}; got {self.weights!r}")
        unknown = sorted(set(self.weights) - set(registry.names()))
        if unknown:  # a misspelt name would silently train from random weights
            raise ValueError(f"weights name unknown base net(s) {', '.join(map(repr, unknown))}; "
                             f"registered: {', '.join(registry.names())}")

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
                          allow_random_init: bool = False, augment: Sequence[str] = (),
                          augment_engine: str = "imgaug") -> Setup:
    """The :class:`Setup` of a model notebook's ``parameters`` cell (data rendered if missing).

    ``weights`` maps base net names to ImageNet weight files the user has (empty or absent:
    random initialisation), as the notebooks' ``weights`` parameter does. ``augment`` and
    ``augment_engine`` are the training augmentation of every model the setup trains.
    """
    from replication.book.profiles import ensure_data

    # A non-mapping goes to Setup as it is, whose check names the mistake.
    # An unregistered name is kept as given, for Setup's check to name it.
    files = ({name: (weight_file(profile, path) if name in registry.names() else str(path))
              if path else "" for name, path in weights.items()}
             if isinstance(weights, Mapping) else {} if weights is None else weights)
    return Setup(profile=profile, root=ensure_data(profile, data_root or None), variant=variant,
                 image_size=image_size, batch_size=batch_size, schedule=schedule, seed=seed,
                 val_fraction=val_fraction, weights=files,
                 normalisation=normalisation, length_model=length_model,
                 fusion_schedule=tuple(fusion_schedule), allow_random_init=bool(allow_random_init),
                 augment=tuple(augment or ()), augment_engine=augment_engine)


def weight_file(profile: str, path: str | Path) -> str:
    """A ``weights`` file as a model loads it: a relative path lies in the run's home (as the
    synthetic profiles name chapter 0's pretrained base nets). A clear error if it is missing,
    before any net trains."""
    from replication.book.profiles import PRETRAINED_DIR, home_path

    resolved = home_path(path)
    if not resolved.is_file():
        hint = (f": chapter 0 writes it; run `python -m replication reproduce --profile {profile} "
                "--only 00` first" if PRETRAINED_DIR in Path(path).parts
                else " (nothing is downloaded: give a file you have)")
        raise FileNotFoundError(f"weights file {path} not found{hint}")
    return str(resolved)


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
    """The rows of one level's tasks; every row for the level ``"all"`` (``models.ALL_LEVELS``,
    one model for all eight dimensions)."""
    if level == "all":
        return list(rows)
    return [row for row in rows if get_task(row.task).level == level]


# --------------------------------------------------------------------------- augmentation


def describe_augmentation(setup: Setup) -> str:
    """One sentence for the book: the training augmentation of the setup's models (§3.1.2 (3)),
    and whether it is the paper's."""
    from replication.learning import augmentation

    if not setup.augment:
        return "none (the paper trains its models with its augmentation, §3.1.2 (3))"
    paper = set(setup.augment) == set(augmentation.PAPER_AUGMENTERS)
    engine = ("imgaug, per image on the CPU as the paper" if setup.augment_engine == "imgaug"
              else "the in-model Keras twin of the imgaug augmenters")
    return (f"{', '.join(setup.augment)} ({'the paper' if paper else 'not the paper'}'s set), "
            f"with {engine}; training images only")


def augmentation_suffix(augment: Sequence[str], engine: str) -> str:
    """``-aug-<names>-<engine>`` naming a model's training augmentation in its folder (names in
    application order, ``+``-joined); empty without augmentation."""
    from replication.learning import augmentation

    names = augmentation.check_names(augment)
    return f"-aug-{'+'.join(names)}-{engine}" if names else ""


def with_augmentation(setup: Setup, augment: Sequence[str] | None = None,
                      augment_engine: str | None = None) -> Setup:
    """The setup with the augmentation ``augment`` / ``augment_engine`` where given (None: the
    setup's own)."""
    from dataclasses import replace

    changes: dict[str, Any] = {}
    if augment is not None:
        changes["augment"] = tuple(augment)
    if augment_engine is not None:
        changes["augment_engine"] = augment_engine
    return replace(setup, **changes) if changes else setup


def options_tag(spec_options: Mapping[str, Any]) -> str:
    """The folder tag of the :data:`SPEC_OPTIONS` set away from ``models.ModelSpec``'s defaults,
    e.g. ``pooling-max-dropout-0.2`` (empty for none, so default models keep their folders)."""
    from replication.learning import models

    unknown = sorted(set(spec_options) - set(SPEC_OPTIONS))
    if unknown:
        raise ValueError(f"spec_options {unknown}: a chapter's model may set only "
                         f"{', '.join(SPEC_OPTIONS)}")
    defaults = {f.name: f.default for f in dataclasses.fields(models.ModelSpec)}
    return "-".join(f"{key}-{spec_options[key]}" for key in SPEC_OPTIONS
                    if key in spec_options and spec_options[key] != defaults[key])


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



# --------------------------------------------------------------------------- models


def model_dir(setup: Setup, level: str, backbone: str, tag: str | None = None) -> Path:
    """``models/<level>-<backbone>[-<tag>][-aug-<names>-<engine>][-norm-<mode>]``: the setup's
    augmentation (:func:`augmentation_suffix`) when it has one, the mode when not the default."""
    name = f"{level}-{backbone}" + (f"-{tag}" if tag else "")
    name += augmentation_suffix(setup.augment, setup.augment_engine)
    if setup.normalisation != DEFAULT_NORMALISATION:
        name += f"-norm-{setup.normalisation}"
    return setup.models_dir / name


def require_weights(setup: Setup, backbones: Sequence[str]) -> None:
    """Refuse to train ``backbones`` from random weights under a profile that fine-tunes ImageNet
    weights (the ``paper`` profile: its rates barely move a random net), unless the setup allows
    it (:func:`check_weights`)."""
    check_weights(setup.profile, setup.weights, backbones,
                  allow_random_init=setup.allow_random_init)


def check_weights(profile: str, weights: Mapping[str, str], backbones: Sequence[str], *,
                  allow_random_init: bool = False, parameter: str = "weights") -> None:
    """The refusal itself, for every chapter that trains a base net (chapter 4's classifier
    too): under a profile that ``requires_weights``, each of ``backbones`` needs a file in
    ``weights`` (base net -> path) unless ``allow_random_init``. The error names the parameter
    and each missing net's weight file format."""
    missing = [b for b in backbones if not weights.get(b)]
    if not missing or allow_random_init or not get_profile(profile).requires_weights:
        return
    formats = "; ".join(f"{b}: {registry.BACKBONES[b].weights_format}" for b in missing)
    example = (", ".join(f"{b}: /path/to/{b}-weights" for b in missing)
               if parameter == "weights" else f"/path/to/{missing[0]}-weights")
    value = f"{{{example}}}" if parameter == "weights" else example
    raise ValueError(
        f"the {profile} profile fine-tunes ImageNet weights, and none were given for "
        f"{', '.join(missing)}: pass them in the {parameter} parameter, e.g. "
        f"-p '{parameter}={value}' ({formats}); nothing is downloaded. To train from random "
        "weights anyway, pass -p allow_random_init=true.")


def model_spec(setup: Setup, level: str, backbone: str, train: Sequence[LabelRow], *,
               image_size: int | None = None, augment: Sequence[str] | None = None,
               augment_engine: str | None = None,
               spec_options: Mapping[str, Any] | None = None):
    """The ``models.ModelSpec`` of one single-channel model of the setup (``image_size``, the
    augmentation and the :data:`SPEC_OPTIONS` override the setup's: its size, its
    augmentation, the spec's defaults). ``level`` may be ``"all"`` (all eight heads)."""
    from replication.learning import models

    setup = with_augmentation(setup, augment, augment_engine)
    options_tag(spec_options or {})  # checks the names
    stats = channel_stats(setup, train)
    options: dict[str, Any] = {"normalisation": setup.normalisation, "augment": setup.augment,
                               **(spec_options or {})}
    if stats is not None:
        options.update(mean=tuple(float(v) for v in stats.mean),
                       std=tuple(float(v) for v in stats.std))
    if setup.augment:  # an unaugmented model has no engine: keep the default
        options["augment_engine"] = setup.augment_engine
    return models.ModelSpec(level=level, backbone=backbone, variant=setup.variant,
                            image_size=int(image_size or setup.image_size),
                            weights=setup.weights.get(backbone) or None, **options)
