"""The metrics page: headline numbers per method from the tidy table, best per column, the whole table below."""

from __future__ import annotations

import pandas as pd
import pytest

from galssl.errors import DataError
from galssl.evaluate.summary import headline_table, metrics_page, write_metrics_page


def tidy() -> pd.DataFrame:
    rows = [
        # method, task, n_labels, seed, split, metric, value
        ("a", "classes_logistic", 100, 1, "test", "accuracy", 0.6),
        ("a", "classes_logistic", 100, 2, "test", "accuracy", 0.8),   # mean over seeds -> 0.7
        ("a", "classes_logistic", 16, 1, "test", "accuracy", 0.1),    # label-efficiency row: fewer labels, left out
        ("a", "classes_logistic", 100, 1, "val", "accuracy", 0.99),   # val: left out
        ("b", "classes_logistic", 100, 1, "test", "accuracy", 0.5),
        ("a", "gz_bar__yes", 80, 1, "test", "auc", 0.8),
        ("a", "gz_bar__no", 80, 1, "test", "auc", 0.6),               # GZ mean AUC -> 0.7
        ("a", "photoz", 100, 1, "test", "bias", -0.002),
        ("b", "photoz", 100, 1, "test", "bias", 0.001),               # closest to zero: best
        ("b", "photoz", 100, 1, "test", "sigma_mad", 0.02),
        ("a", "photoz", 100, 1, "test", "sigma_mad", 0.03),
    ]
    return pd.DataFrame(rows, columns=["method", "task", "n_labels", "seed", "split", "metric", "value"])


def test_headline_uses_test_split_most_labels_and_seed_mean():
    summary = headline_table(tidy())
    assert list(summary.index) == ["a", "b"]
    assert summary.loc["a", "logistic acc"] == pytest.approx(0.7)
    assert summary.loc["b", "logistic acc"] == pytest.approx(0.5)
    assert summary.loc["a", "GZ mean AUC"] == pytest.approx(0.7)
    assert pd.isna(summary.loc["b", "GZ mean AUC"])
    assert "mAP@5" not in summary.columns  # absent tasks give no column


def test_page_bolds_the_best_value_by_direction(tmp_path):
    page = metrics_page(tidy(), "demo")
    assert '<td class="best">0.7</td>' in page          # accuracy: highest
    assert '<td class="best">0.02</td>' in page         # sigma_mad: lowest
    assert '<td class="best">0.001</td>' in page        # bias: closest to zero
    assert '<td class="best">-0.002</td>' not in page
    assert page.count("<tr>") >= len(tidy()) + 2        # every tidy row is listed too
    path = tmp_path / "metrics.parquet"
    tidy().to_parquet(path)
    write_metrics_page(path, tmp_path / "metrics.html", "demo")
    assert (tmp_path / "metrics.html").read_text().startswith("<!DOCTYPE html>")


def test_missing_column_is_a_clear_error():
    with pytest.raises(DataError, match="lacks column"):
        headline_table(tidy().drop(columns="seed"))


def test_balanced_accuracy_gets_its_own_column_and_its_own_best():
    # A majority guesser on a 90/10 test set wins on accuracy but not on balanced accuracy.
    rows = [("majority", "classes_logistic", 100, 1, "test", "accuracy", 0.9),
            ("majority", "classes_logistic", 100, 1, "test", "balanced_accuracy", 0.5),
            ("simclr", "classes_logistic", 100, 1, "test", "accuracy", 0.85),
            ("simclr", "classes_logistic", 100, 1, "test", "balanced_accuracy", 0.75),
            ("simclr", "finetune_classes", 100, 1, "test", "balanced_accuracy", 0.8)]
    table = pd.DataFrame(rows, columns=["method", "task", "n_labels", "seed", "split", "metric", "value"])
    summary = headline_table(table)
    assert list(summary.columns) == ["logistic acc", "logistic bal. acc", "fine-tuned bal. acc"]
    assert summary.loc["majority", "logistic bal. acc"] == pytest.approx(0.5)
    page = metrics_page(table, "demo")
    assert '<td class="best">0.9</td>' in page and '<td class="best">0.75</td>' in page
    assert '<td class="best">0.5</td>' not in page
