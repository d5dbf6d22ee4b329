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
weights = {"inception_v4": "", "inception_resnet_v2": ""}  # base net -> ImageNet weight file (format: nets.registry); empty: random
allow_random_init = False  # the paper profile refuses random base nets unless this is true

# %%
from IPython.display import Markdown, display

from replication.book import experiments, figures, results, tables
from replication.data import metric

NOTEBOOK = "07_base_nets"
chapter = experiments.chapter_setup(
    profile, data_root, seed=seed, variant=variant, image_size=image_size, batch_size=batch_size,
    schedule=schedule, val_fraction=val_fraction, normalisation=normalisation,
    length_model=length_model, fusion_schedule=fusion_schedule, weights=weights,
    allow_random_init=allow_random_init)
print(chapter.describe())
trained = chapter.train_all()

# %% [markdown]
# ## The base nets and the doubleNet on the validation split
#
# Every base net of the registry alone, then the doubleNet; the parameter count is the base
# nets' (without the heads), as built at this chapter's variant and input size.

# %%
val = chapter.val
candidates = experiments.compared_models()
scores = {name: metric.score(val, experiments.predict(chapter.setup, trained, val, ensemble,
                                                     flip_tta=True))
          for name, ensemble in candidates.items()}
names = {name: experiments.display_name(name) for name in candidates}
table = tables.score_table({names[name]: s for name, s in scores.items()}, index="model", extra={
    "base-net parameters": {names[name]: experiments.parameter_count(ensemble, variant, image_size)
                            for name, ensemble in candidates.items()}})
tables.styled(table)

# %%
fig = figures.score_bars(table, f"Fig. 5 replicated: base nets and doubleNet ({profile} profile, "
                                f"{variant} nets, {image_size} px)")
results.save_figure(fig, profile, NOTEBOOK, "fig5_base_nets")

# %% [markdown]
# ## The paper's claim beside the measured numbers

# %%
doublenet = scores[experiments.DOUBLENET]
single_best = {m: max(scores[name][m] for name in experiments.backbone_names()) for m in ("acc", "mAP")}
best_acc = doublenet["acc"] >= single_best["acc"]
best_map = doublenet["mAP"] >= single_best["mAP"]
display(Markdown(tables.claims_table("§4.3", [
    ("doubleNet has the best accuracy",
     f"doubleNet {doublenet['acc']:.3f}, best single net {single_best['acc']:.3f}",
     tables.verdict(best_acc)),
    ("doubleNet has the best mAP",
     f"doubleNet {doublenet['mAP']:.3f}, best single net {single_best['mAP']:.3f}",
     tables.verdict(best_map)),
], note=(f"Measured on {len(val):,} held-out images of the {profile} profile. On the smoke profile "
         "the nets are tiny and barely trained, so the comparison checks the pipeline, not the "
         "paper."))))

# %%
numbers = {
    "profile": profile, "variant": variant, "image_size": image_size, "val_images": len(val),
    "models": {name: {"acc": s["acc"], "mAP": s["mAP"], "basic_precision": s["basic_precision"],
                      "tasks": s["tasks"]} for name, s in scores.items()},
    "base_net_parameters": table["base-net parameters"].to_dict(),
    "claims": {"doublenet_best_acc": best_acc, "doublenet_best_mAP": best_map},
}
print(results.record(profile, NOTEBOOK, numbers))
