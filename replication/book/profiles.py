"""The three profiles (DESIGN §5), in one place: which data, how big, which parameters.

- ``smoke``: a small synthetic set and small everything; every notebook runs in minutes on
  2 CPU cores. For CI and first contact.
- ``synthetic``: a synthetic set big enough that the paper's comparisons are measurable.
- ``paper``: the real FashionAI data at 480 px, from a folder the user gives.

A profile injects its parameters into each notebook's ``parameters`` cell through papermill;
a student can override any of them in the notebook itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from replication.learning import schedule
from replication.learning.schedule import as_dicts

SOURCE_ROOT = Path(__file__).resolve().parents[2]
"""The repository: the package and the book's sources (``notebooks/``, the pages and
``_toc.yml`` in ``book/``, ``_config.yml``). A run only reads it."""

HOME_ENV = "REPLICATION_HOME"
"""Environment variable naming the folder a run writes into (default: the repository)."""

HOME = Path(os.environ.get(HOME_ENV) or SOURCE_ROOT).resolve()
"""Where a run writes: ``data/``, ``results/``, ``book/executed/`` and ``_build/``. The README's
commands leave it at the repository; the test suite points it at a fresh temporary folder, so
that a run never sees the models or data an earlier run left behind."""


def in_home(path: str | Path) -> str:
    """``path`` relative to :data:`HOME` when it lies there (as a notebook parameter or a page
    names it), else as given; :func:`home_path` reads it back."""
    path = Path(path)
    if path.is_absolute() and path.resolve().is_relative_to(HOME):
        return path.resolve().relative_to(HOME).as_posix()
    return str(path)


def home_path(path: str | Path) -> Path:
    """A path :func:`in_home` wrote, absolute again: a relative one lies in :data:`HOME`."""
    path = Path(path)
    return path if path.is_absolute() else HOME / path


DATA_ROOT_ENV = "FASHIONAI_ROOT"
"""Environment variable naming the real FashionAI folder for the ``paper`` profile."""


@dataclass(frozen=True)
class SyntheticSpec:
    """How to render the profile's embedded synthetic data set."""

    images_per_task: int
    size: int
    seed: int = 0


def synthetic_root(kind: str, spec: SyntheticSpec) -> Path:
    """Where a synthetic set is rendered: ``data/<kind>-n<N>-px<S>-seed<s>-v<format>`` (a
    profile's evaluation set, ``synthetic``; chapter 0's pretext set, ``pretext``). The name
    carries the spec and the renderer's format, so a changed spec or renderer never reuses a
    stale set."""
    from replication.synthetic.writer import FORMAT_VERSION

    return HOME / "data" / (f"{kind}-n{spec.images_per_task}-px{spec.size}-seed{spec.seed}"
                            f"-v{FORMAT_VERSION}")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    synthetic: SyntheticSpec | None
    """``None``: the profile reads the user's FashionAI folder (``--data-root`` / ``$FASHIONAI_ROOT``)."""
    seed: int = 0
    notebook_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per notebook stem (e.g. ``"01_data"``), the parameters this profile injects."""
    requires_weights: bool = False
    """The model chapters fine-tune ImageNet weights with the paper's small rates, so they refuse
    to start a base net from random weights unless ``allow_random_init`` is set."""
    skipped: Mapping[str, str] = field(default_factory=dict)
    """Notebook stem -> why this profile does not run it (its page in the book says so)."""
    jobs: int = 1
    """How many notebooks ``reproduce`` runs at a time unless told otherwise (``--jobs``,
    ``$REPLICATION_JOBS``); the numbers do not depend on it."""

    @property
    def results_dir(self) -> Path:
        return HOME / "results" / self.name

    def default_data_root(self) -> Path | None:
        if self.synthetic is None:
            env = os.environ.get(DATA_ROOT_ENV)
            return Path(env) if env else None
        return synthetic_root("synthetic", self.synthetic)

    def parameters(self, notebook: str, data_root: str | Path | None = None) -> dict[str, Any]:
        """The papermill parameters for one notebook under this profile. A data root in the home
        is given relative to it (the kernel's working folder; :func:`ensure_data` resolves it
        there), so that no page shows the machine's folders."""
        root = data_root or self.default_data_root()
        return {
            "profile": self.name,
            "data_root": in_home(root) if root else "",
            "seed": self.seed,
            **self.notebook_params.get(notebook, {}),
        }


