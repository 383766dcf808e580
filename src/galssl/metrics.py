"""Pure metric functions: classification, Galaxy Zoo vote fractions (Hayat et al. 2021), photometric redshifts.

Every function takes plain arrays and returns floats (or arrays); nothing here reads files or fits models.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import metrics as skm

MAD_TO_SIGMA = 1.4826
"""Scale from the median absolute deviation to the standard deviation of a Gaussian."""

CATASTROPHIC_DZ = 0.05
"""|Δz| above which a photometric redshift counts as an outlier (η)."""

CONFIDENT_LOW, CONFIDENT_HIGH = 0.2, 0.8
"""Vote fractions below / above these are high-quality (confident) labels, as in Hayat et al. (2021)."""


# --- classes -------------------------------------------------------------------------------------------------------
def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of exact matches."""
    return float(skm.accuracy_score(y_true, y_pred))


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Recall averaged over the classes present in ``y_true``, each class weighted equally: 1/K for any constant
    guess, however unequal the class shares (a predicted class absent from ``y_true`` only costs recall)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return float(skm.balanced_accuracy_score(y_true, y_pred))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 averaged over the classes present in ``y_true`` or ``y_pred``, each class weighted equally."""
    return float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))


CLASS_METRICS = ("accuracy", "balanced_accuracy", "macro_f1")
"""Metric names of every class table (probes, label efficiency, supervised baseline, fine-tuning, zero-shot)."""


def class_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro F1 of one set of class predictions (keys = ``CLASS_METRICS``).

    Accuracy alone flatters a majority guess (0.9 on a 90/10 split); the two balanced metrics do not (0.5, < 0.5).
    """
    return {"accuracy": accuracy(y_true, y_pred), "balanced_accuracy": balanced_accuracy(y_true, y_pred),
            "macro_f1": macro_f1(y_true, y_pred)}


