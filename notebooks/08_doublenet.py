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
weights = {"inception_v4": "", "inception_resnet_v2": ""}  # base net -> ImageNet weight file (format: nets.registry); empty: random
allow_random_init = False  # the paper profile refuses random base nets unless this is true

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from replication.book import experiments, figures, results, tables
from replication.data import fashionai, metric
from replication.learning import prediction

NOTEBOOK = "08_doublenet"
chapter = experiments.chapter_setup(
    profile, data_root, seed=seed, variant=variant, image_size=image_size, batch_size=batch_size,
    schedule=schedule, val_fraction=val_fraction, normalisation=normalisation,
    length_model=length_model, fusion_schedule=fusion_schedule, weights=weights,
    allow_random_init=allow_random_init)
print(chapter.describe())
trained = chapter.train_all()

# %% [markdown]
# ## Flip test-time augmentation on and off
#
# Every base net of the registry alone, and the doubleNet, with and without the flip.

# %%
setup, val = chapter.setup, chapter.val
single = {(net, flip): experiments.predict(setup, trained, val, {net: 1.0}, flip_tta=flip)
          for net in experiments.backbone_names() for flip in (False, True)}
doublenet_nets = list(experiments.DOUBLENET_WEIGHTS)
doublenet_weights = list(experiments.DOUBLENET_WEIGHTS.values())
rows = []
for flip in (False, True):
    for name in (*experiments.backbone_names(), experiments.DOUBLENET):
        preds = (single[(name, flip)] if name != experiments.DOUBLENET else
                 prediction.blend([single[(n, flip)] for n in doublenet_nets], doublenet_weights))
        s = metric.score(val, preds)
        rows.append({"model": experiments.display_name(name), "flip TTA": "on" if flip else "off",
                     "acc": s["acc"], "mAP": s["mAP"]})
tta = pd.DataFrame(rows).pivot(index="model", columns="flip TTA", values=["acc", "mAP"])
tables.styled(tta)

# %% [markdown]
# ## The ensemble weight
#
# The doubleNet's probabilities are `w * Inception-v4 + (1 - w) * InceptionResNet-v2`; the paper
# uses w = 0.5. The sweep reuses the flip-averaged predictions of each net.

# %%
first, second = doublenet_nets
sweep_w = np.round(np.linspace(0, 1, 11), 2)
sweep = pd.DataFrame([
    {"w": w, **{k: metric.score(val, prediction.blend(
        [single[(first, True)], single[(second, True)]], [w, 1 - w]))[k] for k in ("acc", "mAP")}}
    for w in sweep_w
]).set_index("w")
fig = figures.ensemble_weight_figure(
    sweep, f"w: weight of {experiments.display_name(first)} (1 - w: "
           f"{experiments.display_name(second)})",
    f"doubleNet ensemble weight ({profile} profile, flip TTA on)",
    paper_w=experiments.DOUBLENET_WEIGHTS[first])
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
doublenet = experiments.predict(setup, trained, val, experiments.DOUBLENET_WEIGHTS, flip_tta=True)
prediction.write_submission(folder / "answer.csv", val, doublenet)
fashionai.write_labels(folder / "Annotations" / "label.csv", val)
submitted = metric.evaluate_files(folder / "Annotations" / "label.csv", folder / "answer.csv")
blended = metric.score(val, prediction.blend([single[(n, True)] for n in doublenet_nets],
                                             doublenet_weights))
assert abs(submitted["mAP"] - blended["mAP"]) < 1e-6, (submitted["mAP"], blended["mAP"])
print(f"answer.csv: {len(val):,} rows; official metric: mAP {submitted['mAP']:.4f}, "
      f"BasicPrecision {submitted['basic_precision']:.4f}, acc {submitted['acc']:.4f}")
print(f"python -m replication evaluate --truth {folder / 'Annotations' / 'label.csv'} --pred {folder / 'answer.csv'}")

# %% [markdown]
# ## The paper's choices beside the measured numbers

# %%
tta_helps = {name: bool(tta.loc[experiments.display_name(name), ("mAP", "on")]
                        >= tta.loc[experiments.display_name(name), ("mAP", "off")])
             for name in (*experiments.backbone_names(), experiments.DOUBLENET)}
best_w = float(sweep["mAP"].idxmax())
display(Markdown(tables.claims_table("§3.4", [
    *[(f"flip TTA helps {experiments.display_name(name)}",
       f"mAP {tta.loc[experiments.display_name(name), ('mAP', 'off')]:.3f} off, "
       f"{tta.loc[experiments.display_name(name), ('mAP', 'on')]:.3f} on", tables.verdict(ok))
      for name, ok in tta_helps.items()],
    ("w = 0.5 is a good ensemble weight",
     f"best w = {best_w:.1f} (mAP {sweep['mAP'].max():.3f}; at 0.5: {sweep.loc[0.5, 'mAP']:.3f})",
     tables.verdict(abs(best_w - 0.5) <= 0.2)),
], kind="choice", note=(
    f"Measured on {len(val):,} held-out images of the {profile} profile. On the smoke profile the "
    "nets are tiny and barely trained, so these numbers check the pipeline, not the paper."))))

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