PRETRAINED_DIR = "pretrained"
"""``results/<profile>/pretrained/``: chapter 0 writes its pretrained base nets there."""


def pretrained_weights(profile: str) -> dict[str, str]:
    """Base net -> the file chapter 0 writes its pretrained base net to under ``profile``, in the
    net's ImageNet format (``nets.registry.Backbone.weights_suffix``), relative to :data:`HOME`
    as a notebook parameter names it: the ``weights`` the synthetic profiles' later chapters
    load, as the ``paper`` profile loads a user's ImageNet files."""
    from replication.nets import registry

    return {name: f"results/{profile}/{PRETRAINED_DIR}/{name}{registry.BACKBONES[name].weights_suffix}"
            for name in registry.names()}


# Training settings the model notebooks (06-08) share, per profile. Schedules are data: a list
# of stages (optimizer, learning rate, epochs, share of the base net that trains), as
# ``replication.learning.schedule.Stage`` reads them.
PAPER_SCHEDULE = as_dicts(schedule.PAPER_SCHEDULE)  # §3.2/§3.3, defined in learning.schedule
# The synthetic profile fine-tunes chapter 0's pretrained base nets with the paper's shape of
# schedule (§3.3.1): a stage on the frozen base net at the paper's first rate, then Adam, then SGD
# (without momentum, as the paper names none). The paper's later rates (2.5e-5 .. 1e-6) suit
# canonical nets fine-tuned for thousands of steps; the tiny nets here get about 70 steps an
# epoch, so the later stages use rates that move them: chapter 0 shows the pretrained model's
# validation accuracy after each of these epochs, and chapter 2's optimizer ablation what the SGD
# stage adds.
FINETUNE_SCHEDULE = [
    {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1, "train_backbone": 0.0},
    {"optimizer": "adam", "learning_rate": 5e-4, "epochs": 4, "train_backbone": 1.0},
    {"optimizer": "sgd", "learning_rate": 5e-3, "epochs": 1, "train_backbone": 1.0},
]
# Chapter 0's pretraining of each base net on the pretext set, from random weights (the role of
# ImageNet's long training): Adam at rates that move a fresh net, for as long as the budget
# allows. Six epochs on 600 images per dimension left both nets near chance on the pretext task
# (acc 0.29 and 0.35) and a fine-tuned design model at 0.30: the pretraining is the lever.
PRETEXT_SCHEDULE = [
    {"optimizer": "adam", "learning_rate": 2e-3, "epochs": 12, "train_backbone": 1.0},
    {"optimizer": "adam", "learning_rate": 4e-4, "epochs": 2, "train_backbone": 1.0},
]
# The smoke profile checks that every notebook runs, not what the nets learn: one short Adam
# stage, as each further stage costs a new trace of the training step (7-14 s on 2 CPU cores for
# the tiny nets, where an epoch costs under one). Multi-stage schedules, checkpoints and resume
# are tested in tests/test_training.py; notebook 04's classifier still runs five stages.
SMOKE_SCHEDULE = [
    {"optimizer": "adam", "learning_rate": 2e-3, "epochs": 3, "train_backbone": 1.0},
]
# The input normalisation (§3.1.2(1); ``replication.normalisation.MODES``) is a profile parameter
# of every model notebook. smoke and synthetic train from scratch with the Inception scaling
# X / 127.5 - 1; the paper profile normalises with the data set's own statistics, as the paper does.
# The synthetic profiles' chapters after chapter 0 start their base nets from its pretrained
# weights (``weights``), read by the loaders a user's ImageNet files go through.
_SMOKE_TRAINING = {"variant": "tiny", "image_size": 96, "batch_size": 16, "schedule": SMOKE_SCHEDULE,
                   "val_fraction": 0.2, "normalisation": "inception",
                   "weights": pretrained_weights("smoke")}
