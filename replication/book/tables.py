"""The tables the chapters show their reader (the claims table is ``claims.markdown``'s).

A chapter computes its numbers with ``experiments`` and ``metric``; the functions here only lay
those numbers out (a ``pandas.DataFrame`` to display, or Markdown), so that a page holds its
narrative and its claims, not the code that formats them. Nothing here computes a number that
a chapter records.
"""

from __future__ import annotations

from typing import Any, Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from replication.data.tasks import TASKS, Task

SCORE_COLUMNS = {"acc": "acc", "mAP": "mAP", "BasicPrecision": "basic_precision"}
"""Column of a score table -> key of a ``metric.score`` result (§4: eq. 8's accuracy, the
official mAP and the BasicPrecision)."""


# --------------------------------------------------------------------------- words


def interval(gap: Mapping[str, float]) -> str:
    """A bootstrap gap in words: ``gap +0.012, 95 % interval -0.010 to +0.031``."""
    return f"gap {gap['gap']:+.3f}, 95 % interval {gap['low']:+.3f} to {gap['high']:+.3f}"


# --------------------------------------------------------------------------- scores


def score_table(scores: Mapping[Hashable, Mapping[str, Any]], *, index: str,
                extra: Mapping[str, Mapping[Hashable, Any]] | None = None) -> pd.DataFrame:
    """One row per model (``scores``: key -> ``metric.score`` result): acc, mAP and
    BasicPrecision, then the ``extra`` columns (column name -> key -> value)."""
    extra = extra or {}
    return pd.DataFrame([
        {index: key, **{column: s[name] for column, name in SCORE_COLUMNS.items()},
         **{column: values[key] for column, values in extra.items()}}
        for key, s in scores.items()
    ]).set_index(index)


def styled(frame: pd.DataFrame, formats: Mapping[str, str] | None = None):
    """``frame`` for display: floats to three decimals, integers with thousands separators,
    ``formats`` (column -> format) over both."""
    default = {column: "{:,}" if pd.api.types.is_integer_dtype(frame[column]) else "{:.3f}"
               for column in frame.columns if pd.api.types.is_numeric_dtype(frame[column])}
    return frame.style.format({**default, **(formats or {})}, na_rep="-")


def dimension_table(scores: Mapping[str, Any], tasks: Sequence[Task] = TASKS) -> pd.DataFrame:
    """One model's ``metric.score`` per dimension: level, AP, acc and the number of images."""
    return pd.DataFrame([
        {"dimension": t.short, "level": t.level, "AP": scores["tasks"][t.key]["ap"],
         "acc": scores["tasks"][t.key]["acc"], "images": scores["tasks"][t.key]["n"]}
        for t in tasks
    ]).set_index("dimension")


def dimensions_by_model(scores: Mapping[str, Mapping[str, Any]],
                        tasks: Sequence[Task]) -> pd.DataFrame:
    """Several models' acc and AP per dimension: rows the dimensions, columns
    ``(measure, model)`` (chapter 5's single- and dual-channel models)."""
    table = pd.DataFrame([
        {"dimension": t.short, "model": name, "acc": s["tasks"][t.key]["acc"],
         "AP": s["tasks"][t.key]["ap"]}
        for t in tasks for name, s in scores.items()])
    return table.pivot(index="dimension", columns="model", values=["acc", "AP"]).reindex(
        [t.short for t in tasks])


def training_table(logs: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]],
                   names: Mapping[str, str]) -> pd.DataFrame:
    """The last epoch of each trained model (``experiments.training_logs``), base nets shown by
    their ``names``."""
    return pd.DataFrame([
        {"level": level, "base net": names[backbone], "epochs": len(log),
         "train loss (last epoch)": log[-1]["loss"], "val acc (last epoch)": log[-1].get("val_acc")}
        for (level, backbone), log in logs.items()
    ])


# --------------------------------------------------------------------------- the data (chapter 1)


