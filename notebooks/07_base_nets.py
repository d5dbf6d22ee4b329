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

# %% tags=["parameters"]
profile = "smoke"  # smoke | synthetic | paper
data_root = ""  # empty: the profile's data (the synthetic set is rendered if missing)
seed = 0
variant = "tiny"  # base net size: tiny | small | canonical
image_size = 96  # input side in pixels (the paper: 480)
batch_size = 16
schedule = [  # (optimizer, learning rate, epochs, share of the base net that trains) per stage
    {"optimizer": "adam", "learning_rate": 2e-3, "epochs": 3, "train_backbone": 1.0},
]
val_fraction = 0.2
normalisation = "inception"  # inception | dataset | per_image | paper_literal (§3.1.2 (1))
length_model = "dual-screened"  # single | dual-truth | dual-screened (§3.3.2; chapter 5)
fusion_schedule = [  # the dual-channel fusion, on its two trained branches (frozen base nets)
    {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 1, "train_backbone": 0.0},
]
inception_v4_weights = ""  # a timm inception_v4 state dict (.safetensors/.npz/.pth); empty: random
inception_resnet_v2_weights = ""  # keras.applications InceptionResNetV2 weights (.h5); empty: random

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from replication import backbones, experiments, results

NOTEBOOK = "07_base_nets"
setup = experiments.setup_from_parameters(
    profile, data_root, variant=variant, image_size=image_size, batch_size=batch_size,
    schedule=schedule, seed=seed, val_fraction=val_fraction,
    inception_v4_weights=inception_v4_weights, inception_resnet_v2_weights=inception_resnet_v2_weights,
    normalisation=normalisation, length_model=length_model, fusion_schedule=fusion_schedule)
train, val, skipped = experiments.load_split(setup)
print(f"normalisation: {experiments.describe_normalisation(setup, train)}")
trained = experiments.train_all(setup, train, val)

# %% [markdown]
# ## The three models on the validation split

# %%
candidates = {
    "inception_v4": (["inception_v4"], [1.0]),
    "inception_resnet_v2": (["inception_resnet_v2"], [1.0]),
    "doublenet": (list(experiments.BACKBONE_NAMES), list(experiments.PAPER_ENSEMBLE_WEIGHTS)),
}
scores = {name: experiments.score(val, experiments.predict(setup, trained, val, nets, w, flip_tta=True))
          for name, (nets, w) in candidates.items()}
table = pd.DataFrame([
    {"model": experiments.DISPLAY_NAMES[name], "acc": s["acc"], "mAP": s["mAP"],
     "BasicPrecision": s["basic_precision"],
     "base-net parameters": (sum(backbones.build_backbone(n, variant, input_shape=(image_size, image_size, 3))
                                 .count_params() for n in candidates[name][0]))}
    for name, s in scores.items()
]).set_index("model")
table.style.format({"acc": "{:.3f}", "mAP": "{:.3f}", "BasicPrecision": "{:.3f}",
                    "base-net parameters": "{:,}"})

# %%
fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
x = np.arange(len(table))
for offset, metric_name, colour in ((-0.2, "acc", "#4C72B0"), (0.2, "mAP", "#DD8452")):
    bars = ax.bar(x + offset, table[metric_name], width=0.4, label=metric_name, color=colour)
    ax.bar_label(bars, fmt="%.3f", fontsize=9)
ax.set_xticks(x, table.index)
ax.set_ylim(0, 1.08)
ax.set_ylabel("score on the validation split")
ax.set_title(f"Fig. 5 replicated: base nets and doubleNet ({profile} profile, {variant} nets, {image_size} px)")
ax.legend(loc="upper left")
results.save_figure(fig, profile, NOTEBOOK, "fig5_base_nets")

# %% [markdown]
# ## The paper's claim beside the measured numbers

# %%
single_best = {m: max(scores["inception_v4"][m], scores["inception_resnet_v2"][m]) for m in ("acc", "mAP")}
best_acc = scores["doublenet"]["acc"] >= single_best["acc"]
best_map = scores["doublenet"]["mAP"] >= single_best["mAP"]
display(Markdown(
    "| claim (paper §4.3) | measured here | agrees? |\n|---|---|---|\n"
    f"| doubleNet has the best accuracy | doubleNet {scores['doublenet']['acc']:.3f}, best single net "
    f"{single_best['acc']:.3f} | {'yes' if best_acc else 'no'} |\n"
    f"| doubleNet has the best mAP | doubleNet {scores['doublenet']['mAP']:.3f}, best single net "
    f"{single_best['mAP']:.3f} | {'yes' if best_map else 'no'} |\n\n"
    f"Measured on {len(val):,} held-out images of the {profile} profile. On the smoke profile the nets are "
    "tiny and barely trained, so the comparison checks the pipeline, not the paper."
))

# %%
numbers = {
    "profile": profile, "variant": variant, "image_size": image_size, "val_images": len(val),
    "models": {name: {"acc": s["acc"], "mAP": s["mAP"], "basic_precision": s["basic_precision"],
                      "tasks": s["tasks"]} for name, s in scores.items()},
    "base_net_parameters": table["base-net parameters"].to_dict(),
    "claims": {"doublenet_best_acc": best_acc, "doublenet_best_mAP": best_map},
}
print(results.record(profile, NOTEBOOK, numbers))
