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
# # 0. Pretrained base nets in ImageNet's role (paper §3.3.1, §3.4)
#
# The paper does not train its base nets from scratch. It imports Inception-v4 and
# InceptionResNet-v2 pretrained on ImageNet, freezes them, trains new heads, and then
# fine-tunes the whole net with Adam and SGD at small rates (§3.3.1: "import the base network,
# freeze the network layers ... then Adam combined with SGD completes the fine-tuning"; §3.4
# notes the data is too small not to overfit). Every chapter after this one does the same.
#
# This replication cannot download ImageNet weights, and from random weights the paper's
# schedule moves nothing. So this chapter plays ImageNet's part: it pretrains each base net
# once on a **pretext set**, a synthetic set rendered with a seed of its own, so that no image
# a later chapter scores was ever seen here (checked below, image by image). The pretext task
# has one head per attribute dimension, all eight. Each pretrained base net is then written in
# **the format a user's ImageNet weights come in**: a timm state dict (`.safetensors`) for
# Inception-v4, a keras.applications-layout `.h5` for InceptionResNet-v2. The later chapters
# load them through their `weights` parameter and the same loaders as the `paper` profile, and
# train with the paper's shape of schedule: a first stage with the base net frozen, then Adam,
# then SGD.
#
# The chapter ends with what pretraining buys: one model fine-tuned from the pretrained weights
# beside the same model from random weights, with the same schedule, data and seed, with its
# validation accuracy after every epoch and against the number of training images.

# %% tags=["parameters"]
profile = "smoke"  # smoke | synthetic (the paper profile fine-tunes the user's ImageNet weights instead)
data_root = ""  # the evaluation set (empty: the profile's); the comparison trains and scores on it
seed = 0
pretext_images_per_task = 16  # images per attribute dimension in the pretext set
pretext_size = 128  # the pretext set's long side in pixels
pretext_seed = 1  # the pretext set's seed: never the evaluation set's
pretext_val_fraction = 0.25  # pretext images held out to score the pretext task
pretext_schedule = [{"optimizer": "adam", "learning_rate": 2e-3, "epochs": 2, "train_backbone": 1.0}]  # pretraining (optimizer, rate, epochs, trained share)
variant = "tiny"  # base net size: tiny | small | canonical
image_size = 96  # input side in pixels, pretraining and comparison
batch_size = 16
schedule = [{"optimizer": "adam", "learning_rate": 2e-3, "epochs": 3, "train_backbone": 1.0}]  # the later chapters' fine-tuning schedule, used by the comparison
val_fraction = 0.2
normalisation = "inception"  # inception | dataset | per_image | paper_literal (§3.1.2 (1))
comparison_backbone = "inception_resnet_v2"  # the base net of the pretrained-vs-scratch comparison
comparison_level = "design"  # its level: design | length
curve_shares = []  # shares of the training split (below 1) fine-tuned again for the curve in training images

# %% tags=["hide-input"]
import time
from dataclasses import replace

import pandas as pd
from IPython.display import Markdown, display

from replication.book import claims, experiments, figures, pretraining, profiles, results, tables
from replication.book import training_ablations
from replication.data import metric
from replication.data.fashionai import stratified_split
from replication.nets import registry

NOTEBOOK = "00_pretraining"
RESAMPLES = 1000  # bootstrap resamples of every interval below
backbones = experiments.backbone_names()
pretext = pretraining.ensure_pretext(profile, images_per_task=pretext_images_per_task,
                                     size=pretext_size, seed=pretext_seed, progress=False)
evaluation = profiles.ensure_data(profile, data_root or None, progress=False)
shared = pretraining.shared_images(pretext, evaluation)
if shared:
    raise ValueError(f"{shared} pretext images are also evaluation images: choose another "
                     "pretext_seed")
pretext_chapter = experiments.chapter_setup(
    profile, results.shown(pretext), seed=seed, variant=variant, image_size=image_size,
    batch_size=batch_size, schedule=pretext_schedule, val_fraction=pretext_val_fraction,
    normalisation=normalisation, allow_random_init=True)
print(f"pretext set: {results.shown(pretext)} (seed {pretext_seed}); evaluation set: "
      f"{results.shown(evaluation)} (seed {profiles.get_profile(profile).synthetic.seed})")
print(pretext_chapter.describe())
print(f"images of the pretext set that are byte for byte an evaluation image: {shared}")