# The synthetic profile's size is set by its budget: every chapter, pretraining included, in
# 90 minutes on 2 CPU cores. Tiny nets at 128 px; 1,000 images per dimension, a quarter of them
# held out (1,000 validation images per level, so that a paired interval on an accuracy gap is
# about +-0.03 wide).
_SYNTHETIC_TRAINING = {"variant": "tiny", "image_size": 128, "batch_size": 32,
                       "schedule": FINETUNE_SCHEDULE, "val_fraction": 0.25,
                       "normalisation": "inception", "weights": pretrained_weights("synthetic")}
_PAPER_TRAINING = {"variant": "canonical", "image_size": 480, "batch_size": 32,
                   "schedule": PAPER_SCHEDULE, "val_fraction": 0.1, "normalisation": "dataset"}
MODEL_NOTEBOOKS = ("06_per_dimension_ap", "07_base_nets", "08_doublenet")
# The dual-channel length model (§3.3.2): notebooks 06-08 use it with the flags of notebook 04's
# screening, as the paper does. The fusion trains on the two trained branches with their base
# nets frozen; the paper gives no schedule for it.
_SMOKE_LENGTH = {"length_model": "dual-screened", "fusion_schedule": [
    {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1, "train_backbone": 0.0}]}
FUSION_SCHEDULE = [{"optimizer": "adam", "learning_rate": 1e-3, "epochs": 2, "train_backbone": 0.0}]
"""The dual-channel fusion's training: the two trained branches' base nets frozen, the fusion
layers and heads trained (the paper gives no schedule for this step)."""
_FUSION = {"length_model": "dual-screened", "fusion_schedule": FUSION_SCHEDULE}
# The model chapters (05-08) train with the paper's augmentation (§3.1.2 (3): "a large gain"), on
# imgaug as the paper did: replication.learning.augmentation.PAPER_AUGMENTERS (written out here,
# as the profiles import no Keras; tests/test_experiments.py keeps the two equal). The smoke
# profile trains without it, for the test suite's time; chapter 3 runs the augmentation's code.
_PAPER_AUGMENTATION = {"augment": ["flip", "affine", "rotate", "channel", "noise"],
                       "augment_engine": "imgaug"}
_SMOKE_AUGMENTATION = {"augment": [], "augment_engine": "imgaug"}

# Notebook 04, the screening (§3.2): the classifier's schedule is the paper's optimizers and
# rates (Adam 1e-3 x 3 epochs, 2.5e-5, 7.5e-6, SGD 4.5e-6, 1e-6). From scratch (no ImageNet
# weights) the base net trains in every stage instead of being frozen in the first; the smoke
# profile gives its first stage 8 epochs and a BatchNormalization momentum of 0.9
# (``screening.build_classifier`` says why), or its tiny net would not learn in time.
SCRATCH_SCREENING_SCHEDULE = [{**PAPER_SCHEDULE[0], "train_backbone": 1.0}, *PAPER_SCHEDULE[1:]]
SMOKE_SCREENING_SCHEDULE = [{**SCRATCH_SCREENING_SCHEDULE[0], "epochs": 8},
                            *SCRATCH_SCREENING_SCHEDULE[1:]]
# Its validation split is the model chapters' own (the same val_fraction and seed), so that
# nothing they score calibrated the screening; calibration_fraction of the rest calibrates.
_SCREENING_DEFAULTS = {"calibration_fraction": 0.2, "detector": "segmenter", "parser_model": "",
                       "threshold": None, "mask_profile": "", "classifier_weights": ""}
# The smoke profile's parser and person segmenter train for 8 and 24 epochs (a parser epoch
# costs about 3.5 s of CPU on 2 cores, a segmenter epoch 0.4 s): its screening checks that the
# code runs, and the smoke numbers are no evidence either way.
_SMOKE_SCREENING = {**_SCREENING_DEFAULTS, "val_fraction": _SMOKE_TRAINING["val_fraction"],
                    "parser_size": 64, "parser_epochs": 8,
                    "person_size": 48, "person_epochs": 24,
                    "classifier_backbone": "inception_resnet_v2", "classifier_variant": "tiny",
                    "classifier_image_size": 75, "classifier_batch_size": 8,
                    "classifier_schedule": SMOKE_SCREENING_SCHEDULE, "classifier_bn_momentum": 0.9,
                    "classifier_weights": pretrained_weights("smoke")["inception_resnet_v2"]}
