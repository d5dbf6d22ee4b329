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
# # 2. Input resolution (paper §3.1.2 (2), Fig. 2)
#
# The FashionAI images come in many sizes (often 512 px on the long side), and every model
# resizes them to one square input. The paper argues both ways: a higher resolution carries more
# information and finer features, so accuracy rises; but it makes training heavier (larger
# feature maps, more GPU memory). Its Fig. 2 reports a resolution experiment with ImageNet
# weights, after which it **chose 480 px, RGB**. The text gives neither the sizes tried nor the
# scores, so this chapter measures its own curve.
#
# The experiment: the same design-level model (neckline, collar, neck, lapel: the small shapes at
# the neck that should need resolution most), the same schedule, seed and data, trained once per
# input size of the profile. Each is scored on the held-out validation split with the official
# metric and flip test-time augmentation (§3.4), and each size's cost is measured as training and
# inference images per second, so a reader sees what resolution buys and what it costs.

# %% tags=["parameters"]
profile = "smoke"  # smoke | synthetic | paper
data_root = ""  # empty: the profile's data (the synthetic set is rendered if missing)
seed = 0
level = "design"  # the level whose model is swept: design | length
backbone = "inception_resnet_v2"  # inception_v4 | inception_resnet_v2
variant = "tiny"  # base net size: tiny | small | canonical
image_sizes = [75, 96]  # input sides in pixels, one model each (the paper chose 480; >= 75)
batch_size = 16
schedule = [  # (optimizer, learning rate, epochs, share of the base net that trains) per stage
    {"optimizer": "adam", "learning_rate": 2e-3, "epochs": 3, "train_backbone": 1.0},
]
val_fraction = 0.2
normalisation = "inception"  # inception | dataset | per_image | paper_literal (§3.1.2 (1))
inception_v4_weights = ""  # a timm inception_v4 state dict (.safetensors/.npz/.pth); empty: random
inception_resnet_v2_weights = ""  # keras.applications InceptionResNetV2 weights (.h5); empty: random

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from replication import experiments, fashionai, models, prediction, results

NOTEBOOK = "02_resolution"
sizes = sorted(int(s) for s in image_sizes)
setup = experiments.setup_from_parameters(
    profile, data_root, variant=variant, image_size=sizes[-1], batch_size=batch_size,
    schedule=schedule, seed=seed, val_fraction=val_fraction, normalisation=normalisation,
    inception_v4_weights=inception_v4_weights, inception_resnet_v2_weights=inception_resnet_v2_weights)
train, val, skipped = experiments.load_split(setup)
val_level = experiments.of_level(val, level)
norm_note = experiments.describe_normalisation(setup, train)
print(f"{len(experiments.of_level(train, level)):,} training and {len(val_level):,} validation "
      f"{level}-level images ({skipped} rows skipped); {variant} "
      f"{experiments.DISPLAY_NAMES[backbone]} at {', '.join(map(str, sizes))} px")
print(f"normalisation: {norm_note}")

# %% [markdown]
# ## One model per input size
#
# Each model trains through the profile's schedule above; only the input size differs. A model
# already trained under this profile is reused; an interrupted one resumes. While a model trains,
# its steady-state speed is recorded (each epoch timed from the end of its first batch, which
# traces the training step, to its end). The chapter scores each finished model once below, so
# the models skip the per-epoch validation of notebooks 06-08. A model's folder names its whole
# configuration, so notebook 03 reuses the unaugmented model at a size this sweep trained.

# %%
trained = {size: experiments.train_variant(setup, level, backbone, train, val, image_size=size)
           for size in sizes}

# %% [markdown]
# ## Accuracy, mAP and cost per size
#
# Scores: the official metric (§4) with flip TTA on the validation split. Speeds, both at steady
# state (timed from the end of the first batch, which traces the step, to the end of the pass),
# with JPEG decoding and resizing included as in real use: training images/s from the training
# run (median over its epochs), inference images/s from a prediction pass over the validation
# images (no flip TTA). They are measured on whatever machine ran this notebook, so they compare
# the sizes with each other, not with the paper's GPU.

# %%
folder = results.results_dir(profile, NOTEBOOK)
fashionai.write_labels(folder / "Annotations" / "label.csv", val_level)
predictions, rows = {}, []
for size, path in trained.items():
    net = models.load_model(path)
    predictions[size] = experiments.predict_one(setup, net, val_level, flip_tta=True)
    prediction.write_submission(folder / "answers" / f"px{size}.csv", val_level, predictions[size])
    s = experiments.score(val_level, predictions[size])
    rows.append({"size": size, "acc": s["acc"], "mAP": s["mAP"],
                 "BasicPrecision": s["basic_precision"],
                 "train images/s": experiments.training_speed(path),
                 "inference images/s": experiments.inference_speed(setup, net, val_level)})
sweep = pd.DataFrame(rows).set_index("size")
sweep.style.format({"acc": "{:.3f}", "mAP": "{:.3f}", "BasicPrecision": "{:.3f}",
                    "train images/s": "{:.1f}", "inference images/s": "{:.1f}"})

