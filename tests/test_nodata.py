"""No-data pixels at ingest (zero fill, NaN, not covered) counted per band, the ingest.max_mask_fraction gate, and
bad FITS files ending in failures.parquet — through the files provider and the Legacy Surveys provider over HTTP."""

from __future__ import annotations

import io
import json
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from astropy.io import fits
from astropy.wcs import WCS

from galssl.cli import main
from galssl.config import validate_config
from galssl.errors import ConfigError
from galssl.ingest import SurveySpec, ingest_shard, no_data_failure, write_manifest
from galssl.providers import ProviderContext, create_provider
from galssl.providers.base import BandImage, FetchError
from galssl.reproject import TargetGrid, to_target
from galssl.shards import shard_schema

BANDS = ["g", "r", "z"]
SCALE = 0.262  # the Legacy Surveys' native pixel scale
SIZE = 32
RA, DEC = 147.176447, -0.354030
REPO_ROOT = Path(__file__).resolve().parents[1]
FAST = {"retry_base_s": 0.01, "requests_per_second": 1000.0, "timeout_s": 10.0, "max_retries": 2, "max_concurrency": 2}
HOLES = {  # per object: band -> (zero-filled target columns on the left, NaN target rows at the bottom right)
    "partly": {"g": (3, 2), "r": (2, 2)},  # 154 and 124 of 1024 pixels: 15% and 12%, under 0.2
    "holes": {"g": (22, 7), "r": (21, 7)},  # 774 and 749 of 1024: 76% and 73%, like the recorded DECaLS answer
}


def legacy_header(ra: float, dec: float, side: int) -> fits.Header:
    """The header of a Legacy Surveys fits-cutout answer, card for card as /work/shared/realdata/example_c.fits
    (DECaLS: SURVEY, VERSION, IMAGETYP, BANDS, BANDn, TAN with a CD matrix, IMAGEW/H), at 0.262 arcsec/px."""
    header = fits.Header()
    header["SURVEY"], header["VERSION"], header["IMAGETYP"] = "DECaLS", "DR10", "image"
    header["BANDS"] = "".join(BANDS)
    for index, band in enumerate(BANDS):
        header[f"BAND{index}"] = band
    header["CTYPE1"], header["CTYPE2"] = ("RA---TAN", "TANgent plane"), ("DEC--TAN", "TANgent plane")
    header["CRVAL1"], header["CRVAL2"] = (ra, "Reference RA"), (dec, "Reference Dec")
    header["CRPIX1"], header["CRPIX2"] = ((side + 1) / 2, "Reference x"), ((side + 1) / 2, "Reference y")
    header["CD1_1"], header["CD1_2"] = (-SCALE / 3600, "CD matrix"), (0.0, "CD matrix")
    header["CD2_1"], header["CD2_2"] = (0.0, "CD matrix"), (SCALE / 3600, "CD matrix")
    header["IMAGEW"], header["IMAGEH"] = (float(side), "Image width"), (float(side), "Image height")
    return header


def legacy_cube(side: int, holes: dict, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(cube, no-data masks) of a (3, side, side) float32 cutout: sky noise and a galaxy at the centre, with the
    zero columns and NaN rows of ``holes`` placed relative to the central SIZE x SIZE target window."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    centre = (side - 1) / 2
    galaxy = 5.0 * np.exp(-0.5 * ((xx - centre) ** 2 + (yy - centre) ** 2) / 2.0**2)
    cube = (galaxy + rng.normal(0.05, 0.01, (3, side, side))).astype(np.float32)
    masks = np.zeros(cube.shape, dtype=bool)
    offset = (side - SIZE) // 2
    for index, band in enumerate(BANDS):
        zero_columns, nan_rows = holes.get(band, (0, 0))
        cube[index, :, : offset + zero_columns] = 0.0  # the fill value of the service, up to the image edge
        cube[index, : offset + nan_rows, offset + zero_columns:] = np.nan
        masks[index] = (cube[index] == 0) | np.isnan(cube[index])
    return cube, masks


def expected_fractions(masks: np.ndarray, side: int) -> np.ndarray:
    offset = (side - SIZE) // 2
    return masks[:, offset:offset + SIZE, offset:offset + SIZE].mean(axis=(1, 2))


def write_cube(path, side: int, holes: dict, ra: float = RA, dec: float = DEC) -> np.ndarray:
    cube, masks = legacy_cube(side, holes)
    fits.PrimaryHDU(cube, legacy_header(ra, dec, side)).writeto(path)
    return expected_fractions(masks, side)


def files_section(path) -> dict:
    return {"provider": "files", "format": "fits", "path": str(path), "bands": BANDS, "pixel_scale_arcsec": SCALE,
            "cutout_size": SIZE}


def catalog(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"object_id": ids, "ra": RA, "dec": DEC, "split": "train"})