# The synthetic profile's classifier fine-tunes chapter 0's pretrained InceptionResNet-v2 (the
# faster of the two tiny nets) with the paper's own schedule, as the paper fine-tunes ImageNet's.
# Its parser and person segmenter are small: on 2 CPU cores a parser epoch over the 2,400
# training length images costs about a minute at 64 px.
_SYNTHETIC_SCREENING = {**_SCREENING_DEFAULTS, "val_fraction": _SYNTHETIC_TRAINING["val_fraction"],
                        "parser_size": 64, "parser_epochs": 6,
                        "person_size": 48, "person_epochs": 10,
                        "classifier_backbone": "inception_resnet_v2", "classifier_variant": "tiny",
                        "classifier_image_size": 96, "classifier_batch_size": 32,
                        "classifier_schedule": PAPER_SCHEDULE,
                        "classifier_weights": pretrained_weights("synthetic")["inception_resnet_v2"],
                        "classifier_bn_momentum": None}
# The real data has no part masks: the default parser learns from the synthetic profile's set
# (or the user gives a LIP-trained parser), and stage 2 uses the OpenCV detector, which works on
# photos; the threshold cannot be calibrated without truth (human_parsing.DEFAULT_THRESHOLD).
_PAPER_SCREENING = {**_SCREENING_DEFAULTS, "val_fraction": _PAPER_TRAINING["val_fraction"],
                    "calibration_fraction": 0.1, "detector": "opencv",
                    "mask_profile": "synthetic", "parser_size": 128, "parser_epochs": 20,
                    "person_size": 64, "person_epochs": 40,
                    "classifier_backbone": "inception_v4", "classifier_variant": "canonical",
                    "classifier_image_size": 480, "classifier_batch_size": 32,
                    "classifier_schedule": PAPER_SCHEDULE, "classifier_bn_momentum": None}

# The preprocessing experiments (notebooks 02 resolution, 03 augmentation) train one design-level
# model per input size or per augmentation arm, all with the same schedule and seed, and 02 adds
# its two training ablations (two curve models, two one-stage continuations of a sweep model).
# The smoke profile keeps them inside about four minutes on 2 CPU cores (02 + 03: 278 s of CPU,
# from 191 s before the ablations): the tiny InceptionResNet-v2 (whose training step traces
# twice as fast as the tiny Inception-v4's) and the smoke schedule. The synthetic profile trains
# them with the model chapters' schedule.
_SMOKE_ABLATION = {**_SMOKE_TRAINING, "backbone": "inception_resnet_v2"}
_SYNTHETIC_ABLATION = {**_SYNTHETIC_TRAINING, "backbone": "inception_resnet_v2"}
_PAPER_ABLATION = {**_PAPER_TRAINING, "backbone": "inception_v4"}


RESOLUTION_SIZES = {  # notebook 02: the input sizes swept (Fig. 2); the paper chose 480
    "smoke": [75, 96],  # 75 px: the smallest input both base nets take
    "synthetic": [96, 128, 160],
    "paper": [224, 299, 384, 480],
}
# Notebook 02's two training ablations run at the size the other chapters train at (the profile's
# image_size, one of the sizes swept: ablation_size). Normalisation (§3.1.2 (1)): the data set's own
# statistics against the base nets' ImageNet scaling, which the paper says it replaced; their
# curves are compared after the first epoch. Adam then SGD (§2.2): the schedule's Adam stages (at
# that size, the sweep's model) continued by the SGD stages the profile's model chapters use (the
# smoke profile's have none: it borrows the synthetic profile's), or by Adam for as many epochs.
NORMALISATION_ARMS = ["dataset", "inception"]
_SGD_STAGES = {
    "smoke": [s for s in FINETUNE_SCHEDULE if s["optimizer"] == "sgd"],
    "synthetic": [s for s in FINETUNE_SCHEDULE if s["optimizer"] == "sgd"],
    "paper": [s for s in PAPER_SCHEDULE if s["optimizer"] == "sgd"],
}


