"""SDSS imaging through astroquery: SkyServer finds the object's field, SAS serves its frames, we cut the cutout.

Why frames: ``frame-{band}-{run}-{camcol}-{field}.fits`` are SDSS's calibrated, sky-subtracted images in nanomaggies
per pixel at the native 0.396"/px with their astrometric WCS, i.e. the native pixels ingest reprojects (no
resampling by a cutout service in between). ``astroquery.sdss`` is the standard client of SkyServer and SAS:
``SDSS.query_region`` (a CrossID search within ``SEARCH_RADIUS_ARCSEC``) gives run/camcol/field and
``SDSS.get_images_async`` the frame download (its bytes are read here so they can be validated and cached).
Neighbouring objects share a frame, so frames are cached once under ``cache_dir/frames/``; each object's
cutouts (astropy ``Cutout2D``, WCS kept) are cached as one multi-extension FITS ``cache_dir/<object_id>.<key>.fits``
(key: position, bands, pixel scale, size; see ``http.object_cache_name``).
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.wcs import WCS

from galssl.providers.base import BandImage, FetchError
from galssl.providers.http import (
    HttpClient,
    HttpSettings,
    InvalidBody,
    ObjectCache,
    bands_from_fits,
    bands_to_fits,
    fits_validator,
    object_cache_name,
    psf_fwhm_from_header,
)

DEFAULT_SKYSERVER_URL = "https://skyserver.sdss.org"
DEFAULT_SAS_URL = "https://data.sdss.org/sas"
NATIVE_PIXEL_SCALE_ARCSEC = 0.396
SEARCH_RADIUS_ARCSEC = 3.0
"""CrossID radius: the catalogue position should match an SDSS photoObj to well within this."""
WCS_CARD = re.compile(r"^(WCSAXES|CTYPE\d|CUNIT\d|CRVAL\d|CRPIX\d|CDELT\d|CROTA\d|CD\d_\d|PC\d_\d|PV\d_\d+|[AB]P?_\w+|"
                      r"RADESYS|RADECSYS|EQUINOX|EPOCH|LONPOLE|LATPOLE|MJDREF|DATEREF|NAXIS\d*|SIMPLE|BITPIX|EXTEND)$")


class _AstroqueryUrls:
    """astroquery.sdss reads its base URLs from process-global config at call time: calls hold the URLs they set,
    so threads with the same URLs run together and a call with other URLs waits until they are done."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._users = 0
        self._urls: tuple[str, str] | None = None
        self._saved: tuple[str, str] | None = None

    @contextlib.contextmanager
    def bound(self, skyserver_url: str, sas_url: str) -> Iterator[None]:
        from astroquery.sdss import conf

        wanted = (skyserver_url, sas_url)
        with self._changed:
            while self._users and self._urls != wanted:
                self._changed.wait()
            if not self._users:
                self._saved = (conf.skyserver_baseurl, conf.sas_baseurl)
                conf.skyserver_baseurl, conf.sas_baseurl = wanted
                self._urls = wanted
            self._users += 1
        try:
            yield
        finally:
            with self._changed:
                self._users -= 1
                if not self._users:
                    conf.skyserver_baseurl, conf.sas_baseurl = self._saved
                    self._urls = None
                    self._changed.notify_all()


_URLS = _AstroqueryUrls()


def sdss_header(frame_header: fits.Header, wcs: WCS) -> fits.Header:
    """Provenance cards of the frame (FILTER, RUN, NMGY, PSFFWHM, ...) with the cutout's WCS in place of the frame's."""
    header = fits.Header([card for card in frame_header.cards if not WCS_CARD.match(card.keyword)])
    header.update(wcs.to_header())
    return header


