"""Notebook 04's figures, tables and claim records (paper §3.2, the flat-lay / on-model
screening): one function per figure; the chapter passes its numbers and saves the figure with
``results.save_figure``. What they show is computed by the screening package
(``replication.screening.scoring``); :func:`paper_claims` turns its per-image evidence into the
book's claim records (``replication.book.claims``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from replication.book import claims
from replication.book import figures  # also fixes the SVG ids (byte-identical figure files)
from replication.data import metric
from replication.data.tasks import get_task
from replication.screening import human_parsing, scoring
from replication.screening.classifier import PAPER_CLASSIFIER_ACCURACY
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


def rule_threshold(share: np.ndarray, flat: np.ndarray, threshold: float, *,
                   images: str) -> plt.Figure:
    """Histograms of the largest body-part group's share (stage 1's score) of flat-lays and
    on-model images by truth (``flat``), with the rule's ``threshold``; ``images`` names them
    (the axis label: ``calibration images``)."""
    share, flat = np.asarray(share), np.asarray(flat, dtype=bool)
    fig, ax = plt.subplots(figsize=(7, 3.2), constrained_layout=True)
    bins = np.linspace(0, max(0.05, float(share.max())), 30)
    ax.hist(share[flat], bins=bins, alpha=0.7, label="flat-lay (truth)")
    ax.hist(share[~flat], bins=bins, alpha=0.7, label="on-model (truth)")
    ax.axvline(threshold, color="black", linestyle="--", label="threshold")
    ax.set_xlabel("largest body-part group's share of the image (parser)")
    ax.set_ylabel(images)
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


SECTION = "§3.2"
STAGE1_CLAIM = "stage 1 leaves flat-lays among its on-model images"
RESCREEN_CLAIM = "the re-screen (stage 2) removes such flat-lays"


def classifier_claim(stage: int) -> str:
    """The claim that the classifier reaches the paper's accuracy after schedule stage ``stage``
    (``classifier.PAPER_CLASSIFIER_ACCURACY``)."""
    return (f"the classifier reaches accuracy {PAPER_CLASSIFIER_ACCURACY[stage]:g} after stage "
            f"{stage} of its schedule")


def paper_claims(screened: Screened, val: np.ndarray, truth: np.ndarray | None,
                 predictions: Mapping[int, np.ndarray], *, seed: int) -> list[dict]:
    """§3.2's claims as claim records (``replication.book.claims``), measured on the validation
    images (``val``, a mask over ``screened.images``), each with the 95 % bootstrap interval of
    its per-image evidence (``metric.bootstrap_mean``, seeded):

    - stage 1 leaves flat-lays among its on-model images: the share of flat-lays among them
      (``scoring.stage1_leftovers``), yes when its interval lies above 0;
    - the re-screen removes them: flat-lays left on-model by stage 1 minus by stage 2 per image
      (``scoring.rescreen_removals``), yes when its interval lies above 0;
    - the classifier reaches the paper's accuracy after stages 1, 3 and 5 (0.9024, 0.9411,
      0.957): its accuracy against the cascade's labels after that stage
      (``scoring.classifier_correct`` of ``predictions``, ``classifier.stage_predictions``),
      decided by ``claims.reaches``; a stage the schedule lacks is left out.

    Without ``truth`` (the real data) the first two cannot be measured: undecided, said so."""
    records = []
    evidence = {STAGE1_CLAIM: (scoring.stage1_leftovers, "many flat-lays left",
                               "share of flat-lays among stage 1's on-model images"),
                RESCREEN_CLAIM: (scoring.rescreen_removals, "removes them",
                                 "(flat-lays left on-model by stage 1 - by stage 2) / images")}
    for claim, (per_image, paper, quantity) in evidence.items():
        if truth is None:
            records.append(claims.record(SECTION, claim, paper=paper, quantity=quantity,
                                         measured="no truth to measure it", verdict="undecided"))
            continue
        mean = metric.bootstrap_mean(per_image(screened, val, truth), seed=seed)
        records.append(claims.record(SECTION, claim, paper=paper, quantity=quantity,
                                     measured=mean["value"], interval=[mean["low"], mean["high"]],
                                     verdict=claims.decide(mean["low"], mean["high"])))
    for stage, paper in PAPER_CLASSIFIER_ACCURACY.items():
        if stage not in predictions:
            continue
        mean = metric.bootstrap_mean(
            scoring.classifier_correct(predictions[stage], screened, val), seed=seed)
        records.append(claims.reaches(SECTION, classifier_claim(stage), mean["value"],
                                      [mean["low"], mean["high"]], paper=paper,
                                      quantity="accuracy vs the cascade's labels"))
    return records


def claims_note(*, profile: str, val_images: int) -> str:
    """What the claims table's numbers can and cannot show, for under the table."""
    return (f"Measured on the {profile} profile's validation split ({val_images} length images), "
            "which calibrated nothing; intervals are 95 % bootstrap intervals over its images. "
            "The smoke profile trains tiny nets for seconds on a few hundred images: it checks "
            "that the cascade runs end to end and is scored; its numbers are not evidence about "
            "the paper's. The synthetic profile is the one whose numbers bear on the claims.")
