"""The mock-sky gallery's cutouts: every Galaxy10 class rendered alone (no field sources) at each gallery redshift,
in the three bands of the instrument's colour composite. ``galssl.plots.gallery`` draws them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galssl.composite import composite_bands
from galssl.instruments import load_instrument
from galssl.mocksky.render import make_wcs
from galssl.mocksky.settings import GALAXY10_CLASSES
from galssl.mocksky.sky import MockSky
from galssl.mocksky.truth import object_rng


@dataclass(frozen=True)
class GalleryCell:
    """One rendered object: its (H, W) image per composite band (nanomaggies per pixel), class name and redshift."""

    images: dict[str, np.ndarray]
    class_name: str
    redshift: float


@dataclass(frozen=True)
class Gallery:
    """Rows of cells (one row per Galaxy10 class, one column per redshift) and how they were imaged."""

    rows: list[list[GalleryCell]]
    instrument: str
    bands: tuple[str, str, str]
    pixel_scale_arcsec: float
    seed: int


def gallery_cutouts(sky: MockSky) -> Gallery:
    """Render each class alone at each of ``mock.gallery_redshifts`` with the gallery instrument."""
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
            row.append(GalleryCell({band: images[band] for band in bands}, cls, z))
        rows.append(row)
    return Gallery(rows, instrument.name, tuple(bands), scale, sky.seed)
