"""Metric functions against hand-computed values on toy inputs."""

from __future__ import annotations

import numpy as np
import pytest

from galssl import metrics


def test_classification_metrics_match_hand_counts():
    y_true = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    y_pred = np.array([1, 1, 0, 0, 0, 1, 0, 1])
    # TP=3, FN=1, FP=1, TN=3
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(6 / 8)
    assert metrics.precision(y_true, y_pred) == pytest.approx(3 / 4)
    assert metrics.recall(y_true, y_pred) == pytest.approx(3 / 4)
    # Both classes have F1 = 0.75.
    assert metrics.macro_f1(y_true, y_pred) == pytest.approx(0.75)
    # Macro F1 weighs a rare class like a common one: class 2 missed entirely.
    assert metrics.macro_f1([0, 0, 0, 2], [0, 0, 0, 0]) == pytest.approx((6 / 7 + 0) / 2)


def test_balanced_metrics_see_through_a_majority_guess():
    # 90/10: guessing the majority class scores accuracy 0.9 but is no better than chance on the balanced metrics.
    y_true = np.array([0] * 90 + [1] * 10)
    majority = np.zeros(100, dtype=int)
    values = metrics.class_metrics(y_true, majority)
    assert list(values) == list(metrics.CLASS_METRICS)
    assert values["accuracy"] == pytest.approx(0.9)
    assert values["balanced_accuracy"] == pytest.approx(0.5)
    assert values["macro_f1"] == pytest.approx((2 * 0.9 / 1.9 + 0) / 2) and values["macro_f1"] < 0.5
    # Balanced accuracy = mean per-class recall: class 0 recall 81/90, class 1 recall 6/10.
    guess = np.array([0] * 81 + [1] * 9 + [1] * 6 + [0] * 4)
    assert metrics.balanced_accuracy(y_true, guess) == pytest.approx((81 / 90 + 6 / 10) / 2)
    assert metrics.accuracy(y_true, guess) == pytest.approx(87 / 100)
    # A predicted class absent from the truth lowers recall of the true class only (no warning, no extra class).
    assert metrics.balanced_accuracy([0, 0, 1, 1], [0, 2, 1, 1]) == pytest.approx((0.5 + 1.0) / 2)


def test_auc_counts_correctly_ordered_pairs():
    y_true = np.array([0, 0, 1, 1])
    score = np.array([0.1, 0.4, 0.35, 0.8])
    # Pairs (pos, neg): (0.35,0.1) ok, (0.35,0.4) wrong, (0.8,0.1) ok, (0.8,0.4) ok -> 3/4.
    assert metrics.auc(y_true, score) == pytest.approx(0.75)
    assert metrics.auc([0, 1], [0.2, 0.9]) == 1.0
    assert np.isnan(metrics.auc([1, 1, 1], [0.2, 0.5, 0.9]))


def test_confusion_rows_are_true_classes():
    counts = metrics.confusion([0, 0, 1, 2], [0, 1, 1, 1], np.array([0, 1, 2]))
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def test_vote_fraction_metrics_use_only_high_quality_labels():
    true = np.array([0.9, 0.95, 0.1, 0.05, 0.5, 0.85])
    pred = np.array([0.7, 0.2, 0.3, 0.6, 0.9, 0.9])
    assert metrics.high_quality_mask(true).tolist() == [True, True, True, True, False, True]
    values = metrics.vote_fraction_metrics(true, pred)
    # High-quality: labels [1,1,0,0,1], predictions (>0.5) [1,0,0,1,1].
    assert values["n_high_quality"] == 5
    assert values["accuracy"] == pytest.approx(3 / 5)
    assert values["precision"] == pytest.approx(2 / 3)
    assert values["recall"] == pytest.approx(2 / 3)
    # Scores: positives 0.7, 0.2, 0.9 vs negatives 0.3, 0.6 -> ordered pairs 2 + 0 + 2 = 4 of 6.
    assert values["auc"] == pytest.approx(4 / 6)
    # |pred - true| > 0.5: 0.95 -> 0.2 (0.75) and 0.05 -> 0.6 (0.55), not 0.1 -> 0.3: two of the five.
    assert values["outlier_fraction"] == pytest.approx(2 / 5)
    assert values["rmse"] == pytest.approx(np.sqrt(np.mean((pred - true) ** 2)))


def test_vote_fraction_metrics_without_confident_labels_are_nan():
    values = metrics.vote_fraction_metrics(np.array([0.5, 0.6]), np.array([0.5, 0.5]))
    assert values["n_high_quality"] == 0
    assert all(np.isnan(values[key]) for key in ("accuracy", "precision", "recall", "auc", "outlier_fraction"))


