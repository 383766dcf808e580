"""UMAP figures: the thumbnail map, scatter plots coloured by labels, and the stationarity paths."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from galssl.figure_panels import StationarityPanel
from galssl.plots.maps_pca import short_target


def thumbnail_map_figure(cells: pd.DataFrame, thumbnails: Sequence[np.ndarray], title: str,
                         size_in: float = 13.0) -> plt.Figure:
    """Each occupied cell of the UMAP plane shows its chosen galaxy's colour composite (``thumbnails`` in the order
    of ``cells`` rows)."""
    figure, axis = plt.subplots(figsize=(size_in, size_in))
    for row, image in zip(cells.itertuples(index=False), thumbnails):
        axis.imshow(image, extent=(row.x_min, row.x_max, row.y_min, row.y_max), origin="lower",
                    interpolation="bilinear")
    if len(cells):
        axis.set_xlim(cells["x_min"].min(), cells["x_max"].max())
        axis.set_ylim(cells["y_min"].min(), cells["y_max"].max())
    axis.set_facecolor("black")
    axis.set_aspect("auto")
    axis.set_xlabel("UMAP 1")
    axis.set_ylabel("UMAP 2")
    axis.set_title(title)
    figure.tight_layout()
    return figure


def object_classes(labels: pd.DataFrame, class_name_column: str = "galaxy10_name") -> np.ndarray:
    """A category per object: the Galaxy10 name for galaxies, else the object type, else 'unlabelled'."""
    classes = np.full(len(labels), "unlabelled", dtype=object)
    if "object_type" in labels.columns:
        kind = labels["object_type"].astype(object).to_numpy()
        classes = np.where(pd.notna(kind), kind, classes)
    if class_name_column in labels.columns:
        name = labels[class_name_column].astype(object).to_numpy()
        galaxy = pd.notna(name) & (name != "") & ((classes == "galaxy") | (classes == "unlabelled"))
        classes = np.where(galaxy, name, classes)
    return classes.astype(str)


def scatter_figure(coords: np.ndarray, classes: np.ndarray, targets: np.ndarray, target_names: Sequence[str],
                   title: str, n_columns: int = 6) -> plt.Figure:
    """A large panel coloured by class (2 × 2 cells), then one panel per target (vote fractions, redshift) coloured
    by its value, grey where it is undefined."""
    coords = np.asarray(coords, dtype=float)
    n_rows = max(2, -(-(len(target_names) + 4) // n_columns))
    figure = plt.figure(figsize=(2.6 * n_columns, 2.5 * n_rows + 0.8), layout="constrained")
    grid = figure.add_gridspec(n_rows, n_columns)
    size = max(0.5, min(6.0, 6000.0 / max(len(coords), 1)))
    axis = figure.add_subplot(grid[0:2, 0:2])
    palette = plt.get_cmap("tab20")
    for index, name in enumerate(sorted(set(classes))):
        chosen = classes == name
        axis.scatter(coords[chosen, 0], coords[chosen, 1], s=2 * size, color=palette(index % 20), label=name,
                     linewidths=0, rasterized=True)
    axis.set_title("class", fontsize=9)
    axis.legend(fontsize=6, markerscale=3, loc="best", frameon=True, framealpha=0.7, handletextpad=0.1)
    axes = [axis]
    cells = [(row, column) for row in range(n_rows) for column in range(n_columns) if not (row < 2 and column < 2)]
    for (row, column), name, values in zip(cells, target_names, np.asarray(targets, dtype=float).T):
        axis = figure.add_subplot(grid[row, column])
        defined = np.isfinite(values)
        axis.scatter(coords[~defined, 0], coords[~defined, 1], s=size, color="0.85", linewidths=0, rasterized=True)
        order = np.argsort(values[defined], kind="stable")  # high values drawn last, on top
        image = axis.scatter(coords[defined][order, 0], coords[defined][order, 1], c=values[defined][order], s=size,
                             cmap="viridis", linewidths=0, rasterized=True)
        figure.colorbar(image, ax=axis, fraction=0.046, pad=0.02).ax.tick_params(labelsize=5)
        axis.set_title(short_target(name), fontsize=7)
        axes.append(axis)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(title)
    return figure


_MARKERS = {"rotation": "o", "jitter": "s", "noise": "^"}


def stationarity_figure(panels: Sequence[StationarityPanel], title: str) -> plt.Figure:
    """Side by side: each galaxy (one colour) and its copies under rotation, jitter and noise in each map."""
    figure, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 6.0), squeeze=False)
    colours = plt.get_cmap("tab10")
    for axis, panel in zip(axes[0], panels):
        axis.scatter(panel.coords[:, 0], panel.coords[:, 1], s=1, color="0.8", linewidths=0, rasterized=True)
        for galaxy, place in enumerate(panel.reference):
            colour = colours(galaxy % 10)
            for transform, path in panel.paths.items():
                points = np.vstack([place, path[galaxy]])
                axis.plot(points[:, 0], points[:, 1], color=colour, lw=0.6, alpha=0.7)
                axis.scatter(path[galaxy][:, 0], path[galaxy][:, 1], s=12, color=colour,
                             marker=_MARKERS.get(transform, "o"), edgecolors="k", linewidths=0.3, zorder=3)
            axis.scatter(*place, s=120, marker="*", color=colour, edgecolors="k", linewidths=0.6, zorder=4)
        parts = ", ".join(f"{name} {value:.2f}" for name, value in panel.transform_scores.items())
        axis.set_title(f"{panel.name}: stationarity {panel.score:.2f}\n({parts})", fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    handles = [plt.Line2D([], [], ls="", marker=marker, color="0.3", label=name) for name, marker in _MARKERS.items()]
    handles.append(plt.Line2D([], [], ls="", marker="*", markersize=10, color="0.3", label="original"))
    axes[0, -1].legend(handles=handles, fontsize=7, loc="best")
    figure.suptitle(title + "\nscore = mean displacement ÷ median nearest-neighbour distance (lower = more stationary)",
                    fontsize=10)
    figure.tight_layout()
    return figure
