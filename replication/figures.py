"""Figures the notebooks share: readable defaults, one function per kind of figure."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from replication.tasks import TASKS

# Fixed SVG ids make figure files byte-identical across runs.
plt.rcParams["svg.hashsalt"] = "fashionai-replication"


def value_counts_figure(counts: pd.DataFrame) -> plt.Figure:
    """Rows per value, one panel per task, values in official order, ``m`` rows stacked on top.

    ``counts`` has one row per (task, value) with columns ``short``, ``value_name``, ``rows`` and
    ``maybe_rows`` (rows whose label string holds an ``m`` somewhere).
    """
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


def sample_grid(images: Mapping[str, Sequence[tuple[Path, str]]], *, thumb: float = 2.0) -> plt.Figure:
    """A grid of images, one row per task; each image is ``(path, caption)``."""
    from replication.fashionai import load_image

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
    import numpy as np

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
