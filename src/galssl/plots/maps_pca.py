"""PCA figures of an embedding: explained variance, components × labels Spearman heat map, component extremes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from galssl.plots.maps_thumbnails import ThumbnailRow, composites, thumbnail_grid

MARK_COLOURS = {0.5: "tab:green", 0.9: "tab:orange", 0.99: "tab:red"}
"""Colour of each marked cumulative explained-variance fraction."""


def variance_figure(explained_variance_ratio: np.ndarray, marks: Mapping[float, int], title: str) -> plt.Figure:
    """Explained variance ratio per component (log) and its cumulative sum, with the marked fractions (50/90/99 %)
    and the fewest components reaching each (``marks``: fraction -> components)."""
    ratio = np.asarray(explained_variance_ratio, dtype=float)
    index = np.arange(1, len(ratio) + 1)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(index, ratio, marker=".", markersize=3, lw=1)
    left.set_yscale("log")
    left.set_xscale("log")
    left.set_xlabel("component")
    left.set_ylabel("explained variance ratio")
    left.grid(alpha=0.3, which="both")
    right.plot(index, np.cumsum(ratio), lw=1.5)
    for fraction, needed in marks.items():
        colour = MARK_COLOURS.get(fraction, "tab:grey")
        right.axhline(fraction, color=colour, lw=0.8, ls="--")
        right.axvline(needed, color=colour, lw=0.8, ls=":")
        right.annotate(f"{fraction:.0%}: {needed}", (needed, fraction), xytext=(4, -12), textcoords="offset points",
                       fontsize=8, color=colour)
    right.set_xscale("log")
    right.set_ylim(0, 1.02)
    right.set_xlabel("components")
    right.set_ylabel("cumulative explained variance")
    right.grid(alpha=0.3, which="both")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def short_target(name: str) -> str:
    """``disk_edge_on__yes_fraction`` → ``disk_edge_on: yes``."""
    if name.endswith("_fraction") and "__" in name:
        question, answer = name[: -len("_fraction")].split("__", 1)
        return f"{question}: {answer}"
    return name


def spearman_heatmap(rho: np.ndarray, target_names: Sequence[str], title: str, n_rows: int | None = None) -> plt.Figure:
    """Components (rows) × targets (columns) Spearman ρ, diverging colours in [-1, 1]; blank = unscored."""
    rho = np.asarray(rho, dtype=float)[: n_rows or len(rho)]
    n_components, n_targets = rho.shape
    figure, axis = plt.subplots(figsize=(0.26 * n_targets + 3.0, 0.26 * n_components + 3.2))
    image = axis.imshow(np.ma.masked_invalid(rho), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto",
                        interpolation="nearest")
    axis.set_xticks(range(n_targets))
    axis.set_xticklabels([short_target(name) for name in target_names], rotation=90, fontsize=7)
    axis.set_yticks(range(n_components))
    axis.set_yticklabels([f"PC{index + 1}" for index in range(n_components)], fontsize=7)
    for row, column in zip(*np.nonzero(np.abs(np.nan_to_num(rho)) >= 0.5)):
        axis.text(column, row, f"{rho[row, column]:.1f}", ha="center", va="center", fontsize=5, color="white")
    figure.colorbar(image, ax=axis, label="Spearman ρ", fraction=0.03, pad=0.02)
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def extremes_figure(extremes: pd.DataFrame, images: Mapping[str, np.ndarray], explained_variance_ratio: np.ndarray,
                    bands: Sequence[str], survey: str, title: str, display: bool = False) -> plt.Figure:
    """One row per component: the most negative galaxies | the most positive ones, captioned with their score.

    ``extremes`` has component (1-based), end (negative, positive), rank (1 = most extreme), object_id and score;
    ``images`` maps object_id to its (bands, H, W) cutout (``display``: display images, shown as they are).
    """
    shown = list(dict.fromkeys(extremes["object_id"]))
    rgb = dict(zip(shown, composites([images[object_id] for object_id in shown], bands, survey, display)))
    rows, n_negative = [], 0
    for component, group in extremes.groupby("component", sort=True):
        ends = {end: part.sort_values("rank") for end, part in group.groupby("end")}
        low, high = ends.get("negative", group.iloc[:0]), ends.get("positive", group.iloc[:0])
        n_negative = max(n_negative, len(low))
        chosen = pd.concat([low, high])
        rows.append(ThumbnailRow(label=f"PC{component}\n{explained_variance_ratio[component - 1]:.1%}",
                                 images=[rgb[object_id] for object_id in chosen["object_id"]],
                                 captions=[f"{score:+.2g}" for score in chosen["score"]]))
    return thumbnail_grid(rows, title, gap_after=n_negative, column_titles=("most negative", "most positive"))
