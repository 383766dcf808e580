"""Probe figures: confusion matrices, predicted vs volunteer vote fractions, label-efficiency curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from galssl import metrics
from galssl.errors import DataError

SUPERVISED_FROM_SCRATCH = "supervised_from_scratch"
"""Method name of the encoder trained end-to-end on N labels (a reference curve, drawn in every panel)."""
LEGEND_NOTES = {"supervised": "supervised (probe; encoder saw all labels)",
                SUPERVISED_FROM_SCRATCH: "supervised from scratch on N labels"}
"""Legend text of the two supervised references, which a bare method name would leave ambiguous."""


def method_style(method: str, index: int) -> dict:
    """Line style of a method: the from-scratch baseline black dashed, the pixel-PCA floor grey dotted, the
    supervised-pretrained encoder black, every self-supervised method its own colour."""
    if method == SUPERVISED_FROM_SCRATCH:
        return {"color": "black", "linestyle": "--", "marker": "s", "linewidth": 2.0}
    if method == "pixels_pca":
        return {"color": "0.55", "linestyle": ":", "marker": "x", "linewidth": 1.5}
    if method == "supervised":
        return {"color": "black", "linestyle": "-", "marker": "D", "linewidth": 1.6}
    return {"color": f"C{index % 10}", "linestyle": "-", "marker": "o", "linewidth": 1.6}


def ordered_methods(methods: Sequence[str]) -> list[str]:
    """Self-supervised methods first (sorted), then supervised, pixels_pca and the from-scratch baseline."""
    tail = ["supervised", "pixels_pca", SUPERVISED_FROM_SCRATCH]
    return sorted(m for m in set(methods) if m not in tail) + [m for m in tail if m in set(methods)]


def confusion_figure(predictions: pd.DataFrame, names: Mapping[int, str] | None = None,
                     title: str = "") -> plt.Figure:
    """One row-normalised confusion matrix per probe (test split), with accuracy, balanced accuracy and macro F1 in
    each title."""
    if predictions.empty:
        raise DataError("class-probe predictions are empty: no test galaxy with a class label")
    probes = list(dict.fromkeys(predictions["probe"]))
    classes = np.unique(np.concatenate([predictions["true_class"], predictions["predicted_class"]]).astype(int))
    labels = [(names or {}).get(int(c), str(c)) for c in classes]
    size = max(3.8, 0.42 * len(classes) + 1.8)
    fig, axes = plt.subplots(1, len(probes), figsize=((size - 1.0) * len(probes) + 3.0, size + 1.9), squeeze=False)
    fig.subplots_adjust(left=0.12, right=0.92, bottom=0.22, top=0.83, wspace=0.08)
    for index, (ax, probe) in enumerate(zip(axes[0], probes)):
        rows = predictions[predictions["probe"] == probe]
        counts = metrics.confusion(rows["true_class"], rows["predicted_class"], classes)
        totals = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, totals, out=np.zeros_like(counts, dtype=float), where=totals > 0)
        image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(classes)):
            for j in range(len(classes)):
                if counts[i, j]:
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if share[i, j] > 0.6 else "black")
        ax.set_xticks(range(len(classes)), labels, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(classes)), labels if index == 0 else [], fontsize=7)
        ax.set(xlabel="predicted class", ylabel="true class" if index == 0 else "")
        scores = metrics.class_metrics(rows["true_class"], rows["predicted_class"])
        ax.set_title(f"{probe}\naccuracy {scores['accuracy']:.3f}, macro F1 {scores['macro_f1']:.3f}\n"
                     f"balanced accuracy {scores['balanced_accuracy']:.3f}", fontsize=9)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.7, pad=0.015, label="share of the true class")
    fig.suptitle(title or "class probes (test split; numbers are counts)")
    return fig


def vote_fraction_figure(predictions: pd.DataFrame, title: str = "") -> plt.Figure:
    """Grid, one panel per Galaxy Zoo question: predicted vs volunteer vote fraction of each answer (test split);
    dotted lines mark the high-quality cuts 0.2 and 0.8."""
    if predictions.empty:  # every question was skipped (too few voted galaxies): say so rather than fail the run
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no Galaxy Zoo question had train and test galaxies with enough votes\n"
                "(see probes.min_votes and the probes log)", ha="center", va="center")
        fig.suptitle(title or "Galaxy Zoo vote-fraction probes (test split)")
        return fig
    questions = list(dict.fromkeys(predictions["question"]))
    n_cols = min(4, len(questions))
    n_rows = -(-len(questions) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.3 * n_cols, 3.3 * n_rows), squeeze=False)
    for ax, question in zip(axes.flat, questions):
        rows = predictions[predictions["question"] == question]
        for k, answer in enumerate(dict.fromkeys(rows["answer"])):
            part = rows[rows["answer"] == answer]
            rmse = float(np.sqrt(np.mean((part["predicted_fraction"] - part["true_fraction"]) ** 2)))
            ax.scatter(part["true_fraction"], part["predicted_fraction"], s=4, alpha=0.35, color=f"C{k}",
                       label=f"{answer} (rmse {rmse:.2f})", rasterized=True)
        ax.plot([0, 1], [0, 1], color="black", lw=0.8)
        for cut in (metrics.CONFIDENT_LOW, metrics.CONFIDENT_HIGH):
            ax.axvline(cut, color="0.6", lw=0.6, ls=":")
        ax.set(xlim=(0, 1), ylim=(0, 1), title=f"{question} (n={rows['object_id'].nunique()})")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=6, loc="upper left", markerscale=2, frameon=False)
    for ax in axes.flat[len(questions):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("volunteer vote fraction")
    for ax in axes[:, 0]:
        ax.set_ylabel("predicted vote fraction")
    fig.suptitle(title or "Galaxy Zoo vote-fraction probes (test split)")
    fig.tight_layout()
    return fig


METRIC_AXIS_LABELS = {"balanced_accuracy": "test balanced accuracy\n(mean recall per class)",
                      "macro_f1": "test macro F1", "accuracy": "test accuracy"}
"""Y-axis label of each metric of the label-efficiency figure."""


def label_efficiency_figure(table: pd.DataFrame, title: str = "",
                            metric_names: Sequence[str] = ("balanced_accuracy", "macro_f1")) -> plt.Figure:
    """Metric vs number of labels (log2 axis), mean ± standard deviation over seeds, one line per method; one
    column per probe task, one row per metric present (default: balanced accuracy and macro F1, which a majority
    guess cannot flatter as it does accuracy). Rows of ``supervised_from_scratch`` (any task) are drawn in every
    column."""
    if table.empty:
        raise DataError("label-efficiency table is empty")
    reference = table[table["method"] == SUPERVISED_FROM_SCRATCH]
    probes = table[table["method"] != SUPERVISED_FROM_SCRATCH]
    order = {f"classes_{kind}": rank for rank, kind in enumerate(("logistic", "knn", "mlp"))}
    tasks = sorted(probes["task"].unique(), key=lambda task: (order.get(task, 99), task))
    tasks = tasks or sorted(reference["task"].unique())
    wanted, metric_names = metric_names, [m for m in metric_names if m in set(table["metric"])]
    if not metric_names:
        raise DataError(f"label-efficiency table has none of the metrics {', '.join(wanted)}")
    methods = ordered_methods(table["method"].unique())
    fig, axes = plt.subplots(len(metric_names), len(tasks), figsize=(4.6 * len(tasks), 3.6 * len(metric_names)),
                             squeeze=False)
    for row, metric in enumerate(metric_names):
        for col, task in enumerate(tasks):
            ax = axes[row, col]
            for index, method in enumerate(methods):
                source = reference if method == SUPERVISED_FROM_SCRATCH else probes[probes["task"] == task]
                part = source[(source["method"] == method) & (source["metric"] == metric)]
                if part.empty:
                    continue
                stats = part.groupby("n_labels")["value"].agg(["mean", "std"]).fillna(0.0)
                ax.errorbar(stats.index, stats["mean"], yerr=stats["std"], capsize=2.5, markersize=4,
                            label=method, **method_style(method, index))
            ax.set_xscale("log", base=2)
            ax.grid(alpha=0.3)
            ax.set(xlabel="labelled train galaxies N", ylabel=METRIC_AXIS_LABELS.get(metric, f"test {metric}"))
            if row == 0:
                ax.set_title(task.replace("classes_", "probe: "))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    # Say which reference is which: the supervised encoder saw every train label, the from-scratch runs only N.
    labels = [LEGEND_NOTES.get(label, label) for label in labels]
    ncol = max(1, min(len(labels), 2 * len(tasks)))  # about two entries per panel width: none clipped at the edges
    legend_rows = -(-len(labels) // ncol)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize=8)
    fig.suptitle(title or "label efficiency (mean ± std over seeds)")
    fig.tight_layout(rect=(0, 0.02 + 0.035 * legend_rows * 2 / len(metric_names), 1, 1))
    return fig
