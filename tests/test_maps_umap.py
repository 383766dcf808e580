"""UMAP thumbnail cells, placement of new points, the stationarity views and score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from galssl.errors import DataError
from galssl.maps.settings import StationaritySettings, UMAPSettings
from galssl.maps.stationarity import (
    TRANSFORMS,
    choose_galaxies,
    displacements,
    path_parameters,
    stationarity_score,
    stationarity_views,
)
from galssl.maps.umap import fit_umap, nearest_neighbour_scale, place_points, thumbnail_cells

torch.set_num_threads(1)


def test_thumbnail_cells_never_show_a_galaxy_twice():
    rng = np.random.default_rng(0)
    coords = np.r_[rng.normal(size=(500, 2)), rng.normal(5, 0.3, size=(200, 2))]
    cells = thumbnail_cells(coords, 12, seed=3)
    assert cells["index"].is_unique
    assert not cells[["cell_x", "cell_y"]].duplicated().any()
    chosen = coords[cells["index"]]
    inside = (chosen[:, 0] >= cells["x_min"] - 1e-9) & (chosen[:, 0] <= cells["x_max"] + 1e-9) & \
             (chosen[:, 1] >= cells["y_min"] - 1e-9) & (chosen[:, 1] <= cells["y_max"] + 1e-9)
    assert inside.all()
    width = (coords.max(0) - coords.min(0)) / 12
    occupied = {tuple(cell) for cell in np.clip(((coords - coords.min(0)) / width).astype(int), 0, 11)}
    assert len(cells) == len(occupied)  # one per occupied cell, none for empty ones
    assert cells.equals(thumbnail_cells(coords, 12, seed=3))
    assert not cells["index"].equals(thumbnail_cells(coords, 12, seed=4)["index"])


def test_thumbnail_cells_edge_cases():
    assert thumbnail_cells(np.zeros((5, 2)), 4, seed=0)["index"].tolist() in ([0], [1], [2], [3], [4])
    with pytest.raises(DataError):
        thumbnail_cells(np.zeros((5, 3)), 4, seed=0)
    with pytest.raises(DataError):
        thumbnail_cells(np.zeros((5, 2)), 0, seed=0)


def test_nearest_neighbour_scale_by_hand():
    coords = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [3.0, 4.0]])
    # nearest distances: 1, 1, 2, 4 -> median 1.5
    assert nearest_neighbour_scale(coords) == pytest.approx(1.5)


def test_displacement_and_score_by_hand():
    reference = np.array([[0.0, 0.0], [1.0, 1.0]])
    paths = np.array([[[3.0, 4.0], [0.0, 1.0]], [[1.0, 1.0], [1.0, 3.0]]])
    assert displacements(reference, paths).tolist() == [[5.0, 1.0], [0.0, 2.0]]
    assert stationarity_score(reference, paths, 2.0) == pytest.approx(1.0)
    with pytest.raises(DataError):
        stationarity_score(reference, paths, 0.0)


def test_stationarity_views_follow_the_augment_transforms():
    settings = StationaritySettings(n_galaxies=2, n_steps=4, max_shift_px=2, noise_scale=(1.0, 2.0))
    images = np.zeros((2, 3, 16, 16), np.float32)
    images[:, :, 7:9, 5:9] = 1.0  # an off-centre bar
    originals, views = stationarity_views(images, 12, settings, [0.1, 0.1, 0.1], seed=0)
    assert originals.shape == (2, 3, 12, 12)
    assert set(views) == set(TRANSFORMS) and all(v.shape == (2, 4, 3, 12, 12) for v in views.values())
    parameters = path_parameters(settings)
    assert np.allclose(parameters["rotation"], [72, 144, 216, 288])
    assert np.allclose(parameters["noise"], [1.0, 4 / 3, 5 / 3, 2.0])
    row, col = parameters["jitter"][0]
    assert np.array_equal(views["jitter"][0, 0], images[0, :, 2 + row:14 + row, 2 + col:14 + col])
    assert not np.allclose(views["rotation"][0, 1], originals[0])  # a half-turn-ish rotation moves the bar
    assert views["rotation"][0, 1].sum() == pytest.approx(originals[0].sum(), rel=0.05)
    noise = views["noise"] - originals[:, None]
    assert noise[:, -1].std() > noise[:, 0].std() > 0.05  # growing sky noise
    again = stationarity_views(images, 12, settings, [0.1, 0.1, 0.1], seed=0)[1]
    assert np.array_equal(again["noise"], views["noise"])
    with pytest.raises(DataError, match="max_shift_px=3"):
        stationarity_views(images, 12, StationaritySettings(max_shift_px=3), [0.1] * 3, seed=0)


def test_choose_galaxies_is_seeded_and_checks_the_pool():
    ids = [f"g{i}" for i in range(10)]
    eligible = np.arange(10) % 2 == 0
    chosen = choose_galaxies(ids, eligible, 3, seed=1)
    assert chosen == choose_galaxies(ids, eligible, 3, seed=1) and len(set(chosen)) == 3
    assert all(int(object_id[1:]) % 2 == 0 for object_id in chosen)
    with pytest.raises(DataError, match="n_galaxies=6"):
        choose_galaxies(ids, eligible, 6, seed=1)


def test_umap_places_new_points_next_to_their_twins():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(3, 8))
    vectors = (centres[np.repeat(np.arange(3), 60)] + rng.normal(size=(180, 8))).astype(np.float32)
    reducer = fit_umap(vectors, UMAPSettings(n_neighbors=10, metric="euclidean"), seed=0)
    coords = reducer.embedding_
    assert coords.shape == (180, 2)
    placed = place_points(reducer, vectors[[0, 70, 150]] + 0.01)
    distance = np.linalg.norm(placed - coords[[0, 70, 150]], axis=1)
    spread = np.linalg.norm(coords.max(0) - coords.min(0))
    assert np.all(distance < 0.1 * spread)
    cluster = np.repeat(np.arange(3), 60)
    for point, label in zip(placed, (0, 1, 2)):  # nearest fitted points belong to the right cluster
        assert np.bincount(cluster[np.argsort(np.linalg.norm(coords - point, axis=1))[:10]]).argmax() == label
    again = fit_umap(vectors, UMAPSettings(n_neighbors=10, metric="euclidean"), seed=0).embedding_
    assert np.array_equal(again, coords)
    with pytest.raises(DataError):
        fit_umap(vectors[:2], UMAPSettings(), seed=0)


def test_umap_compiles_once_into_numba_cache():
    """Every jitted function of umap-learn and pynndescent is cached on disk, so a new job does not compile again."""
    from numba.core.caching import FunctionCache
    from numba.core.dispatcher import Dispatcher

    from galssl.maps.umap import import_umap

    umap = import_umap()
    jitted = [value for module in (umap.layouts, umap.umap_, umap.utils) for value in vars(module).values()
              if isinstance(value, Dispatcher)]
    assert len(jitted) >= 10 and all(isinstance(function._cache, FunctionCache) for function in jitted)
    vectors = np.random.default_rng(1).normal(size=(40, 6)).astype(np.float32)
    fit_umap(vectors, UMAPSettings(n_neighbors=5, metric="euclidean"), seed=0)
    optimise = umap.layouts._nb_optimize_layout_euclidean_single_epoch  # the layout of euclidean output maps
    index = Path(optimise._cache._cache_path)
    assert any(index.glob("layouts._optimize_layout_euclidean_single_epoch-*.nbi")), sorted(index.iterdir())[:5]
