"""Similarity-search figure: query galaxies (one per class) and their nearest neighbours as colour composites."""

from __future__ import annotations

import os
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from galssl.composite import image_rgb
from galssl.errors import DataError
from galssl.label_table import known_classes
from galssl.search_index import Neighbour, SearchIndex, SearchSettings, index_kind, load_index

QUERY_COLOUR, SAME_COLOUR, OTHER_COLOUR = "#f2b701", "#2ca02c", "#d62728"
"""Frames: the query; a neighbour of the query's class; a neighbour of another class."""


def _frame(ax: plt.Axes, colour: str | None, width: float) -> None:
    for spine in ax.spines.values():
        spine.set_visible(colour is not None)
        if colour is not None:
            spine.set_edgecolor(colour)
            spine.set_linewidth(width)


def _label(ax: plt.Axes, text: str, where: str) -> None:
    x, y, va, ha = (0.03, 0.97, "top", "left") if where == "top" else (0.97, 0.03, "bottom", "right")
    text = textwrap.fill(text, 16)  # long class names in two lines, inside the stamp
    ax.text(x, y, text, transform=ax.transAxes, va=va, ha=ha, color="white", fontsize=6, linespacing=1.0,
            bbox=dict(facecolor="black", alpha=0.5, pad=1.2, edgecolor="none"))


def choose_queries(object_ids: list[str], catalog: pd.DataFrame, labels: pd.DataFrame | None,
                   settings: SearchSettings, seed: int) -> list[str]:
    """Figure queries from the test split, chosen with ``seed``: one per class when the labels hold the class
    column (classes in sorted order, at most ``figure_queries``), else ``figure_queries`` objects drawn at random."""
    if "split" not in catalog.columns:
        raise DataError("the catalogue has no 'split' column; use results/catalog/catalog.parquet from ingest")
    rng = np.random.default_rng(seed)
    test = catalog.loc[catalog["split"].eq("test"), "object_id"].astype(str)
    candidates = sorted(set(test) & set(object_ids))
    if not candidates:
        raise DataError("no test-split object is in the index; check the catalogue and embeddings")
    if labels is None or settings.class_column not in labels.columns:
        count = min(settings.figure_queries, len(candidates))
        return [candidates[i] for i in rng.choice(len(candidates), size=count, replace=False)]
    classes = labels.set_index(labels["object_id"].astype(str))[settings.class_column].reindex(candidates)
    classes = classes[known_classes(classes.to_numpy())]
    chosen = []
    for value in sorted(classes.unique())[: settings.figure_queries]:
        members = sorted(classes.index[classes == value])
        chosen.append(members[int(rng.integers(len(members)))])
    return chosen


def similarity_figure(rows: list[tuple[str, list[Neighbour]]], images: dict[str, np.ndarray], bands: list[str],
                      instrument: str, classes: dict[str, str] | None = None, title: str = "",
                      display: bool = False) -> plt.Figure:
    """One row per query: the query (gold frame) then its neighbours, each labelled with class and similarity.

    ``images`` maps object_id → (bands, H, W) cutout in nanomaggies (``display``: display values, shown as they
    are); ``classes`` maps object_id → class name (frames then show whether a neighbour shares the query's class).
    """
    n_columns = 1 + max(len(neighbours) for _, neighbours in rows)
    height = 1.25 * len(rows) + 0.8
    fig, axes = plt.subplots(len(rows), n_columns, figsize=(1.2 * n_columns + 0.3, height), squeeze=False)
    for r, (query, neighbours) in enumerate(rows):
        query_class = classes.get(query) if classes else None
        for c in range(n_columns):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c > len(neighbours):
                ax.set_axis_off()
                continue
            object_id = query if c == 0 else neighbours[c - 1].object_id
            ax.imshow(image_rgb(images[object_id], bands, instrument, display), origin="lower", interpolation="nearest")
            name = classes.get(object_id) if classes else None
            if name is not None:
                _label(ax, str(name).replace("_", " "), "top")
            if c == 0:
                _frame(ax, QUERY_COLOUR, 3.0)
                ax.set_ylabel(query, fontsize=7)
                _label(ax, "query", "bottom")
                continue
            _label(ax, f"s = {neighbours[c - 1].similarity:.3f}", "bottom")
            if query_class is None or name is None:
                _frame(ax, None, 0.0)
            else:
                _frame(ax, SAME_COLOUR if name == query_class else OTHER_COLOUR, 2.0)
    for c in range(n_columns):
        axes[0][c].set_title("query" if c == 0 else f"#{c}", fontsize=8)
    legend = "frames: gold = query"
    if classes:
        legend += ", green = same class as the query, red = other class"
    fig.suptitle(f"{title}\n{legend}; s = cosine similarity" if title else f"{legend}; s = cosine similarity",
                 fontsize=8.5, y=1 - 0.06 / height, va="top")
    fig.subplots_adjust(left=0.04, right=0.995, bottom=0.005, top=1 - 0.62 / height, wspace=0.04, hspace=0.06)
    return fig


def similarity_figure_from_files(index_path: str | os.PathLike, catalog_path: str | os.PathLike,
                                 labels_path: str | os.PathLike | None, shards: list[str],
                                 manifest_path: str | os.PathLike, instrument: str, settings: SearchSettings,
                                 seed: int, title: str = "") -> plt.Figure:
    """The figure for a saved index: queries from ``choose_queries``, neighbours from the index, cutouts from shards."""
    from galssl.data import load_manifest
    from galssl.display import manifest_is_display
    from galssl.shards import read_images_for
    from galssl.tables import read_table

    index: SearchIndex = load_index(index_path)
    catalog = read_table(catalog_path, "catalogue")
    labels = read_table(labels_path, "labels table") if labels_path else None
    manifest = load_manifest(manifest_path)
    queries = choose_queries(index.object_ids, catalog, labels, settings, seed)
    rows = [(query, index.neighbours(query, settings.figure_neighbours)) for query in queries]
    wanted = list(dict.fromkeys([query for query, _ in rows] + [n.object_id for _, found in rows for n in found]))
    images = dict(zip(wanted, read_images_for(shards, wanted)))
    classes = None
    if labels is not None and settings.class_column in labels.columns:
        table = labels.set_index(labels["object_id"].astype(str))
        column = settings.name_column if settings.name_column in table.columns else settings.class_column
        known = known_classes(table[settings.class_column].to_numpy())
        classes = {object_id: str(value) for object_id, value in table.loc[known, column].items()}
        if "object_type" in table.columns:  # stars and artifacts have no class: show what they are
            classes.update({object_id: str(value) for object_id, value in table.loc[~known, "object_type"].items()})
    heading = f"{title + ': ' if title else ''}{index_kind(index.index)} index of {index.index.ntotal} objects"
    return similarity_figure(rows, images, list(manifest["bands"]), instrument, classes, heading,
                             manifest_is_display(manifest))
