"""The "best" self-supervised method: the highest val score of one frozen class probe in the probe tables.

Model selection never looks at test: the score is the probe's val-split value (``split == "val"``), e.g. the
logistic probe's val accuracy in ``results/{survey}/{embedding}/probes/metrics.parquet``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from galssl.errors import DataError
from galssl.metric_table import concat_metric_tables


def probe_scores(table: pd.DataFrame, probe: str = "logistic", metric: str = "accuracy",
                 split: str = "val") -> pd.Series:
    """Mean ``metric`` of task ``classes_<probe>`` on ``split`` per method, sorted by method name."""
    rows = table[(table["task"] == f"classes_{probe}") & (table["split"] == split) & (table["metric"] == metric)]
    return rows.groupby("method")["value"].mean().sort_index()


def choose_best_method(table: pd.DataFrame, candidates: Sequence[str], probe: str = "logistic",
                       metric: str = "accuracy", split: str = "val") -> tuple[str, dict[str, float]]:
    """(method with the highest score, score of every candidate); ties go to the first name in sorted order.

    A candidate without a ``classes_<probe>`` row on ``split`` is a DataError naming it.
    """
    scores = probe_scores(table, probe, metric, split)
    missing = [method for method in candidates if method not in scores.index]
    if missing:
        raise DataError(f"no {split} {metric} of probe classes_{probe} for method {missing[0]!r} in the probe "
                        f"tables; is {probe!r} in probes.classifiers?")
    chosen = {method: float(scores[method]) for method in sorted(candidates)}
    best = max(chosen, key=lambda method: (chosen[method], -sorted(chosen).index(method)))
    return best, chosen


def choose_from_tables(paths: Sequence[str | os.PathLike], candidates: Sequence[str], probe: str = "logistic",
                       metric: str = "accuracy", split: str = "val") -> dict:
    """Read the probe tables (tidy metric columns checked) and return the JSON-able choice:
    ``{"best", "scores", "probe", "metric", "split"}``."""
    best, scores = choose_best_method(concat_metric_tables(list(paths)), candidates, probe, metric, split)
    return {"best": best, "scores": scores, "probe": probe, "metric": metric, "split": split}
