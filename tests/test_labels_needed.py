"""Labels each method needs to reach the supervised baseline's full-data score: hand-computed crossings, never reached,
clear errors for a malformed or incomplete input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from galssl.errors import DataError
from galssl.evaluate.labels_needed import COLUMNS, crossing, labels_needed_table, reference_targets


def curve(method: str, task: str, points: dict[int, list[float]], metric: str = "accuracy") -> list[dict]:
    """Tidy rows of one label-efficiency curve: {N: [value of seed 0, value of seed 1, ...]}."""
    return [{"method": method, "task": task, "n_labels": n, "seed": seed, "split": "test", "metric": metric,
             "value": value} for n, values in points.items() for seed, value in enumerate(values)]


def hand_made() -> pd.DataFrame:
    rows = []
    # The reference: from-scratch runs at 16 and 32 labels, and the full-data run (3000 labels) that sets the target.
    rows += curve("supervised_from_scratch", "classes_head", {16: [0.3], 32: [0.4], 3000: [0.7]})
    rows += curve("supervised_from_scratch", "classes_head", {16: [0.2], 3000: [0.6]}, metric="macro_f1")
    # Seed means 0.5, 0.6, 0.8: first reaches 0.7 between 32 and 64 -> log2 N = 5 + (0.7 - 0.6) / (0.8 - 0.6).
    rows += curve("simclr", "classes_logistic", {16: [0.4, 0.6], 32: [0.55, 0.65], 64: [0.8, 0.8]})
    rows += curve("simclr", "classes_logistic", {16: [0.1], 32: [0.2]}, metric="macro_f1")  # never reaches 0.6
    rows += curve("moco", "classes_knn", {16: [0.69, 0.65], 32: [0.66, 0.68]})  # never reaches 0.7
    rows += curve("mae", "classes_logistic", {16: [0.75], 32: [0.9]})  # already at the smallest N
    rows += [{**row, "split": "val", "value": 1.0} for row in curve("moco", "classes_knn", {16: [1.0]})]  # ignored
    return pd.DataFrame(rows)


def test_target_is_the_reference_mean_at_its_largest_n():
    assert reference_targets(hand_made()) == {"accuracy": 0.7, "macro_f1": 0.6}


def test_labels_needed_matches_the_hand_computed_n_and_flags_curves_that_never_reach_it():
    table = labels_needed_table(hand_made()).set_index(["method", "classifier", "metric"])
    assert list(table.reset_index().columns) == COLUMNS
    simclr = table.loc[("simclr", "logistic", "accuracy")]
    assert simclr["target"] == pytest.approx(0.7)
    assert simclr["n_labels_needed"] == pytest.approx(2 ** 5.5) and simclr["n_labels_grid"] == 64
    assert bool(simclr["reached"])
    for key in (("moco", "knn", "accuracy"), ("simclr", "logistic", "macro_f1")):
        assert math.isnan(table.loc[key, "n_labels_needed"]) and math.isnan(table.loc[key, "n_labels_grid"])
        assert not bool(table.loc[key, "reached"])
    assert table.loc[("mae", "logistic", "accuracy"), "n_labels_needed"] == 16  # no extrapolation below the grid
    reference = table.loc[("supervised_from_scratch", "head", "accuracy")]
    assert reference["n_labels_needed"] == pytest.approx(3000)  # its own full-data point
    assert reference["reached"]


def test_balanced_accuracy_gets_its_own_target_which_a_majority_guess_never_reaches():
    rows = curve("supervised_from_scratch", "classes_head", {16: [0.85], 1000: [0.9]})
    rows += curve("supervised_from_scratch", "classes_head", {16: [0.6], 1000: [0.8]}, metric="balanced_accuracy")
    # An embedding whose probe guesses the 90% class at every N: accuracy 0.9, balanced accuracy 0.5.
    rows += curve("pixels_pca", "classes_logistic", {16: [0.9, 0.9], 32: [0.9, 0.9]})
    rows += curve("pixels_pca", "classes_logistic", {16: [0.5, 0.5], 32: [0.5, 0.5]}, metric="balanced_accuracy")
    assert reference_targets(pd.DataFrame(rows)) == pytest.approx({"accuracy": 0.9, "balanced_accuracy": 0.8})
    table = labels_needed_table(pd.DataFrame(rows)).set_index(["method", "classifier", "metric"])
    on_accuracy = table.loc[("pixels_pca", "logistic", "accuracy")]
    assert on_accuracy["n_labels_needed"] == 16 and bool(on_accuracy["reached"])  # accuracy is fooled
    on_balanced = table.loc[("pixels_pca", "logistic", "balanced_accuracy")]
    assert on_balanced["target"] == pytest.approx(0.8) and not bool(on_balanced["reached"])


def test_crossing_interpolates_in_log2_n():
    n = np.array([16.0, 64.0])
    assert crossing(n, np.array([0.2, 0.6]), 0.4) == pytest.approx(32.0)  # halfway in log2 between 16 and 64
    assert math.isnan(crossing(n, np.array([0.2, 0.3]), 0.4))


def test_cli_writes_parquet_and_csv(tmp_path, capsys):
    from galssl.cli import main

    table = hand_made()
    paths = []
    for method, part in table.groupby("method"):
        paths.append(str(tmp_path / f"{method}.parquet"))
        part.to_parquet(paths[-1])
    main(["labels-needed", "--tables", *paths, "--out", str(tmp_path / "labels_needed.parquet"),
          "--csv", str(tmp_path / "labels_needed.csv")])
    written = pd.read_parquet(tmp_path / "labels_needed.parquet")
    assert len(written) == 6 and written["reached"].dtype == bool
    assert list(pd.read_csv(tmp_path / "labels_needed.csv").columns) == COLUMNS
    assert "simclr" in capsys.readouterr().out


def test_a_missing_column_or_reference_is_a_clear_error(tmp_path, capsys):
    from galssl.cli import main

    hand_made().drop(columns=["n_labels"]).to_parquet(tmp_path / "broken.parquet")
    with pytest.raises(SystemExit):
        main(["labels-needed", "--tables", str(tmp_path / "broken.parquet"), "--out", str(tmp_path / "x.parquet")])
    err = capsys.readouterr().err
    assert "lacks column(s) n_labels" in err and len(err.strip().splitlines()) == 1
    no_reference = hand_made()
    no_reference = no_reference[no_reference["method"] != "supervised_from_scratch"]
    with pytest.raises(DataError, match="probes.label_efficiency.supervised_from_scratch"):
        labels_needed_table(no_reference)


def test_encoders_that_saw_labels_in_pretraining_are_flagged():
    rows = hand_made()
    rows = pd.concat([rows, pd.DataFrame(curve("supervised", "classes_logistic", {16: [0.8]})
                                         + curve("my_vit", "classes_logistic", {16: [0.5]}))])
    table = labels_needed_table(rows).set_index(["method", "classifier", "metric"])["saw_labels"]
    assert bool(table[("supervised", "logistic", "accuracy")])
    assert bool(table[("supervised_from_scratch", "head", "accuracy")])
    assert not table[("simclr", "logistic", "accuracy")] and not table[("mae", "logistic", "accuracy")]
    assert pd.isna(table[("my_vit", "logistic", "accuracy")])  # an external encoder: galssl cannot know