def test_photoz_metrics_match_hand_values():
    z_spec = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    dz = np.array([0.01, -0.02, 0.0, 0.1, -0.06])
    z_phot = z_spec + dz * (1 + z_spec)
    assert metrics.delta_z(z_phot, z_spec) == pytest.approx(dz)
    assert metrics.photoz_bias(z_phot, z_spec) == pytest.approx(np.mean(dz))
    # median(dz) = 0.0; |dz - 0| = [0.01, 0.02, 0, 0.1, 0.06] -> median 0.02.
    assert metrics.sigma_mad(z_phot, z_spec) == pytest.approx(1.4826 * 0.02)
    # |dz| > 0.05: 0.1 and 0.06 -> 2 of 5 = 40 per cent.
    assert metrics.eta(z_phot, z_spec) == pytest.approx(40.0)
    assert metrics.photoz_metrics(z_phot, z_spec) == pytest.approx(
        {"bias": np.mean(dz), "sigma_mad": 1.4826 * 0.02, "eta": 40.0})


def test_sigma_mad_ignores_a_constant_offset_but_bias_does_not():
    z_spec = np.linspace(0.05, 0.35, 7)
    z_phot = z_spec + 0.03 * (1 + z_spec)
    assert metrics.sigma_mad(z_phot, z_spec) == pytest.approx(0.0, abs=1e-12)
    assert metrics.photoz_bias(z_phot, z_spec) == pytest.approx(0.03)


def test_pit_and_mean_of_binned_pdfs():
    edges = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    pdf = np.array([[0.0, 0.5, 0.5, 0.0], [1.0, 0.0, 0.0, 0.0]])
    assert metrics.pdf_mean(pdf, edges) == pytest.approx([0.2, 0.05])
    # Uniform within bins: CDF(0.15) = 0.25 for the first, CDF(0.5) = 1 above the range for the second.
    assert metrics.pit(pdf, edges, [0.15, 0.5]) == pytest.approx([0.25, 1.0])
    assert metrics.pit(pdf, edges, [0.0, 0.05]) == pytest.approx([0.0, 0.5])


def test_pit_is_uniform_for_calibrated_pdfs():
    rng = np.random.default_rng(0)
    edges = np.linspace(0.0, 1.0, 51)
    centres = 0.5 * (edges[1:] + edges[:-1])
    n = 4000
    means = rng.uniform(0.3, 0.7, n)
    sigma = 0.06
    pdf = np.exp(-0.5 * ((centres[None, :] - means[:, None]) / sigma) ** 2)
    z_true = means + sigma * rng.standard_normal(n)  # drawn from each object's own PDF: calibrated
    values = metrics.pit(pdf, edges, z_true)
    counts, _ = np.histogram(values, bins=10, range=(0, 1))
    assert counts.min() > 0.8 * n / 10 and counts.max() < 1.2 * n / 10
    # Too narrow PDFs pile PIT values at 0 and 1.
    narrow = np.exp(-0.5 * ((centres[None, :] - means[:, None]) / (sigma / 3)) ** 2)
    counts_narrow, _ = np.histogram(metrics.pit(narrow, edges, z_true), bins=10, range=(0, 1))
    assert counts_narrow[0] + counts_narrow[-1] > 0.4 * n


def test_crps_of_a_box_pdf_and_a_far_truth():
    edges = np.array([0.0, 0.1, 0.2, 0.3])
    box = np.array([[0.0, 1.0, 0.0]])
    # Uniform on [0.1, 0.2], truth at its centre: 2 * integral_0^{h/2} (t/h)^2 dt = h / 12.
    assert metrics.crps(box, edges, [0.15]) == pytest.approx([0.1 / 12])
    # Truth at the box's lower edge: integral of (1 - F)^2 over the box = h / 3.
    assert metrics.crps(box, edges, [0.1]) == pytest.approx([0.1 / 3])
    # Truth above the range (z = 0.5): (F)^2 over the box gives h/3, then F = 1 from 0.2 to 0.5.
    assert metrics.crps(box, edges, [0.5]) == pytest.approx([0.1 / 3 + 0.3])


def test_crps_matches_a_brute_force_integral():
    rng = np.random.default_rng(1)
    edges = np.linspace(0.0, 0.4, 21)
    pdf = rng.random((3, 20))
    z = np.array([0.013, 0.2, 0.377])
    fine = np.linspace(-0.1, 0.5, 200001)
    expected = []
    for row, z_true in zip(pdf / pdf.sum(1, keepdims=True), z):
        cdf = np.interp(fine, edges, np.concatenate([[0], np.cumsum(row)]))
        expected.append(np.trapezoid((cdf - (fine >= z_true)) ** 2, fine))
    assert metrics.crps(pdf, edges, z) == pytest.approx(expected, rel=1e-3)


def test_binned_pdf_with_wrong_bin_count_is_an_error():
    with pytest.raises(ValueError, match="bins"):
        metrics.pit(np.ones((2, 3)), np.linspace(0, 1, 5), [0.1, 0.2])
