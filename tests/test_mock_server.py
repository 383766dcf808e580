"""The mock sky server through real clients (requests, astroquery): formats, WCS, determinism, faults, errors."""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import requests
from astropy.coordinates import Angle, SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from astroquery.hips2fits import hips2fitsClass
from astroquery.sdss import SDSS
from astroquery.sdss import conf as sdss_conf

from galssl.errors import ConfigError
from galssl.mocksky.settings import MockSettings
from galssl.mocksky.sky import MockSky
from galssl.testing.faults import FAILING_ATTEMPTS, FaultPlan
from galssl.testing.server import MockServer
from galssl.testing.skyserver import FRAME_SIZE_PX, Frame, frame_at

DATA = Path(__file__).with_name("data")
SLOW_S = 0.3
RETRY_AFTER_S = 2.0


@pytest.fixture(scope="module")
def sky() -> MockSky:
    return MockSky(MockSettings.from_section({"n_objects": 50}), 7)


@pytest.fixture(scope="module")
def server(sky: MockSky) -> Iterator[MockServer]:
    with MockServer(sky, faults=FaultPlan(slow_s=SLOW_S, retry_after_s=RETRY_AFTER_S)) as running:
        yield running


@pytest.fixture(scope="module")
def galaxy(sky: MockSky) -> tuple[float, float]:
    """Position of the first catalogue galaxy (artifact-only entries have no source at the centre)."""
    object_id = next(oid for oid in sky.object_ids if sky.build(oid).object_type == "galaxy")
    return sky.position(object_id)


def cutout(server: MockServer, **params: object) -> requests.Response:
    return requests.get(server.legacy_url, params=params, timeout=30)