# %% [markdown]
# ## Pretraining each base net on the pretext set
#
# One model per base net, with the eight dimensions' heads on one base net (the level `all`),
# trained on the pretext set's training share through the pretraining schedule below, and
# scored on its held-out share (the official metric, flip TTA). The pretext scores say how much
# the base nets learned about garments; they are not the paper's numbers.

# %% tags=["hide-input"]
print(f"{variant} base nets at {image_size} px; pretraining schedule "
      f"{tables.schedule_text(pretext_schedule)}")
pretrained_models, pretrain_seconds = {}, {}
for backbone in backbones:
    start = time.perf_counter()
    pretrained_models[backbone] = experiments.train_model(
        pretext_chapter.setup, pretraining.PRETEXT_LEVEL, backbone, pretext_chapter.train,
        pretext_chapter.val, validate=False, progress=False,
        tag=f"{pretext.name}-"
        f"{experiments.variant_tag(pretext_chapter.setup, backbone, image_size=image_size)}")
    pretrain_seconds[backbone] = time.perf_counter() - start
pretext_scored = experiments.score_models(pretext_chapter.setup, pretrained_models,
                                          pretext_chapter.val)
pretext_table = tables.score_table(
    {experiments.display_name(b): pretext_scored[b].scores for b in backbones}, index="base net")
tables.styled(pretext_table)

# %% [markdown]
# ## The base nets, written as ImageNet weights come
#
# Each pretrained base net (without its heads) is written in its family's ImageNet format and
# read back through the loader the `paper` profile uses for a user's file; the two nets'
# features on random inputs must agree exactly.

# %% tags=["hide-input"]
weight_files = {b: profiles.home_path(path)
                for b, path in profiles.pretrained_weights(profile).items()}
exported = {b: pretraining.export(pretrained_models[b], b, variant, weight_files[b], seed=seed)
            for b in backbones}
bad = {b: e["max_abs_difference"] for b, e in exported.items() if e["max_abs_difference"] != 0}
if bad:
    raise RuntimeError(f"a written base net does not read back identically: {bad}")
pd.DataFrame({
    "file": {experiments.display_name(b): results.shown(weight_files[b]) for b in backbones},
    "format": {experiments.display_name(b): registry.BACKBONES[b].weights_format.split(" (")[0]
               for b in backbones},
    "parameters": {experiments.display_name(b): exported[b]["parameters"] for b in backbones},
    "kB": {experiments.display_name(b): round(exported[b]["bytes"] / 1024) for b in backbones},
    "largest difference after reading back": {experiments.display_name(b): exported[b]["max_abs_difference"]
                                              for b in backbones},
})

# %% [markdown]
# ## What pretraining buys: the same model from pretrained and from random weights
#
# The comparison model is the later chapters' model of one level on the evaluation set, with
# their fine-tuning schedule (below): once starting from the weights just written, once from
# random weights, with the same seed, images and budget. The schedule has the paper's shape
# (§3.2, §3.3.1): a first stage at Adam 1e-3 on the frozen base net, then the whole net with
# Adam, then SGD. The paper's later rates (2.5e-5 and 7.5e-6 for Adam, 4.5e-6 and 1e-6 for SGD)
# fit canonical nets fine-tuned for thousands of steps; the synthetic profile's tiny nets get a
# few epochs of about a hundred steps, so their later stages run at rates that move them (the
# curves below show it; the limitations page gives the numbers). Its validation probabilities are
# recorded after every epoch (no flip TTA, as a training log scores), and the finished models
# are scored with flip TTA.

# %% tags=["hide-input"]
chapter = experiments.chapter_setup(
    profile, data_root, seed=seed, variant=variant, image_size=image_size, batch_size=batch_size,
    schedule=schedule, val_fraction=val_fraction, normalisation=normalisation,
    weights={comparison_backbone: profiles.pretrained_weights(profile)[comparison_backbone]})
arms = {"pretrained": chapter.setup,
        "from scratch": replace(chapter.setup, weights={}, allow_random_init=True)}
level_train = experiments.of_level(chapter.train, comparison_level)
level_val = experiments.of_level(chapter.val, comparison_level)
print(chapter.describe(comparison_level))
print(f"{variant} {experiments.display_name(comparison_backbone)} at {image_size} px; schedule "
      f"{tables.schedule_text(schedule)}")
curves = {arm: training_ablations.train_curve(setup, comparison_level, comparison_backbone,
                                              chapter.train, chapter.val, progress=False)
          for arm, setup in arms.items()}