def per_task_table(report: Mapping[str, Any],
                   flat_share: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Per dimension, from ``fashionai.validate``'s report: level, number of values and images,
    the share of rows with an ``m``, the share labelled *Invisible*, and the flat-lay share
    (``flat_share``: task key -> share, from the synthetic truth; NaN without one)."""
    def share(count: int, rows: int) -> float:
        return count / rows if rows else float("nan")

    return pd.DataFrame([
        {"dimension": t.short, "level": t.level, "values": t.n_values,
         "images": report["tasks"][t.key]["rows"],
         "m rate": share(report["tasks"][t.key]["maybe_rows"], report["tasks"][t.key]["rows"]),
         "Invisible share": share(report["tasks"][t.key]["values"][0],
                                  report["tasks"][t.key]["rows"]),
         "flat-lay share": (flat_share or {}).get(t.key, float("nan"))}
        for t in TASKS
    ]).set_index("dimension")


def problems_table(problems: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Skipped rows of ``label.csv`` as ``fashionai.validate`` reports them: file, row, kind and
    message."""
    return pd.DataFrame(list(problems), columns=["file", "row", "kind", "message"])


def channel_stats_table(stats, paper_mean: Sequence[float],
                        paper_std_as_printed: Sequence[float]) -> pd.DataFrame:
    """The paper's per-channel numbers (§3.1.2 (1)) beside the measured mean, standard deviation
    and variance (``normalisation.ChannelStats``); rows the quantities, columns R, G, B."""
    printed = np.asarray(paper_std_as_printed, dtype=float)
    return pd.DataFrame(
        {
            "paper: mean": np.asarray(paper_mean, dtype=float),
            "paper: 'std' as printed": printed,
            "paper: sqrt('std')": np.sqrt(printed),
            "measured: mean": stats.mean,
            "measured: std": stats.std,
            "measured: variance": stats.var,
        },
        index=["R", "G", "B"],
    ).T


# --------------------------------------------------------------------------- chapters 3 and 5


def augmenters_table(augmenters: Sequence[str], paper_set: Sequence[str],
                     parameters: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Each augmenter (``augmentation.AUGMENTERS``), whether it is in the paper's set, and its
    settings (``augmentation.PARAMETERS``)."""
    return pd.DataFrame([
        {"augmenter": name, "in the paper's set": name in paper_set,
         "settings": ", ".join(f"{k} {v}" for k, v in parameters[name].items())}
        for name in augmenters]).set_index("augmenter")


def domains_table(flags: Mapping[str, Any], splits: Mapping[str, Sequence]) -> pd.DataFrame:
    """How many images of each split the flags of each source call flat-lay and on-model
    (``flags``: source -> ``FlatFlags``; ``splits``: name -> rows); index (flags, split)."""
    records = []
    for source, flag in flags.items():
        for name, rows in splits.items():
            flat = int(flag([row.image for row in rows]).sum())
            records.append({"flags": source, "split": name, "flat-lay": flat,
                            "on-model": int(len(rows) - flat)})
    return pd.DataFrame(records).set_index(["flags", "split"])


def budget_table(models: Sequence[str], *, trained_epochs: int, frozen_epochs: int) -> pd.DataFrame:
    """Chapter 5's training budget per model: epochs with the base net training, then epochs
    with it frozen (the single model's heads, the fusion's new layers)."""
    return pd.DataFrame([
        {"model": name, "base-net epochs over the training images": trained_epochs,
         "epochs with frozen base nets (heads / fusion)": frozen_epochs}
        for name in models]).set_index("model")


def schedule_text(schedule: Sequence[Mapping[str, Any]]) -> str:
    """A schedule in one line for a table or a sentence: ``Adam 0.002 x 3, SGD 0.001 x 1`` (rate,
    epochs; ``frozen`` / ``top 50 %`` where not all of the base net trains)."""
    parts = []
    for stage in schedule:
        share = float(stage.get("train_backbone", 1.0))
        trains = "" if share == 1.0 else " frozen" if share == 0.0 else f" top {share:.0%}"
        parts.append(f"{'SGD' if stage['optimizer'] == 'sgd' else 'Adam'} "
                     f"{float(stage['learning_rate']):g} x {int(stage['epochs'])}{trains}")
    return ", ".join(parts)


def curve_table(curves: Mapping[str, Sequence[Mapping[str, float]]], *,
                index: str = "arm") -> pd.DataFrame:
    """Validation numbers after each epoch, one row per (arm, epoch) (``curves``: arm ->
    ``[{"epoch", "loss", "acc", "mAP"}, ...]``, as ``training_ablations.Curve.scores`` gives)."""
    return pd.DataFrame([{index: arm, **row} for arm, rows in curves.items() for row in rows]
                        ).set_index([index, "epoch"])