class SdssProvider:
    """ugriz cutouts (nanomaggies, native 0.396"/px) from SDSS frames found through SkyServer."""

    def __init__(self, bands: list[str], client: HttpClient, cache: ObjectCache,
                 skyserver_url: str = DEFAULT_SKYSERVER_URL, sas_url: str = DEFAULT_SAS_URL,
                 pixel_scale_arcsec: float = NATIVE_PIXEL_SCALE_ARCSEC) -> None:
        self.name = "sdss"
        self.bands = list(bands)
        self.client, self.cache = client, cache
        self.skyserver_url, self.sas_url = skyserver_url.rstrip("/"), sas_url.rstrip("/")
        self.pixel_scale_arcsec = pixel_scale_arcsec
        self._frame_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def fetch(self, object_id: str, ra: float, dec: float, size_arcsec: float) -> list[BandImage]:
        """The object's cutouts from its cache file, or from its (cached) frames."""
        side = max(1, math.ceil(size_arcsec / self.pixel_scale_arcsec - 1e-9))
        as_fits = fits_validator(len(self.bands), shape=(side, side))

        def from_cache_bytes(body: bytes) -> list[BandImage]:
            return bands_from_fits(as_fits(body), self.bands)

        name = object_cache_name(object_id, ra, dec, provider=self.name, bands=self.bands,
                                 pixscale=self.pixel_scale_arcsec, size=side)
        cached = self.cache.load(name, from_cache_bytes)
        if cached is not None:
            return cached
        position = SkyCoord(ra * u.deg, dec * u.deg)
        run, rerun, camcol, field = self.find_field(position)
        images = []
        for band in self.bands:
            frame = self.frame(run, rerun, camcol, field, band)
            frame_wcs = WCS(frame.header, naxis=2)
            cutout = Cutout2D(np.asarray(frame.data, dtype=np.float32), position, (side, side), wcs=frame_wcs,
                              mode="partial", fill_value=np.nan)
            covered = float(np.isfinite(cutout.data).mean())
            if covered < 0.5:
                raise FetchError(f"only {covered:.0%} of the cutout lies on SDSS frame {run}/{camcol}/{field} "
                                 f"(object at the frame edge)")
            header = sdss_header(frame.header, cutout.wcs)
            images.append(BandImage(band, cutout.data.astype(np.float32), cutout.wcs, header, "nanomaggy",
                                    psf_fwhm_from_header(header)))
        body = bands_to_fits(images)
        parsed = from_cache_bytes(body)  # return what a rerun will read
        self.cache.store(name, body)
        return parsed

    def find_field(self, position: SkyCoord) -> tuple[int, int, int, int]:
        """(run, rerun, camcol, field) of the photoObj nearest to ``position`` (CrossID through SkyServer)."""
        from astroquery.exceptions import RemoteServiceError
        from astroquery.sdss import SDSS

        def nearest() -> tuple[int, int, int, int] | None:
            with _URLS.bound(self.skyserver_url, self.sas_url):
                matches = SDSS.query_region(position, radius=SEARCH_RADIUS_ARCSEC * u.arcsec, cache=False,
                                            timeout=self.client.settings.timeout_s)
            if matches is None or len(matches) == 0:
                return None
            try:
                separation = position.separation(SkyCoord(np.asarray(matches["ra"], float) * u.deg,
                                                          np.asarray(matches["dec"], float) * u.deg))
                row = matches[int(np.argmin(separation.arcsec))]
                return int(row["run"]), int(row["rerun"]), int(row["camcol"]), int(row["field"])
            except (KeyError, IndexError, TypeError, ValueError):  # a garbled answer: ask again
                raise InvalidBody("unreadable SkyServer answer") from None

        try:
            found = self.client.call(urlsplit(self.skyserver_url).netloc, nearest)
        except RemoteServiceError as error:
            raise FetchError(f"SkyServer error: {str(error).strip().splitlines()[0][:160]}") from None
        if found is None:
            raise FetchError(f"no SDSS photoObj within {SEARCH_RADIUS_ARCSEC:g} arcsec "
                             f"(outside the imaging footprint?)")
        return found

    def frame(self, run: int, rerun: int, camcol: int, field: int, band: str) -> fits.PrimaryHDU:
        """One calibrated frame (primary HDU: nanomaggies + WCS) from ``frames/`` or SAS; one download per frame."""
        from astropy.table import Table
        from astroquery.sdss import SDSS

        name = f"frames/frame-{band}-{run:06d}-{camcol}-{field:04d}.fits"
        as_fits = fits_validator(1)
        with self._locks_lock:
            lock = self._frame_locks.setdefault(name, threading.Lock())
        with lock:  # threads needing the same frame wait for one download
            cached = self.cache.load(name, as_fits)
            if cached is None:
                matches = Table({"run": [run], "rerun": [rerun], "camcol": [camcol], "field": [field]})

                def download() -> bytes:
                    with _URLS.bound(self.skyserver_url, self.sas_url):
                        container = SDSS.get_images_async(matches=matches, band=band, cache=False, show_progress=False,
                                                          timeout=self.client.settings.timeout_s)[0]
                        body = container.get_string()
                    as_fits(body)
                    return body

                body = self.client.call(urlsplit(self.sas_url).netloc, download)
                cached = as_fits(body)
                primary = fits.PrimaryHDU(cached[0].data, cached[0].header)
                buffer = io.BytesIO()
                fits.HDUList([primary]).writeto(buffer)  # keep the image only (real frames carry sky, calib HDUs)
                self.cache.store(name, buffer.getvalue())
        return cached[0]


def create(section: dict, context) -> SdssProvider:
    """Registry hook: skyserver_url and sas_url (or one base_url), native_pixel_scale_arcsec, retry settings."""
    settings = HttpSettings.from_section(section, context.seed, context.survey)
    base_url = section.get("base_url")  # one mirror of both services (the mock server's layout)
    skyserver_url = base_url or section.get("skyserver_url", DEFAULT_SKYSERVER_URL)
    sas_url = f"{base_url.rstrip('/')}/sas" if base_url else section.get("sas_url", DEFAULT_SAS_URL)
    return SdssProvider(list(section["bands"]), HttpClient(settings), ObjectCache(context.cache_dir), skyserver_url,
                        sas_url, float(section.get("native_pixel_scale_arcsec", NATIVE_PIXEL_SCALE_ARCSEC)))