def precision(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Binary precision TP / (TP + FP) of the positive class 1 (0 when nothing is predicted positive)."""
    return float(skm.precision_score(y_true, y_pred, zero_division=0))


def recall(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Binary recall TP / (TP + FN) of the positive class 1 (0 when there is no positive)."""
    return float(skm.recall_score(y_true, y_pred, zero_division=0))


def auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of a binary score; NaN when ``y_true`` holds a single class (undefined)."""
    y_true = np.asarray(y_true)
    if len(np.unique(y_true)) < 2:
        return float("nan")
    return float(skm.roc_auc_score(y_true, score))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(n_classes, n_classes) counts, rows = true class, columns = predicted class, in the order of ``classes``."""
    return skm.confusion_matrix(y_true, y_pred, labels=classes)


# --- Galaxy Zoo vote fractions -----------------------------------------------------------------------------------
def high_quality_mask(true_fraction: np.ndarray, low: float = CONFIDENT_LOW,
                      high: float = CONFIDENT_HIGH) -> np.ndarray:
    """True where the volunteers agree: vote fraction < ``low`` or > ``high``."""
    fraction = np.asarray(true_fraction, dtype=float)
    return (fraction < low) | (fraction > high)


def outlier_fraction(true_fraction: np.ndarray, predicted_fraction: np.ndarray, threshold: float = 0.5) -> float:
    """η: share of galaxies whose predicted vote fraction is more than ``threshold`` from the volunteers' one.

    Evaluated on high-quality labels it counts confident labels the probe gets badly wrong (for p_true > 0.8, a
    prediction below 0.3). NaN on an empty input.
    """
    true_fraction = np.asarray(true_fraction, dtype=float)
    if true_fraction.size == 0:
        return float("nan")
    return float(np.mean(np.abs(np.asarray(predicted_fraction, dtype=float) - true_fraction) > threshold))


def vote_fraction_metrics(true_fraction: np.ndarray, predicted_fraction: np.ndarray) -> dict[str, float]:
    """Hayat et al.'s metrics of one answer on its high-quality labels (p < 0.2 or p > 0.8).

    The label is p_true > 0.8, the prediction p_pred > 0.5, the AUC score p_pred. Returns accuracy, precision,
    recall, auc, outlier_fraction (η), n_high_quality, and rmse over all galaxies given.
    """
    true_fraction = np.asarray(true_fraction, dtype=float)
    predicted_fraction = np.asarray(predicted_fraction, dtype=float)
    rmse = float(np.sqrt(np.mean((predicted_fraction - true_fraction) ** 2))) if true_fraction.size else float("nan")
    confident = high_quality_mask(true_fraction)
    truth = (true_fraction[confident] > CONFIDENT_HIGH).astype(int)
    score = predicted_fraction[confident]
    guess = (score > 0.5).astype(int)
    empty = truth.size == 0
    return {
        "accuracy": float("nan") if empty else accuracy(truth, guess),
        "precision": float("nan") if empty else precision(truth, guess),
        "recall": float("nan") if empty else recall(truth, guess),
        "auc": auc(truth, score) if not empty else float("nan"),
        "outlier_fraction": outlier_fraction(true_fraction[confident], score),
        "n_high_quality": float(truth.size),
        "rmse": rmse,
    }


# --- photometric redshifts ---------------------------------------------------------------------------------------
def delta_z(z_phot: np.ndarray, z_spec: np.ndarray) -> np.ndarray:
    """Δz = (z_phot − z_spec) / (1 + z_spec)."""
    z_spec = np.asarray(z_spec, dtype=float)
    return (np.asarray(z_phot, dtype=float) - z_spec) / (1.0 + z_spec)


def photoz_bias(z_phot: np.ndarray, z_spec: np.ndarray) -> float:
    """Mean Δz."""
    return float(np.mean(delta_z(z_phot, z_spec)))


def sigma_mad(z_phot: np.ndarray, z_spec: np.ndarray) -> float:
    """σ_MAD = 1.4826 · median(|Δz − median(Δz)|)."""
    dz = delta_z(z_phot, z_spec)
    return float(MAD_TO_SIGMA * np.median(np.abs(dz - np.median(dz))))


def eta(z_phot: np.ndarray, z_spec: np.ndarray, threshold: float = CATASTROPHIC_DZ) -> float:
    """η in per cent: share of objects with |Δz| > ``threshold`` (0.05)."""
    return float(100.0 * np.mean(np.abs(delta_z(z_phot, z_spec)) > threshold))


def photoz_metrics(z_phot: np.ndarray, z_spec: np.ndarray) -> dict[str, float]:
    """bias, sigma_mad and eta (per cent) of point estimates."""
    return {"bias": photoz_bias(z_phot, z_spec), "sigma_mad": sigma_mad(z_phot, z_spec), "eta": eta(z_phot, z_spec)}


def _check_pdf(pdf: np.ndarray, bin_edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pdf = np.atleast_2d(np.asarray(pdf, dtype=float))
    bin_edges = np.asarray(bin_edges, dtype=float)
    if pdf.shape[1] != bin_edges.size - 1:
        raise ValueError(f"pdf has {pdf.shape[1]} bins but bin_edges defines {bin_edges.size - 1}")
    return pdf / pdf.sum(axis=1, keepdims=True), bin_edges


def pdf_mean(pdf: np.ndarray, bin_edges: np.ndarray) -> np.ndarray:
    """E[z] of binned PDFs (each row a probability per bin, uniform within a bin)."""
    pdf, bin_edges = _check_pdf(pdf, bin_edges)
    return pdf @ (0.5 * (bin_edges[1:] + bin_edges[:-1]))


def pit(pdf: np.ndarray, bin_edges: np.ndarray, z_spec: np.ndarray) -> np.ndarray:
    """Probability integral transform CDF(z_spec) of binned PDFs (uniform within a bin); uniform when calibrated."""
    pdf, bin_edges = _check_pdf(pdf, bin_edges)
    cdf_at_edges = np.concatenate([np.zeros((len(pdf), 1)), np.cumsum(pdf, axis=1)], axis=1)
    z_spec = np.asarray(z_spec, dtype=float)
    index = np.clip(np.searchsorted(bin_edges, z_spec, side="right") - 1, 0, len(bin_edges) - 2)
    width = bin_edges[index + 1] - bin_edges[index]
    inside = np.clip((z_spec - bin_edges[index]) / width, 0.0, 1.0)
    rows = np.arange(len(pdf))
    value = cdf_at_edges[rows, index] + inside * pdf[rows, index]
    return np.clip(value, 0.0, 1.0)


def crps(pdf: np.ndarray, bin_edges: np.ndarray, z_spec: np.ndarray) -> np.ndarray:
    """Continuous ranked probability score ∫ (CDF(z) − H(z − z_spec))² dz of binned PDFs, exact for a CDF that is
    linear within each bin; per object, in redshift units (lower is better)."""
    pdf, bin_edges = _check_pdf(pdf, bin_edges)
    z_spec = np.asarray(z_spec, dtype=float)
    cdf = np.concatenate([np.zeros((len(pdf), 1)), np.cumsum(pdf, axis=1)], axis=1)
    cdf[:, -1] = 1.0
    # Insert z_spec as an extra node so the step of H falls on a node; the integrand is then a square of a linear
    # function on every segment, whose integral is h (g0² + g0 g1 + g1²) / 3.
    z_clipped = np.clip(z_spec, bin_edges[0], bin_edges[-1])
    cdf_at_spec = pit(pdf, bin_edges, z_clipped)
    result = np.empty(len(pdf))
    for row in range(len(pdf)):
        nodes = np.append(bin_edges, z_clipped[row])
        values = np.append(cdf[row], cdf_at_spec[row])
        order = np.argsort(nodes, kind="stable")
        nodes, values = nodes[order], values[order]
        h = np.diff(nodes)
        mid = 0.5 * (nodes[1:] + nodes[:-1])
        step = (mid >= z_clipped[row]).astype(float)
        g0, g1 = values[:-1] - step, values[1:] - step
        result[row] = np.sum(h * (g0 ** 2 + g0 * g1 + g1 ** 2) / 3.0)
    # Outside the binned range the CDF is 0 below and 1 above: each adds the distance to z_spec.
    result += np.clip(bin_edges[0] - z_spec, 0, None) + np.clip(z_spec - bin_edges[-1], 0, None)
    return result
