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
# # 5. Single- or dual-channel length model (paper §3.3.2, §4.1, Fig. 3)
#
# The paper trains the length level twice over: a *flat-lay model* on the images the screening
# (chapter 4) called flat-lays and an *on-model model* on the rest. It then fuses them into one
# "dual-channel" network: the flat model minus its top fully connected layer plus a Dropout, the
# on-model model minus its top layer plus `Dense(128)`, concatenated, one softmax per length
# dimension. The baseline is a *single-channel* model trained on all length images. Fig. 3
# compares the two by accuracy (eq. 8: correct predictions over predictions) per length
# dimension, and the text claims: **the dual-channel network is more accurate than the
# single-channel one on every length dimension.**
#
# Here the length level is trained three ways (two on real data, which has no truth), on the same
# training split with the same budget: single-channel; dual-channel with the flags from the
# synthetic **truth**; and dual-channel with the flags from chapter 4's **screening** (the
# paper's pipeline), so that the cost of screening errors shows. The flag also enters the fused
# network as one more feature (the paper does not say how it enters;
# `replication.models.build_dual` explains the choice).

# %% tags=["parameters"]
profile = "smoke"  # smoke | synthetic | paper
data_root = ""  # empty: the profile's data (the synthetic set is rendered if missing)
seed = 0
backbone = "inception_resnet_v2"  # inception_v4 | inception_resnet_v2
variant = "tiny"  # base net size: tiny | small | canonical
image_size = 96  # input side in pixels (the paper: 480)
batch_size = 16
schedule = [  # each branch and the single-channel model (optimizer, rate, epochs, trained share)
    {"optimizer": "adam", "learning_rate": 2e-3, "epochs": 3, "train_backbone": 1.0},
]
fusion_schedule = [  # the fusion, on the two trained branches (their base nets frozen)
    {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1, "train_backbone": 0.0},
]
val_fraction = 0.2
normalisation = "inception"  # inception | dataset | per_image | paper_literal (§3.1.2 (1))
inception_v4_weights = ""  # a timm inception_v4 state dict (.safetensors/.npz/.pth); empty: random
inception_resnet_v2_weights = ""  # keras.applications InceptionResNetV2 weights (.h5); empty: random

# %%
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from replication import experiments, results, screening, training
from replication.tasks import tasks_of_level

NOTEBOOK = "05_dual_channel"
setup = experiments.setup_from_parameters(
    profile, data_root, variant=variant, image_size=image_size, batch_size=batch_size,
    schedule=schedule, seed=seed, val_fraction=val_fraction,
    inception_v4_weights=inception_v4_weights, inception_resnet_v2_weights=inception_resnet_v2_weights,
    normalisation=normalisation, fusion_schedule=fusion_schedule)
train, val, skipped = experiments.load_split(setup)
length_train = experiments.of_level(train, "length")
length_val = experiments.of_level(val, "length")
sources = [s for s in experiments.FLAG_SOURCES if s != "truth" or screening.has_truth(setup.root)]
print(f"normalisation: {experiments.describe_normalisation(setup, train)}")
print(f"{len(length_train):,} training and {len(length_val):,} validation length images; "
      f"{experiments.DISPLAY_NAMES[backbone]} {variant} at {image_size} px; flags from: "
      f"{', '.join(sources)}")

# %% [markdown]
# ## The two domains under each source of flags

# %%
flags = {source: experiments.flat_flags(setup, source) for source in sources}
domains = pd.DataFrame([
    {"flags": source, "split": name, "flat-lay": int(f([r.image for r in part]).sum()),
     "on-model": int(len(part) - f([r.image for r in part]).sum())}
    for source, f in flags.items() for name, part in (("train", length_train), ("val", length_val))
]).set_index(["flags", "split"])
domains

# %% [markdown]
# ## Training
#
# The same data and budget for every arm: the single-channel model trains on all training
# images, each dual-channel branch on its own domain's images (together the same images, once
# each per epoch), all with the same schedule; the fusion then trains its new layers on all
# images with the branches' base nets frozen, and the single-channel model gets the same extra
# stage with its base net frozen (only its heads train), so neither side sees more. Models
# already trained under this profile are reused (the dual-channel models of chapters 6-8 are the
# ones trained here with the screened flags).

# %%
matched = dataclasses.replace(setup, schedule=[*schedule, *fusion_schedule])
arms = {"single": experiments.train_model(matched, "length", backbone, train, val,
                                          tag="fusion-budget")}
for source in sources:
    arms[f"dual ({source} flags)"] = experiments.train_dual(setup, backbone, train, val,
                                                           source=source)
