"""Detector and sky artifacts: cosmic-ray hits, satellite trails, saturated stars with bleed trails and spikes.

Cosmic rays hit after the optics (no PSF) and in one exposure, so one band; trails are PSF-wide lines whose
position differs per band (bands are exposed at different times, as in SDSS drift scans).
"""

from __future__ import annotations

import math

import numpy as np

from galssl.instruments import BandSpec


def add_cosmic_rays(image: np.ndarray, rng: np.random.Generator, spec: BandSpec, n_hits: int,
                    near: tuple[float, float] | None = None) -> None:
    """Add ``n_hits`` sharp tracks of 1-6 pixels, 20-300 sigma bright, in place."""
    ny, nx = image.shape
    sigma = spec.sky_sigma_nmgy()
    for _ in range(n_hits):
        if near is None:
            y, x = rng.uniform(0, ny), rng.uniform(0, nx)
        else:
            y, x = near[1] + rng.normal(0, ny / 10), near[0] + rng.normal(0, nx / 10)
        length = rng.integers(1, 7)
        angle = rng.uniform(0, np.pi)
        amplitude = sigma * rng.uniform(20, 300)
        for step in range(int(length)):
            row, col = int(round(y + step * math.sin(angle))), int(round(x + step * math.cos(angle)))
            if 0 <= row < ny and 0 <= col < nx:
                image[row, col] += amplitude * rng.uniform(0.6, 1.0)


def add_satellite_trail(image: np.ndarray, rng: np.random.Generator, spec: BandSpec, psf_fwhm_arcsec: float,
                        through_centre: bool = False) -> None:
    """Add a straight trail of PSF width across the whole image, 3-40 sigma at its core, in place."""
    ny, nx = image.shape
    angle = rng.uniform(0, np.pi)
    offset = rng.normal(0, 2.0) if through_centre else rng.uniform(-0.45, 0.45) * min(nx, ny)
    yy, xx = np.mgrid[0:ny, 0:nx]
    distance = (xx - (nx - 1) / 2) * math.sin(angle) - (yy - (ny - 1) / 2) * math.cos(angle) - offset
    width = psf_fwhm_arcsec / spec.pixel_scale_arcsec / 2.3548
    image += spec.sky_sigma_nmgy() * rng.uniform(3, 40) * np.exp(-0.5 * (distance / width) ** 2)


def add_spikes(image: np.ndarray, col: float, row: float, flux: float, psf_fwhm_arcsec: float,
               spec: BandSpec) -> None:
    """Add four diffraction spikes along the detector axes from a bright star, in place."""
    ny, nx = image.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    width = max(0.5, 0.4 * psf_fwhm_arcsec / spec.pixel_scale_arcsec)
    dx, dy = xx - col, yy - row
    along_x = np.exp(-0.5 * (dy / width) ** 2) / (1 + (np.abs(dx) / 3.0) ** 1.5)
    along_y = np.exp(-0.5 * (dx / width) ** 2) / (1 + (np.abs(dy) / 3.0) ** 1.5)
    image += 2e-3 * flux * (along_x + along_y)


def saturate(image: np.ndarray, level: float) -> np.ndarray:
    """Clip at the full-well level and bleed the excess charge up and down the columns; return the bleed mask."""
    mask = np.zeros(image.shape, dtype=bool)
    ny = image.shape[0]
    for col in np.flatnonzero((image > level).any(axis=0)):
        column = image[:, col]
        excess = float(np.clip(column - level, 0, None).sum())
        saturated = np.flatnonzero(column > level)
        column[saturated] = level
        mask[saturated, col] = True
        low, high = int(saturated.min()) - 1, int(saturated.max()) + 1
        while excess > 0 and (low >= 0 or high < ny):
            for row in (low, high):
                if 0 <= row < ny and excess > 0:
                    room = max(level - column[row], 0.0)
                    take = min(room, excess)
                    column[row] += take
                    excess -= take
                    mask[row, col] = True
            low, high = low - 1, high + 1
    return mask
