"""The mock-sky gallery figure: every Galaxy10 class at several redshifts, as colour composites of the cutouts
``galssl.mocksky.gallery`` renders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from galssl.composite import lupton_rgb


def gallery_figure(rows: Sequence[Sequence[tuple[Mapping[str, np.ndarray], str, float]]], bands: Sequence[str],
                   instrument: str, pixel_scale_arcsec: float, seed: int) -> plt.Figure:
    """A labelled grid: one row per Galaxy10 class, one column per redshift. Each cell is (image per band, class
    name, z); ``bands`` are the composite's three bands (red, green, blue), ``pixel_scale_arcsec`` sets the 10"
    scale bar."""
    n_rows, n_cols = len(rows), len(rows[0])
    scale = pixel_scale_arcsec
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.1 * n_cols, 2.25 * n_rows), squeeze=False)
    for r, row in enumerate(rows):
        for c, (images, cls, z) in enumerate(row):
            rgb = lupton_rgb(images[bands[0]], images[bands[1]], images[bands[2]], list(bands))
            ax = axes[r][c]
            ax.imshow(rgb, origin="lower", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.03, 0.97, cls.replace("_", " "), transform=ax.transAxes, va="top", ha="left", color="white",
                    fontsize=7.5, bbox=dict(facecolor="black", alpha=0.45, pad=1.5, edgecolor="none"))
            ax.text(0.97, 0.03, f"z = {z:.2f}", transform=ax.transAxes, va="bottom", ha="right", color="white",
                    fontsize=8, bbox=dict(facecolor="black", alpha=0.45, pad=1.5, edgecolor="none"))
    bar_px = 10.0 / scale
    axes[-1][0].plot([4, 4 + bar_px], [4, 4], color="white", lw=2)
    axes[-1][0].text(4 + bar_px / 2, 7, '10"', color="white", ha="center", fontsize=7)
    fig.suptitle(f"galssl mock sky: Galaxy10 classes as seen by mock {instrument} "
                 f"({'/'.join(bands)} composite, {scale:g}\"/px, seed {seed})", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.985), h_pad=0.3, w_pad=0.3)
    return fig