def test_reproject_counts_zero_nan_and_uncovered_per_band():
    grid = TargetGrid(SCALE, SIZE)
    side = 50
    cube, masks = legacy_cube(side, HOLES["partly"])
    wcs = WCS(legacy_header(RA, DEC, side), naxis=2)
    images = [BandImage(band, cube[i], wcs) for i, band in enumerate(BANDS)]
    result = to_target(images, grid, RA, DEC)
    np.testing.assert_allclose(result.mask_fraction, [154 / 1024, 124 / 1024, 0.0], atol=1e-6)
    np.testing.assert_allclose(result.mask_fraction, expected_fractions(masks, side), atol=1e-6)
    assert result.mask_fraction.dtype == np.float32 and result.mask_fraction.shape == (3,)
    # No-data pixels are 0; the valid ones are the source's own values (same grid, whole-pixel offset), with no
    # darkening next to the zero fill.
    window = cube[:, 9:41, 9:41]
    valid = ~masks[:, 9:41, 9:41]
    np.testing.assert_allclose(result.image[valid], window[valid], rtol=1e-5, atol=1e-6)
    assert (result.image[~valid] == 0).all() and np.isfinite(result.image).all()
    # Band by band (no shared WCS) gives the same numbers as the cube path.
    separate = [to_target([image], grid, RA, DEC) for image in images]
    np.testing.assert_allclose([s.mask_fraction[0] for s in separate], result.mask_fraction, atol=1e-6)
    np.testing.assert_allclose(np.stack([s.image[0] for s in separate]), result.image, rtol=1e-5, atol=1e-6)


def test_zero_fill_is_measured_on_the_source_when_resampled():
    """A rotated, coarser target smears the zero fill: the share is taken from the reprojected source mask."""
    from galssl.mocksky.render import make_wcs

    side = 120
    wcs = make_wcs(RA, DEC, SCALE, (side, side), rotation_deg=30.0)
    data = np.random.default_rng(2).normal(1.0, 0.05, (side, side))
    x, _ = wcs.world_to_pixel_values(RA, DEC)
    data[:, : int(round(float(x)))] = 0.0  # the east half (left, low x) of the native cutout has no data
    result = to_target([BandImage("g", data, wcs)], TargetGrid(0.396, 40), RA, DEC, "interp")
    assert result.mask_fraction[0] == pytest.approx(0.5, abs=0.03)
    # The edge of the hole is neither darkened by the fill nor counted twice: valid pixels stay near 1.
    valid = result.image[0][result.image[0] != 0]
    assert valid.min() > 0.75 * (0.396 / SCALE) ** 2


def test_display_zeros_are_data_but_nan_is_not():
    grid = TargetGrid(1.0, 8)
    plane = np.zeros((8, 8), np.float32)  # black sky of a JPEG: a value
    plane[:2] = np.nan
    result = to_target([BandImage("red", plane, None, unit="display")], grid, RA, DEC)
    assert result.mask_fraction.tolist() == [0.25]
    flux = to_target([BandImage("g", plane, None, unit="nanomaggy")], grid, RA, DEC)
    assert flux.mask_fraction.tolist() == [1.0]


def test_failure_reason_names_band_and_share():
    assert no_data_failure(BANDS, np.array([0.1, 0.15, 0.0]), "nanomaggy", 0.2) is None
    reason = no_data_failure(BANDS, np.array([0.7559, 0.05, 0.0]), "nanomaggy", 0.2)
    assert reason == ("band g: 76% of the cutout has no data (zero, NaN or outside the image), above "
                      "ingest.max_mask_fraction 0.2")
    both = no_data_failure(BANDS, np.array([0.7559, 0.7314, 0.0]), "nanomaggy", 0.2)
    assert both.startswith("band g: 76% and band r: 73% of the cutout has no data")
    assert no_data_failure(BANDS, np.array([1.0, 0.5, 1.0]), "nanomaggy", 0.2).startswith(
        "bands g, z: 100% and band r: 50% of the cutout has no data")
    assert "20.4%" in no_data_failure(BANDS, np.array([0.204, 0.0, 0.0]), "nanomaggy", 0.2)
    assert "(NaN or outside the image)" in no_data_failure(["grey"], np.array([0.5]), "display", 0.2)
    # A band without any data fails whatever the threshold.
    assert "nothing of the object is there" in no_data_failure(BANDS, np.array([0.0, 1.0, 0.0]), "nanomaggy", 1.0)