curve_scores = {arm: curve.scores(level_val) for arm, curve in curves.items()}
folder = results.results_dir(profile, NOTEBOOK)
truth_csv = folder / "Annotations" / "label.csv"
answers = {arm: folder / "answers" / f"{arm.replace(' ', '_')}.csv" for arm in arms}
scored = experiments.score_models(chapter.setup, {arm: c.model for arm, c in curves.items()},
                                  level_val, answers=answers, truth_csv=truth_csv)
tables.styled(tables.score_table({arm: scored[arm].scores for arm in arms}, index="start"))

# %% [markdown]
# ## Learning curves: validation accuracy against epochs and training images
#
# Left: each arm's validation accuracy after every epoch of the schedule. Right: the
# pretrained arm fine-tuned again on a share of the training split (the same schedule, so
# fewer steps), against the number of training images; the full split is the model above.

# %% tags=["hide-input"]
share_models = {}
for share in sorted(float(s) for s in curve_shares):
    subset, _ = stratified_split(level_train, val_fraction=1 - share, seed=seed)
    share_models[len(subset)] = experiments.train_model(
        chapter.setup, comparison_level, comparison_backbone, subset, chapter.val,
        validate=False, progress=False, tag=f"share{round(100 * share)}-"
        f"{experiments.variant_tag(chapter.setup, comparison_backbone, image_size=image_size)}")
share_scored = experiments.score_models(chapter.setup, share_models, level_val)
by_images = {n: share_scored[n].scores for n in share_models}
by_images[len(level_train)] = scored["pretrained"].scores
fig = figures.learning_curves(curve_scores, by_images,
                              f"{experiments.display_name(comparison_backbone)} ({variant}, "
                              f"{image_size} px), {comparison_level} level, {profile} profile")
_ = results.save_figure(fig, profile, NOTEBOOK, "learning_curves")

# %% [markdown]
# ## The claim beside the measured numbers
#
# The paper fine-tunes pretrained nets rather than training them from scratch, and gives no
# number for the difference. The claim tested here is that pretraining helps at the same
# budget: the pretrained arm's score minus the scratch arm's, with its 95 % interval (the
# validation images of every dimension drawn again with replacement, both models scored on the
# same draw).

# %% tags=["hide-input"]
gaps = {key: metric.bootstrap_gap(level_val, scored["pretrained"].predictions,
                                  scored["from scratch"].predictions, metric=key,
                                  resamples=RESAMPLES, seed=seed)
        for key in ("acc", "mAP")}
records = [claims.comparison("§3.3.1, §3.4", f"fine-tuning pretrained base nets beats training "
                             f"them from scratch at the same budget ({key})", gap,
                             quantity=f"{key}(pretrained) - {key}(from scratch)",
                             paper="fine-tunes ImageNet weights (§3.3.1)")
           for key, gap in gaps.items()]
display(Markdown(claims.markdown(records, note=(
    f"Measured on {len(level_val):,} held-out {comparison_level}-level images of the {profile} "
    f"profile ({variant} {experiments.display_name(comparison_backbone)}, {image_size} px). "
    + ("The smoke profile pretrains tiny nets on a few images for a few epochs: it checks the "
       "pipeline, and its verdicts are not evidence either way." if profile == "smoke" else "")))))

# %% tags=["hide-input"]
numbers = {
    "profile": profile, "variant": variant, "image_size": image_size,
    "pretext": {"root": pretext, "seed": pretext_seed, "images_per_task": pretext_images_per_task,
                "size": pretext_size, "train_images": len(pretext_chapter.train),
                "val_images": len(pretext_chapter.val), "shared_with_evaluation": shared,
                "scores": {b: {"acc": pretext_scored[b].scores["acc"],
                               "mAP": pretext_scored[b].scores["mAP"]} for b in backbones},
                "seconds": pretrain_seconds},
    "weights": {b: {"file": weight_files[b], "format": registry.BACKBONES[b].weights_format,
                    **exported[b]} for b in backbones},
    "comparison": {"backbone": comparison_backbone, "level": comparison_level,
                   "train_images": len(level_train), "val_images": len(level_val),
                   "truth": truth_csv, "answers": answers,
                   "scores": {arm: {"acc": scored[arm].scores["acc"],
                                    "mAP": scored[arm].scores["mAP"],
                                    "tasks": scored[arm].scores["tasks"]} for arm in arms},
                   "curves": curve_scores,
                   "by_training_images": {str(n): {"acc": s["acc"], "mAP": s["mAP"]}
                                          for n, s in sorted(by_images.items())}},
    "gaps": gaps,
    "claims": records,
}
_ = results.record(profile, NOTEBOOK, numbers)
