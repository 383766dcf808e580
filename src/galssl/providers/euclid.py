"""Euclid Q1 cutouts (VIS and NISP Y, J, H) through ``astroquery.esa.euclid``, logged in from the environment.

Per object: one TAP query on ``sedm.mosaic_product`` for the MER background-subtracted mosaics
(``DpdMerBksMosaic``) whose footprint holds the position, then one ``EuclidClass.get_cutout`` per band from the
mosaic of the tile centred nearest the object. MER mosaics are in ADU with an AB zero point ``MAGZERO``:
nanomaggies = ADU * 10**(-0.4 * (MAGZERO - 22.5)). The object's cutouts are cached as one multi-extension FITS.

Credentials come only from ``GALSSL_EUCLID_USER`` + ``GALSSL_EUCLID_PASSWORD``, or from the system keyring
(service ``galssl-euclid``, user ``GALSSL_EUCLID_USER``) — never from the config — and never appear in logs or
failure reasons. ``astroquery.esa.euclid`` is imported only on first use: importing it contacts the archive.
astroquery's TAP connections are not thread-safe and have no timeout, so calls are serialised by a lock.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import astropy.units as u
import numpy as np
import requests
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from galssl.errors import ConfigError
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

DEFAULT_BASE_URL = "https://eas.esac.esa.int/"
USER_ENV, PASSWORD_ENV = "GALSSL_EUCLID_USER", "GALSSL_EUCLID_PASSWORD"
KEYRING_SERVICE = "galssl-euclid"
BANDS: dict[str, tuple[str, str]] = {"VIS": ("VIS", "VIS"), "Y": ("NISP", "NIR_Y"), "J": ("NISP", "NIR_J"),
                                     "H": ("NISP", "NIR_H")}
"""Config band → (archive instrument_name, filter_name); NIR_Y etc. are accepted as band names too."""


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)


def _keyring_password(user: str) -> str | None:
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, user)
    except Exception:  # noqa: BLE001 — no keyring package or no usable backend: the same as no stored password
        return None


def find_credentials(environ: dict[str, str] | None = None) -> Credentials:
    """Euclid archive login from the environment (or the keyring); a ConfigError naming the variables otherwise."""
    environ = os.environ if environ is None else environ
    user = environ.get(USER_ENV, "").strip()
    password = environ.get(PASSWORD_ENV, "") or (_keyring_password(user) if user else None) or ""
    if not user or not password:
        missing = USER_ENV if not user else PASSWORD_ENV
        raise ConfigError(f"Euclid archive credentials not found ({missing} is not set): set {USER_ENV} and "
                          f"{PASSWORD_ENV}, or set {USER_ENV} and store the password with `keyring set "
                          f"{KEYRING_SERVICE} <user>` (credentials are never read from the config)")
    return Credentials(user, password)


def archive_band(band: str) -> tuple[str, str]:
    """(instrument_name, filter_name) of a config band, e.g. 'Y' → ('NISP', 'NIR_Y')."""
    for name, pair in BANDS.items():
        if band.upper() in (name, pair[1]):
            return pair
    raise ConfigError(f"unknown Euclid band {band!r} (allowed: {', '.join(BANDS)})")


def to_nanomaggy(data: np.ndarray, header) -> np.ndarray:
    """ADU with AB zero point MAGZERO → nanomaggies (AB 22.5)."""
    zero_point = header.get("MAGZERO")
    if not isinstance(zero_point, (int, float)) or not math.isfinite(zero_point):
        raise InvalidBody("no MAGZERO in the cutout header (cannot convert to nanomaggies)")
    return (np.asarray(data, dtype=np.float64) * 10.0 ** (-0.4 * (zero_point - 22.5))).astype(np.float32)


def cache_name(object_id: str, ra: float, dec: float, size_arcsec: float, bands: list[str],
               environment: str = "PDR") -> str:
    """The cache file name of one object's cutouts (position, bands, archive environment and size in the key)."""
    return object_cache_name(object_id, ra, dec, provider="euclid", bands=list(bands), environment=environment,
                             size_arcsec=float(size_arcsec))


