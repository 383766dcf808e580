"""The provider interface: an object (id, RA, Dec) in, per-band images with WCS out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from galssl.errors import GalsslError


class FetchError(GalsslError):
    """One object could not be fetched; ``reason`` goes to failures.parquet and the run continues."""

    def __init__(self, reason: str, attempts: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


@dataclass
class BandImage:
    """One band of one object as delivered by the source.

    ``data`` is 2-D (rows = y, columns = x) in the source's flux unit (``unit``, e.g. nanomaggy per pixel);
    ``wcs`` is celestial, or None for display images the files provider already resampled onto the target grid;
    ``header`` keeps the source's header as provenance; ``psf_fwhm_arcsec`` is None when the source does not say.
    """

    band: str
    data: np.ndarray
    wcs: WCS | None
    header: fits.Header = field(default_factory=fits.Header)
    unit: str = "nanomaggy"
    psf_fwhm_arcsec: float | None = None


class Provider(Protocol):
    """Fetches the native-pixel cutouts of one object covering at least ``size_arcsec`` on a side."""

    name: str
    bands: list[str]

    def fetch(self, object_id: str, ra: float, dec: float, size_arcsec: float) -> list[BandImage]:
        """Return one BandImage per band (in ``bands`` order) or raise FetchError."""
        ...
