"""UMAP maps of an embedding (umap-learn, seeded): the 2-d layout, the thumbnail-map cells, the neighbour scale.

With ``random_state`` set umap-learn runs single-threaded and is reproducible on CPU. The thumbnail map cuts the
plane's bounding box into ``n_cells`` × ``n_cells`` cells and shows one randomly chosen object per occupied cell
(Hayat et al. 2021, Fig. 3); every object lies in exactly one cell, so no galaxy appears twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from galssl.errors import DataError
from galssl.maps.settings import UMAPSettings


def import_umap():
    """``umap``, with numba's on-disk cache switched on for every jitted function of umap-learn and pynndescent.

    Written by hand because neither library offers it: about half of their ~250 numba functions are declared without
    ``cache=True``, so every new process (one per Snakemake job) compiled them again, 15-50 s per UMAP job whatever
    the number of points. ``Dispatcher.enable_caching`` is numba's own switch for the same thing; the compiled code
    is identical, the cache is keyed by source file, signature and CPU, and lives in ``__pycache__`` beside the
    library (or numba's user-wide cache directory where that is read-only, or ``NUMBA_CACHE_DIR``).
    """
    import sys

    import umap
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(("umap", "pynndescent")):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and isinstance(value._cache, NullCache):
                value.enable_caching()
    return umap


def fit_umap(vectors: np.ndarray, settings: UMAPSettings, seed: int):
    """A fitted ``umap.UMAP`` on ``vectors`` (N, D); its 2-d layout is ``reducer.embedding_`` (N, 2)."""
    umap = import_umap()

    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) < 3 or not np.all(np.isfinite(vectors)):
        raise DataError(f"UMAP needs a finite (N, D) matrix with N >= 3 (got shape {vectors.shape})")
    neighbours = min(settings.n_neighbors, len(vectors) - 1)
    reducer = umap.UMAP(n_neighbors=neighbours, min_dist=settings.min_dist, metric=settings.metric,
                        random_state=seed, n_jobs=1, transform_seed=seed)
    reducer.fit(vectors)
    return reducer


def place_points(reducer, vectors: np.ndarray) -> np.ndarray:
    """(M, 2) places of new points in a fitted map: the membership-weighted mean of their UMAP neighbours' places.

    This is the deterministic start of ``umap.UMAP.transform``, without its few epochs of stochastic optimisation,
    whose scatter (many nearest-neighbour distances even for a point of the fit itself) would swamp small moves.
    """
    init_graph_transform = import_umap().umap_.init_graph_transform

    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or not np.all(np.isfinite(vectors)):
        raise DataError(f"points to place in a UMAP must be a finite (M, D) matrix (got shape {vectors.shape})")
    mode = reducer.transform_mode
    reducer.transform_mode = "graph"
    try:
        graph = reducer.transform(vectors).tocsr()
    finally:
        reducer.transform_mode = mode
    graph.eliminate_zeros()
    return np.asarray(init_graph_transform(graph, reducer.embedding_), dtype=float)


def thumbnail_cells(coords: np.ndarray, n_cells: int, seed: int) -> pd.DataFrame:
    """One random object per occupied cell of an ``n_cells`` × ``n_cells`` grid over the bounding box of ``coords``
    (N, 2). Columns: cell_x, cell_y (0-based), index (row of coords), x_min, x_max, y_min, y_max (cell edges)."""
    coords = np.asarray(coords, dtype=float)
    if coords.ndim != 2 or coords.shape[1] != 2 or not len(coords):
        raise DataError(f"thumbnail map needs (N, 2) UMAP coordinates (got shape {coords.shape})")
    if n_cells < 1:
        raise DataError(f"maps.umap.grid_cells must be >= 1 (got {n_cells})")
    low, high = coords.min(0), coords.max(0)
    width = np.where(high > low, (high - low) / n_cells, 1.0)
    cell = np.clip(((coords - low) / width).astype(int), 0, n_cells - 1)
    key = cell[:, 0] * n_cells + cell[:, 1]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(coords))  # a random object of each cell: the first in a random order
    first = pd.Series(order).groupby(key[order]).first()
    chosen = first.to_numpy()
    cx, cy = cell[chosen, 0], cell[chosen, 1]
    return pd.DataFrame({"cell_x": cx, "cell_y": cy, "index": chosen,
                         "x_min": low[0] + cx * width[0], "x_max": low[0] + (cx + 1) * width[0],
                         "y_min": low[1] + cy * width[1], "y_max": low[1] + (cy + 1) * width[1]})


def nearest_neighbour_scale(coords: np.ndarray) -> float:
    """Median distance from each point of ``coords`` (N, 2) to its nearest other point: the map's typical spacing."""
    coords = np.asarray(coords, dtype=float)
    if len(coords) < 2:
        raise DataError("the neighbour scale needs at least 2 points")
    distance, _ = cKDTree(coords).query(coords, k=2)
    return float(np.median(distance[:, 1]))