class EuclidProvider:
    """Native-pixel Euclid MER cutouts; connects and logs in on the first fetch."""

    def __init__(self, bands: list[str], client: HttpClient, cache: ObjectCache, credentials: Credentials,
                 base_url: str = DEFAULT_BASE_URL, environment: str = "PDR") -> None:
        self.name = "euclid"
        self.bands = list(bands)
        self.filters = {band: archive_band(band) for band in self.bands}
        self.client, self.cache = client, cache
        self._credentials = credentials
        self.base_url, self.environment = base_url, environment
        self.host = urlsplit(base_url).netloc
        self._lock = threading.Lock()
        self._archive = None

    def _scrub(self, text: str) -> str:
        """``text`` without the password or user name (a very short name would mangle ordinary words: kept)."""
        user = self._credentials.user
        for secret in (self._credentials.password, user if len(user) >= 3 else ""):
            text = text.replace(secret, "***") if secret else text
        return text

    def _connect(self):
        """EuclidClass on ``base_url`` (TAP, data and cutout services), logged in; called under the lock."""
        with contextlib.redirect_stdout(io.StringIO()):  # the module import prints the archive's status messages
            from astroquery.esa.euclid import EuclidClass
        from astroquery.utils.tap.conn.tapconn import TapConn
        from astroquery.utils.tap.core import TapPlus

        parts = urlsplit(self.base_url)
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        prefix = parts.path.strip("/")

        def connection(server: str, tap: str, data: str) -> TapConn:
            return TapConn(https, parts.hostname, server_context=f"{prefix}/{server}".strip("/"), tap_context=tap,
                           upload_context="Upload", table_edit_context="TableTool", data_context=data,
                           datalink_context="datalink", port=port, sslport=port)

        data_service = TapPlus(connhandler=connection("sas-dd", "tap-server", "data"), client_id="ASTROQUERY")
        cutout_service = TapPlus(connhandler=connection("sas-cutout", "tap-server", "cutout"), client_id="ASTROQUERY")
        archive = EuclidClass(environment=self.environment,
                              tap_plus_conn_handler=connection("tap-server", "tap", "data"),
                              datalink_handler=data_service, cutout_handler=cutout_service, show_server_messages=False)
        user, password = self._credentials.user, self._credentials.password
        # TapPlus.login raises on a refused login (EuclidClass.login only logs it); then the data and cutout services.
        try:
            for service in (archive, data_service, cutout_service):
                TapPlus.login(service, user=user, password=password)
        except requests.HTTPError as error:  # wrong credentials: asking again will not help
            raise FetchError(self._scrub(f"Euclid archive refused the login of {USER_ENV}'s user ({error})")) from None
        return archive

    def _archive_call(self, operation):
        """One astroquery call under the lock, with retries; credentials scrubbed from any failure reason."""
        def locked():
            with self._lock:
                if self._archive is None:
                    self._archive = self._connect()
                return operation(self._archive)

        try:
            return self.client.call(self.host, locked)
        except FetchError as error:
            raise FetchError(self._scrub(error.reason), error.attempts) from None

    def mosaics(self, ra: float, dec: float) -> dict[str, tuple[str, str, str]]:
        """filter_name → (file path, instrument, tile index) of the MER mosaic centred nearest (ra, dec)."""
        query = ("SELECT file_name, file_path, tile_index, instrument_name, filter_name, ra, dec "
                 "FROM sedm.mosaic_product WHERE product_type = 'DpdMerBksMosaic' AND "
                 f"INTERSECTS(CIRCLE('ICRS', {ra!r}, {dec!r}, 0), fov) = 1 ORDER BY tile_index ASC")
        table = self._archive_call(lambda archive: archive.launch_job(query).get_results())
        best: dict[str, tuple[float, tuple[str, str, str]]] = {}
        try:
            for row in table:
                distance = float(SkyCoord(ra * u.deg, dec * u.deg).separation(
                    SkyCoord(float(row["ra"]) * u.deg, float(row["dec"]) * u.deg)).deg)
                entry = (f"{row['file_path']}/{row['file_name']}", str(row["instrument_name"]), str(row["tile_index"]))
                if str(row["filter_name"]) not in best or distance < best[str(row["filter_name"])][0]:
                    best[str(row["filter_name"])] = (distance, entry)
        except (KeyError, TypeError, ValueError) as error:
            raise FetchError(f"unexpected answer from the Euclid archive's mosaic_product table ({error})") from None
        return {name: entry for name, (_, entry) in best.items()}

    def fetch(self, object_id: str, ra: float, dec: float, size_arcsec: float) -> list[BandImage]:
        """All bands from the object's cache file, or one mosaic query and one cutout per band."""
        as_fits = fits_validator(len(self.bands))
        name = cache_name(object_id, ra, dec, size_arcsec, self.bands, self.environment)
        cached = self.cache.load(name, lambda body: bands_from_fits(as_fits(body), self.bands))
        if cached is not None:
            return cached
        mosaics = self.mosaics(ra, dec)
        position = SkyCoord(ra * u.deg, dec * u.deg)
        images = []
        for band in self.bands:
            filter_name = self.filters[band][1]
            if filter_name not in mosaics:
                raise FetchError(f"no Euclid {filter_name} mosaic covers this position")
            file_path, instrument, tile = mosaics[filter_name]
            images.append(self._cutout(band, file_path, instrument, tile, position, size_arcsec))
        body = bands_to_fits(images)
        parsed = bands_from_fits(as_fits(body), self.bands)
        self.cache.store(name, body)
        return parsed

    def _cutout(self, band: str, file_path: str, instrument: str, tile: str, position: SkyCoord,
                size_arcsec: float) -> BandImage:
        one = fits_validator(1)

        def cut(archive) -> bytes:
            with tempfile.TemporaryDirectory(prefix="galssl-euclid-") as folder:
                target = Path(folder) / "cutout.fits"
                # get_cutout logs and returns None on errors instead of raising: treat that as a failed attempt.
                paths = archive.get_cutout(file_path=file_path, instrument=instrument, id=tile, coordinate=position,
                                           radius=size_arcsec / 2.0 * u.arcsec, output_file=str(target))
                if not paths:
                    raise InvalidBody("Euclid cutout service returned no file")
                body = Path(paths[0]).read_bytes()
            one(body)
            return body

        hdus = one(self._archive_call(cut))
        hdu = next(h for h in hdus if h.data is not None)
        header = hdu.header.copy()
        try:
            data = to_nanomaggy(hdu.data, header)
        except InvalidBody as error:
            raise FetchError(error.reason) from None
        header["BUNIT"] = ("nanomaggy", "converted from ADU with MAGZERO by galssl")
        return BandImage(band, data, WCS(header, naxis=2), header, "nanomaggy", psf_fwhm_from_header(header))


def create(section: dict, context) -> EuclidProvider:
    """Registry hook: credentials from the environment now (a clear error before any request), connection later."""
    bands = list(section["bands"])
    for band in bands:
        archive_band(band)
    credentials = find_credentials()
    settings = HttpSettings.from_section(section, context.seed, context.survey)
    return EuclidProvider(bands, HttpClient(settings), ObjectCache(context.cache_dir), credentials,
                          section.get("base_url", DEFAULT_BASE_URL), section["euclid_environment"])
