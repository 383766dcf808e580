"""Network providers (legacy, hips, sdss, euclid) and their shared HTTP layer, against the mock sky server.

Retries, caching, fault handling, Retry-After, per-host limits and a kill -9 resume, all offline.
"""

from __future__ import annotations

import email.utils
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from astropy.coordinates import SkyCoord
from astropy.io import fits

from galssl.errors import ConfigError, DataError
from galssl.ingest import SurveySpec, ingest_shard
from galssl.mocksky.settings import MockSettings
from galssl.mocksky.sky import MockSky
from galssl.providers import ProviderContext, create_provider
from galssl.providers.base import FetchError
from galssl.providers.euclid import PASSWORD_ENV, USER_ENV, find_credentials
from galssl.providers.http import (
    InvalidBody,
    ObjectCache,
    TokenBucket,
    backoff_delay_s,
    fits_validator,
    parse_retry_after,
)
from galssl.testing import faults as fault_io
from galssl.testing.faults import FAULT_KINDS, FaultPlan
from galssl.testing.server import MockServer

SEED = 5
FAST = {"retry_base_s": 0.01, "requests_per_second": 1000.0, "timeout_s": 10.0, "max_retries": 3,
        "max_concurrency": 4}
"""Retry settings that keep the tests fast: tiny backoff, no rate limiting to speak of."""
pytestmark = pytest.mark.filterwarnings("ignore:Field info are not available")  # astroquery on the mock SkyServer
HIPS_IDS = {band: f"CDS/P/DESI-Legacy-Surveys/DR10/{band}" for band in "gr"}
FETCH_ARCSEC = 10.0


@pytest.fixture(scope="module")
def sky() -> MockSky:
    return MockSky(MockSettings.from_section({"n_objects": 40}), SEED)


@pytest.fixture(scope="module")
def server(sky: MockSky) -> Iterator[MockServer]:
    with MockServer(sky) as running:
        yield running


@pytest.fixture(scope="module")
def galaxy(sky: MockSky) -> str:
    """The nearest catalogue galaxy (big and bright at the cutout centre)."""
    galaxies = [oid for oid in sky.object_ids if sky.build(oid).object_type == "galaxy"]
    return min(galaxies, key=lambda oid: float(sky.build(oid).truth["redshift"]))


def section(provider: str, url: str, **overrides: object) -> dict:
    base = {"legacy": {"bands": ["g", "r", "z"], "pixel_scale_arcsec": 0.262, "base_url": url},
            "hips": {"bands": ["g", "r"], "pixel_scale_arcsec": 0.262, "base_url": url, "hips": HIPS_IDS},
            "sdss": {"bands": ["g", "r"], "pixel_scale_arcsec": 0.396, "base_url": url}}[provider]
    return {"provider": provider, "cutout_size": 16, **base, **FAST, **overrides}


def provider_url(server: MockServer, provider: str) -> str:
    return server.hips2fits_url if provider == "hips" else server.url


def make(config: dict, cache: Path, survey: str = "test"):
    return create_provider(config, ProviderContext(survey, SEED, str(cache)))


def catalog(sky: MockSky, count: int) -> pd.DataFrame:
    table = sky.catalog().head(count).copy()
    table["split"] = "train"
    return table


def robust_sigma(values: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


# -- pure parts: backoff, Retry-After, token bucket, validation, cache paths ----------------------------------------
def test_backoff_doubles_up_to_the_cap_with_full_jitter() -> None:
    assert backoff_delay_s(1, 0.5, 60.0, 1.0) == 0.5
    assert backoff_delay_s(3, 0.5, 60.0, 0.5) == 1.0  # 0.5 * 2**2 * 0.5
    assert backoff_delay_s(20, 0.5, 60.0, 1.0) == 60.0
    assert backoff_delay_s(4, 1.0, 60.0, 0.0) == 0.0


def test_retry_after_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = 1_700_000_000.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0


def test_token_bucket_spaces_requests_at_the_rate() -> None:
    clock = [0.0]
    bucket = TokenBucket(rate=2.0, capacity=1.0, clock=lambda: clock[0])
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.5, 1.0]  # waiters queue: 0, 1/2, 2/2 s
    clock[0] = 1.0  # two tokens refilled: the debt of two is repaid
    assert bucket.reserve() == 0.5


