"""Rows of galaxy thumbnails (colour composites) with a label per row: the grid behind the PCA and SAE figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from galssl.composite import image_rgb


@dataclass(frozen=True)
class ThumbnailRow:
    """One row: its label (left), uint8 (H, W, 3) images and a caption under each."""

    label: str
    images: Sequence[np.ndarray]
    captions: Sequence[str]


def composites(images: np.ndarray | Sequence[np.ndarray], bands: Sequence[str], survey: str,
               display: bool = False) -> list[np.ndarray]:
    """Colour composites of (n, bands, H, W) flux cutouts (``display``: display images, shown as they are)."""
    return [image_rgb(np.asarray(image), list(bands), survey, display) for image in images]


def thumbnail_grid(rows: Sequence[ThumbnailRow], title: str, gap_after: int | None = None,
                   column_titles: tuple[str, str] | None = None, panel_in: float = 1.0) -> plt.Figure:
    """A grid with one row per :class:`ThumbnailRow`; ``gap_after`` inserts an empty column after that many images
    (e.g. most negative | most positive), ``column_titles`` labels the two halves."""
    n_images = max(1, max((len(row.images) for row in rows), default=1))  # a row may be a note with no images
    n_columns = n_images + (1 if gap_after is not None else 0)
    label_in = 2.2  # room for the row labels left of the grid
    width_in = panel_in * n_columns + label_in
    figure, axes = plt.subplots(len(rows), n_columns, figsize=(width_in, panel_in * 1.2 * len(rows) + 0.9),
                                squeeze=False, gridspec_kw={"wspace": 0.04, "hspace": 0.35})
    for row_index, row in enumerate(rows):
        for column in range(n_columns):
            axis = axes[row_index, column]
            axis.set_xticks([])
            axis.set_yticks([])
            image_index = column - (1 if gap_after is not None and column > gap_after else 0)
            if column == gap_after or image_index >= len(row.images):
                axis.axis("off")
                continue
            axis.imshow(row.images[image_index], origin="lower", interpolation="nearest")
            axis.set_xlabel(row.captions[image_index], fontsize=6, labelpad=1)
            for spine in axis.spines.values():
                spine.set_visible(False)
        axes[row_index, 0].set_ylabel(row.label, fontsize=7, rotation=0, ha="right", va="center", labelpad=4)
    if column_titles is not None and gap_after is not None:
        axes[0, gap_after // 2].set_title(column_titles[0], fontsize=9)
        axes[0, gap_after + 1 + (n_images - gap_after) // 2].set_title(column_titles[1], fontsize=9)
    figure.suptitle(title, fontsize=10)
    height_in = panel_in * 1.2 * len(rows) + 0.9
    figure.subplots_adjust(left=label_in / width_in, right=0.99, top=1 - 0.6 / height_in, bottom=0.02)
    return figure
