"""The chapters' figures: readable defaults, one function per figure; a chapter passes its
numbers and a title, and saves the figure with ``results.save_figure``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from replication.data.tasks import TASKS

# Fixed SVG ids make figure files byte-identical across runs.
plt.rcParams["svg.hashsalt"] = "fashionai-replication"


def value_counts(rows: Sequence) -> pd.DataFrame:
    """Rows per (task, value) of ``label.csv`` rows (``fashionai.LabelRow``), every value of
    every task listed: columns ``short``, ``value``, ``value_name``, ``rows`` and ``maybe_rows``
    (rows whose label string holds an ``m`` somewhere)."""
    rows_at = Counter((row.task, row.value) for row in rows)
    maybe_at = Counter((row.task, row.value) for row in rows if row.has_maybe)
    return pd.DataFrame([
        {"short": t.short, "value": i, "value_name": name, "rows": rows_at[(t.key, i)],
         "maybe_rows": maybe_at[(t.key, i)]}
        for t in TASKS for i, name in enumerate(t.values)])


def value_counts_figure(counts: pd.DataFrame) -> plt.Figure:
    """Rows per value, one panel per task, values in official order, ``m`` rows stacked on top
    (``counts`` as :func:`value_counts` gives it)."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(2, 4, figsize=(16, 8), constrained_layout=True)
    for ax, task in zip(axes.flat, TASKS):
        part = counts[counts["short"] == task.short].set_index("value_name").reindex(list(task.values))
        sns.barplot(x=part["rows"].to_numpy(), y=list(task.values), ax=ax, color="#4C72B0",
                    orient="h", label="rows")
        sns.barplot(x=part["maybe_rows"].to_numpy(), y=list(task.values), ax=ax, color="#DD8452",
                    orient="h", label="rows with an m")
        ax.set_title(f"{task.short} ({task.level})")
        ax.set_xlabel("images")
        ax.tick_params(axis="y", labelsize=8)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in axes.flat:
        if ax.get_legend():
            ax.get_legend().remove()
    fig.legend(handles, labels, loc="upper right", ncols=2, frameon=False)
    fig.suptitle("Images per attribute value (label.csv)")
    return fig


def pick_samples(rows: Sequence, root: Path, per_task: int, rng: np.random.Generator,
                 truth: Mapping[str, Mapping] | None = None) -> dict[str, list[tuple[Path, str]]]:
    """``per_task`` rows of each task drawn with ``rng``, as :func:`sample_grid` shows them:
    the image and its caption (the labelled value, ``(m)`` for a row with an ``m``, and with a
    synthetic ``truth`` whether it is a flat-lay)."""
    samples = {}
    for t in TASKS:
        task_rows = [r for r in rows if r.task == t.key]
        picks = rng.choice(len(task_rows), size=min(per_task, len(task_rows)), replace=False)
        samples[t.short] = [
            (Path(root) / task_rows[i].image,
             t.values[task_rows[i].value] + (" (m)" if task_rows[i].has_maybe else "")
             + ("" if truth is None else
                (" · flat" if truth[task_rows[i].image]["flat"] else " · on-model")))
            for i in sorted(picks)
        ]
    return samples


def sample_grid(images: Mapping[str, Sequence[tuple[Path, str]]], *, thumb: float = 2.0) -> plt.Figure:
    """A grid of images, one row per task; each image is ``(path, caption)``."""
    from replication.data.fashionai import load_image

    n_cols = max((len(v) for v in images.values()), default=1)
    fig, axes = plt.subplots(len(images), n_cols, figsize=(thumb * n_cols, thumb * 1.15 * len(images)),
                             squeeze=False, constrained_layout=True)
    for row, (task, items) in zip(axes, images.items()):
        for col, ax in enumerate(row):
            ax.axis("off")
            if col < len(items):
                path, caption = items[col]
                ax.imshow(load_image(path))
                ax.set_title(caption, fontsize=8)
        row[0].text(-0.08, 0.5, task, transform=row[0].transAxes, rotation=90, ha="right",
                    va="center", fontsize=10, fontweight="bold")
    return fig


