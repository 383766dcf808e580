"""Principal components of an embedding: explained variance, component scores, and each component's extremes.

Fitted on the training split (scikit-learn, full SVD: deterministic), applied to every object. The Spearman ρ of
components with vote fractions and redshift comes from :func:`galssl.maps.align.spearman_alignment`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from galssl.errors import DataError


@dataclass(frozen=True)
class PCAResult:
    """``explained_variance_ratio`` of every component the training set allows (min(N_train, D)); ``scores`` (N,
    n_components) of all objects; ``components`` (n_components, D) unit vectors."""

    explained_variance_ratio: np.ndarray
    scores: np.ndarray
    components: np.ndarray


def fit_pca(train: np.ndarray, vectors: np.ndarray, n_components: int) -> PCAResult:
    """PCA fitted on ``train`` (N_train, D); ``scores`` are the first ``n_components`` of every row of ``vectors``."""
    train = np.asarray(train, dtype=np.float64)
    vectors = np.asarray(vectors, dtype=np.float64)
    if train.ndim != 2 or len(train) < 2:
        raise DataError(f"PCA needs at least 2 training embeddings as an (N, D) matrix (got shape {train.shape})")
    if vectors.ndim != 2 or vectors.shape[1] != train.shape[1]:
        raise DataError(f"embeddings {vectors.shape} and training embeddings {train.shape} differ in dimension")
    if n_components < 1:
        raise DataError(f"maps.pca.n_components must be >= 1 (got {n_components})")
    model = PCA(n_components=min(train.shape), svd_solver="full").fit(train)
    kept = min(n_components, model.n_components_)
    return PCAResult(explained_variance_ratio=model.explained_variance_ratio_.copy(),
                     scores=model.transform(vectors)[:, :kept], components=model.components_[:kept].copy())


def component_extremes(scores: np.ndarray, n: int,
                       candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the ``n`` most negative and ``n`` most positive objects of each component: two (K, n) arrays,
    most extreme first. ``candidates`` (boolean (N,)) restricts the choice, e.g. to galaxies."""
    scores = np.asarray(scores, dtype=float)
    pool = np.arange(len(scores)) if candidates is None else np.flatnonzero(candidates)
    if len(pool) < n:
        raise DataError(f"need at least {n} objects to show each component's extremes (got {len(pool)})")
    order = np.argsort(scores[pool], axis=0, kind="stable")  # (N_pool, K), ascending
    negative = pool[order[:n].T]
    positive = pool[order[::-1][:n].T]
    return negative, positive


def components_for_fraction(explained_variance_ratio: np.ndarray, fraction: float) -> int:
    """Fewest components whose cumulative explained variance reaches ``fraction`` (0 < fraction <= 1)."""
    cumulative = np.cumsum(explained_variance_ratio)
    return int(min(np.searchsorted(cumulative, fraction - 1e-12) + 1, len(cumulative)))
