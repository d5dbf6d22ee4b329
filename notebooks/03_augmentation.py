# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Data augmentation (paper §3.1.2 (3))
#
# The paper augments its training images with an imgaug `Sequential` of five augmenters:
# **Affine** transforms, **AdditiveGaussianNoise**, a random change of the **colour channels**
# (colour carries no meaning for these attributes), **horizontal flips** and **random
# rotations** (the data holds images at many angles). It makes three claims, none with a number:
#
# 1. one augmenter alone does little; the combination gives the robust gain;
# 2. the model "improved greatly" with augmentation;
# 3. **Crop** was tried early and dropped: a careless crop cuts away the very features that
#    identify the attribute.
#
# This chapter tests them with an ablation: the same design-level model, schedule, seed and data,
# trained once per arm: no augmentation, each of the five augmenters alone, all five together
# (the paper's choice) and all five plus Crop. Every arm is scored on the held-out validation
# split with the official metric and flip test-time augmentation (§3.4). Augmentation touches
# training images only.

# %% tags=["parameters"]
profile = "smoke"  # smoke | synthetic | paper
data_root = ""  # empty: the profile's data (the synthetic set is rendered if missing)
seed = 0
level = "design"  # the level whose model is ablated: design | length
backbone = "inception_resnet_v2"  # a base net of nets.registry: inception_v4 | inception_resnet_v2
variant = "tiny"  # base net size: tiny | small | canonical
image_size = 96  # input side in pixels (the paper: 480)
batch_size = 16
schedule = [{"optimizer": "adam", "learning_rate": 2e-3, "epochs": 3, "train_backbone": 1.0}]  # stages: optimizer, rate, epochs, share of the base net that trains
val_fraction = 0.2
normalisation = "inception"  # inception | dataset | per_image | paper_literal (§3.1.2 (1))
augment_engine = "imgaug"  # imgaug: the paper's library, per image on the CPU | keras: the fast twin in the model
sample_images = 2  # training images shown before and after each augmenter
samples_per_augmenter = 3  # augmented versions shown per image and augmenter
weights = {"inception_v4": "results/smoke/pretrained/inception_v4.safetensors", "inception_resnet_v2": "results/smoke/pretrained/inception_resnet_v2.h5"}  # base net -> ImageNet weight file (format: nets.registry; chapter 0 writes these); empty: random
allow_random_init = False  # the paper profile refuses random base nets unless this is true

# %% tags=["hide-input"]
import numpy as np
from IPython.display import Markdown, display

from replication.book import claims, experiments, figures, results, tables
from replication.data import metric
from replication.learning import augmentation, inputs

NOTEBOOK = "03_augmentation"
RESAMPLES = 1000  # bootstrap resamples of every interval below
chapter = experiments.chapter_setup(
    profile, data_root, seed=seed, variant=variant, image_size=image_size, batch_size=batch_size,
    schedule=schedule, val_fraction=val_fraction, normalisation=normalisation, weights=weights,
    allow_random_init=allow_random_init)
setup = chapter.setup
train_level, val_level = experiments.of_level(chapter.train, level), experiments.of_level(chapter.val, level)
norm_note = chapter.normalisation
print(chapter.describe(level))
print(f"{variant} {experiments.display_name(backbone)} at {image_size} px; augmentation engine: "
      f"{augment_engine}")

# %% [markdown]
# ## What each augmenter does
#
# Each row is one augmenter (its ranges below; they come from the competition code the paper
# most likely derives from, as the paper gives none); each image first as the model sees it
# without augmentation (resized to the input size), then a few random draws of the augmenter
# alone, drawn by imgaug (the keras engine's layers draw from the same ranges). Affine, rotate
# and flip fire on about half of the images, as in training, so some draws are unchanged. Crop is
# shown too: it is the augmenter the paper dropped.

# %% tags=["hide-input"]
tables.augmenters_table(augmentation.AUGMENTERS, augmentation.PAPER_AUGMENTERS,
                        augmentation.PARAMETERS)

# %% tags=["hide-input"]
rng = np.random.default_rng(seed)
shown = [train_level[i] for i in sorted(rng.choice(len(train_level), size=min(sample_images, len(train_level)),
                                                   replace=False))]
originals = [inputs.load_resized(setup.root / row.image, image_size) for row in shown]
grids = [augmentation.sample_grid_images(image, augmentation.AUGMENTERS, samples_per_augmenter, seed + k)
         for k, image in enumerate(originals)]
fig = figures.augmenter_grid(originals, grids)
fig.suptitle(f"Augmenters on {len(shown)} training images at {image_size} px ({profile} profile)")
_ = results.save_figure(fig, profile, NOTEBOOK, "augmenter_samples")

# %% [markdown]
# ## The ablation: one model per arm
#
# Eight arms, each trained through the same schedule from the same seed on the same images; only
# the augmentation differs. A model already trained under this profile is reused; an interrupted
# one resumes. The chapter scores each finished model once below, so the models skip the
# per-epoch validation of notebooks 06-08. A model's folder names its whole configuration: the
# "none" arm is the very model that notebook 02 trained at this size, where the profile gives
# both chapters the same net and schedule (it does in every profile), so it is trained once.