def augmenter_grid(originals: Sequence, grids: Sequence[Mapping[str, Sequence]], *,
                   thumb: float = 1.35) -> plt.Figure:
    """Before and after each augmenter (notebook 03): one row per augmenter; per image, its
    original, then its augmented draws (``grids[k]`` as ``augmentation.sample_grid_images`` gives
    it for ``originals[k]``). A draw identical to its original is marked "unchanged"."""
    names = list(grids[0]) if grids else []
    draws = max((len(v) for g in grids for v in g.values()), default=0)
    columns = len(originals) * (1 + draws)
    fig, axes = plt.subplots(len(names), columns, squeeze=False,
                             figsize=(thumb * columns, thumb * 1.08 * len(names)),
                             constrained_layout=True)
    for r, name in enumerate(names):
        for k, (original, grid) in enumerate(zip(originals, grids)):
            first = k * (1 + draws)
            for c, picture in enumerate([original, *grid[name]]):
                ax = axes[r, first + c]
                ax.imshow(picture)
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title("original" if c == 0 else f"draw {c}", fontsize=8)
                if c and np.array_equal(picture, original):
                    ax.set_xlabel("unchanged", fontsize=7)
            axes[r, first].set_ylabel(name, fontsize=9)
    return fig


def resolution_figure(sweep: pd.DataFrame, title: str) -> plt.Figure:
    """Fig. 2 (chapter 2): acc and mAP per input size, and what each size costs (training and
    inference images/s). ``sweep`` is indexed by size with columns ``acc``, ``mAP``,
    ``train images/s`` and ``inference images/s``."""
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
    ax.set_title(title)
    ax.legend(loc="lower right")
    cost.plot(sweep.index, sweep["train images/s"], marker="o", color="#C44E52", label="training")
    cost.plot(sweep.index, sweep["inference images/s"], marker="s", color="#8172B3",
              label="inference")
    cost.set_xticks(sweep.index)
    cost.set_ylim(bottom=0)
    cost.set_xlabel("input size (px)")
    cost.set_ylabel("images per second")
    cost.set_title("what each size costs (this machine)")
    cost.legend()
    return fig


def score_bars(table: pd.DataFrame, title: str, *, baseline: tuple[str, str] | None = None,
               label_format: str = "%.3f", figsize: tuple[float, float] = (7, 4),
               rotation: float = 0) -> plt.Figure:
    """acc and mAP side by side per model (a row of ``table``: chapter 3's arms, chapter 7's
    nets), each bar labelled; ``baseline`` ``(row, label)`` draws that row's mAP dashed."""
    fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    x = np.arange(len(table))
    for offset, name, colour in ((-0.2, "acc", "#4C72B0"), (0.2, "mAP", "#DD8452")):
        bars = ax.bar(x + offset, table[name], width=0.4, label=name, color=colour)
        ax.bar_label(bars, fmt=label_format, fontsize=8)
    if baseline is not None:
        row, label = baseline
        ax.axhline(table.loc[row, "mAP"], color="grey", linestyle="--", linewidth=1, label=label)
    ax.set_xticks(x, table.index, rotation=rotation)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("score on the validation split")
    ax.set_title(title)
    ax.legend(loc="upper left", ncols=3 if baseline is not None else 1)
    return fig


def dimension_bars(wide: pd.DataFrame, title: str) -> plt.Figure:
    """Fig. 3 (chapter 5): acc and AP per length dimension, one bar per model; ``wide`` as
    ``tables.dimensions_by_model`` gives it."""
    models = list(dict.fromkeys(wide.columns.get_level_values("model")))
    dimensions = list(wide.index)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
    width = 0.8 / len(models)
    colours = ["#8C8C8C", "#4C72B0", "#55A868"]
    for ax, measure in zip(axes, ("acc", "AP")):
        for k, name in enumerate(models):
            values = wide[(measure, name)].astype(float).to_numpy()
            xs = np.arange(len(dimensions)) + (k - (len(models) - 1) / 2) * width
            ax.bar(xs, values, width, label=name, color=colours[k % len(colours)])
            for x, v in zip(xs, values):
                ax.text(x, v + 0.01, f"{v:.2f}", ha="center", fontsize=7)
        ax.set_xticks(np.arange(len(dimensions)), dimensions)
        ax.set_ylim(0, 1.1)
        ax.set_ylabel(measure + (" (eq. 8)" if measure == "acc" else " (official metric)"))
    axes[0].set_title(title)
    axes[1].set_title("AP per length dimension")
    # Below both panels, outside the axes, so that no bar is hidden behind it.
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
               ncols=len(models), frameon=False)
    return fig