def bad_files(folder) -> dict[str, str]:
    """Write one broken FITS per case; object id -> pattern its failure reason must match."""
    side = 40
    cube, _ = legacy_cube(side, {})
    header = legacy_header(RA, DEC, side)
    two = header.copy()
    two["BANDS"] = "gr"
    del two["BAND2"]
    fits.PrimaryHDU(cube[:2], two).writeto(folder / "twoplanes.fits")
    fits.PrimaryHDU(np.concatenate([cube, cube[:1]]), header).writeto(folder / "fourplanes.fits")
    nokeys = header.copy()
    for key in ("BANDS", "BAND0", "BAND1", "BAND2"):
        del nokeys[key]
    fits.PrimaryHDU(cube, nokeys).writeto(folder / "nokeys.fits")
    nan = cube.copy()
    nan[1] = np.nan
    fits.PrimaryHDU(nan, header).writeto(folder / "allnan.fits")
    inf = cube.copy()
    inf[0] = np.inf
    fits.PrimaryHDU(inf, header).writeto(folder / "allinf.fits")
    zero = cube.copy()
    zero[2] = 0.0
    fits.PrimaryHDU(zero, header).writeto(folder / "allzero.fits")
    fits.PrimaryHDU(cube, legacy_header(RA + 1.0, DEC, side)).writeto(folder / "elsewhere.fits")
    whole = io.BytesIO()
    fits.PrimaryHDU(cube, header).writeto(whole)
    (folder / "truncated.fits").write_bytes(whole.getvalue()[:2880 + 5000])
    (folder / "notfits.fits").write_bytes(b"SIMPLE  =  this is no FITS file" * 100)
    (folder / "empty.fits").write_bytes(b"")
    (folder / "folder.fits").mkdir()
    singular = header.copy()
    singular["CD1_1"] = singular["CD2_2"] = 0.0
    fits.PrimaryHDU(cube, singular).writeto(folder / "singular.fits")
    return {
        "twoplanes": r"has bands g, r, not z",
        "fourplanes": r"holds a 4-plane cube, but its BANDS key names other bands \('grz'\): wrong number of planes",
        "nokeys": r"3-plane cube without BANDS/BANDn keys",
        "allnan": r"allnan\.fits for allnan: band r has no finite pixel \(all NaN or inf\)",
        "allinf": r"band g has no finite pixel",
        "allzero": r"^band z: 100% of the cutout has no data \(zero, NaN or outside the image\), above "
                   r"ingest\.max_mask_fraction 0\.2$",
        "elsewhere": r"^bands g, r, z: 100% of the cutout has no data \(zero, NaN or outside the image\), above",
        "truncated": r"truncated\.fits for truncated is not a readable FITS file",
        "notfits": r"notfits\.fits for notfits is not a readable FITS file",
        "empty": r"empty\.fits for empty is not a readable FITS file",
        "folder": r"no file folder\.fits for folder",
        "missing": r"no file missing\.fits for missing",
        "singular": r"singular",
    }


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")
def test_files_ingest_writes_masks_and_fails_bad_objects(tmp_path):
    folder = tmp_path / "cutouts"
    folder.mkdir()
    expected = {name: write_cube(folder / f"{name}.fits", SIZE, holes) for name, holes in HOLES.items()}
    write_cube(folder / "clean.fits", SIZE, {})
    reasons = bad_files(folder)
    section = files_section(folder)
    spec = SurveySpec.from_section("mine", section)
    provider = create_provider(section, ProviderContext("mine", 0, str(tmp_path / "cache")))
    ids = ["clean", *HOLES, *reasons]
    shard, failures = tmp_path / "shard.parquet", tmp_path / "failures.parquet"
    ok, failed = ingest_shard(catalog(ids), spec, provider, 0, 100, 0, str(shard), str(failures))
    assert (ok, failed) == (2, len(reasons) + 1)
    table = pq.read_table(shard)
    assert table.schema.field("mask_fraction").type == shard_schema(BANDS, SIZE, SCALE).field("mask_fraction").type
    rows = {row["object_id"]: row for row in table.to_pylist()}
    assert sorted(rows) == ["clean", "partly"]
    np.testing.assert_allclose(rows["partly"]["mask_fraction"], expected["partly"], atol=1e-6)
    np.testing.assert_allclose(rows["partly"]["mask_fraction"], [154 / 1024, 124 / 1024, 0.0], atol=1e-6)
    assert rows["clean"]["mask_fraction"] == [0.0, 0.0, 0.0]
    failed_rows = pd.read_parquet(failures).set_index("object_id")["reason"]
    assert failed_rows["holes"] == ("band g: 76% and band r: 73% of the cutout has no data (zero, NaN or outside "
                                    "the image), above ingest.max_mask_fraction 0.2")
    for object_id, pattern in reasons.items():
        assert pd.Series([failed_rows[object_id]]).str.contains(pattern, regex=True).all(), (object_id,
                                                                                              failed_rows[object_id])
    # The manifest: per-band mean and max of mask_fraction, the overall mean, and the threshold used.
    manifest = write_manifest(spec, [str(shard)], [str(failures)], str(tmp_path / "manifest.json"),
                              str(tmp_path / "all_failures.parquet"), "h", 0.2)
    statistics = manifest["band_statistics"]
    assert statistics["g"]["mask_fraction_mean"] == pytest.approx(154 / 1024 / 2, abs=1e-6)
    assert statistics["g"]["mask_fraction_max"] == pytest.approx(154 / 1024, abs=1e-6)
    assert statistics["r"]["mask_fraction_max"] == pytest.approx(124 / 1024, abs=1e-6)
    assert statistics["z"]["mask_fraction_max"] == 0.0
    assert manifest["mask_fraction_mean"] == pytest.approx((154 + 124) / 1024 / 6, abs=1e-6)
    assert manifest["max_mask_fraction"] == 0.2 and manifest["counts"]["failed"] == len(reasons) + 1


