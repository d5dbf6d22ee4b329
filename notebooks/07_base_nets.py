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
# # 7. Inception-v4, InceptionResNet-v2 and the doubleNet (paper §2.1, §2.2, §3.4, §4.3, Fig. 5)
#
# The paper compares its two base nets, Inception-v4 and InceptionResNet-v2 (Szegedy et al.
# 2016), and their ensemble, the "doubleNet", which averages the two nets' probabilities with
# weights 0.5/0.5 (§3.4). Fig. 5 shows accuracy (eq. 8: correct predictions / predictions) and
# mAP for each. Its text claims: **the doubleNet is the best of the three.**
#
# The models are the ones chapter 6 trained under the same profile (trained here if chapter 6
# has not run); every model predicts the validation split with flip test-time augmentation.
# The claim is tested as one comparison per base net and measure: the doubleNet's score minus
# the base net's, with the 95 % bootstrap interval of that gap over the validation images. The
# doubleNet is "the best" on a measure only if every such interval lies above 0: a tie, or a
# gap this split cannot tell from noise, is no win.

# %% tags=["parameters"]
profile = "smoke"  # smoke | synthetic | paper
data_root = ""  # empty: the profile's data (the synthetic set is rendered if missing)
seed = 0
variant = "tiny"  # base net size: tiny | small | canonical
image_size = 96  # input side in pixels (the paper: 480)
batch_size = 16
schedule = [{"optimizer": "adam", "learning_rate": 2e-3, "epochs": 3, "train_backbone": 1.0}]  # per stage: optimizer, learning rate, epochs, share of the base net that trains
val_fraction = 0.2
normalisation = "inception"  # inception | dataset | per_image | paper_literal (§3.1.2 (1))
augment = []  # training augmentation (§3.1.2 (3)): names of replication.learning.augmentation.AUGMENTERS; empty: none
augment_engine = "imgaug"  # imgaug: the paper's library, per image on the CPU | keras: the fast twin in the model
length_model = "dual-screened"  # single | dual-truth | dual-screened (§3.3.2; chapter 5)
fusion_schedule = [{"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1, "train_backbone": 0.0}]  # the dual-channel fusion, on its two trained branches (frozen base nets)
weights = {"inception_v4": "results/smoke/pretrained/inception_v4.safetensors", "inception_resnet_v2": "results/smoke/pretrained/inception_resnet_v2.h5"}  # base net -> ImageNet weight file (format: nets.registry; chapter 0 writes these); empty: random
allow_random_init = False  # the paper profile refuses random base nets unless this is true

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from replication.book import claims, experiments, figures, results, tables
from replication.data import metric

NOTEBOOK = "07_base_nets"
chapter = experiments.chapter_setup(
    profile, data_root, seed=seed, variant=variant, image_size=image_size, batch_size=batch_size,
    schedule=schedule, val_fraction=val_fraction, normalisation=normalisation,
    augment=augment, augment_engine=augment_engine,
    length_model=length_model, fusion_schedule=fusion_schedule, weights=weights,
    allow_random_init=allow_random_init)
print(chapter.describe())
trained = chapter.train_all(progress=False)

# %% [markdown]
# ## The base nets and the doubleNet on the validation split
#
# Every base net of the registry alone, then the doubleNet; the parameter count is the base
# nets' (without the heads), as built at this chapter's variant and input size.

# %% tags=["hide-input"]
val = chapter.val
candidates = experiments.compared_models()
predictions = {name: experiments.predict(chapter.setup, trained, val, ensemble, flip_tta=True)
               for name, ensemble in candidates.items()}
scores = {name: metric.score(val, p) for name, p in predictions.items()}
names = {name: experiments.display_name(name) for name in candidates}
table = tables.score_table({names[name]: s for name, s in scores.items()}, index="model", extra={
    "base-net parameters": {names[name]: experiments.parameter_count(ensemble, variant, image_size)
                            for name, ensemble in candidates.items()}})
tables.styled(table)

# %% tags=["hide-input"]
fig = figures.score_bars(table, f"Fig. 5 replicated: base nets and doubleNet ({profile} profile, "
                                f"{variant} nets, {image_size} px)")
_ = results.save_figure(fig, profile, NOTEBOOK, "fig5_base_nets")

# %% [markdown]
# ## The paper's claim beside the measured numbers
#
# One row per base net and measure: the doubleNet's score minus the base net's, and the 95 %
# interval of that gap (the validation images of every dimension drawn again with replacement,
# both models scored on the same draw). The doubleNet is the best of the three on a measure
# when both of its rows say **yes**.

# %% tags=["hide-input"]
singles = experiments.backbone_names()
gaps = {(net, key): metric.bootstrap_gap(val, predictions[experiments.DOUBLENET], predictions[net],
                                         metric=key, seed=seed)
        for net in singles for key in ("acc", "mAP")}
records = [claims.comparison(
    "§4.3, Fig. 5", f"the doubleNet beats {names[net]} ({key})", gap,
    quantity=f"{key}(doubleNet) - {key}({names[net]})", paper="doubleNet best (Fig. 5)")
    for (net, key), gap in gaps.items()]
# Best of the three on a measure: yes if it beats every base net, no if any base net beats it.
verdicts = {key: [r["verdict"] for (net, k), r in zip(gaps, records) if k == key] for key in ("acc", "mAP")}
best = {key: "yes" if set(v) == {"yes"} else "no" if "no" in v else "undecided"
        for key, v in verdicts.items()}
display(Markdown(claims.markdown(records, note=(
    f"Measured on {len(val):,} held-out images of the {profile} profile ({variant} nets, "
    f"{image_size} px). The doubleNet is the best of the three on accuracy: **{best['acc']}**; "
    f"on mAP: **{best['mAP']}** (yes only when it beats every base net with an interval above 0, "
    "no when a base net beats it). Training augmentation: "
    f"{experiments.describe_augmentation(chapter.setup)}. "
    + ("The smoke profile trains tiny nets for a few epochs: it checks the pipeline, and its "
       "verdicts are not evidence about the paper either way." if profile == "smoke" else "")))))

# %% tags=["hide-input"]
numbers = {
    "profile": profile, "variant": variant, "image_size": image_size, "val_images": len(val),
    "augment": list(chapter.setup.augment), "augment_engine": chapter.setup.augment_engine,
    "models": {name: {"acc": s["acc"], "mAP": s["mAP"], "basic_precision": s["basic_precision"],
                      "tasks": s["tasks"]} for name, s in scores.items()},
    "base_net_parameters": table["base-net parameters"].to_dict(),
    "gaps": [{"model": net, "metric": key, **gap} for (net, key), gap in gaps.items()],
    "doublenet_best": best,
    "claims": records,
}
_ = results.record(profile, NOTEBOOK, numbers)