def ensemble_weight_figure(sweep: pd.DataFrame, xlabel: str, title: str, *,
                           paper_w: float = 0.5) -> plt.Figure:
    """Chapter 8: mAP and acc of the two-net ensemble against the weight ``w`` of its first net
    (``sweep`` indexed by w), the paper's choice dashed."""
    fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
    ax.plot(sweep.index, sweep["mAP"], marker="o", label="mAP")
    ax.plot(sweep.index, sweep["acc"], marker="s", label="acc")
    ax.axvline(paper_w, color="grey", linestyle="--", linewidth=1,
               label=f"the paper's w = {paper_w:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("score on the validation split")
    ax.set_title(title)
    ax.legend()
    return fig


def training_curves(curves: Mapping[str, Sequence[Mapping[str, float]]], title: str, *,
                    mark_epoch: int | None = None) -> plt.Figure:
    """Chapter 2's normalisation ablation: validation loss, acc and mAP after each epoch, one
    line per arm (``curves``: arm -> ``[{"epoch", "loss", "acc", "mAP"}, ...]``, as
    ``training_ablations.Curve.scores`` gives them); ``mark_epoch`` dotted (where the arms are
    compared)."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), constrained_layout=True)
    for ax, (key, label) in zip(axes, (("loss", "validation loss (objective)"),
                                       ("acc", "validation acc (eq. 8)"),
                                       ("mAP", "validation mAP (official metric)"))):
        for arm, rows in curves.items():
            ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], marker="o", label=arm)
        if mark_epoch is not None:
            ax.axvline(mark_epoch, color="grey", linestyle=":", linewidth=1)
        epochs = sorted({r["epoch"] for rows in curves.values() for r in rows})
        ax.set_xticks(epochs)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if key != "loss":
            ax.set_ylim(0, 1.05)
    axes[0].legend(title="normalisation")
    fig.suptitle(title)
    return fig


def ap_per_dimension_with_intervals(per_dimension: pd.DataFrame,
                                    intervals: Mapping[str, Mapping[str, float]],
                                    title: str) -> plt.Figure:
    """Fig. 4 (chapter 6): AP per dimension, design blue, length green, each with its 95 %
    bootstrap interval (``intervals``: dimension -> ``{"low", "high"}``, e.g.
    ``DimensionAPs.interval``) and the paper's 95 % line; ``per_dimension`` as
    ``tables.dimension_table`` gives it."""
    fig, ax = plt.subplots(figsize=(9, 4.4), constrained_layout=True)
    colours = ["#4C72B0" if level == "design" else "#55A868" for level in per_dimension["level"]]
    aps = per_dimension["AP"].astype(float).to_numpy()
    low = np.array([intervals[d]["low"] for d in per_dimension.index], dtype=float)
    high = np.array([intervals[d]["high"] for d in per_dimension.index], dtype=float)
    x = np.arange(len(aps))
    ax.bar(x, aps, color=colours)
    ax.errorbar(x, aps, yerr=[aps - low, high - aps], fmt="none", ecolor="black", capsize=3,
                linewidth=1, label="95 % bootstrap interval")
    ax.axhline(0.95, color="grey", linestyle="--", linewidth=1, label="95 % (the paper's line)")
    for i, ap in enumerate(aps):  # beside the error bar, so that neither hides the other
        ax.text(i + 0.06, ap + 0.01, f"{ap:.2f}", ha="left", fontsize=8)
    ax.set_xticks(x, per_dimension.index)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("AP (official FashionAI metric)")
    ax.set_title(title)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2,
               frameon=False)
    return fig


def learning_curves(by_epoch: Mapping[str, Sequence[Mapping[str, float]]],
                    by_images: Mapping[int, Mapping[str, float]], title: str) -> plt.Figure:
    """Chapter 0's learning curves. Left: validation acc and mAP after each epoch, one colour per
    arm (``by_epoch``: arm -> ``[{"epoch", "acc", "mAP", ...}]``, as
    ``training_ablations.Curve.scores`` gives them). Right: acc and mAP against the number of
    training images (``by_images``: images -> scores with ``acc`` and ``mAP``)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
    colours = dict(zip(by_epoch, sns.color_palette("colorblind", len(by_epoch))))
    for arm, rows in by_epoch.items():
        epochs = [r["epoch"] for r in rows]
        left.plot(epochs, [r["acc"] for r in rows], marker="o", color=colours[arm],
                  label=f"{arm}: acc")
        left.plot(epochs, [r["mAP"] for r in rows], marker="s", linestyle="--",
                  color=colours[arm], label=f"{arm}: mAP")
    left.set_xticks(sorted({r["epoch"] for rows in by_epoch.values() for r in rows}))
    left.set_xlabel("epoch (no flip TTA)")
    left.set_ylabel("validation score")
    left.set_ylim(0, 1.05)
    left.legend(fontsize=8)
    images = sorted(by_images)
    right.plot(images, [by_images[n]["acc"] for n in images], marker="o", label="acc")
    right.plot(images, [by_images[n]["mAP"] for n in images], marker="s", linestyle="--",
               label="mAP")
    right.set_xticks(images)
    right.set_xlabel("training images (pretrained arm, flip TTA)")
    right.set_ylim(0, 1.05)
    right.legend(fontsize=8)
    fig.suptitle(title)
    return fig
