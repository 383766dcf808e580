"""How well features (PCA components, SAE latents) align with labels: Spearman ρ against Galaxy Zoo vote fractions.

A (feature, target) pair is scored only when at least ``min_shared`` galaxies have both a non-zero feature value and
a non-zero target (``≥ 10 shared non-zero samples``: a latent that fires on three galaxies says nothing about a vote);
ρ itself is computed over every galaxy where the target is defined (finite), so a latent that is silent on most
galaxies and fires on barred ones correlates with the bar vote. Unscored pairs are NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from galssl.errors import DataError
from galssl.label_table import vote_fraction_columns


def alignment_targets(labels: pd.DataFrame, vote_columns: Sequence[str] | None = None,
                      redshift_column: str | None = "redshift") -> tuple[list[str], np.ndarray]:
    """(names, (N, T) float matrix): the vote fractions, then the redshift when the table has that column; (N, 0)
    when there is nothing to align with."""
    names = vote_fraction_columns(labels, vote_columns)
    if redshift_column and redshift_column in labels.columns:
        names.append(redshift_column)
    if not names:
        return [], np.zeros((len(labels), 0))
    matrix = labels[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return names, matrix


ALIGNED = 0.5
"""|ρ| above which a feature counts as aligned with a label (the acceptance threshold)."""

TRUTH_PREFIX = "truth:"
"""Prefix of the truth columns' names in the alignment tables (``truth:has_bar``), which keeps them apart from votes."""


def truth_targets(labels: pd.DataFrame, truth_columns: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
    """(names, (N, K) float matrix) of the known-truth columns (the mock sky's inclination, has_bar, ...): booleans as
    0/1, anything non-numeric NaN. Names carry :data:`TRUTH_PREFIX`. DataError naming ``maps.truth_columns`` when a
    column is missing."""
    columns = list(truth_columns or [])
    missing = [column for column in columns if column not in labels.columns]
    if missing:
        raise DataError(f"maps.truth_columns: column {missing[0]!r} is not in the labels table; truth columns exist "
                        "only for the mock sky (set maps.truth_columns: null for a real survey)")
    matrix = np.column_stack([pd.to_numeric(labels[column].astype("float64") if labels[column].dtype == bool
                                            else labels[column], errors="coerce").to_numpy(dtype=float)
                              for column in columns]) if columns else np.zeros((len(labels), 0))
    return [TRUTH_PREFIX + column for column in columns], matrix


def spearman_alignment(features: np.ndarray, targets: np.ndarray, min_shared: int = 10) -> np.ndarray:
    """(F, T) Spearman ρ of each feature column with each target column (scipy.stats.spearmanr), NaN where fewer
    than ``min_shared`` rows have both non-zero, or where the target is constant."""
    features = np.asarray(features, dtype=float)
    targets = np.asarray(targets, dtype=float)
    if features.ndim != 2 or targets.ndim != 2 or len(features) != len(targets):
        raise DataError(f"features {features.shape} and targets {targets.shape} must be (N, F) and (N, T) with the "
                        "same N")
    rho = np.full((features.shape[1], targets.shape[1]), np.nan)
    defined = np.isfinite(targets)
    nonzero_features = features != 0
    # Targets with the same rows defined (the answers of one question) share one spearmanr call.
    patterns: dict[bytes, list[int]] = {}
    for column in range(targets.shape[1]):
        patterns.setdefault(np.packbits(defined[:, column]).tobytes(), []).append(column)
    for columns in patterns.values():
        rows = defined[:, columns[0]]
        shared = nonzero_features[rows].T.astype(np.int32) @ (targets[rows][:, columns] != 0).astype(np.int32)
        eligible = np.flatnonzero((shared >= min_shared).any(1))
        if rows.sum() < 3 or not len(eligible):
            continue
        block = _spearman_block(features[rows][:, eligible], targets[rows][:, columns])
        block[shared[eligible] < min_shared] = np.nan
        rho[np.ix_(eligible, columns)] = block
    return rho


def _spearman_block(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The (a columns × b columns) block of scipy.stats.spearmanr's correlation matrix."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant columns give NaN, which is what we want
        statistic = np.asarray(stats.spearmanr(a, b, axis=0).statistic, dtype=float)
    if statistic.ndim == 0:
        return np.array([[float(statistic)]])
    return statistic[: a.shape[1], a.shape[1]:].copy()


def best_per_feature(rho: np.ndarray, target_names: Sequence[str]) -> pd.DataFrame:
    """Per feature: max |ρ| over targets, the target reaching it and the signed ρ (NaN / '' when unscored)."""
    absolute = np.abs(rho)
    scored = np.isfinite(absolute).any(1)
    if absolute.shape[1] == 0:  # no target passed the shared non-zero cut (e.g. a tiny test split)
        best = np.zeros(len(rho), dtype=int)
        absolute = rho = np.full((len(rho), 1), np.nan)
    else:
        best = np.where(scored[:, None], np.nan_to_num(absolute, nan=-1.0), -1.0).argmax(1)
    rows = np.arange(len(rho))
    return pd.DataFrame({
        "feature": rows,
        "max_abs_rho": np.where(scored, absolute[rows, best], np.nan),
        "best_target": [target_names[index] if ok else "" for index, ok in zip(best, scored)],
        "rho": np.where(scored, rho[rows, best], np.nan),
    })


def best_per_target(rho: np.ndarray) -> np.ndarray:
    """(T,) max |ρ| over features for each target (NaN when no feature is scored against it)."""
    absolute = np.abs(rho)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        return np.nanmax(absolute, axis=0) if len(absolute) else np.full(rho.shape[1], np.nan)


def alignment_table(rho: np.ndarray, target_names: Sequence[str], family: str) -> pd.DataFrame:
    """Long table of every scored pair: family, feature, target, rho."""
    feature, target = np.nonzero(np.isfinite(rho))
    return pd.DataFrame({"family": family, "feature": feature.astype(np.int64),
                         "target": [target_names[index] for index in target], "rho": rho[feature, target]})


def rho_matrix(table: pd.DataFrame, n_features: int, target_names: Sequence[str]) -> np.ndarray:
    """Inverse of :func:`alignment_table`: the (F, T) matrix with NaN for unscored pairs."""
    rho = np.full((n_features, len(target_names)), np.nan)
    position = {name: index for index, name in enumerate(target_names)}
    columns = table["target"].map(position)
    keep = columns.notna().to_numpy()
    rho[table["feature"].to_numpy()[keep], columns[keep].astype(int).to_numpy()] = table["rho"].to_numpy()[keep]
    return rho