def _sweep(params: Mapping[str, Any], profile: str) -> dict[str, Any]:
    """Notebook 02's parameters: the ablation's, the sizes swept (``image_sizes`` for
    ``image_size``, which becomes the training ablations' ``ablation_size``) and those ablations'."""
    if params["image_size"] not in RESOLUTION_SIZES[profile]:  # the optimizer arms share its model
        raise ValueError(f"{profile}: notebook 02's ablation size must be one of the sizes it sweeps")
    return {**{k: v for k, v in params.items() if k != "image_size"},
            "image_sizes": RESOLUTION_SIZES[profile], "ablation_size": params["image_size"],
            "normalisation_arms": NORMALISATION_ARMS, "convergence_epoch": 1,
            "sgd_stages": _SGD_STAGES[profile]}


CHAPTER_5_BACKBONE = {"smoke": "inception_resnet_v2", "synthetic": "inception_resnet_v2",
                      "paper": "inception_v4"}
"""Chapter 5's base net per profile; the ablations of chapters 6 (one model for all eight
dimensions, §3.3) and 8 (pooling and Dropout, §3.4) use the same one, so that chapter 6 reuses
chapter 5's single-channel length model as its per-level arm."""


def _pretraining(training: Mapping[str, Any], profile: str, *, images_per_task: int,
                 size: int, schedule: list[dict], curve_shares: list[float],
                 val_fraction: float) -> dict[str, Any]:
    """Chapter 0's parameters: the pretext set (its own seed, 1; the evaluation sets use 0),
    the pretraining schedule, and the comparison, which fine-tunes chapter 5's base net at the
    model chapters' settings (``training``), as chapter 2's normalisation arm does, so that
    chapter 2 reuses it."""
    return {"pretext_images_per_task": images_per_task, "pretext_size": size, "pretext_seed": 1,
            "pretext_val_fraction": val_fraction, "pretext_schedule": schedule,
            **{k: training[k] for k in ("variant", "image_size", "batch_size", "schedule",
                                        "val_fraction", "normalisation")},
            "comparison_backbone": CHAPTER_5_BACKBONE[profile], "comparison_level": "design",
            "curve_shares": curve_shares}


