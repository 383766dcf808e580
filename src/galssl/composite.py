"""Colour composites of multi-band cutouts: fluxes with the Lupton et al. (2004) asinh stretch (via astropy),
display images (PNG/JPEG values) as they are."""

from __future__ import annotations

import numpy as np
from astropy.visualization import make_lupton_rgb

from galssl.display import rgb_channel_order

COMPOSITE_BANDS: dict[str, tuple[str, str, str]] = {
    "sdss": ("i", "r", "g"),
    "legacy": ("z", "r", "g"),
    "euclid": ("H", "J", "Y"),
}
"""(red, green, blue) bands per survey."""

BAND_WEIGHTS: dict[str, float] = {"u": 2.5, "g": 1.7, "r": 1.2, "i": 1.0, "z": 1.0,
                                  "Y": 1.0, "J": 1.0, "H": 1.0, "VIS": 1.0}
"""Per-band scaling that balances the colours of typical galaxies (as in SDSS and Legacy Survey composites)."""


def composite_bands(survey: str, bands: list[str]) -> tuple[str, str, str]:
    """Choose (red, green, blue) bands: the survey's usual set if present, else reddest/middle/bluest given."""
    preferred = COMPOSITE_BANDS.get(survey)
    if preferred and all(b in bands for b in preferred):
        return preferred
    if len(bands) >= 3:
        return bands[-1], bands[len(bands) // 2], bands[0]
    return (bands[-1], bands[-1], bands[0]) if len(bands) == 2 else (bands[0],) * 3


def lupton_rgb(red: np.ndarray, green: np.ndarray, blue: np.ndarray, bands: tuple[str, str, str],
               stretch: float = 0.6, q: float = 8.0) -> np.ndarray:
    """uint8 RGB image from three flux images (nanomaggies per pixel) with an asinh stretch."""
    scaled = [np.nan_to_num(np.asarray(img, dtype=float)) * BAND_WEIGHTS.get(band, 1.0)
              for img, band in zip((red, green, blue), bands)]
    return make_lupton_rgb(*scaled, minimum=0.0, stretch=stretch, Q=q)


def display_rgb(image: np.ndarray, bands: list[str] | tuple[str, ...]) -> np.ndarray:
    """uint8 (H, W, 3) of one (channels, H, W) display-unit cutout (0-255) as the input image looked: channels
    straight to red, green, blue (filters ordered by wavelength, [red, green, blue] as named, grey replicated),
    rounded and clipped to 0-255, no stretch."""
    red, green, blue = rgb_channel_order(bands)
    rgb = np.stack([image[red], image[green], image[blue]], axis=-1)
    return np.clip(np.rint(np.nan_to_num(np.asarray(rgb, dtype=np.float64))), 0, 255).astype(np.uint8)


def image_rgb(image: np.ndarray, bands: list[str] | tuple[str, ...], survey: str = "",
              display: bool = False) -> np.ndarray:
    """uint8 (H, W, 3) colour composite of one (bands, H, W) cutout in nanomaggies per pixel (asinh stretch), or
    with ``display`` of display values (0-255, shown as they are: :func:`display_rgb`)."""
    if display:
        return display_rgb(image, bands)
    rgb_bands = composite_bands(survey, list(bands))
    red, green, blue = (image[list(bands).index(band)] for band in rgb_bands)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty-sky padding is 0 in all bands: 0/0, shown black
        return lupton_rgb(red, green, blue, rgb_bands)

