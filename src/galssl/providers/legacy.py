"""DESI Legacy Imaging Surveys cutouts from the viewer's ``fits-cutout`` service: one request per object.

``GET {base_url}/fits-cutout?ra=&dec=&layer=ls-dr10&pixscale=0.262&bands=griz&size=N`` answers a FITS cube
(bands, N, N) of float32 nanomaggies per pixel on a TAN WCS, N = ceil(size_arcsec / 0.262) at the native pixel
scale (the service allows N <= 512). The raw response, once validated, is the object's cache file (named by the
object and a key of its position, layer, bands, pixel scale and size).
"""

from __future__ import annotations

import math

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from galssl.errors import ConfigError
from galssl.providers.base import BandImage
from galssl.providers.http import (
    HttpClient,
    HttpSettings,
    InvalidBody,
    ObjectCache,
    cached_get,
    fits_validator,
    object_cache_name,
    psf_fwhm_from_header,
)

DEFAULT_BASE_URL = "https://www.legacysurvey.org/viewer"
DEFAULT_LAYER = "ls-dr10"
NATIVE_PIXEL_SCALE_ARCSEC = 0.262
MAX_SIZE_PX = 512
"""Largest cutout side the fits-cutout service serves (pixels)."""


def cutout_side_px(size_arcsec: float, pixel_scale_arcsec: float, survey: str = "legacy") -> int:
    """Pixels per side covering ``size_arcsec`` at the native scale; a ConfigError past the service's 512."""
    side = math.ceil(size_arcsec / pixel_scale_arcsec - 1e-9)
    if side > MAX_SIZE_PX:
        raise ConfigError(f"surveys.{survey}: a {size_arcsec:.1f} arcsec cutout needs {side} pixels at "
                          f"{pixel_scale_arcsec} arcsec/px, more than the Legacy Survey service's {MAX_SIZE_PX}; "
                          f"lower cutout_size or pixel_scale_arcsec")
    return max(1, side)


def cube_to_bands(hdus: fits.HDUList, bands: list[str]) -> list[BandImage]:
    """Split a fits-cutout cube into BandImages in ``bands`` order (planes found by the BANDn header cards)."""
    header = hdus[0].header
    cube = np.asarray(hdus[0].data, dtype=np.float32)
    cube = cube[np.newaxis] if cube.ndim == 2 else cube
    served = [str(header.get(f"BAND{index}", "")).strip() for index in range(cube.shape[0])]
    if not all(served):  # no BANDn cards: the planes are in the order asked for
        served = list(bands)
    missing = [band for band in bands if band not in served]
    if missing:
        raise InvalidBody(f"wrong bands: the cutout has {''.join(served)}, not {''.join(missing)}")
    # The service fills pixels without data with 0: reproject.to_target counts them per band, and ingest fails an
    # object above ingest.max_mask_fraction (all 0: outside the footprint).
    wcs = WCS(header, naxis=2)
    psf = psf_fwhm_from_header(header)
    return [BandImage(band, cube[served.index(band)], wcs, header.copy(), "nanomaggy", psf) for band in bands]


class LegacyProvider:
    """Native-pixel Legacy Survey cutouts of one ``layer`` through ``client``, cached per object."""

    def __init__(self, bands: list[str], client: HttpClient, cache: ObjectCache, base_url: str = DEFAULT_BASE_URL,
                 layer: str = DEFAULT_LAYER, pixel_scale_arcsec: float = NATIVE_PIXEL_SCALE_ARCSEC,
                 survey: str = "legacy") -> None:
        self.name = "legacy"
        self.bands = list(bands)
        self.client, self.cache = client, cache
        self.url = base_url.rstrip("/") + "/fits-cutout"
        self.layer = layer
        self.pixel_scale_arcsec = pixel_scale_arcsec
        self.survey = survey

    def request_params(self, ra: float, dec: float, size_arcsec: float) -> dict[str, str]:
        """The query parameters of one object's cutout."""
        side = cutout_side_px(size_arcsec, self.pixel_scale_arcsec, self.survey)
        return {"ra": repr(float(ra)), "dec": repr(float(dec)), "layer": self.layer,
                "pixscale": repr(float(self.pixel_scale_arcsec)), "bands": "".join(self.bands), "size": str(side)}

    def fetch(self, object_id: str, ra: float, dec: float, size_arcsec: float) -> list[BandImage]:
        """All bands of one object from the cache or one request (FetchError after the retries)."""
        params = self.request_params(ra, dec, size_arcsec)
        side = int(params["size"])
        as_fits = fits_validator(len(self.bands), shape=(side, side))
        # Band checks are part of validation, so a cached file of other bands is refetched, not fatal.
        name = object_cache_name(object_id, ra, dec, provider=self.name, layer=self.layer, bands=self.bands,
                                 pixscale=params["pixscale"], size=side)
        return cached_get(self.client, self.cache, name, self.url, params,
                          lambda body: cube_to_bands(as_fits(body), self.bands))


def create(section: dict, context) -> LegacyProvider:
    """Registry hook: base_url, layer, native_pixel_scale_arcsec and the retry settings from the survey section."""
    settings = HttpSettings.from_section(section, context.seed, context.survey)
    return LegacyProvider(list(section["bands"]), HttpClient(settings), ObjectCache(context.cache_dir),
                          section.get("base_url", DEFAULT_BASE_URL), section.get("layer", DEFAULT_LAYER),
                          float(section.get("native_pixel_scale_arcsec", NATIVE_PIXEL_SCALE_ARCSEC)), context.survey)