arm_flags = {"single": None, **{f"dual ({s} flags)": flags[s] for s in sources}}
stage_epochs = sum(stage.epochs for stage in training.parse_schedule(schedule))
fusion_epochs = sum(stage.epochs for stage in training.parse_schedule(fusion_schedule))
budget = pd.DataFrame([
    {"model": name, "base-net epochs over the training images": stage_epochs,
     "epochs with frozen base nets (heads / fusion)": fusion_epochs}
    for name in arms]).set_index("model")
budget

# %% [markdown]
# ## Accuracy and AP per length dimension on the validation split

# %%
predictions = {name: experiments.predict_one(setup, path, length_val, flags=arm_flags[name])
               for name, path in arms.items()}
scores = {name: experiments.score(length_val, p) for name, p in predictions.items()}
dimensions = [t for t in tasks_of_level("length")]
table = pd.DataFrame([
    {"dimension": t.short, "model": name, "acc": scores[name]["tasks"][t.key]["acc"],
     "AP": scores[name]["tasks"][t.key]["ap"]}
    for t in dimensions for name in arms])
wide = table.pivot(index="dimension", columns="model", values=["acc", "AP"]).reindex(
    [t.short for t in dimensions])
wide.style.format("{:.3f}", na_rep="-")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
width = 0.8 / len(arms)
colours = ["#8C8C8C", "#4C72B0", "#55A868"]
for ax, metric in zip(axes, ("acc", "AP")):
    for k, name in enumerate(arms):
        values = wide[(metric, name)].astype(float).to_numpy()
        xs = np.arange(len(dimensions)) + (k - (len(arms) - 1) / 2) * width
        ax.bar(xs, values, width, label=name, color=colours[k % len(colours)])
        for x, v in zip(xs, values):
            ax.text(x, v + 0.01, f"{v:.2f}", ha="center", fontsize=7)
    ax.set_xticks(np.arange(len(dimensions)), [t.short for t in dimensions])
    ax.set_ylim(0, 1.1)
    ax.set_ylabel(metric + (" (eq. 8)" if metric == "acc" else " (official metric)"))
axes[0].set_title(f"Fig. 3 replicated: accuracy per length dimension ({profile} profile)")
axes[1].set_title("AP per length dimension")
# Below both panels, outside the axes, so that no bar is hidden behind it.
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=len(arms),
           frameon=False)
results.save_figure(fig, profile, NOTEBOOK, "fig3_dual_vs_single")

# %% [markdown]
# ## The paper's claim beside the measured numbers

# %%
claims = {}
for source in sources:
    name = f"dual ({source} flags)"
    better = [t.short for t in dimensions
              if scores[name]["tasks"][t.key]["acc"] > scores["single"]["tasks"][t.key]["acc"]]
    gap = experiments.bootstrap_gap(length_val, predictions[name], predictions["single"],
                                    metric="acc", seed=seed)
    claims[source] = {"dimensions_better": better, "every_dimension": len(better) == len(dimensions),
                      "acc_gap": gap}
display(Markdown(
    "| claim (paper §4.1, Fig. 3) | flags | measured here | agrees? |\n|---|---|---|---|\n"
    + "".join(
        f"| dual-channel beats single-channel on every length dimension (acc) | {source} | "
        f"better on {len(c['dimensions_better'])} of {len(dimensions)}"
        f"{' (' + ', '.join(c['dimensions_better']) + ')' if c['dimensions_better'] else ''}; "
        f"overall acc gap {c['acc_gap']['gap']:+.3f} (95 % bootstrap interval "
        f"{c['acc_gap']['low']:+.3f} to {c['acc_gap']['high']:+.3f}) | "
        f"{'yes' if c['every_dimension'] else 'no'} |\n"
        for source, c in claims.items())
    + f"\nMeasured on {len(length_val):,} held-out length images of the {profile} profile with "
    f"{variant} nets at {image_size} px. An interval that holds 0 means this validation split "
    "cannot tell the two models apart. The smoke profile trains tiny nets for a few epochs: it "
    "checks that the three arms train and are scored; its numbers are not evidence about the "
    "paper's claim. The synthetic and paper profiles are the ones whose numbers bear on it."
))

# %%
numbers = {
    "profile": profile, "backbone": backbone, "variant": variant, "image_size": image_size,
    "schedule": schedule, "fusion_schedule": fusion_schedule,
    "train_images": len(length_train), "val_images": len(length_val),
    "domains": domains.reset_index().to_dict(orient="records"),
    "arms": {name: {"acc": s["acc"], "mAP": s["mAP"],
                    "tasks": {t.key: s["tasks"][t.key] for t in dimensions}}
             for name, s in scores.items()},
    "claims": claims,
    "models": {name: str(path) for name, path in arms.items()},
}
print(results.record(profile, NOTEBOOK, numbers))