def test_cli_threshold_lets_the_holes_in_with_their_fractions(tmp_path):
    folder = tmp_path / "cutouts"
    folder.mkdir()
    expected = write_cube(folder / "holes.fits", SIZE, HOLES["holes"])
    catalog(["holes"]).to_parquet(tmp_path / "catalog.parquet")
    argv = ["ingest-shard", "--survey", "mine", "--survey-config", json.dumps(files_section(folder)),
            "--catalog", str(tmp_path / "catalog.parquet"), "--shard", "0", "--shard-size", "10", "--seed", "0",
            "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "s.parquet"),
            "--failures", str(tmp_path / "f.parquet")]
    main([*argv, "--max-mask-fraction", "0.8"])
    mask = pq.read_table(tmp_path / "s.parquet").column("mask_fraction").to_pylist()
    np.testing.assert_allclose(mask, [expected], atol=1e-6)
    np.testing.assert_allclose(mask[0], [774 / 1024, 749 / 1024, 0.0], atol=1e-6)
    assert pd.read_parquet(tmp_path / "f.parquet").empty
    main(argv)  # the default threshold, 0.2
    assert pq.read_table(tmp_path / "s.parquet").num_rows == 0
    assert pd.read_parquet(tmp_path / "f.parquet")["reason"].str.contains("band g: 76%").all()
    with pytest.raises(SystemExit):
        main([*argv, "--max-mask-fraction", "1.5"])


def test_threshold_out_of_range_is_a_config_error(tmp_path):
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    assert validate_config(config)["ingest"]["max_mask_fraction"] == 0.2
    config["ingest"] = {"max_mask_fraction": 1.5}
    with pytest.raises(ConfigError, match=r"^config error: ingest.max_mask_fraction must be <= 1 \(got 1.5\)$"):
        validate_config(config)
    spec = SurveySpec.from_section("mine", files_section(tmp_path))
    provider = create_provider(files_section(tmp_path), ProviderContext("mine", 0, str(tmp_path)))
    with pytest.raises(ConfigError, match=r"ingest.max_mask_fraction must be in \[0, 1\] \(got nan\)"):
        ingest_shard(catalog(["a"]), spec, provider, 0, 10, 0, str(tmp_path / "s"), str(tmp_path / "f"),
                     max_mask_fraction=float("nan"))