def test_fits_validator_rejects_corrupt_wrong_shape_and_mostly_nan(server: MockServer) -> None:
    params = {"ra": 185.0, "dec": 15.0, "bands": "gr", "size": 8}
    body = requests.get(server.legacy_url, params=params, timeout=30).content
    assert len(fits_validator(2, shape=(8, 8))(body)) == 1
    with pytest.raises(InvalidBody, match="corrupt FITS"):
        fits_validator(2)(b"\0" + body[1:])
    with pytest.raises(InvalidBody, match="corrupt FITS"):
        fits_validator(2)(body[: len(body) // 2])
    with pytest.raises(InvalidBody, match="2 images instead of 3"):
        fits_validator(3)(body)
    with pytest.raises(InvalidBody, match=r"wrong shape: \(8, 8\) instead of \(9, 9\)"):
        fits_validator(2, shape=(9, 9))(body)
    buffer = io.BytesIO()
    fits.PrimaryHDU(np.full((8, 8), np.nan, np.float32)).writeto(buffer)
    with pytest.raises(InvalidBody, match="finite-pixel fraction 0.00 < 0.5"):
        fits_validator(1)(buffer.getvalue())


def test_cache_paths_stay_inside_the_cache(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path / "cache")
    assert cache.path("mock000001.fits") == (tmp_path / "cache" / "mock000001.fits").resolve()
    with pytest.raises(DataError, match="leaves the cache folder"):
        cache.path("../escape.fits")


# -- each provider against the mock server --------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["legacy", "hips", "sdss"])
def test_provider_images_are_centred_bright_and_cached(provider: str, server: MockServer, sky: MockSky, galaxy: str,
                                                       tmp_path: Path) -> None:
    ra, dec = sky.position(galaxy)
    config = section(provider, provider_url(server, provider))
    images = make(config, tmp_path).fetch(galaxy, ra, dec, FETCH_ARCSEC)
    assert [image.band for image in images] == config["bands"]
    for image in images:
        assert image.unit == "nanomaggy" and image.data.dtype == np.float32 and len(image.header) > 0
        rows, cols = image.data.shape
        x, y = (float(v) for v in image.wcs.world_to_pixel(SkyCoord(ra, dec, unit="deg")))
        assert abs(x - (cols - 1) / 2) <= 1.0 and abs(y - (rows - 1) / 2) <= 1.0
        col, row = round(x), round(y)
        centre = image.data[row - 3:row + 4, col - 3:col + 4].sum()
        border = np.concatenate([image.data[:4].ravel(), image.data[-4:].ravel()])
        assert centre > 5 * 7 * robust_sigma(border)  # a 5-sigma source in the central 7x7 pixels
    # Real frames and fits-cutout cubes carry no PSF width card (SDSS keeps seeing in psField files), so neither do
    # the mock's: the PSF is unknown to these providers.
    if provider in ("sdss", "legacy"):
        assert all(image.psf_fwhm_arcsec is None for image in images)
    # A new provider on the same cache (a rerun): no request at all, the same pixels.
    before = server.stats["requests"]
    again = make(config, tmp_path).fetch(galaxy, ra, dec, FETCH_ARCSEC)
    assert server.stats["requests"] == before
    for first, second in zip(images, again):
        np.testing.assert_array_equal(first.data, second.data)
        assert first.wcs.wcs.compare(second.wcs.wcs)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_cache_file_is_deleted_and_refetched(damage: str, server: MockServer, sky: MockSky,
                                                      tmp_path: Path) -> None:
    object_id = sky.object_ids[1]
    ra, dec = sky.position(object_id)
    config = section("legacy", server.url)
    make(config, tmp_path).fetch(object_id, ra, dec, FETCH_ARCSEC)
    [cached] = tmp_path.glob(f"{object_id}.*.fits")
    good = cached.read_bytes()
    cached.write_bytes(b"\0garbage" * 100 if damage == "garbage" else good[: len(good) // 2])
    provider = make(config, tmp_path)
    provider.fetch(object_id, ra, dec, FETCH_ARCSEC)
    assert provider.client.requests_made == 1
    assert cached.read_bytes() == good


def test_moved_object_or_changed_cutout_is_fetched_again_not_read_from_the_cache(
        server: MockServer, sky: MockSky, tmp_path: Path) -> None:
    object_id, other = sky.object_ids[2], sky.object_ids[3]
    ra, dec = sky.position(object_id)
    config = section("legacy", server.url)
    make(config, tmp_path).fetch(other, *sky.position(other), FETCH_ARCSEC)
    # A file of an older galssl (keyed by object_id only) holds another object's pixels: never read.
    [stale] = tmp_path.glob(f"{other}.*.fits")
    (tmp_path / f"{object_id}.fits").write_bytes(stale.read_bytes())
    first = make(config, tmp_path)
    centred = first.fetch(object_id, ra, dec, FETCH_ARCSEC)
    assert first.client.requests_made == 1
    assert not np.array_equal(centred[0].data, make(config, tmp_path).fetch(other, *sky.position(other),
                                                                            FETCH_ARCSEC)[0].data)
    # The catalogue moves the object by 2 arcsec; then the cutout size, the bands and the layer change.
    for change, config_change in (((ra + 2 / 3600, dec, FETCH_ARCSEC), {}), ((ra, dec, 2 * FETCH_ARCSEC), {}),
                                  ((ra, dec, FETCH_ARCSEC), {"bands": ["g", "r"]}),
                                  ((ra, dec, FETCH_ARCSEC), {"layer": "ls-dr9"})):
        provider = make({**config, **config_change}, tmp_path)
        provider.fetch(object_id, *change)
        assert provider.client.requests_made == 1, (change, config_change)
    # The original request (position equal to 1e-6 degrees) is still served from its own cache file.
    again = make(config, tmp_path)
    np.testing.assert_array_equal(again.fetch(object_id, ra + 1e-8, dec, FETCH_ARCSEC)[0].data, centred[0].data)
    assert again.client.requests_made == 0
    assert len(list(tmp_path.glob(f"{object_id}.*.fits"))) == 5


def test_too_large_legacy_cutout_is_a_config_error(server: MockServer, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="more than the Legacy Survey service's 512"):
        make(section("legacy", server.url), tmp_path).fetch("mock000000", 185.0, 15.0, 200.0)


def test_hips_needs_an_id_per_band(server: MockServer, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"surveys.test.hips must give a HiPS id for every band \(missing: r\)"):
        make(section("hips", server.hips2fits_url, hips={"g": HIPS_IDS["g"]}), tmp_path)


# -- faults ---------------------------------------------------------------------------------------------------------
def cached_ids(cache: Path) -> set[str]:
    return {path.name.split(".")[0] for path in cache.glob("*.fits")}  # <object_id>.<request key>.fits


def test_ingest_under_random_faults_then_resume(sky: MockSky, tmp_path: Path) -> None:
    objects = catalog(sky, 30)
    spec = SurveySpec.from_section("legacy", section("legacy", "http://unused"))
    cache = tmp_path / "cache"
    plan = FaultPlan(rate=0.3, kinds=FAULT_KINDS, seed=4, retry_after_s=1.0, slow_s=0.2)
    with MockServer(sky, faults=plan) as flaky:
        provider = make(section("legacy", flaky.url, max_retries=2), cache)
        ok, failed = ingest_shard(objects, spec, provider, 0, 1000, SEED, str(tmp_path / "s1.parquet"),
                                  str(tmp_path / "f1.parquet"), threads=4)
        assert set(flaky.stats["by_kind"]) == set(FAULT_KINDS)  # seed 4: every kind of fault happens
    shard = pd.read_parquet(tmp_path / "s1.parquet")
    failures = pd.read_parquet(tmp_path / "f1.parquet")
    assert ok + failed == 30 and failed >= 1  # seed 4 makes some objects fail both attempts
    assert set(shard.object_id).isdisjoint(failures.object_id)
    assert set(shard.object_id) | set(failures.object_id) == set(objects.object_id)
    assert (failures.attempts == 2).all() and failures.reason.str.endswith("after 2 attempts").all()
    # Only validated files reach the cache: one per fetched object, and each parses.
    assert cached_ids(cache) == set(shard.object_id)
    for path in cache.glob("*.fits"):
        fits_validator(3)(path.read_bytes())
    # Faults off: the rerun asks the server only for the objects that failed.
    with MockServer(sky) as healthy:
        provider = make(section("legacy", healthy.url, max_retries=2), cache)
        ok, failed = ingest_shard(objects, spec, provider, 0, 1000, SEED, str(tmp_path / "s2.parquet"),
                                  str(tmp_path / "f2.parquet"), threads=4)
        assert healthy.stats["requests"] == len(failures)
    assert (ok, failed) == (30, 0)


def test_sdss_retries_astroquery_failures_and_shares_frames(sky: MockSky, galaxy: str, tmp_path: Path) -> None:
    ra, dec = sky.position(galaxy)
    # SkyServer CrossID is a multipart POST whose random boundary makes each attempt a new fault draw, hence the
    # generous max_retries (0.4**10 odds of a spurious failure); frame GETs fail the same way on every run (seed 4).
    plan = FaultPlan(rate=0.4, kinds=("error500", "error503", "rate429", "truncated", "corrupt", "reset"), seed=4,
                     retry_after_s=0.0)
    with MockServer(sky, faults=plan) as flaky:
        config = section("sdss", flaky.url, max_retries=10, bands=["g"])  # one band: each frame costs ~2 s to serve
        images = make(config, tmp_path).fetch(galaxy, ra, dec, FETCH_ARCSEC)
        assert {"corrupt", "truncated"} <= set(flaky.stats["by_kind"]) and [image.band for image in images] == ["g"]
    frames = sorted((tmp_path / "frames").glob("*.fits"))
    assert len(frames) == 1
    for path in frames:
        fits_validator(1)(path.read_bytes())
    # A neighbour 1 arcsec away lies on the same frames: SkyServer is asked, SAS is not.
    with MockServer(sky) as healthy:
        paths: list[str] = []
        decide = healthy.injector.decide
        healthy.injector.decide = lambda key, forced=None: paths.append(key.split("?")[0]) or decide(key, forced)
        make(section("sdss", healthy.url, bands=["g"]), tmp_path).fetch("neighbour", ra + 1 / 3600, dec, FETCH_ARCSEC)
    assert any("X_Results.aspx" in path for path in paths) and not any("/frames/" in path for path in paths)


def test_permanent_500_fails_every_object_after_max_retries(sky: MockSky, tmp_path: Path) -> None:
    objects = catalog(sky, 5)
    spec = SurveySpec.from_section("legacy", section("legacy", "http://unused"))
    # rate 1 fails the first three attempts of every request, so three attempts never succeed.
    with MockServer(sky, faults=FaultPlan(rate=1.0, kinds=("error500",))) as broken:
        provider = make(section("legacy", broken.url, max_retries=3), tmp_path / "cache")
        ok, failed = ingest_shard(objects, spec, provider, 0, 1000, SEED, str(tmp_path / "s.parquet"),
                                  str(tmp_path / "f.parquet"), threads=2)
        assert broken.stats["requests"] == 5 * 3
    failures = pd.read_parquet(tmp_path / "f.parquet")
    assert (ok, failed) == (0, 5)
    assert (failures.reason == "HTTP 500 after 3 attempts").all() and (failures.attempts == 3).all()
    assert cached_ids(tmp_path / "cache") == set()


def test_timeouts_are_retried_then_reported(sky: MockSky, tmp_path: Path) -> None:
    with MockServer(sky, faults=FaultPlan(rate=1.0, kinds=("timeout",), slow_s=0.6)) as slow:
        provider = make(section("legacy", slow.url, max_retries=2, timeout_s=0.2), tmp_path)
        with pytest.raises(FetchError, match="^timeout after 2 attempts$") as raised:
            provider.fetch(sky.object_ids[0], *sky.position(sky.object_ids[0]), FETCH_ARCSEC)
    assert raised.value.attempts == 2


def test_retry_after_is_honoured(sky: MockSky, tmp_path: Path) -> None:
    # Three 429s with Retry-After: 1, then an answer; the backoff alone would wait ~0.01 s.
    with MockServer(sky, faults=FaultPlan(rate=1.0, kinds=("rate429",), retry_after_s=1.0)) as limited:
        provider = make(section("legacy", limited.url, max_retries=4), tmp_path)
        start = time.perf_counter()
        images = provider.fetch(sky.object_ids[0], *sky.position(sky.object_ids[0]), FETCH_ARCSEC)
        elapsed = time.perf_counter() - start
        assert limited.stats["by_kind"] == {"rate429": 3} and limited.stats["requests"] == 4
    assert len(images) == 3 and elapsed >= 3.0


def test_per_host_concurrency_limit(sky: MockSky, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Measured on the server: requests held in the 'slow' fault never overlap more than max_concurrency."""
    lock, state = threading.Lock(), {"now": 0, "most": 0}
    original = fault_io.pause

    def counting_pause(plan: FaultPlan) -> None:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        try:
            original(plan)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(fault_io, "pause", counting_pause)
    objects = catalog(sky, 8)
    spec = SurveySpec.from_section("legacy", section("legacy", "http://unused"))
    with MockServer(sky, faults=FaultPlan(rate=1.0, kinds=("slow",), slow_s=0.15)) as slow:
        provider = make(section("legacy", slow.url, max_concurrency=2), tmp_path / "cache")
        ok, _ = ingest_shard(objects, spec, provider, 0, 1000, SEED, str(tmp_path / "s.parquet"),
                             str(tmp_path / "f.parquet"), threads=6)
        host = slow.url.split("://", 1)[1]
    assert ok == 8 and state["most"] == 2 and provider.client.max_in_flight(host) == 2


# -- kill -9 in the middle of a shard, then resume -----------------------------------------------------------------
def ingest_command(config: dict, catalog_path: Path, folder: Path) -> list[str]:
    return [sys.executable, "-m", "galssl.cli", "ingest-shard", "--survey", "legacy", "--survey-config",
            json.dumps(config), "--catalog", str(catalog_path), "--shard", "0", "--shard-size", "1000", "--seed",
            str(SEED), "--cache", str(folder / "cache"), "--out", str(folder / "shard.parquet"), "--failures",
            str(folder / "failures.parquet"), "--threads", "1"]


def test_kill_9_then_resume_refetches_nothing_and_matches_an_uninterrupted_run(sky: MockSky, tmp_path: Path) -> None:
    objects = catalog(sky, 20)
    catalog_path = tmp_path / "catalog.parquet"
    objects.to_parquet(catalog_path, index=False)
    run = tmp_path / "killed"
    # A request's key on the server holds its parameters, the RA among them as the provider sends it.
    ra_of = {f"('ra', {repr(float(ra))!r})": oid for oid, ra in zip(objects.object_id, objects.ra)}
    keys: list[str] = []
    # Every request is slow (0.25 s) so the kill lands mid-shard.
    with MockServer(sky, faults=FaultPlan(rate=1.0, kinds=("slow",), slow_s=0.25)) as slow:
        decide = slow.injector.decide
        slow.injector.decide = lambda key, forced=None: keys.append(key) or decide(key, forced)
        config = section("legacy", slow.url)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        with open(tmp_path / "killed.log", "wb") as log:
            process = subprocess.Popen(ingest_command(config, catalog_path, run), env=env, stdout=log, stderr=log)
            deadline = time.monotonic() + 60
            while process.poll() is None and len(cached_ids(run / "cache")) < 4 and time.monotonic() < deadline:
                time.sleep(0.02)
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
            process.wait()
        assert process.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-2000:]
        assert not (run / "shard.parquet").exists()
        fetched_before = cached_ids(run / "cache")
        assert 4 <= len(fetched_before) < 20
        requests_before = len(keys)
        subprocess.run(ingest_command(config, catalog_path, run), env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
    asked_again = {oid for key in keys[requests_before:] for needle, oid in ra_of.items() if needle in key}
    assert asked_again and asked_again.isdisjoint(fetched_before)
    assert cached_ids(run / "cache") == set(objects.object_id)
    # The same shard, byte for byte, as one uninterrupted run with its own cache.
    fresh = tmp_path / "fresh"
    with MockServer(sky) as healthy:
        spec = SurveySpec.from_section("legacy", {**section("legacy", healthy.url), "reproject": "interp"})
        ingest_shard(objects, spec, make(section("legacy", healthy.url), fresh / "cache", survey="legacy"), 0, 1000,
                     SEED, str(fresh / "shard.parquet"), str(fresh / "failures.parquet"), threads=4)
    assert (run / "shard.parquet").read_bytes() == (fresh / "shard.parquet").read_bytes()


# -- no data: outside the footprint --------------------------------------------------------------------------------
class OutsideFootprint(BaseHTTPRequestHandler):
    """A cutout service in front of the mock server that, while ``server.outside`` is set, answers every pixel 0: what
    the Legacy Survey service answers outside its footprint (or for a region it does not serve yet)."""

    def do_GET(self) -> None:
        upstream = requests.get(self.server.upstream + self.path, timeout=30)
        body = upstream.content
        if self.server.outside and upstream.status_code == 200:
            hdus = fits.HDUList.fromstring(body)
            for hdu in hdus:
                if hdu.data is not None:
                    hdu.data = np.zeros_like(hdu.data)
            buffer = io.BytesIO()
            hdus.writeto(buffer)
            body = buffer.getvalue()
        self.send_response(upstream.status_code)
        self.send_header("Content-Type", upstream.headers.get("Content-Type", "image/fits"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Keep the test output clean: no access log line per request."""


@pytest.fixture
def footprint(server: MockServer) -> Iterator[ThreadingHTTPServer]:
    service = ThreadingHTTPServer(("127.0.0.1", 0), OutsideFootprint)
    service.upstream, service.outside = server.url, True
    thread = threading.Thread(target=service.serve_forever, daemon=True)
    thread.start()
    yield service
    service.shutdown()
    service.server_close()


def test_an_all_zero_answer_is_not_cached_so_a_rerun_asks_again(footprint: ThreadingHTTPServer, sky: MockSky,
                                                               tmp_path: Path) -> None:
    objects = catalog(sky, 3)
    config = section("legacy", f"http://127.0.0.1:{footprint.server_address[1]}")
    spec = SurveySpec.from_section("legacy", config)
    cache = tmp_path / "cache"

    def ingest(run: str) -> tuple[tuple[int, int], int, pd.DataFrame]:
        provider = make(config, cache)
        counts = ingest_shard(objects, spec, provider, 0, 1000, SEED, str(tmp_path / f"{run}.parquet"),
                              str(tmp_path / f"{run}-failures.parquet"))
        return counts, provider.client.requests_made, pd.read_parquet(tmp_path / f"{run}-failures.parquet")

    # Outside the footprint: every object fails for lack of data, and no answer is kept.
    counts, requests_made, failures = ingest("outside")
    assert counts == (0, 3) and requests_made == 3
    assert failures.reason.str.startswith("bands g, r, z: 100% of the cutout has no data").all(), failures.reason
    assert list(cache.glob("*.fits")) == []
    # A rerun asks the server again (the answer may have changed), and stores nothing while it is still empty.
    assert ingest("again")[:2] == ((0, 3), 3) and list(cache.glob("*.fits")) == []
    # Once the server has data there, the objects are ingested and cached: the next run asks for nothing.
    footprint.outside = False
    assert ingest("served")[:2] == ((3, 0), 3)
    assert cached_ids(cache) == set(objects.object_id)
    assert ingest("cached")[:2] == ((3, 0), 0)
    # An all-zero file kept by an older galssl is not a permanent failure: it is deleted and fetched again.
    object_id, ra, dec = objects.object_id[0], objects.ra[0], objects.dec[0]
    [cached] = cache.glob(f"{object_id}.*.fits")
    good = cached.read_bytes()
    hdus = fits.HDUList.fromstring(good)
    hdus[0].data = np.zeros_like(hdus[0].data)
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    cached.write_bytes(buffer.getvalue())
    provider = make(config, cache)
    images = provider.fetch(object_id, ra, dec, spec.grid.fetch_size_arcsec)
    assert provider.client.requests_made == 1 and all(np.any(image.data != 0) for image in images)
    assert cached.read_bytes() == good


def test_cache_keeps_partly_covered_answers_and_drops_empty_ones(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path)
    edge = np.zeros((2, 8, 8), np.float32)
    edge[:, :, 4:] = 1.0  # half the cutout on the survey: real data, kept
    empty = np.zeros((2, 8, 8), np.float32)
    empty[0] = 1.0  # the second band holds nothing
    for name, cube in (("edge.fits", edge), ("empty.fits", empty)):
        buffer = io.BytesIO()
        fits.PrimaryHDU(cube).writeto(buffer)
        cache.store(name, buffer.getvalue())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["edge.fits"]
    assert len(cache.load("edge.fits", fits_validator(2))) == 1


# -- Euclid: what can be checked without the archive ------------------------------------------------------------------
def euclid_section(url: str) -> dict:
    return {"provider": "euclid", "bands": ["VIS", "Y", "J", "H"], "pixel_scale_arcsec": 0.1, "base_url": url,
            **FAST, "max_retries": 2}


def test_euclid_without_credentials_names_the_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(USER_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    with pytest.raises(ConfigError, match=f"{USER_ENV} is not set.*{PASSWORD_ENV}.*keyring set galssl-euclid"):
        make(euclid_section("http://127.0.0.1:9"), tmp_path)
    monkeypatch.setenv(USER_ENV, "astronomer")
    with pytest.raises(ConfigError, match=f"{PASSWORD_ENV} is not set"):
        make(euclid_section("http://127.0.0.1:9"), tmp_path)


def test_euclid_password_from_the_keyring_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("galssl.providers.euclid._keyring_password", lambda user: "kr-secret" if user == "me" else None)
    credentials = find_credentials({USER_ENV: "me"})
    assert credentials.password == "kr-secret" and "kr-secret" not in repr(credentials)


def test_unreachable_euclid_archive_fails_cleanly_without_leaking_credentials(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(USER_ENV, "astronomer")
    monkeypatch.setenv(PASSWORD_ENV, "pw-s3cret-42")
    caplog.set_level(logging.DEBUG)
    provider = make(euclid_section(f"http://127.0.0.1:{port}"), tmp_path)
    with pytest.raises(FetchError) as raised:
        provider.fetch("mock000000", 52.9, -28.1, 5.0)
    assert raised.value.reason == "connection error after 2 attempts" and raised.value.attempts == 2
    output = capsys.readouterr()
    for text in (raised.value.reason, str(raised.value), caplog.text, output.out, output.err):
        assert "pw-s3cret-42" not in text
