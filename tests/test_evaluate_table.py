"""The survey-wide metrics table: concatenation, repeats, clashes, bad inputs."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from galssl.errors import DataError
from galssl.metric_table import METRIC_COLUMNS, concat_metric_tables, metric_frame, metric_rows


def table(path, method: str, n_labels: int, value: float) -> str:
    metric_frame(metric_rows(method, "classes_logistic", n_labels, 42, "test",
                             {"accuracy": value, "macro_f1": value / 2})).to_parquet(path)
    return str(path)


def test_concat_sorts_drops_exact_repeats_and_keeps_types(tmp_path):
    paths = [table(tmp_path / "b.parquet", "simclr", 16, 0.5), table(tmp_path / "a.parquet", "moco", 16, 0.4),
             table(tmp_path / "c.parquet", "simclr", 16, 0.5)]  # c repeats b exactly (a capped label subset)
    out = concat_metric_tables(paths)
    assert list(out.columns) == METRIC_COLUMNS and len(out) == 4
    assert list(out["method"]) == ["moco", "moco", "simclr", "simclr"]
    assert list(out["metric"]) == ["accuracy", "macro_f1", "accuracy", "macro_f1"]
    assert out["n_labels"].dtype == "int64" and out["value"].tolist() == [0.4, 0.2, 0.5, 0.25]


def test_two_values_for_one_metric_is_an_error(tmp_path):
    paths = [table(tmp_path / "a.parquet", "simclr", 16, 0.5), table(tmp_path / "b.parquet", "simclr", 16, 0.6)]
    with pytest.raises(DataError, match="two different values for the same metric .*method=simclr"):
        concat_metric_tables(paths)


def test_cli_writes_parquet_and_csv_and_rejects_foreign_tables(tmp_path):
    good = table(tmp_path / "a.parquet", "mae", 32, 0.3)
    out, csv = tmp_path / "metrics.parquet", tmp_path / "metrics.csv"
    cli = [sys.executable, "-m", "galssl.cli", "concat-metrics"]
    done = subprocess.run([*cli, "--tables", good, "--out", str(out), "--csv", str(csv)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert pd.read_parquet(out).equals(pd.read_csv(csv).astype(pd.read_parquet(out).dtypes.to_dict()))
    pd.DataFrame({"method": ["x"], "value": [1.0]}).to_parquet(tmp_path / "foreign.parquet")
    bad = subprocess.run([*cli, "--tables", good, str(tmp_path / "foreign.parquet"),
                          "--out", str(tmp_path / "x.parquet")], capture_output=True, text=True)
    assert bad.returncode == 1 and "lacks column(s) task, n_labels, seed, split, metric" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.parquet").exists()