def _ablation_backbone(notebook: str, profile: str) -> dict[str, str]:
    """The ``ablation_backbone`` parameter of chapters 6 and 8 (chapter 7 has none)."""
    if notebook in ("06_per_dimension_ap", "08_doublenet"):
        return {"ablation_backbone": CHAPTER_5_BACKBONE[profile]}
    return {}


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="smoke",
            description="Small synthetic set, tiny models: every notebook in minutes on 2 CPU cores.",
            synthetic=SyntheticSpec(images_per_task=48, size=128),
            notebook_params={
                "00_pretraining": _pretraining(
                    _SMOKE_TRAINING, "smoke", images_per_task=16, size=128, curve_shares=[],
                    val_fraction=0.25,
                    schedule=[{"optimizer": "adam", "learning_rate": 2e-3, "epochs": 2,
                               "train_backbone": 1.0}]),
                "01_data": {"samples_per_task": 4, "stats_max_images": 0},
                "02_resolution": _sweep(_SMOKE_ABLATION, "smoke"),
                "03_augmentation": {**_SMOKE_ABLATION, "augment_engine": "imgaug"},
                "04_screening": _SMOKE_SCREENING,
                "05_dual_channel": {**_SMOKE_TRAINING, **_SMOKE_AUGMENTATION,
                                    "backbone": CHAPTER_5_BACKBONE["smoke"],
                                    "fusion_schedule": _SMOKE_LENGTH["fusion_schedule"],
                                    # the flag control with the paper's (screened) flags only
                                    "flag_controls": ["screened"]},
                **{nb: {**_SMOKE_TRAINING, **_SMOKE_LENGTH, **_SMOKE_AUGMENTATION,
                       **_ablation_backbone(nb, "smoke")}
                   for nb in MODEL_NOTEBOOKS},
            },
        ),
        Profile(
            name="synthetic",
            description="Synthetic set big enough to decide the paper's comparisons; about an hour on 2 CPU cores.",
            synthetic=SyntheticSpec(images_per_task=1000, size=256),
            # Two notebooks at a time: one tiny net's training keeps about 1.5 of 2 cores busy,
            # and 02-03 run beside 04-06 (the edition's run: 61 minutes of wall time; its
            # chapters' times, each slowed by the other's, add up to 88).
            jobs=2,
            notebook_params={
                "00_pretraining": _pretraining(
                    _SYNTHETIC_TRAINING, "synthetic", images_per_task=1500, size=256,
                    schedule=PRETEXT_SCHEDULE, curve_shares=[0.25, 0.5], val_fraction=0.1),
                "01_data": {"samples_per_task": 6, "stats_max_images": 0},
                "02_resolution": _sweep(_SYNTHETIC_ABLATION, "synthetic"),
                "03_augmentation": {**_SYNTHETIC_ABLATION, "augment_engine": "imgaug"},
                "04_screening": _SYNTHETIC_SCREENING,
                "05_dual_channel": {**_SYNTHETIC_TRAINING, **_PAPER_AUGMENTATION,
                                    "backbone": CHAPTER_5_BACKBONE["synthetic"],
                                    "fusion_schedule": _FUSION["fusion_schedule"],
                                    "flag_controls": ["truth", "screened"]},
                **{nb: {**_SYNTHETIC_TRAINING, **_FUSION, **_PAPER_AUGMENTATION,
                       **_ablation_backbone(nb, "synthetic")}
                   for nb in MODEL_NOTEBOOKS},
            },
        ),
        Profile(
            name="paper",
            description="The real FashionAI attribute data at 480 px with the canonical nets; a GPU.",
            synthetic=None,
            requires_weights=True,
            skipped={"00_pretraining": "the paper profile fine-tunes the ImageNet weights the user "
                                       "gives (the weights parameter); it pretrains nothing"},
            notebook_params={
                "01_data": {"samples_per_task": 6, "stats_max_images": 0},
                "02_resolution": _sweep(_PAPER_ABLATION, "paper"),
                "03_augmentation": {**_PAPER_ABLATION, "augment_engine": "imgaug"},
                "04_screening": _PAPER_SCREENING,
                "05_dual_channel": {**_PAPER_TRAINING, **_PAPER_AUGMENTATION,
                                    "backbone": CHAPTER_5_BACKBONE["paper"],
                                    "fusion_schedule": _FUSION["fusion_schedule"]},
                **{nb: {**_PAPER_TRAINING, **_FUSION, **_PAPER_AUGMENTATION,
                       **_ablation_backbone(nb, "paper")}
                   for nb in MODEL_NOTEBOOKS},
            },
        ),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None


def ensure_data(profile: Profile | str, data_root: str | Path | None = None, *,
                progress: bool = True) -> Path:
    """The profile's data root, rendering the synthetic set first if it is missing.

    ``data_root`` may be relative to :data:`HOME` (as :meth:`Profile.parameters` gives it). For
    the ``paper`` profile the folder must already hold the FashionAI data
    (``Annotations/label.csv`` and ``Images/``); nothing is ever downloaded. A synthetic profile
    renders its set when ``data_root`` is empty or names the profile's own folder.
    """
    from replication.data import fashionai

    profile = get_profile(profile) if isinstance(profile, str) else profile
    root = home_path(data_root) if data_root else profile.default_data_root()
    if root is None:
        raise FileNotFoundError(
            f"profile {profile.name!r} reads the real FashionAI data: pass --data-root PATH or set "
            f"${DATA_ROOT_ENV} to the folder that holds Annotations/label.csv and Images/ "
            "(see data/README.md)"
        )
    label_csv = root / fashionai.LABEL_CSV
    if label_csv.exists():
        return root
    if profile.synthetic is None or root.resolve() != profile.default_data_root().resolve():
        raise FileNotFoundError(f"{label_csv} not found: {root} is not a FashionAI data folder")
    from replication import synthetic

    spec = profile.synthetic
    synthetic.generate(root, images_per_task=spec.images_per_task, seed=spec.seed,
                       size=spec.size, progress=progress)
    return root
