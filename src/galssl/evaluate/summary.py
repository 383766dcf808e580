"""The survey's metrics table as a readable HTML page for the Snakemake report.

The tidy table (method, task, n_labels, seed, split, metric, value) is what scripts read; a reader of the report
wants one row per method with the headline numbers side by side, and the whole tidy table below it. The page is
plain HTML with inline CSS (no script, no network), so it shows the same inside the report and from ``file://``.
pandas renders the tables; only the headline selection is galssl's.
"""

from __future__ import annotations

import html
import os

import numpy as np
import pandas as pd

from galssl.errors import DataError
from galssl.io import write_text_atomic
from galssl.metric_table import METRIC_COLUMNS

# Headline columns: (task, metric, column title, best: "max", "min" or "zero" = smallest |value|). Test split, the
# most labels the task used (label-efficiency and training-fraction rows share task names with fewer labels), mean
# over seeds.
HEADLINE: tuple[tuple[str, str, str, str], ...] = (
    ("classes_logistic", "accuracy", "logistic acc", "max"),
    ("classes_logistic", "balanced_accuracy", "logistic bal. acc", "max"),
    ("classes_logistic", "macro_f1", "logistic F1", "max"),
    ("classes_knn", "accuracy", "kNN acc", "max"),
    ("classes_knn", "balanced_accuracy", "kNN bal. acc", "max"),
    ("classes_mlp", "accuracy", "MLP acc", "max"),
    ("classes_mlp", "balanced_accuracy", "MLP bal. acc", "max"),
    ("finetune_classes", "accuracy", "fine-tuned acc", "max"),
    ("finetune_classes", "balanced_accuracy", "fine-tuned bal. acc", "max"),
    ("gz_mean", "auc", "GZ mean AUC", "max"),
    ("photoz", "sigma_mad", "photo-z σ_MAD", "min"),
    ("photoz", "eta", "photo-z η %", "min"),
    ("photoz", "bias", "photo-z bias", "zero"),
    ("finetune_photoz", "sigma_mad", "fine-tuned σ_MAD", "min"),
    ("similarity_search", "map@5", "mAP@5", "max"),
    ("similarity_search", "map", "mAP", "max"),
    ("zero_shot", "accuracy", "zero-shot acc", "max"),
    ("zero_shot", "balanced_accuracy", "zero-shot bal. acc", "max"),
    ("embedding", "umap_stationarity", "UMAP stationarity", "min"),
    ("sae", "fraction_features_aligned", "SAE aligned", "max"),
    ("pca", "fraction_features_aligned", "PCA aligned", "max"),
)

STYLE = """
body { font-family: system-ui, sans-serif; font-size: 13px; margin: 12px; color: #222; }
table { border-collapse: collapse; margin-bottom: 16px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
td.best { font-weight: bold; background: #e6f4e6; }
caption { text-align: left; font-weight: bold; margin-bottom: 4px; }
"""


def headline_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per method, one column per headline metric present (test split, most labels, mean over seeds)."""
    missing = [column for column in METRIC_COLUMNS if column not in table.columns]
    if missing:
        raise DataError(f"metrics table lacks column(s) {', '.join(missing)}; expected {', '.join(METRIC_COLUMNS)}")
    test = table[table["split"] == "test"]
    most = test.groupby(["method", "task", "metric"])["n_labels"].transform("max")
    test = test[test["n_labels"] == most]
    votes = test[test["task"].str.startswith("gz_") & (test["metric"] == "auc")]
    gz_mean = votes.groupby("method", as_index=False)["value"].mean().assign(task="gz_mean", metric="auc")
    test = pd.concat([test, gz_mean], ignore_index=True)
    columns = {}
    for task, metric, title, _ in HEADLINE:
        rows = test[(test["task"] == task) & (test["metric"] == metric)]
        if len(rows):
            columns[title] = rows.groupby("method")["value"].mean()
    return pd.DataFrame(columns).rename_axis("method").sort_index()


def _format(value: float) -> str:
    return "" if not np.isfinite(value) else f"{value:.4g}"


def headline_html(summary: pd.DataFrame) -> str:
    """The headline table as HTML, the best value of each column in bold (per HEADLINE's direction)."""
    direction = {title: best for _, _, title, best in HEADLINE}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["method", *summary.columns])
    pick = {"max": lambda v: v.max(), "min": lambda v: v.min(), "zero": lambda v: v[v.abs() == v.abs().min()].iloc[0]}
    best = {c: pick[direction[c]](summary[c].dropna()) if summary[c].notna().any() else np.nan
            for c in summary.columns}
    body = []
    for method, row in summary.iterrows():
        cells = [f"<td>{html.escape(str(method))}</td>"]
        for column, value in row.items():
            mark = ' class="best"' if np.isfinite(value) and value == best[column] and len(summary) > 1 else ""
            cells.append(f"<td{mark}>{_format(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def metrics_page(table: pd.DataFrame, title: str) -> str:
    """A self-contained HTML page: the headline table, then every row of the tidy table."""
    summary = headline_table(table)
    tidy = table[METRIC_COLUMNS].to_html(index=False, na_rep="", float_format=lambda v: f"{v:.6g}", border=0)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h2>{html.escape(title)}</h2>"
            "<p>Test split, the most labels each task used, mean over seeds; bold = best of the column. "
            "Columns absent from the run are left out.</p>"
            f"{headline_html(summary)}"
            f"<details><summary>Every row of the tidy table ({len(table)} rows: method, task, n_labels, seed, "
            f"split, metric, value)</summary>{tidy}</details></body></html>")


def write_metrics_page(table_path: str | os.PathLike, out: str | os.PathLike, title: str) -> pd.DataFrame:
    """Read the survey's tidy metrics Parquet, write the HTML page atomically; returns the headline table."""
    table = pd.read_parquet(table_path)
    write_text_atomic(out, metrics_page(table, title))
    return headline_table(table)