class CutoutService(BaseHTTPRequestHandler):
    """A fits-cutout endpoint answering each object's recorded-style cube (chosen by its dec)."""

    cubes: dict[str, bytes] = {}

    def do_GET(self):
        params = {key: values[0] for key, values in parse_qs(urlparse(self.path).query).items()}
        side = int(params["size"])
        holes = HOLES.get(self.server.names.get(round(float(params["dec"]), 4), ""), {})
        cube, _ = legacy_cube(side, holes)
        buffer = io.BytesIO()
        fits.PrimaryHDU(cube, legacy_header(float(params["ra"]), float(params["dec"]), side)).writeto(buffer)
        body = buffer.getvalue()
        self.send_response(200)
        self.send_header("Content-Type", "image/fits")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        """Keep the test output clean: no access log line per request."""


@pytest.fixture
def cutout_service():
    server = ThreadingHTTPServer(("127.0.0.1", 0), CutoutService)
    server.names = {round(DEC + 0.01 * i, 4): name for i, name in enumerate(["clean", *HOLES])}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_legacy_provider_counts_zero_fill_and_gates(tmp_path, cutout_service):
    url = f"http://127.0.0.1:{cutout_service.server_address[1]}"
    section = {"provider": "legacy", "bands": BANDS, "pixel_scale_arcsec": SCALE, "cutout_size": SIZE,
               "base_url": url, **FAST}
    spec = SurveySpec.from_section("legacy", section)
    provider = create_provider(section, ProviderContext("legacy", 0, str(tmp_path / "cache")))
    names = ["clean", *HOLES]
    objects = pd.DataFrame({"object_id": names, "ra": RA, "dec": [DEC + 0.01 * i for i in range(len(names))],
                            "split": "train"})
    side = int(provider.request_params(RA, DEC, spec.grid.fetch_size_arcsec)["size"])
    assert side > SIZE  # the service answers more than the target (any rotation): the holes reach past its edge
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok, failed = ingest_shard(objects, spec, provider, 0, 100, 0, str(tmp_path / "s.parquet"),
                                  str(tmp_path / "f.parquet"))
    assert (ok, failed) == (2, 1)
    rows = {row["object_id"]: row["mask_fraction"] for row in pq.read_table(tmp_path / "s.parquet").to_pylist()}
    np.testing.assert_allclose(rows["partly"], [154 / 1024, 124 / 1024, 0.0], atol=1e-6)
    assert rows["clean"] == [0.0, 0.0, 0.0]
    reason = pd.read_parquet(tmp_path / "f.parquet").set_index("object_id")["reason"]["holes"]
    assert reason.startswith("band g: 76% and band r: 73% of the cutout has no data (zero, NaN or outside the image)")


def test_fits_provider_bad_files_are_fetch_errors(tmp_path):
    reasons = bad_files(tmp_path)
    provider = create_provider(files_section(tmp_path), ProviderContext("mine", 0, str(tmp_path / "cache")))
    fetch_level = ["twoplanes", "fourplanes", "nokeys", "allnan", "allinf", "truncated", "notfits", "empty",
                   "folder", "missing"]
    for object_id in fetch_level:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(FetchError, match=reasons[object_id]):
                provider.fetch(object_id, RA, DEC, 20.0)


def test_files_catalogue_without_positions_centres_on_the_file(tmp_path):
    """A files catalogue without ra/dec (NaN): the target grid is centred on each FITS image's centre."""
    folder = tmp_path / "cutouts"
    folder.mkdir()
    expected = write_cube(folder / "partly.fits", SIZE, HOLES["partly"], ra=RA + 0.5, dec=DEC - 0.25)
    section = files_section(folder)
    provider = create_provider(section, ProviderContext("mine", 0, str(tmp_path / "cache")))
    objects = pd.DataFrame({"object_id": ["partly"], "ra": [np.nan], "dec": [np.nan], "split": ["train"]})
    shard = tmp_path / "s.parquet"
    assert ingest_shard(objects, SurveySpec.from_section("mine", section), provider, 0, 10, 0, str(shard),
                        str(tmp_path / "f.parquet")) == (1, 0)
    row = pq.read_table(shard).to_pylist()[0]
    np.testing.assert_allclose(row["mask_fraction"], expected, atol=1e-6)
    assert np.isnan(row["ra"]) and np.isnan(row["dec"])
    image = np.frombuffer(row["image"], "<f4").reshape(3, SIZE, SIZE)
    cube, masks = legacy_cube(SIZE, HOLES["partly"])
    np.testing.assert_allclose(image[~masks], cube[~masks], rtol=1e-5, atol=1e-6)
