"""The mock-sky gallery: every Galaxy10 class at several redshifts, as colour composites."""

from __future__ import annotations


import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from galssl.mocksky.instruments import load_instrument  # noqa: E402
from galssl.mocksky.render import make_wcs  # noqa: E402
from galssl.mocksky.settings import GALAXY10_CLASSES  # noqa: E402
from galssl.mocksky.sky import MockSky  # noqa: E402
from galssl.mocksky.truth import object_rng  # noqa: E402
from galssl.plots.composite import composite_bands, lupton_rgb  # noqa: E402


def gallery_images(sky: MockSky) -> list[list[tuple[np.ndarray, str, float]]]:
    """Rows of (RGB image, class name, z): each class rendered alone (no field sources) at each gallery redshift."""
    settings = sky.settings
    instrument = load_instrument(settings.gallery_instrument)
    bands = composite_bands(instrument.name, list(instrument.bands))
    scale = instrument.band(bands[1]).pixel_scale_arcsec
    size = settings.gallery_size_px
    rows = []
    for cls in GALAXY10_CLASSES:
        row = []
        for z in settings.gallery_redshifts:
            key = f"gallery:{cls}:{z:.4f}"
            obj = sky.build(key, force_class=cls, force_z=z)
            wcs = make_wcs(settings.ra_center_deg, settings.dec_center_deg, scale, (size, size))
            fwhm = {band: instrument.band(band).psf_fwhm_arcsec for band in bands}
            rngs = {band: object_rng(sky.seed, f"{key}:noise:{band}") for band in bands}
            scene = [(0.0, 0.0, body) for body in obj.bodies]
            images = sky.render(wcs, (size, size), instrument, list(dict.fromkeys(bands)), fwhm, rngs, scene)
            rgb = lupton_rgb(images[bands[0]], images[bands[1]], images[bands[2]], bands)
            row.append((rgb, cls, z))
        rows.append(row)
    return rows


def gallery_figure(sky: MockSky) -> plt.Figure:
    """A labelled grid: one row per Galaxy10 class, one column per redshift."""
    rows = gallery_images(sky)
    n_rows, n_cols = len(rows), len(rows[0])
    settings = sky.settings
    instrument = load_instrument(settings.gallery_instrument)
    bands = composite_bands(instrument.name, list(instrument.bands))
    scale = instrument.band(bands[1]).pixel_scale_arcsec
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.1 * n_cols, 2.25 * n_rows), squeeze=False)
    for r, row in enumerate(rows):
        for c, (rgb, cls, z) in enumerate(row):
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
    fig.suptitle(f"galssl mock sky: Galaxy10 classes as seen by mock {instrument.name} "
                 f"({'/'.join(bands)} composite, {scale:g}\"/px, seed {sky.seed})", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.985), h_pad=0.3, w_pad=0.3)
    return fig