# %%
fig, (ax, cost) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
ax.plot(sweep.index, sweep["acc"], marker="s", label="acc (eq. 8)")
ax.plot(sweep.index, sweep["mAP"], marker="o", label="mAP (official metric)")
for size in sweep.index:
    ax.annotate(f"{sweep.loc[size, 'mAP']:.3f}", (size, sweep.loc[size, "mAP"]),
                textcoords="offset points", xytext=(0, 6), ha="center", fontsize=9)
ax.set_xticks(sweep.index)
ax.set_ylim(0, 1.05)
ax.set_xlabel("input size (px)")
ax.set_ylabel("score on the validation split")
ax.set_title(f"Fig. 2 replicated: {level}-level {experiments.DISPLAY_NAMES[backbone]} "
             f"({variant}, {profile} profile)")
ax.legend(loc="lower right")
cost.plot(sweep.index, sweep["train images/s"], marker="o", color="#C44E52", label="training")
cost.plot(sweep.index, sweep["inference images/s"], marker="s", color="#8172B3", label="inference")
cost.set_xticks(sweep.index)
cost.set_ylim(bottom=0)
cost.set_xlabel("input size (px)")
cost.set_ylabel("images per second")
cost.set_title("what each size costs (this machine)")
cost.legend()
results.save_figure(fig, profile, NOTEBOOK, "fig2_resolution")

# %% [markdown]
# ## The paper's claims beside the measured numbers

# %%
smallest, largest = sizes[0], sizes[-1]
best_size = int(sweep["mAP"].astype(float).idxmax())
gap = experiments.bootstrap_gap(val_level, predictions[largest], predictions[smallest], seed=seed,
                                resamples=1000)
claims = {
    "acc_rises_with_size": bool(sweep.loc[largest, "acc"] > sweep.loc[smallest, "acc"]),
    "mAP_rises_with_size": bool(sweep.loc[largest, "mAP"] > sweep.loc[smallest, "mAP"]),
    "largest_size_best_mAP": best_size == largest,
    "training_slows_with_size": bool(sweep.loc[largest, "train images/s"]
                                     < sweep.loc[smallest, "train images/s"]),
}
within_noise = gap["low"] <= 0 <= gap["high"]


norm_markdown = norm_note.replace("*", r"\*")  # keep "H*W*C" literal in Markdown


def yes(ok: bool) -> str:
    return "yes" if ok else "no"


display(Markdown(
    "| claim (paper §3.1.2 (2), Fig. 2) | measured here | agrees? |\n|---|---|---|\n"
    f"| a higher resolution raises accuracy | acc {sweep.loc[smallest, 'acc']:.3f} at {smallest} px, "
    f"{sweep.loc[largest, 'acc']:.3f} at {largest} px | {yes(claims['acc_rises_with_size'])} |\n"
    f"| ... and the official mAP | mAP {sweep.loc[smallest, 'mAP']:.3f} at {smallest} px, "
    f"{sweep.loc[largest, 'mAP']:.3f} at {largest} px (gap {gap['gap']:+.3f}, 95 % bootstrap "
    f"interval {gap['low']:+.3f} to {gap['high']:+.3f}) | {yes(claims['mAP_rises_with_size'])}"
    f"{' (within noise)' if within_noise else ''} |\n"
    f"| a large input is worth its cost (480 px chosen) | best mAP at {best_size} px of "
    f"{', '.join(map(str, sizes))} | {yes(claims['largest_size_best_mAP'])} |\n"
    f"| resolution makes training heavier | training {sweep.loc[smallest, 'train images/s']:.1f} "
    f"images/s at {smallest} px, {sweep.loc[largest, 'train images/s']:.1f} at {largest} px | "
    f"{yes(claims['training_slows_with_size'])} |\n\n"
    f"Measured on {len(val_level):,} held-out {level}-level images of the {profile} profile, one "
    f"training run per size (seed {seed}). Input normalisation: {norm_markdown} "
    + (f"The smoke profile trains a tiny net for {sum(int(st['epochs']) for st in schedule)} "
       "epoch(s) on a few hundred images, at sizes far "
       "below the paper's: it checks that the sweep runs end to end, and its scores cannot tell "
       "whether resolution helps. The synthetic and paper profiles are the ones whose curves bear "
       "on the claim." if profile == "smoke" else
       "A single run per size: a gap whose bootstrap interval holds 0 is not evidence either way.")
))

# %%
numbers = {
    "profile": profile, "level": level, "backbone": backbone, "variant": variant,
    "normalisation": normalisation, "normalisation_description": norm_note,
    "schedule": schedule, "seed": seed, "batch_size": batch_size,
    "train_images": len(experiments.of_level(train, level)), "val_images": len(val_level),
    "sizes": {str(size): {"acc": sweep.loc[size, "acc"], "mAP": sweep.loc[size, "mAP"],
                          "basic_precision": sweep.loc[size, "BasicPrecision"],
                          "train_images_per_second": sweep.loc[size, "train images/s"],
                          "inference_images_per_second": sweep.loc[size, "inference images/s"],
                          "model": str(trained[size]),
                          "answer": str(folder / "answers" / f"px{size}.csv")}
              for size in sizes},
    "truth": str(folder / "Annotations" / "label.csv"),
    "best_size_by_mAP": best_size,
    "mAP_gap_largest_minus_smallest": gap,
    "claims": claims,
}
print(results.record(profile, NOTEBOOK, numbers))