def robust_sigma(values: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


# -- Legacy Survey fits-cutout ------------------------------------------------------------------------------------
def test_legacy_cutout_is_a_band_cube_with_centred_wcs(server: MockServer, galaxy: tuple[float, float]) -> None:
    ra, dec = galaxy
    response = cutout(server, ra=ra, dec=dec, layer="ls-dr10", pixscale=0.262, bands="griz", size=64)
    assert response.status_code == 200
    hdus = fits.open(io.BytesIO(response.content))
    assert len(hdus) == 1
    header, cube = hdus[0].header, hdus[0].data
    assert cube.shape == (4, 64, 64) and cube.dtype.kind == "f" and cube.dtype.itemsize == 4
    assert header["BANDS"] == "griz"
    assert [header[f"BAND{index}"] for index in range(4)] == ["g", "r", "i", "z"]
    assert header["VERSION"] == "DR10" and header["IMAGETYP"] == "image" and "BUNIT" not in header
    # The cards of a real fits-cutout answer, in its order (tests/data/legacy_fits_cutout_header.txt).
    recorded = [line[:8].strip() for line in (DATA / "legacy_fits_cutout_header.txt").read_text().splitlines()
                if not line.startswith("#")]
    assert [key for key in header if key != "BAND3"] == recorded  # the recording has 3 bands, this cube 4
    assert (header["IMAGEW"], header["IMAGEH"]) == (64.0, 64.0) and header["CRPIX1"] == header["CRPIX2"] == 32.5
    wcs = WCS(header, naxis=2)
    x, y = wcs.world_to_pixel(SkyCoord(ra, dec, unit="deg"))
    assert abs(x - 31.5) < 0.01 and abs(y - 31.5) < 0.01
    # North up, east left, 0.262 arcsec pixels.
    np.testing.assert_allclose(wcs.pixel_scale_matrix * 3600, [[-0.262, 0], [0, 0.262]], atol=1e-9)


def test_legacy_cutout_is_deterministic_and_defaults_like_the_real_service(server: MockServer) -> None:
    first = cutout(server, ra=185.01, dec=15.02, bands="gr", size=32)
    second = cutout(server, ra="185.010", dec="15.02", bands="gr", size="32")
    assert first.content == second.content
    default = fits.open(io.BytesIO(cutout(server, ra=185.01, dec=15.02, size=16).content))[0].header
    assert default["BANDS"] == "grz" and default["CD2_2"] * 3600 == pytest.approx(0.262) and default["NAXIS1"] == 16


def test_catalogue_galaxy_is_bright_at_the_cutout_centre(server: MockServer, galaxy: tuple[float, float]) -> None:
    ra, dec = galaxy
    image = fits.getdata(io.BytesIO(cutout(server, ra=ra, dec=dec, bands="r", size=64).content))[0]
    noise = robust_sigma(np.concatenate([image[:8].ravel(), image[-8:].ravel()]))
    assert image[28:37, 28:37].sum() > 10 * 9 * noise  # 9x9 sum against the noise of 81 pixels


# -- hips2fits through astroquery ---------------------------------------------------------------------------------
def test_hips2fits_through_astroquery(server: MockServer, galaxy: tuple[float, float]) -> None:
    ra, dec = galaxy
    client = hips2fitsClass()
    client.server = server.hips2fits_url
    fov = 0.0047
    hdus = client.query(hips="CDS/P/DESI-Legacy-Surveys/DR10/r", width=64, height=48, projection="TAN",
                        ra=ra * u.deg, dec=dec * u.deg, fov=Angle(fov * u.deg), format="fits",
                        rotation_angle=Angle(0 * u.deg))
    assert isinstance(hdus, fits.HDUList) and hdus[0].data.shape == (48, 64)
    wcs = WCS(hdus[0].header)
    x, y = wcs.world_to_pixel(SkyCoord(ra, dec, unit="deg"))
    assert abs(x - 31.5) < 0.01 and abs(y - 23.5) < 0.01
    assert math.isclose(abs(wcs.pixel_scale_matrix[0, 0]) * 3600, fov * 3600 / 64, rel_tol=1e-9)


def test_hips2fits_query_with_wcs(server: MockServer, galaxy: tuple[float, float]) -> None:
    client = hips2fitsClass()
    client.server = server.hips2fits_url
    wanted = WCS(naxis=2)
    wanted.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wanted.wcs.crval = list(galaxy)
    wanted.wcs.crpix = [16.5, 16.5]
    wanted.wcs.cdelt = [-0.1 / 3600, 0.1 / 3600]
    wanted.pixel_shape = (32, 32)
    hdus = client.query_with_wcs(hips="CDS/P/Euclid/Q1/VIS", wcs=wanted)
    assert hdus[0].data.shape == (32, 32)
    # The WCS cards of a real hips2fits answer, in its order (tests/data/hips2fits_header.txt), and its HISTORY.
    recorded = [line[:8].strip() for line in (DATA / "hips2fits_header.txt").read_text().splitlines()
                if line and not line.startswith("#")]
    wcs_keys = [key for key in recorded if key.startswith(("WCSAXES", "CRPIX", "CDELT", "CUNIT", "CTYPE", "CRVAL",
                                                             "LONPOLE", "LATPOLE", "RADESYS"))]
    assert [key for key in hdus[0].header if key in wcs_keys] == wcs_keys and "BUNIT" not in hdus[0].header
    assert "Generated by CDS HiPS2FITS service" in str(hdus[0].header["HISTORY"])
    np.testing.assert_allclose(WCS(hdus[0].header).pixel_scale_matrix, wanted.pixel_scale_matrix, rtol=1e-12)


# -- SDSS through astroquery --------------------------------------------------------------------------------------
def test_sdss_query_region_and_get_images(server: MockServer, galaxy: tuple[float, float]) -> None:
    ra, dec = galaxy
    position = SkyCoord(ra, dec, unit="deg")
    with sdss_conf.set_temp("skyserver_baseurl", server.url), sdss_conf.set_temp("sas_baseurl", server.sas_url):
        matches = SDSS.query_region(position, radius=2 * u.arcsec, cache=False)
        assert len(matches) == 1 and {"run", "rerun", "camcol", "field", "objid"} <= set(matches.colnames)
        frames = SDSS.get_images(matches=matches, band="r", cache=False, show_progress=False)
        assert SDSS.query_region(SkyCoord(ra + 0.3, dec, unit="deg"), radius=2 * u.arcsec, cache=False) is None
    assert len(frames) == 1
    header, image = frames[0][0].header, frames[0][0].data
    assert image.shape == (FRAME_SIZE_PX, FRAME_SIZE_PX) and header["FILTER"] == "r" and header["RERUN"] == "301"
    assert ([header[key] for key in ("RUN", "CAMCOL", "FRAME")]
            == [int(matches[0][key]) for key in ("run", "camcol", "field")])
    assert header["NMGY"] > 0
    # A real frame's layout (tests/data/sdss_frame_header.txt): a subset of its primary cards in its order, a 1-D
    # calibration vector, the sky table and the astrometry row; no BUNIT and no PSF card (real frames have none).
    recorded = (DATA / "sdss_frame_header.txt").read_text().split("# HDU 1")[0]
    order = [line[:8].strip() for line in recorded.splitlines() if line and not line.startswith("#")]
    keys = [key for key in header if key != "COMMENT"]
    assert all(key in order for key in keys)
    assert [order.index(key) for key in keys] == sorted(order.index(k) for k in keys)
    assert "BUNIT" not in header and "PSFFWHM" not in header
    hdus = frames[0]
    assert len(hdus) == 4 and hdus[1].data.shape == (FRAME_SIZE_PX,)
    assert hdus[2].columns.names == ["ALLSKY", "XINTERP", "YINTERP"] and hdus[3].data["RUN"][0] == header["RUN"]
    x, y = WCS(header).world_to_pixel(position)
    col, row = int(round(float(x))), int(round(float(y)))
    assert 4 <= col < FRAME_SIZE_PX - 4 and 4 <= row < FRAME_SIZE_PX - 4
    assert image[row - 4:row + 5, col - 4:col + 5].sum() > 10 * 9 * robust_sigma(image)


def test_frames_tile_the_sky() -> None:
    assert frame_at(0.0, -90.0) == Frame(1000, 1, 11)
    rng = np.random.default_rng(3)
    for ra, dec in zip(rng.uniform(0, 360, 200), np.degrees(np.arcsin(rng.uniform(-0.999, 0.999, 200)))):
        frame = frame_at(ra, dec)
        assert frame_at(*frame.centre()) == frame
        x, y = frame.wcs().world_to_pixel(SkyCoord(ra, dec, unit="deg"))
        assert 20 < x < FRAME_SIZE_PX - 21 and 20 < y < FRAME_SIZE_PX - 21  # >= ~8" inside its frame


def test_sdss_sql_search_with_rectangle_and_unsupported_query(server: MockServer, sky: MockSky) -> None:
    ra, dec = sky.position(sky.object_ids[0])
    with sdss_conf.set_temp("skyserver_baseurl", server.url):
        table = SDSS.query_region(SkyCoord(ra, dec, unit="deg"), width=1 * u.arcmin, cache=False)
    assert np.any(np.isclose(table["ra"], ra)) and np.any(np.isclose(table["dec"], dec))
    response = requests.get(f"{server.url}/dr17/en/tools/search/x_results.aspx",
                            params={"cmd": "SELECT * FROM SpecObj", "format": "csv"}, timeout=30)
    assert response.status_code == 400 and response.text.startswith("error_message")


# -- faults -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "status"), [("error500", 500), ("error503", 503), ("rate429", 429)])
def test_forced_http_error_faults(server: MockServer, kind: str, status: int) -> None:
    response = cutout(server, ra=185.0, dec=15.0, size=8, fault=kind)
    assert response.status_code == status and len(response.text.splitlines()) == 1
    if kind == "rate429":
        assert response.headers["Retry-After"] == str(math.ceil(RETRY_AFTER_S))


def test_forced_reset_truncated_corrupt_and_slow(server: MockServer) -> None:
    params = {"ra": 185.0, "dec": 15.0, "size": 16}
    with pytest.raises(requests.ConnectionError):
        cutout(server, **params, fault="reset")
    try:
        response = cutout(server, **params, fault="truncated")
    except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError):
        pass
    else:
        assert len(response.content) < int(response.headers["Content-Length"])
    response = cutout(server, **params, fault="corrupt")
    assert response.status_code == 200 and len(response.content) == len(cutout(server, **params).content)
    with pytest.raises(OSError):
        fits.open(io.BytesIO(response.content))
    start = time.perf_counter()
    assert cutout(server, **params, fault="slow").status_code == 200
    assert time.perf_counter() - start >= SLOW_S
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(server.legacy_url, params={**params, "fault": "timeout"}, timeout=SLOW_S / 3)


