"""What every network provider shares: retries with backoff, per-host limits, body validation, the per-object cache.

- ``HttpClient.get`` sends one GET through ``requests`` and retries connection errors, resets, timeouts, HTTP 5xx
  and 429, truncated bodies and bodies the provider's validator rejects (corrupt FITS, wrong shape, mostly NaN),
  with exponential backoff and full jitter (seeded), waiting at least ``Retry-After`` when the server sends one.
  ``HttpClient.call`` gives a library call (astroquery) the same retries and limits.
- Per host: at most ``max_concurrency`` requests in flight (a bounded semaphore) and ``requests_per_second`` on
  average (a token bucket), shared by the threads of one ingest process.
- After ``max_retries`` attempts the object fails with ``FetchError("HTTP 500 after 5 attempts", 5)``.
- ``ObjectCache`` keeps one validated file per object and request (``object_cache_name``), written atomically, so
  a rerun makes no request for an object already fetched, and a moved object or a changed cutout setting is fetched
  again. Files of older versions (``<object_id>.fits``) are never read. A response with a band holding no data at
  all (every pixel 0 or NaN: outside the footprint, or not served yet) is not kept, so a rerun asks again.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import http.client
import io
import json
import math
import random
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np
import requests
import requests.adapters
from astropy.io import fits
from astropy.wcs import WCS

from galssl import __version__
from galssl.errors import ConfigError, DataError
from galssl.io import atomic_path
from galssl.providers.base import BandImage, FetchError
from galssl.settings import fill_defaults, schema_defaults

T = TypeVar("T")
PSF_KEYWORDS = ("PSFFWHM", "PSF_FWHM", "FWHM", "SEEING")
"""Header cards read as the PSF FWHM in arcsec, first found wins."""


class InvalidBody(ValueError):
    """A response arrived but is unusable (corrupt FITS, wrong shape, mostly NaN); the attempt is retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Failure(Exception):
    """One failed attempt: a short reason, whether to try again, and the server's Retry-After in seconds."""

    def __init__(self, reason: str, retryable: bool = True, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retryable, self.retry_after_s = reason, retryable, retry_after_s


@dataclass(frozen=True)
@schema_defaults("surveys.*")
class HttpSettings:
    """Retry and politeness settings of one survey section; times in seconds (defaults = the schema's; the caps
    and the seed are set by the code)."""

    timeout_s: float
    max_retries: int
    requests_per_second: float
    max_concurrency: int
    retry_base_s: float
    retry_cap_s: float = 60.0
    retry_after_cap_s: float = 300.0
    seed: int = 0

    @classmethod
    def from_section(cls, section: dict, seed: int, survey: str = "survey") -> HttpSettings:
        section = fill_defaults(section, "surveys.*")
        settings = cls(float(section["timeout_s"]), int(section["max_retries"]), float(section["requests_per_second"]),
                       int(section["max_concurrency"]), float(section["retry_base_s"]), seed=int(seed))
        for key in ("timeout_s", "max_retries", "requests_per_second", "max_concurrency"):
            if getattr(settings, key) <= 0:
                raise ConfigError(f"surveys.{survey}.{key} must be > 0 (got {getattr(settings, key)})")
        if settings.retry_base_s < 0:
            raise ConfigError(f"surveys.{survey}.retry_base_s must be >= 0 (got {settings.retry_base_s})")
        return settings


def backoff_delay_s(attempt: int, base_s: float, cap_s: float, uniform: float) -> float:
    """Full-jitter delay before retry ``attempt`` (1 = after the first failure): uniform * min(cap, base * 2^(n-1))."""
    return uniform * min(cap_s, base_s * 2.0 ** (attempt - 1))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or invalid."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass  # not delta-seconds: try the HTTP-date form below
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class TokenBucket:
    """``rate`` requests per second on average, bursts of at most ``capacity``; waiters queue in arrival order."""

    def __init__(self, rate: float, capacity: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate if capacity is None else capacity)
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token and return how long the caller must wait before using it (seconds)."""
        with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            self.tokens -= 1.0  # may go negative: later callers then wait for the debt to be repaid
            return max(0.0, -self.tokens / self.rate)


class _Host:
    """Concurrency and rate limits of one host, plus how many requests were in flight at most."""

    def __init__(self, settings: HttpSettings) -> None:
        self.slots = threading.BoundedSemaphore(settings.max_concurrency)
        self.bucket = TokenBucket(settings.requests_per_second)
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()


class HttpClient:
    """A ``requests.Session`` with timeouts, retries, per-host limits and body validation (thread-safe)."""

    def __init__(self, settings: HttpSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        pool = requests.adapters.HTTPAdapter(pool_maxsize=max(10, settings.max_concurrency))  # one per slot
        self.session.mount("http://", pool)
        self.session.mount("https://", pool)
        self.session.headers["User-Agent"] = f"galssl/{__version__} python-requests/{requests.__version__}"
        self._rng = random.Random(settings.seed)
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {}
        self.requests_made = 0
        """Attempts sent (an HTTP request, or one library call for ``call``); for tests and logs."""

    def max_in_flight(self, host: str) -> int:
        """Most requests seen in flight at once to ``host`` (netloc, e.g. '127.0.0.1:8765')."""
        return self._hosts[host].max_in_flight if host in self._hosts else 0

    @contextlib.contextmanager
    def limited(self, host: str) -> Iterator[None]:
        """Hold one of the host's concurrency slots and one rate-limit token for the duration of a request."""
        with self._lock:
            limits = self._hosts.setdefault(host, _Host(self.settings))
            self.requests_made += 1
        with limits.slots:
            time.sleep(limits.bucket.reserve())
            with limits.lock:
                limits.in_flight += 1
                limits.max_in_flight = max(limits.max_in_flight, limits.in_flight)
            try:
                yield
            finally:
                with limits.lock:
                    limits.in_flight -= 1

    def get(self, url: str, params: dict[str, Any] | None = None,
            validate: Callable[[bytes], T] | None = None) -> tuple[bytes, T | None]:
        """GET ``url`` with retries; returns the body and ``validate(body)`` (None without a validator)."""
        host = urlsplit(url).netloc

        def attempt() -> tuple[bytes, T | None]:
            with self.limited(host):
                try:
                    response = self.session.get(url, params=params, timeout=self.settings.timeout_s)
                except requests.RequestException as error:
                    raise classify(error) from None
            if response.status_code >= 400:
                check_status(response.status_code, response.headers.get("Retry-After"), response.text)
            body = response.content
            length = response.headers.get("Content-Length")
            if length and "Content-Encoding" not in response.headers and length.isdigit() and int(length) != len(body):
                raise _Failure("truncated body")
            try:
                return body, (validate(body) if validate else None)
            except InvalidBody as error:
                raise _Failure(error.reason) from None

        return self.retry(attempt)

    def call(self, host: str, operation: Callable[[], T]) -> T:
        """Run a library call (e.g. astroquery) with the same limits and retries as ``get``; ``operation`` raises
        InvalidBody for a result that must be fetched again."""
        def attempt() -> T:
            with self.limited(host):
                try:
                    return operation()
                except InvalidBody as error:
                    raise _Failure(error.reason) from None
                except (requests.RequestException, http.client.HTTPException, OSError, ValueError, EOFError) as error:
                    raise classify(error) from None

        return self.retry(attempt)

    def retry(self, attempt: Callable[[], T]) -> T:
        """Call ``attempt`` until it succeeds, fails permanently, or ``max_retries`` attempts have failed."""
        limit = self.settings.max_retries
        for number in range(1, limit + 1):
            try:
                return attempt()
            except _Failure as failure:
                if not failure.retryable:
                    raise FetchError(failure.reason, number) from None
                if number == limit:
                    plural = "s" if number > 1 else ""
                    raise FetchError(f"{failure.reason} after {number} attempt{plural}", number) from None
                with self._lock:
                    uniform = self._rng.random()
                delay = backoff_delay_s(number, self.settings.retry_base_s, self.settings.retry_cap_s, uniform)
                if failure.retry_after_s is not None:  # the server said when: never earlier
                    delay = max(delay, min(failure.retry_after_s, self.settings.retry_after_cap_s))
                time.sleep(delay)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.session.close()


def check_status(status: int, retry_after: str | None, text: str = "") -> None:
    """Raise the failure of an HTTP status: 429 and 5xx are retried, other 4xx are final."""
    if status == 429 or status >= 500:
        raise _Failure(f"HTTP {status}", retry_after_s=parse_retry_after(retry_after))
    if status >= 400:
        first_line = (text.strip().splitlines() or [""])[0][:160]
        raise _Failure(f"HTTP {status}: {first_line}" if first_line else f"HTTP {status}", retryable=False)


def classify(error: BaseException) -> _Failure:
    """A short, retryable-or-not failure for an exception raised while talking to a service."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        response = error.response
        try:
            check_status(response.status_code, response.headers.get("Retry-After"), response.text)
        except _Failure as failure:
            return failure
    if isinstance(error, urllib.error.HTTPError):
        try:
            check_status(error.code, error.headers.get("Retry-After") if error.headers else None, str(error.reason))
        except _Failure as failure:
            return failure
    if isinstance(error, (requests.Timeout, TimeoutError)):
        return _Failure("timeout")
    if isinstance(error, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError,
                          urllib.error.ContentTooShortError, http.client.IncompleteRead)):
        return _Failure("truncated body")
    if isinstance(error, (requests.ConnectionError, ConnectionError, urllib.error.URLError)):
        return _Failure("connection error")
    message = (str(error).strip().splitlines() or [""])[0][:120]
    return _Failure(f"{type(error).__name__}: {message}" if message else type(error).__name__)


# -- validation ---------------------------------------------------------------------------------------------------
def image_planes(hdus: fits.HDUList) -> list[np.ndarray]:
    """The 2-D images of a FITS file in order: a 2-D HDU is one plane, a 3-D cube one per leading index; tables and
    1-D HDUs (e.g. the calibration vector of an SDSS frame) are skipped."""
    planes: list[np.ndarray] = []
    for hdu in hdus:
        data = hdu.data
        if data is None or not hasattr(data, "ndim") or data.ndim < 2 or data.dtype.names:
            continue
        if data.ndim == 2:
            planes.append(np.asarray(data))
        elif data.ndim == 3:
            planes.extend(np.asarray(plane) for plane in data)
        else:
            raise InvalidBody(f"wrong shape: a {data.ndim}-D image")
    return planes


def fits_validator(expected_bands: int, min_finite: float = 0.5,
                   shape: tuple[int, int] | None = None) -> Callable[[bytes], fits.HDUList]:
    """A validator: the body parses as FITS with ``expected_bands`` 2-D images (of ``shape`` if given; a cached
    file from another cutout size is then refetched), each with a finite-pixel fraction >= ``min_finite``."""
    def validate(body: bytes) -> fits.HDUList:
        if len(body) < 2880 or len(body) % 2880 or not body.startswith(b"SIMPLE  ="):
            raise InvalidBody("corrupt FITS")
        try:
            hdus = fits.HDUList.fromstring(body)
            planes = image_planes(hdus)
        except InvalidBody:
            raise
        except Exception:  # noqa: BLE001 — astropy raises many types (OSError, TypeError, ...) on broken bytes
            raise InvalidBody("corrupt FITS") from None
        if len(planes) != expected_bands:
            raise InvalidBody(f"wrong shape: {len(planes)} images instead of {expected_bands}")
        for plane in planes:
            if shape is not None and plane.shape != tuple(shape):
                raise InvalidBody(f"wrong shape: {plane.shape} instead of {tuple(shape)}")
            finite = float(np.isfinite(plane).mean()) if plane.size else 0.0
            if finite < min_finite:
                raise InvalidBody(f"finite-pixel fraction {finite:.2f} < {min_finite:g}")
        return hdus

    return validate


def psf_fwhm_from_header(header: fits.Header) -> float | None:
    """PSF FWHM in arcsec from the first of ``PSF_KEYWORDS`` present with a positive value, else None."""
    for key in PSF_KEYWORDS:
        value = header.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
            return float(value)
    return None


def bands_to_fits(images: list[BandImage]) -> bytes:
    """One multi-extension FITS (empty primary, one image HDU per band, EXTNAME = band) as bytes."""
    hdus = [fits.PrimaryHDU()]
    for image in images:
        header = image.header.copy()
        for key in ("EXTNAME", "XTENSION", "PCOUNT", "GCOUNT"):
            header.remove(key, ignore_missing=True, remove_all=True)
        hdus.append(fits.ImageHDU(np.asarray(image.data, dtype=np.float32), header, name=image.band))
    buffer = io.BytesIO()
    fits.HDUList(hdus).writeto(buffer)
    return buffer.getvalue()


def bands_from_fits(hdus: fits.HDUList, bands: list[str], unit: str = "nanomaggy") -> list[BandImage]:
    """BandImages of ``bands`` from a file written by ``bands_to_fits`` (extensions found by name)."""
    images = []
    for band in bands:
        if band not in hdus:
            raise InvalidBody(f"no extension {band!r} in the cached file")
        header = hdus[band].header.copy()
        images.append(BandImage(band, np.asarray(hdus[band].data, dtype=np.float32), WCS(header, naxis=2), header,
                                unit, psf_fwhm_from_header(header)))
    return images


def has_empty_plane(planes: list[np.ndarray]) -> bool:
    """True when an image holds no data at all: every pixel 0 or NaN/inf (what a cutout service fills in outside its
    footprint, or for a region it does not serve yet)."""
    return any(not np.any(np.isfinite(plane) & (plane != 0)) for plane in planes)


def _planes_of(result: object) -> list[np.ndarray]:
    """The images of a validator's result: an HDUList, or a list of BandImages; nothing for anything else."""
    if isinstance(result, fits.HDUList):
        return image_planes(result)
    if isinstance(result, list) and result and all(isinstance(image, BandImage) for image in result):
        return [np.asarray(image.data) for image in result]
    return []


# -- the per-object cache ------------------------------------------------------------------------------------------
POSITION_DECIMALS = 6  # of a degree in the cache key (3.6 mas): a catalogue round trip keeps the key


def object_cache_name(object_id: str, ra: float, dec: float, **request: Any) -> str:
    """``<object_id>.<key>.fits``: ``key`` hashes the position (rounded) and every other setting the pixels depend
    on (size, bands, pixel scale, layer...), given as JSON-able keywords, so a changed request is fetched again."""
    position = [round(float(ra), POSITION_DECIMALS) + 0.0, round(float(dec), POSITION_DECIMALS) + 0.0]  # no -0.0
    text = json.dumps({"position": position, **request}, sort_keys=True, default=str)
    return f"{object_id}.{hashlib.blake2b(text.encode(), digest_size=6).hexdigest()}.fits"


class ObjectCache:
    """Validated downloads under ``cache_dir``: ``<object_id>.<key>.fits`` per object and request (see
    ``object_cache_name``), plus shared files like SDSS frames."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.root = Path(cache_dir).resolve()

    def path(self, name: str) -> Path:
        """The cache path of ``name`` (e.g. 'mock000001.fits', 'frames/frame-r-...fits'), never outside the cache."""
        path = (self.root / name).resolve()
        if self.root not in path.parents:
            raise DataError(f"cache file name {name!r} leaves the cache folder {self.root}")
        return path

    def load(self, name: str, validate: Callable[[bytes], T]) -> T | None:
        """``validate(bytes)`` of the cached file; None when absent, and a file that fails validation, or with an
        image without data (kept by an older galssl, see ``store``), is deleted."""
        path = self.path(name)
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            result = validate(body)
        except InvalidBody:
            result = None
        if result is None or has_empty_plane(_planes_of(result)):
            path.unlink(missing_ok=True)  # refetched by the caller
            return None
        return result

    def store(self, name: str, body: bytes) -> None:
        """Write an already validated body atomically (a killed run leaves no partial file) — unless an image in
        it holds no data at all: kept, an answer from outside the footprint (or from a server not serving that
        region yet) would fail the object on every rerun; unkept, a rerun asks again."""
        try:
            empty = has_empty_plane(image_planes(fits.HDUList.fromstring(body)))
        except Exception:  # noqa: BLE001 — not FITS (never stored by galssl): nothing to judge, keep it as before
            empty = False
        if empty:
            return
        with atomic_path(self.path(name)) as tmp:
            tmp.write_bytes(body)


def cached_get(client: HttpClient, cache: ObjectCache, name: str, url: str, params: dict[str, Any],
               validate: Callable[[bytes], T]) -> T:
    """The validated cache file ``name`` if present, else GET it (with retries), validate, store, return."""
    cached = cache.load(name, validate)
    if cached is not None:
        return cached
    body, parsed = client.get(url, params, validate)
    cache.store(name, body)
    return parsed