# %% tags=["hide-input"]
paper_set = experiments.with_augmentation(setup, augmentation.PAPER_AUGMENTERS, augment_engine)
display(Markdown(f"The augmented arms run on the **{augment_engine}** engine (the "
                 f"`augment_engine` parameter); the paper's arm \"all\" is "
                 f"{claims.escape(experiments.describe_augmentation(paper_set))}. Every arm: "
                 f"{variant} {experiments.display_name(backbone)} at {image_size} px, schedule "
                 f"{tables.schedule_text(schedule)}, seed {seed}."))
arms = {
    "none": (),
    **{name: (name,) for name in augmentation.PAPER_AUGMENTERS},
    "all": tuple(augmentation.PAPER_AUGMENTERS),
    "all + crop": (*augmentation.PAPER_AUGMENTERS, "crop"),
}
trained = {arm: experiments.train_variant(setup, level, backbone, chapter.train, chapter.val,
                                          image_size=image_size, augment=augmenters,
                                          augment_engine=augment_engine, progress=False)
           for arm, augmenters in arms.items()}

# %% tags=["hide-input"]
folder = results.results_dir(profile, NOTEBOOK)
answers = {arm: folder / "answers" / f"{arm.replace(' + ', '-')}.csv" for arm in arms}
scored = experiments.score_models(setup, trained, val_level, answers=answers,
                                  truth_csv=folder / "Annotations" / "label.csv")
ablation = tables.score_table({arm: scored[arm].scores for arm in arms}, index="arm", extra={
    "augmenters": {arm: " + ".join(augmenters) or "-" for arm, augmenters in arms.items()}})
tables.styled(ablation)

# %% tags=["hide-input"]
fig = figures.score_bars(
    ablation, f"Augmentation ablation: {level}-level {experiments.display_name(backbone)} "
              f"({variant}, {image_size} px, {augment_engine}, {profile} profile)",
    baseline=("none", "mAP without augmentation"), label_format="%.2f", figsize=(10, 4),
    rotation=20)
_ = results.save_figure(fig, profile, NOTEBOOK, "ablation")

# %% [markdown]
# ## The paper's claims beside the measured numbers
#
# Each comparison is a gap between two arms with its 95 % bootstrap interval: validation images
# redrawn with replacement within each dimension, both arms scored on the same draw
# (`metric.bootstrap_gap`). A claim holds (**yes**) only when its whole interval lies above 0,
# fails (**no**) when it lies below, and is **undecided** when it holds 0: this validation split
# cannot tell the two arms apart. The combination is compared with the single augmenter that
# scored best, the strongest of the five.

# %% tags=["hide-input"]
singles = list(augmentation.PAPER_AUGMENTERS)
best_single = max(singles, key=lambda arm: ablation.loc[arm, "mAP"])
comparisons = [  # (claim, first arm, second arm, measure): the claim is "first beats second"
    ("the combination beats any one augmenter alone", "all", best_single, "mAP"),
    ("augmentation helps (mAP)", "all", "none", "mAP"),
    ("augmentation helps (acc)", "all", "none", "acc"),
    ("adding Crop hurts (mAP)", "all", "all + crop", "mAP"),
    ("adding Crop hurts (acc)", "all", "all + crop", "acc"),
]
gaps = [metric.bootstrap_gap(val_level, scored[a].predictions, scored[b].predictions,
                             metric=measure, seed=seed, resamples=RESAMPLES)
        for _, a, b, measure in comparisons]
records = [claims.comparison("§3.1.2 (3)", claim, g, quantity=f"{m}({a}) - {m}({b})",
                             paper="a large gain" if claim.startswith("augmentation helps") else None)
           for (claim, a, b, m), g in zip(comparisons, gaps)]
epochs = sum(int(st["epochs"]) for st in schedule)
display(Markdown(claims.markdown(records, note=(
    f"Measured on {len(val_level):,} held-out {level}-level images of the {profile} profile, one "
    f"training run per arm (seed {seed}, engine {augment_engine}). Input normalisation: "
    f"{claims.escape(norm_note)} "
    + (f"The smoke profile trains a tiny net for {epochs} epoch(s) on a few hundred images: too "
       "short for augmentation to pay off (it makes the training task harder, and the gain comes "
       "with longer training), and its validation split is far too small to separate the arms. "
       "It checks that every arm runs; the synthetic and paper profiles are the ones whose "
       "numbers bear on the claims." if profile == "smoke" else
       "A single run per arm: an undecided claim is not evidence either way.")))))

# %% tags=["hide-input"]
numbers = {
    "profile": profile, "level": level, "backbone": backbone, "variant": variant,
    "image_size": image_size, "augment_engine": augment_engine, "normalisation": normalisation,
    "normalisation_description": norm_note, "schedule": schedule, "seed": seed,
    "batch_size": batch_size, "resamples": RESAMPLES, "train_images": len(train_level),
    "val_images": len(val_level),
    "arms": {arm: {"augmenters": list(arms[arm]), "acc": ablation.loc[arm, "acc"],
                   "mAP": ablation.loc[arm, "mAP"],
                   "basic_precision": ablation.loc[arm, "BasicPrecision"],
                   "model": trained[arm], "answer": answers[arm]}
             for arm in arms},
    "truth": folder / "Annotations" / "label.csv",
    "best_single": best_single,
    "comparisons": [{"claim": claim, "arms": [a, b], "metric": m}
                    for claim, a, b, m in comparisons],
    "claims": records,
    "samples": [row.image for row in shown],
}
print(results.shown(results.record(profile, NOTEBOOK, numbers)))