def test_random_faults_are_deterministic_and_retries_succeed(sky: MockSky) -> None:
    plan = FaultPlan(rate=0.6, kinds=("error500", "error503", "rate429", "truncated", "corrupt", "reset"), seed=11,
                     retry_after_s=0.0)
    outcomes = []
    for _ in range(2):
        with MockServer(sky, faults=plan) as server:
            seen = []
            for index in range(8):
                url = f"{server.url}/?page={index}"
                for _ in range(FAILING_ATTEMPTS + 1):
                    try:
                        response = requests.get(url, timeout=10)
                        ok = response.status_code == 200 and response.text.startswith("galssl mock sky server")
                    except requests.RequestException:
                        ok = False
                    seen.append(ok)
                    if ok:
                        break
                assert ok, f"{url} still failing after {FAILING_ATTEMPTS + 1} attempts"
            stats = server.stats
            assert stats["requests"] == len(seen) and stats["faults"] == seen.count(False) > 0
            outcomes.append(seen)
    assert outcomes[0] == outcomes[1]


def test_fault_plan_and_fault_parameter_are_checked(server: MockServer) -> None:
    with pytest.raises(ConfigError, match="fault rate"):
        FaultPlan(rate=1.5)
    with pytest.raises(ConfigError, match="unknown fault kind 'flaky'"):
        FaultPlan(rate=0.1, kinds=("flaky",))
    response = cutout(server, ra=185.0, dec=15.0, size=8, fault="flaky")
    assert response.status_code == 400 and "unknown fault 'flaky'" in response.text


# -- bad parameters -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "message"), [
    ({"dec": 15.0}, "missing required parameter 'ra'"),
    ({"ra": 185.0, "dec": 15.0, "size": 513}, "'size' must be an integer from 1 to 512"),
    ({"ra": 185.0, "dec": 15.0, "bands": "gu"}, "unknown band 'u'"),
    ({"ra": 185.0, "dec": 95.0}, "'dec' must be between -90 and 90"),
])
def test_bad_cutout_parameters_give_400(server: MockServer, params: dict[str, object], message: str) -> None:
    response = cutout(server, **params)
    assert response.status_code == 400
    assert len(response.text.splitlines()) == 1 and message in response.text


def test_unknown_hips_gives_400(server: MockServer) -> None:
    response = requests.get(server.hips2fits_url, params={"hips": "CDS/P/Nope", "width": 8, "height": 8, "fov": 0.01,
                                                          "ra": 185.0, "dec": 15.0}, timeout=30)
    assert response.status_code == 400 and len(response.text.splitlines()) == 1
    assert "unknown hips 'CDS/P/Nope'" in response.json()["description"]
