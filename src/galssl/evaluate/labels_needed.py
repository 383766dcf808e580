"""How many labels each method needs to reach the supervised baseline's full-data score.

Target: per metric (accuracy, balanced accuracy, macro F1), the test score of the supervised baseline trained from
scratch at its largest N — the ``supervised`` pretraining run on every labelled train galaxy, scored with its own
head (task ``classes_head`` of ``supervised_from_scratch``; mean over the rows at that N).

For every (method, classifier, metric) curve, the seed-mean test score at each N = 2^k: ``n_labels_grid`` is the
smallest grid N whose mean reaches the target; ``n_labels_needed`` interpolates linearly in log2 N between that
point and the grid point below it (where the curve first crosses the target), and equals ``n_labels_grid`` when
the smallest N tried already reaches it (no extrapolation below the grid). Never reached: NaN, ``reached`` false.

``saw_labels`` flags the encoders whose pretraining used the class labels (the supervised baseline, GalaxAlign): their
N counts only the probe's labels, not the ones they were trained on. False for self-supervised methods and
``pixels_pca``; unknown (NA) for external encoders.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from galssl.errors import DataError
from galssl.evaluate.label_efficiency import labels_needed
from galssl.labelspec import CLASS_METHODS
from galssl.metric_table import concat_metric_tables

REFERENCE = "supervised_from_scratch"
COLUMNS = ["method", "classifier", "metric", "target", "n_labels_needed", "n_labels_grid", "reached", "saw_labels"]
SELF_SUPERVISED = ("simclr", "moco", "mae", "pixels_pca")
"""Embeddings made without any label (``pixels_pca`` is fitted on pixels alone)."""


def saw_labels(method: str) -> bool | None:
    """Whether the encoder behind ``method`` was trained on the class labels; None when galssl cannot know (an
    external encoder)."""
    if method in CLASS_METHODS or method == REFERENCE:
        return True
    return False if method in SELF_SUPERVISED else None


def reference_targets(table: pd.DataFrame, reference: str = REFERENCE) -> dict[str, float]:
    """Per metric, the reference's mean test score at its largest N (its full-data run)."""
    rows = table[(table["method"] == reference) & (table["split"] == "test")]
    if rows.empty:
        raise DataError(f"no test rows of {reference!r} in the label-efficiency tables; switch on "
                        "probes.label_efficiency.supervised_from_scratch and give its label_efficiency.parquet")
    full = rows[rows["n_labels"] == rows["n_labels"].max()]
    return full.groupby("metric")["value"].mean().to_dict()


def crossing(n_labels: np.ndarray, mean: np.ndarray, target: float) -> float:
    """N where a curve (sorted by N) first reaches ``target``, interpolated in log2 N; NaN if never."""
    above = np.flatnonzero(mean >= target)
    if len(above) == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(n_labels[0])
    low, high = np.log2(n_labels[i - 1]), np.log2(n_labels[i])
    share = (target - mean[i - 1]) / (mean[i] - mean[i - 1])
    return float(2.0 ** (low + share * (high - low)))


def labels_needed_table(table: pd.DataFrame, reference: str = REFERENCE) -> pd.DataFrame:
    """One row per (method, classifier, metric) of the class tasks (``classes_<classifier>``) on test."""
    targets = reference_targets(table, reference)
    rows = table[(table["split"] == "test") & table["task"].str.startswith("classes_")
                 & table["metric"].isin(list(targets)) & table["value"].notna()]
    out = []
    for metric, target in sorted(targets.items()):
        part = rows[rows["metric"] == metric]
        grid = labels_needed(part, target, metric).set_index(["method", "task"])["n_labels_needed"]
        means = part.groupby(["method", "task", "n_labels"])["value"].mean()
        for (method, task), curve in means.groupby(level=["method", "task"]):
            n = curve.index.get_level_values("n_labels").to_numpy(dtype=float)
            needed = crossing(n, curve.to_numpy(dtype=float), target)
            out.append({"method": method, "classifier": task.removeprefix("classes_"), "metric": metric,
                        "target": float(target), "n_labels_needed": needed,
                        "n_labels_grid": float(grid[(method, task)]), "reached": bool(np.isfinite(needed)),
                        "saw_labels": saw_labels(method)})
    frame = pd.DataFrame(out, columns=COLUMNS).astype({"saw_labels": "boolean"})
    return frame.sort_values(["metric", "method", "classifier"], kind="stable").reset_index(drop=True)


def labels_needed_from_tables(paths: Sequence[str | os.PathLike], reference: str = REFERENCE) -> pd.DataFrame:
    """Read label-efficiency tables (tidy metric columns checked) and build the labels-needed table."""
    return labels_needed_table(concat_metric_tables(list(paths)), reference)
