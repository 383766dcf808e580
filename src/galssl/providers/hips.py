"""Any HiPS image survey through the CDS hips2fits service: one request per band, one cached FITS per object.

Each band is ``GET {base_url}?hips=<id>&width=N&height=N&fov=&ra=&dec=&projection=TAN&coordsys=icrs&format=fits...``
with N = ceil(size_arcsec / native_pixel_scale_arcsec), so the survey is resampled by hips2fits only to its own
native pixel scale (galssl then reprojects once, to the target grid). The query parameters are exactly those of
``astroquery.hips2fits.hips2fitsClass.query`` (taken from its ``get_query_payload=True``); the request itself goes
through ``HttpClient`` because astroquery's request has no retries, rate limits, validation or cache.
"""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle
from astropy.wcs import WCS

from galssl.errors import ConfigError
from galssl.providers.base import BandImage
from galssl.providers.http import (
    HttpClient,
    HttpSettings,
    ObjectCache,
    bands_from_fits,
    bands_to_fits,
    fits_validator,
    object_cache_name,
    psf_fwhm_from_header,
)

DEFAULT_BASE_URL = "https://alasky.cds.unistra.fr/hips-image-services/hips2fits"
MAX_SIZE_PX = 4096
"""Largest cutout side requested (pixels): beyond this the config is almost surely wrong (pixel scale units)."""


def hips_ids(section: dict, survey: str) -> dict[str, str]:
    """HiPS id per band from ``hips`` (a mapping), else from ``layer`` as a pattern with {band}."""
    bands = list(section["bands"])
    given = dict(section.get("hips") or {})
    pattern = section.get("layer", "")
    ids = {band: given.get(band) or (pattern.format(band=band) if "{band}" in pattern else None) for band in bands}
    missing = [band for band, hips in ids.items() if not hips]
    if missing:
        raise ConfigError(f"surveys.{survey}.hips must give a HiPS id for every band (missing: {', '.join(missing)}), "
                          f"e.g. {{{missing[0]}: CDS/P/DESI-Legacy-Surveys/DR10/{missing[0]}}}, or set layer to a "
                          f"pattern with {{band}}")
    return ids


class HipsProvider:
    """Native-scale cutouts of HiPS surveys, one HiPS id per band; pixel values times ``flux_scale`` = nanomaggies."""

    def __init__(self, ids: dict[str, str], client: HttpClient, cache: ObjectCache, base_url: str = DEFAULT_BASE_URL,
                 pixel_scale_arcsec: float = 0.262, flux_scale: float = 1.0) -> None:
        self.name = "hips"
        self.bands = list(ids)
        self.ids = dict(ids)
        self.client, self.cache = client, cache
        self.url = base_url
        self.pixel_scale_arcsec = pixel_scale_arcsec
        self.flux_scale = flux_scale

    def side_px(self, size_arcsec: float) -> int:
        side = max(1, math.ceil(size_arcsec / self.pixel_scale_arcsec - 1e-9))
        if side > MAX_SIZE_PX:
            raise ConfigError(f"a {size_arcsec:.1f} arcsec HiPS cutout at {self.pixel_scale_arcsec} arcsec/px is "
                              f"{side} pixels (more than {MAX_SIZE_PX}); check native_pixel_scale_arcsec")
        return side

    def request_params(self, band: str, ra: float, dec: float, side: int) -> dict:
        """The hips2fits query parameters of one band, as astroquery builds them."""
        from astroquery.hips2fits import hips2fitsClass  # imported late: astroquery is slow to import

        fov = Angle(side * self.pixel_scale_arcsec / 3600.0 * u.deg)
        return hips2fitsClass().query(hips=self.ids[band], width=side, height=side, projection="TAN", ra=ra * u.deg,
                                      dec=dec * u.deg, fov=fov, coordsys="icrs", rotation_angle=Angle(0 * u.deg),
                                      format="fits", get_query_payload=True)

    def fetch(self, object_id: str, ra: float, dec: float, size_arcsec: float) -> list[BandImage]:
        """All bands from the object's cache file, or one hips2fits request per band (then cached together)."""
        side = self.side_px(size_arcsec)
        name = object_cache_name(object_id, ra, dec, provider=self.name, hips=self.ids,
                                 pixscale=self.pixel_scale_arcsec, size=side, flux_scale=self.flux_scale)
        as_fits = fits_validator(len(self.bands), shape=(side, side))

        def from_cache_bytes(body: bytes) -> list[BandImage]:
            return bands_from_fits(as_fits(body), self.bands)

        cached = self.cache.load(name, from_cache_bytes)
        if cached is not None:
            return cached
        one_band = fits_validator(1, shape=(side, side))
        images = []
        for band in self.bands:
            _, hdus = self.client.get(self.url, self.request_params(band, ra, dec, side), one_band)
            header = hdus[0].header.copy()
            data = np.asarray(hdus[0].data, dtype=np.float32) * np.float32(self.flux_scale)
            if self.flux_scale != 1.0:
                header["BUNIT"] = ("nanomaggy", f"HiPS value x {self.flux_scale:g} (galssl)")
            images.append(BandImage(band, data, WCS(header, naxis=2), header, "nanomaggy",
                                    psf_fwhm_from_header(header)))
        body = bands_to_fits(images)
        parsed = from_cache_bytes(body)  # return what a rerun will read, so both runs give the same bytes
        self.cache.store(name, body)
        return parsed


def create(section: dict, context) -> HipsProvider:
    """Registry hook: ``hips`` ids per band (or a ``layer`` pattern), base_url, native_pixel_scale_arcsec."""
    ids = hips_ids(section, context.survey)
    settings = HttpSettings.from_section(section, context.seed, context.survey)
    scale = float(section.get("native_pixel_scale_arcsec", section["pixel_scale_arcsec"]))
    return HipsProvider(ids, HttpClient(settings), ObjectCache(context.cache_dir),
                        section.get("base_url", DEFAULT_BASE_URL), scale, float(section["hips_flux_scale"]))

