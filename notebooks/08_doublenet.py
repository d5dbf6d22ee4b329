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
# # 8. Flip test-time augmentation, ensemble weights and the submission (paper §3.4)
#
# The paper's prediction model averages each net's probabilities for an image and for its
# horizontal flip, then averages the two nets with weights 0.5/0.5 (the "doubleNet"), and writes
# the FashionAI submission file. This chapter measures what each of these choices buys on the
# validation split: flip TTA on and off for every model, the ensemble weight swept from
# InceptionResNet-v2 alone (0) to Inception-v4 alone (1), and the submission file scored by the
# official metric through `python -m replication evaluate`.

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

from replication import experiments, fashionai, metric, prediction, results

NOTEBOOK = "08_doublenet"
setup = experiments.setup_from_parameters(
    profile, data_root, variant=variant, image_size=image_size, batch_size=batch_size,
    schedule=schedule, seed=seed, val_fraction=val_fraction,
    inception_v4_weights=inception_v4_weights, inception_resnet_v2_weights=inception_resnet_v2_weights,
    normalisation=normalisation, length_model=length_model, fusion_schedule=fusion_schedule)
train, val, skipped = experiments.load_split(setup)
print(f"normalisation: {experiments.describe_normalisation(setup, train)}")
trained = experiments.train_all(setup, train, val)

# %% [markdown]
# ## Flip test-time augmentation on and off

# %%
single = {(net, flip): experiments.predict(setup, trained, val, [net], [1.0], flip_tta=flip)
          for net in experiments.BACKBONE_NAMES for flip in (False, True)}
rows = []
for flip in (False, True):
    for name in (*experiments.BACKBONE_NAMES, "doublenet"):
        preds = (single[(name, flip)] if name != "doublenet" else
                 experiments.blend([single[(n, flip)] for n in experiments.BACKBONE_NAMES],
                                   experiments.PAPER_ENSEMBLE_WEIGHTS))
        s = experiments.score(val, preds)
        rows.append({"model": experiments.DISPLAY_NAMES[name], "flip TTA": "on" if flip else "off",
                     "acc": s["acc"], "mAP": s["mAP"]})
tta = pd.DataFrame(rows).pivot(index="model", columns="flip TTA", values=["acc", "mAP"])
tta.style.format("{:.3f}")

# %% [markdown]
# ## The ensemble weight
#
# The doubleNet's probabilities are `w * Inception-v4 + (1 - w) * InceptionResNet-v2`; the paper
# uses w = 0.5. The sweep reuses the flip-averaged predictions of each net.

# %%
sweep_w = np.round(np.linspace(0, 1, 11), 2)
sweep = pd.DataFrame([
    {"w": w, **{k: experiments.score(val, experiments.blend(
        [single[("inception_v4", True)], single[("inception_resnet_v2", True)]], [w, 1 - w]))[k]
        for k in ("acc", "mAP")}}
    for w in sweep_w
]).set_index("w")
fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
ax.plot(sweep.index, sweep["mAP"], marker="o", label="mAP")
ax.plot(sweep.index, sweep["acc"], marker="s", label="acc")
ax.axvline(0.5, color="grey", linestyle="--", linewidth=1, label="the paper's w = 0.5")
ax.set_xlabel("w: weight of Inception-v4 (1 - w: InceptionResNet-v2)")
ax.set_ylabel("score on the validation split")
ax.set_title(f"doubleNet ensemble weight ({profile} profile, flip TTA on)")
ax.legend()
results.save_figure(fig, profile, NOTEBOOK, "ensemble_weight")

# %% [markdown]
# ## The submission file
#
# The doubleNet, run through the prediction module exactly as `python -m replication predict`
# runs it, writes a FashionAI `answer.csv` for the validation images; the official metric then
# scores it against their labels, as `python -m replication evaluate` does. It must agree with
# the ensemble computed above from the stored predictions.

# %%
folder = results.results_dir(profile, NOTEBOOK)
doublenet = experiments.predict(setup, trained, val, experiments.BACKBONE_NAMES,
                                experiments.PAPER_ENSEMBLE_WEIGHTS, flip_tta=True)
prediction.write_submission(folder / "answer.csv", val, doublenet)
fashionai.write_labels(folder / "Annotations" / "label.csv", val)
submitted = metric.evaluate_files(folder / "Annotations" / "label.csv", folder / "answer.csv")
blended = experiments.score(val, experiments.blend(
    [single[(n, True)] for n in experiments.BACKBONE_NAMES], experiments.PAPER_ENSEMBLE_WEIGHTS))
assert abs(submitted["mAP"] - blended["mAP"]) < 1e-6, (submitted["mAP"], blended["mAP"])
print(f"answer.csv: {len(val):,} rows; official metric: mAP {submitted['mAP']:.4f}, "
      f"BasicPrecision {submitted['basic_precision']:.4f}, acc {submitted['acc']:.4f}")
print(f"python -m replication evaluate --truth {folder / 'Annotations' / 'label.csv'} --pred {folder / 'answer.csv'}")

# %% [markdown]
# ## The paper's choices beside the measured numbers

# %%
tta_helps = {name: bool(tta.loc[experiments.DISPLAY_NAMES[name], ("mAP", "on")]
                        >= tta.loc[experiments.DISPLAY_NAMES[name], ("mAP", "off")])
             for name in (*experiments.BACKBONE_NAMES, "doublenet")}
best_w = float(sweep["mAP"].idxmax())
display(Markdown(
    "| choice (paper §3.4) | measured here | agrees? |\n|---|---|---|\n"
    + "".join(f"| flip TTA helps {experiments.DISPLAY_NAMES[n]} | mAP "
              f"{tta.loc[experiments.DISPLAY_NAMES[n], ('mAP', 'off')]:.3f} off, "
              f"{tta.loc[experiments.DISPLAY_NAMES[n], ('mAP', 'on')]:.3f} on | "
              f"{'yes' if ok else 'no'} |\n" for n, ok in tta_helps.items())
    + f"| w = 0.5 is a good ensemble weight | best w = {best_w:.1f} (mAP {sweep['mAP'].max():.3f}; "
      f"at 0.5: {sweep.loc[0.5, 'mAP']:.3f}) | {'yes' if abs(best_w - 0.5) <= 0.2 else 'no'} |\n\n"
    f"Measured on {len(val):,} held-out images of the {profile} profile. On the smoke profile the nets are "
    "tiny and barely trained, so these numbers check the pipeline, not the paper."
))

# %%
numbers = {
    "profile": profile, "val_images": len(val),
    "flip_tta": {f"{name}/{'on' if flip else 'off'}": {"acc": r["acc"], "mAP": r["mAP"]}
                 for name, flip, r in ((row["model"], row["flip TTA"] == "on", row) for row in rows)},
    "ensemble_sweep": {str(w): {"acc": sweep.loc[w, "acc"], "mAP": sweep.loc[w, "mAP"]} for w in sweep_w},
    "best_w": best_w,
    "submission": {"path": str(folder / "answer.csv"), "rows": len(val), **{
        k: submitted[k] for k in ("mAP", "basic_precision", "acc")}},
    "claims": {"flip_tta_helps": tta_helps, "best_w_within_0.2_of_0.5": abs(best_w - 0.5) <= 0.2},
}
print(results.record(profile, NOTEBOOK, numbers))
