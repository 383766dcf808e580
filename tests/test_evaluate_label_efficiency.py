"""Label-efficiency subsets (nested, stratified, seeded) and the refitted probes' table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from galssl.errors import ConfigError, DataError
from galssl.evaluate.label_efficiency import (
    LabelEfficiencySettings,
    labels_needed,
    nested_subsets,
    run_label_efficiency,
    subset_sizes,
    validation_positions,
)
from galssl.evaluate.labelled import LabelledEmbeddings
from galssl.evaluate.probes import ProbeSettings
from galssl.label_subsets import nested_stratified_order
from galssl.metric_table import METRIC_COLUMNS

torch.set_num_threads(1)

# Imbalanced classes, shuffled: 400 / 300 / 200 / 100.
LABELS = np.random.default_rng(0).permutation(np.repeat([0, 1, 2, 3], [400, 300, 200, 100]))


def test_subset_sizes_are_powers_of_two_capped_by_the_train_size():
    assert subset_sizes(3343, 4, 11) == [16, 32, 64, 128, 256, 512, 1024, 2048]
    assert subset_sizes(100, 4, 11) == [16, 32, 64, 100]
    assert subset_sizes(20, 4, 6) == [16, 20]
    assert subset_sizes(10, 4, 6) == [10]


def test_order_is_a_seeded_permutation():
    first = nested_stratified_order(LABELS, seed=3)
    assert sorted(first) == list(range(len(LABELS)))
    assert np.array_equal(first, nested_stratified_order(LABELS, seed=3))
    assert not np.array_equal(first, nested_stratified_order(LABELS, seed=4))


def test_subsets_are_nested_within_a_seed():
    sizes = subset_sizes(len(LABELS), 4, 9)
    subsets = nested_subsets(LABELS, sizes, seed=11)
    assert [len(subsets[n]) for n in sizes] == sizes
    for small, large in zip(sizes, sizes[1:]):
        assert set(subsets[small]) <= set(subsets[large])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_prefix_is_stratified_to_about_one_galaxy(seed):
    order = nested_stratified_order(LABELS, seed)
    shares = np.bincount(LABELS) / len(LABELS)
    for n in list(range(4, 200)) + [256, 512, 999]:
        counts = np.bincount(LABELS[order[:n]], minlength=4)
        # Each class holds round(t * n_class) for one t; the spread this allows is < 1.5 galaxies here.
        assert np.abs(counts - n * shares).max() < 1.5, (n, counts, n * shares)
    # Even 16 galaxies hold every class, the rarest (10 per cent) once or twice.
    assert np.bincount(LABELS[order[:16]], minlength=4).min() >= 1


def planted(n_per_class: int = 80, seed: int = 0) -> LabelledEmbeddings:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(4), n_per_class)
    vectors = 3.0 * rng.standard_normal((4, 10))[labels] + rng.standard_normal((len(labels), 10))
    split = rng.choice(["train", "val", "test"], size=len(labels), p=[0.6, 0.2, 0.2])
    ids = np.array([f"g{i:05d}" for i in rng.permutation(len(labels))])  # not in sorted order
    return LabelledEmbeddings("toy", ids, vectors.astype(np.float32), split,
                              pd.DataFrame({"galaxy10_class": labels}))


def test_label_efficiency_table_has_every_size_seed_and_probe():
    data = planted()
    settings = LabelEfficiencySettings(min_log2=3, max_log2=10, seeds=2, classifiers=("logistic", "knn"))
    table = run_label_efficiency(data, ProbeSettings(knn_k=(1, 3)), settings, seed=10, log=lambda *_: None)
    assert list(table.columns) == METRIC_COLUMNS
    n_train = int((data.split == "train").sum())
    assert sorted(table["n_labels"].unique()) == [8, 16, 32, 64, 128, n_train]
    assert set(table["seed"]) == {10, 11} and set(table["task"]) == {"classes_logistic", "classes_knn"}
    assert set(table["split"]) == {"test"} and set(table["metric"]) == {"accuracy", "balanced_accuracy", "macro_f1"}
    assert len(table) == 6 * 2 * 2 * 3
    accuracy = table[table["metric"] == "accuracy"].groupby("n_labels")["value"].mean()
    assert accuracy[n_train] >= accuracy[8] and accuracy[n_train] > 0.9
    again = run_label_efficiency(data, ProbeSettings(knn_k=(1, 3)), settings, seed=10, log=lambda *_: None)
    pd.testing.assert_frame_equal(table, again)


def test_a_one_class_subset_scores_chance_balanced_accuracy():
    # N = 1: one labelled galaxy, one class, so every test galaxy gets that class. Accuracy is that class's test
    # share; balanced accuracy is 1 / (classes in the test split) whatever the shares.
    data = planted(n_per_class=40)
    settings = LabelEfficiencySettings(min_log2=0, max_log2=0, seeds=1, classifiers=("logistic",))
    table = run_label_efficiency(data, ProbeSettings(), settings, seed=0, log=lambda *_: None)
    values = table.set_index("metric")["value"]
    test_labels = data.labels["galaxy10_class"].to_numpy()[data.split == "test"]
    shares = np.bincount(test_labels, minlength=4) / len(test_labels)
    assert values["balanced_accuracy"] == pytest.approx(1 / 4)
    assert any(values["accuracy"] == pytest.approx(share) for share in shares)
    assert values["macro_f1"] == pytest.approx(2 * values["accuracy"] / (1 + values["accuracy"]) / 4)


def test_label_efficiency_fits_with_the_probes_class_weight():
    # Two overlapping classes, 90/10: class 1 is shifted by 1.5 along one of four standard-normal features.
    rng = np.random.default_rng(3)
    labels = (rng.random(1500) < 0.1).astype(int)
    vectors = rng.standard_normal((1500, 4))
    vectors[:, 0] += 1.5 * labels
    split = rng.choice(["train", "val", "test"], size=len(labels), p=[0.6, 0.2, 0.2])
    data = LabelledEmbeddings("toy", np.array([f"g{i:05d}" for i in range(len(labels))]), vectors.astype(np.float32),
                              split, pd.DataFrame({"galaxy10_class": labels}))
    settings = LabelEfficiencySettings(min_log2=9, max_log2=9, seeds=1, classifiers=("logistic",))
    plain, balanced = (run_label_efficiency(data, ProbeSettings(logistic_c=(1.0,), class_weight=weight), settings,
                                            seed=0, log=lambda *_: None).set_index("metric")["value"]
                       for weight in (None, "balanced"))
    # The unweighted fit favours the big classes (higher accuracy), the balanced one the rare ones (higher mean recall).
    assert balanced["balanced_accuracy"] > plain["balanced_accuracy"] + 0.03, (plain, balanced)
    assert plain["accuracy"] > balanced["accuracy"]


def test_label_efficiency_figure_draws_balanced_accuracy_and_macro_f1():
    from galssl.plots.probes import label_efficiency_figure

    data = planted(n_per_class=30)
    settings = LabelEfficiencySettings(min_log2=3, max_log2=5, seeds=2, classifiers=("logistic", "knn"))
    table = run_label_efficiency(data, ProbeSettings(knn_k=(3,)), settings, seed=0, log=lambda *_: None)
    figure = label_efficiency_figure(table)
    axes = figure.axes
    assert len(axes) == 4  # rows balanced accuracy, macro F1; columns logistic, kNN
    assert axes[0].get_ylabel().startswith("test balanced accuracy") and axes[2].get_ylabel() == "test macro F1"
    # The plotted points of the top-left panel are the seed means of balanced accuracy, not of accuracy.
    line = axes[0].get_lines()[0]
    expected = table.query("task == 'classes_logistic' and metric == 'balanced_accuracy'").groupby("n_labels")[
        "value"].mean()
    assert line.get_ydata() == pytest.approx(expected.to_numpy())
    # Tables from before balanced accuracy still draw (macro F1 only).
    assert len(label_efficiency_figure(table[table["metric"] != "balanced_accuracy"]).axes) == 2


def test_subsets_follow_object_id_order_like_the_from_scratch_baseline():
    # The same galaxies in another row order give the same numbers: subsets are drawn over sorted object_ids.
    data = planted(n_per_class=30)
    reverse = np.arange(len(data.object_ids))[::-1]
    flipped = LabelledEmbeddings("toy", data.object_ids[reverse], data.vectors[reverse], data.split[reverse],
                                 data.labels.iloc[reverse].reset_index(drop=True))
    settings = LabelEfficiencySettings(min_log2=3, max_log2=4, seeds=1, classifiers=("logistic",))
    first = run_label_efficiency(data, ProbeSettings(), settings, seed=0, log=lambda *_: None)
    second = run_label_efficiency(flipped, ProbeSettings(), settings, seed=0, log=lambda *_: None)
    pd.testing.assert_frame_equal(first, second)


def test_labels_needed_finds_the_first_size_reaching_the_target():
    table = pd.DataFrame({"method": "a", "task": "classes_logistic", "split": "test", "metric": "accuracy",
                          "n_labels": [16, 16, 32, 32, 64, 64], "seed": [0, 1] * 3,
                          "value": [0.5, 0.6, 0.7, 0.8, 0.9, 0.9]})
    needed = labels_needed(table, target=0.75)
    assert needed["n_labels_needed"].tolist() == [32.0]
    assert np.isnan(labels_needed(table, target=0.95)["n_labels_needed"].item())


def test_settings_errors_are_one_line():
    with pytest.raises(ConfigError, match="min_log2 must be <= max_log2"):
        LabelEfficiencySettings.from_section({"min_log2": 8, "max_log2": 4})
    with pytest.raises(ConfigError, match="unknown key 'seed' in probes.label_efficiency"):
        LabelEfficiencySettings.from_section({"seed": 3})


def test_without_test_galaxies_it_is_a_data_error():
    data = planted(n_per_class=10)
    no_test = LabelledEmbeddings("toy", data.object_ids, data.vectors,
                                 np.where(data.split == "test", "val", data.split), data.labels)
    with pytest.raises(DataError, match="test galaxies"):
        run_label_efficiency(no_test, ProbeSettings(), LabelEfficiencySettings(), seed=0)


def test_hyper_parameters_at_n_are_chosen_on_at_most_n_val_galaxies(monkeypatch):
    import galssl.evaluate.label_efficiency as module

    seen: list[tuple[int, int]] = []
    real = module.fit_selected

    def recording(kind, probes, x_train, y_train, x_val, y_val, seed):
        seen.append((len(y_train), len(y_val)))
        return real(kind, probes, x_train, y_train, x_val, y_val, seed)

    monkeypatch.setattr(module, "fit_selected", recording)
    data = planted()
    n_val = int((data.split == "val").sum())
    settings = LabelEfficiencySettings(min_log2=3, max_log2=8, seeds=2, classifiers=("logistic",))
    run_label_efficiency(data, ProbeSettings(), settings, seed=0, log=lambda *_: None)
    assert seen and all(n_selecting == min(n_train, n_val) for n_train, n_selecting in seen), seen
    assert max(n for _, n in seen) > 8  # larger N select on more val galaxies, up to the whole val split


def test_validation_positions_are_nested_stratified_prefixes():
    labels = np.repeat([0, 1, 2], [30, 20, 10])
    small, large = (validation_positions(labels, n, seed=4) for n in (12, 24))
    assert set(small) <= set(large) and len(small) == 12 and len(large) == 24
    assert np.bincount(labels[large], minlength=3).tolist() == [12, 8, 4]
    assert len(validation_positions(labels, 1000, seed=4)) == 60
