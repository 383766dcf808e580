"""The tidy metrics table: one row per number, written by every results stage and gathered survey-wide into one
Parquet (and CSV) file.

Columns (``METRIC_COLUMNS``): method, task, n_labels, seed, split, metric, value — readable by pandas or polars
without galssl. Rows of the survey-wide table are sorted, so the same inputs give a byte-identical file.
"""

from __future__ import annotations

import os

import pandas as pd

from galssl.errors import DataError
from galssl.io import write_parquet_atomic, write_text_atomic

METRIC_COLUMNS = ["method", "task", "n_labels", "seed", "split", "metric", "value"]
"""Columns of every tidy metrics table (the survey-wide results/{survey}/metrics.parquet gathers them)."""


def metric_rows(method: str, task: str, n_labels: int, seed: int, split: str,
                values: dict[str, float]) -> list[dict]:
    """Tidy rows (one per metric) in the METRIC_COLUMNS layout."""
    return [{"method": method, "task": task, "n_labels": int(n_labels), "seed": int(seed), "split": split,
             "metric": metric, "value": float(value)} for metric, value in values.items()]


def metric_frame(rows: list[dict]) -> pd.DataFrame:
    """A tidy metrics table with fixed column order and dtypes (also when empty)."""
    frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    return frame.astype({"method": str, "task": str, "n_labels": "int64", "seed": "int64", "split": str,
                         "metric": str, "value": "float64"})


def concat_metric_tables(paths: list[str | os.PathLike]) -> pd.DataFrame:
    """All rows of the given tidy tables, exact repeats dropped (e.g. label subsets capped at the same N)."""
    frames = []
    for path in paths:
        frame = pd.read_parquet(path)
        missing = [column for column in METRIC_COLUMNS if column not in frame.columns]
        if missing:
            raise DataError(f"metrics table {path} lacks column(s) {', '.join(missing)}; "
                            f"expected {', '.join(METRIC_COLUMNS)}")
        frames.append(frame[METRIC_COLUMNS])
    table = metric_frame([]) if not frames else metric_frame(pd.concat(frames).to_dict("records"))
    table = table.drop_duplicates().sort_values(METRIC_COLUMNS[:-1], kind="stable").reset_index(drop=True)
    keys = METRIC_COLUMNS[:-1]
    clash = table[table.duplicated(keys, keep=False)]
    if len(clash):
        row = clash.iloc[0]
        raise DataError(f"two different values for the same metric ({', '.join(f'{k}={row[k]}' for k in keys)}); "
                        "two rules wrote the same row")
    return table


def write_metric_table(table: pd.DataFrame, out: str | os.PathLike, csv: str | os.PathLike | None = None) -> None:
    """Write the table atomically as Parquet and, when asked, as CSV."""
    write_parquet_atomic(table, out)
    if csv is not None:
        write_text_atomic(csv, table.to_csv(index=False, float_format="%.6g"))
