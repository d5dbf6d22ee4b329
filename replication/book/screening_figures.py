"""Notebook 04's figures and tables (paper §3.2, the flat-lay / on-model screening): one function
per figure; the chapter passes its numbers and saves the figure with ``results.save_figure``.
What they show is computed by the screening package (``replication.screening.scoring``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from replication.book import figures  # also fixes the SVG ids (byte-identical figure files)
from replication.data.tasks import get_task
from replication.screening import human_parsing
from replication.screening.cascade import STAGES, Screened


def parser_iou(iou: Mapping[str, float], size: int) -> plt.Figure:
    """The parser's IoU per LIP class (``scoring.score_parser``), the body parts the on-model rule
    counts (``human_parsing.ON_MODEL_GROUPS``) in red."""
    per_class = pd.Series({k: v for k, v in iou.items() if k != "mean"}, name="IoU")
    fig, ax = plt.subplots(figsize=(9, 3.5), constrained_layout=True)
    body = {name for group in human_parsing.ON_MODEL_GROUPS.values()
            for name in (human_parsing.LIP_NAMES[c] for c in group)}
    ax.bar(per_class.index, per_class.values,
           color=["#C44E52" if n in body else "#8C8C8C" for n in per_class.index])
    ax.set_ylim(0, 1)
    ax.set_ylabel("IoU vs truth")
    ax.set_title(f"Default parser ({size} px) on the validation length images: mean IoU "
                 f"{iou['mean']:.3f}; red: the body parts the rule counts")
    ax.tick_params(axis="x", rotation=45)
    return fig


def rule_threshold(share: np.ndarray, flat: np.ndarray, threshold: float) -> plt.Figure:
    """Histograms of the largest body-part group's share (stage 1's score) of flat-lays and
    on-model images by truth (``flat``), with the rule's ``threshold``."""
    share, flat = np.asarray(share), np.asarray(flat, dtype=bool)
    fig, ax = plt.subplots(figsize=(7, 3.2), constrained_layout=True)
    bins = np.linspace(0, max(0.05, float(share.max())), 30)
    ax.hist(share[flat], bins=bins, alpha=0.7, label="flat-lay (truth)")
    ax.hist(share[~flat], bins=bins, alpha=0.7, label="on-model (truth)")
    ax.axvline(threshold, color="black", linestyle="--", label="threshold")
    ax.set_xlabel("largest body-part group's share of the image (parser)")
    ax.set_ylabel("validation images")
    ax.legend()
    return fig


def classifier_stages(history: pd.DataFrame, title: str) -> plt.Figure:
    """The classifier's validation accuracy after each schedule stage, against the cascade's
    labels and (where measured) the truth, with the paper's three numbers (``history``:
    ``classifier.history_table`` indexed by ``stage``)."""
    fig, ax = plt.subplots(figsize=(7, 3.5), constrained_layout=True)
    ax.plot(history.index, history["val_acc_vs_cascade"], "o-", label="vs the cascade's labels")
    if "val_acc_vs_truth" in history:
        ax.plot(history.index, history["val_acc_vs_truth"], "s-", label="vs truth")
    paper = history["paper_acc"].dropna()
    ax.plot(paper.index, paper.values, "k*", markersize=12, label="the paper (§3.2)")
    ax.set_xticks(history.index)
    ax.set_xlabel("schedule stage")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig


def stage_view(stage_table: pd.DataFrame):
    """Precision, recall and accuracy per length dimension and stage, side by side
    (``stage_table``: ``scoring.validation_stage_scores`` as a DataFrame), for display."""
    return (stage_table.pivot(index="task", columns="stage",
                              values=["precision", "recall", "accuracy"])
            .reindex(columns=STAGES, level=1).style.format("{:.3f}", na_rep="-"))


def confusion(stage_table: pd.DataFrame) -> plt.Figure:
    """One confusion matrix per stage over all validation images (the ``all`` rows of
    ``stage_table``)."""
    fig, axes = plt.subplots(1, len(STAGES), figsize=(10, 3), constrained_layout=True)
    for ax, stage in zip(axes, STAGES):
        counts = stage_table[(stage_table["stage"] == stage)
                             & (stage_table["task"] == "all")].iloc[0]
        matrix = np.array([[counts["tn"], counts["fp"]], [counts["fn"], counts["tp"]]])
        ax.imshow(matrix, cmap="Blues")
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(j, i, int(v), ha="center", va="center", fontsize=12)
        ax.set_xticks([0, 1], ["on-model", "flat-lay"])
        ax.set_yticks([0, 1], ["on-model", "flat-lay"])
        ax.set_xlabel("screened as")
        ax.set_ylabel("truth")
        ax.set_title(f"{stage} (acc {counts['accuracy']:.2f})")
    return fig


def disagreements(root: Path, screened: Screened, val: np.ndarray,
                  truth: np.ndarray | None = None, *, limit: int = 8) -> plt.Figure | None:
    """Up to ``limit`` validation images (``val``, a mask over ``screened.images``) on which the
    three stages disagree, each captioned with every stage's verdict and (given) the truth; None
    where they agree on every one."""
    val = np.asarray(val, dtype=bool)
    images, tasks = np.asarray(screened.images)[val], np.asarray(screened.tasks)[val]
    stage1, stage2, stage3 = (screened.stage(s)[val] for s in STAGES)
    disagree = np.flatnonzero((stage1 != stage2) | (stage2 != stage3))[:limit]
    if not len(disagree):
        return None
    word = {True: "flat", False: "model"}
    captions = [f"{get_task(tasks[i]).short}: "
                + " / ".join(word[bool(v[i])] for v in (stage1, stage2, stage3))
                + (f"\ntruth {word[bool(truth[val][i])]}" if truth is not None else "")
                for i in disagree]
    return figures.sample_grid({"stage 1 / 2 / classifier": [
        (Path(root) / images[i], caption) for i, caption in zip(disagree, captions)]})


def claims_markdown(claims: Sequence[Mapping], *, profile: str, val_images: int) -> str:
    """The paper's claims beside the measured numbers (``scoring.paper_claims``) as a Markdown
    table, with what the profile's numbers can and cannot show."""
    return ("| claim (paper §3.2) | measured here | agrees? |\n|---|---|---|\n"
            + "".join(f"| {c['claim']} | {c['measured']} | {'yes' if c['agrees'] else 'no'} |\n"
                      for c in claims)
            + f"\nMeasured on the {profile} profile's validation split ({val_images} length "
            "images). The smoke profile trains tiny nets for seconds on a few hundred images: it "
            "checks that the cascade runs end to end and is scored; its numbers are not evidence "
            "about the paper's. The synthetic profile is the one whose numbers bear on the claims.")
