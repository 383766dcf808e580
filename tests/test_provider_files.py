"""The files provider: FITS (MEF, per band, cube), PNG/JPEG with a synthetic WCS, Galaxy10-style HDF5."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from PIL import Image

from galssl.config import validate_config
from galssl.errors import ConfigError
from galssl.mocksky.render import make_wcs
from galssl.providers import ProviderContext, create_provider
from galssl.providers.base import FetchError
from galssl.providers.files import galaxy10_catalog
from galssl.reproject import TargetGrid, to_target

RA, DEC = 150.1, 2.2
BANDS = ["g", "r", "z"]
NATIVE_SCALE = 0.262
GRID = TargetGrid(0.396, 32)
CONTEXT = ProviderContext(survey="mine", seed=0, cache_dir="cache")


def provider_for(tmp_path, **section):
    base = {"provider": "files", "path": str(tmp_path), "bands": BANDS, "pixel_scale_arcsec": GRID.pixel_scale_arcsec,
            "cutout_size": GRID.size}
    return create_provider({**base, **section}, CONTEXT)


def native_cutout():
    """A rotated native grid with a Gaussian point source planted at (RA, DEC), 1.3 native pixels off centre."""
    shape = (101, 101)
    wcs = make_wcs(RA, DEC, NATIVE_SCALE, shape, rotation_deg=25.0, offset_px=(1.3, -0.7))
    x0, y0 = wcs.world_to_pixel_values(RA, DEC)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    data = np.exp(-0.5 * ((xx - x0) ** 2 + (yy - y0) ** 2) / 2.5**2)
    return wcs, (100.0 * data / data.sum()).astype(np.float32)


def centroid(image):
    yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    return (image * xx).sum() / image.sum(), (image * yy).sum() / image.sum()


def assert_lands_on_centre(images):
    result = to_target(images, GRID, RA, DEC)
    centre = (GRID.size - 1) / 2
    for plane in result.image:
        cx, cy = centroid(plane)
        assert math.hypot(cx - centre, cy - centre) < 0.3


def write_mef(path, wcs, data):
    primary = fits.PrimaryHDU()
    primary.header["BUNIT"] = "nanomaggy"
    extensions = []
    for index, band in enumerate(BANDS):
        header = wcs.to_header()
        header["PSFFWHM"] = 1.1 + 0.1 * index
        extensions.append(fits.ImageHDU(data * (index + 1), header=header, name=band.upper()))
    fits.HDUList([primary, *extensions]).writeto(path)


def test_fits_multi_extension_file(tmp_path):
    wcs, data = native_cutout()
    write_mef(tmp_path / "obj1.fits", wcs, data)
    images = provider_for(tmp_path).fetch("obj1", RA, DEC, 20.0)
    assert [img.band for img in images] == BANDS
    assert [img.unit for img in images] == ["nanomaggy"] * 3
    assert [img.psf_fwhm_arcsec for img in images] == pytest.approx([1.1, 1.2, 1.3])
    np.testing.assert_allclose(images[1].data, 2 * data)
    assert images[0].wcs.wcs.compare(wcs.wcs, tolerance=1e-10)
    assert_lands_on_centre(images)


def test_fits_one_file_per_band(tmp_path):
    wcs, data = native_cutout()
    for band in BANDS:
        header = wcs.to_header()
        header["BUNIT"] = "electron/s"
        header["SEEING"] = 0.9
        fits.PrimaryHDU(data, header=header).writeto(tmp_path / f"obj2_{band}.fits")
    images = provider_for(tmp_path, pattern="{object_id}_{band}.fits").fetch("obj2", RA, DEC, 20.0)
    assert [img.band for img in images] == BANDS
    assert images[2].unit == "electron/s" and images[2].psf_fwhm_arcsec == 0.9
    assert_lands_on_centre(images)


@pytest.mark.parametrize("band_keys", [{"BANDS": "zgr"}, {"BAND0": "z", "BAND1": "g", "BAND2": "r"}])
def test_fits_cube_with_band_keys(tmp_path, band_keys):
    wcs, data = native_cutout()
    header = wcs.to_header()
    del header["WCSAXES"]  # like the Legacy service: a 3-axis header whose third axis has no WCS
    header.update(band_keys)
    cube = np.stack([data * 1.0, data * 2.0, data * 3.0])  # planes z, g, r
    fits.PrimaryHDU(cube, header=header).writeto(tmp_path / "obj3.fits")
    images = provider_for(tmp_path).fetch("obj3", RA, DEC, 20.0)
    assert [img.band for img in images] == BANDS
    np.testing.assert_allclose([img.data.sum() for img in images], [200.0, 300.0, 100.0], rtol=1e-5)
    assert all(img.wcs.naxis == 2 for img in images)
    assert images[0].unit == "unknown" and images[0].psf_fwhm_arcsec is None
    assert_lands_on_centre(images)


@pytest.mark.filterwarnings("ignore:File may have been truncated")
def test_fits_problems_are_fetch_errors(tmp_path):
    wcs, data = native_cutout()
    provider = provider_for(tmp_path)
    with pytest.raises(FetchError, match=r"no file missing\.fits for missing"):
        provider.fetch("missing", RA, DEC, 20.0)
    (tmp_path / "garbage.fits").write_bytes(b"this is not a FITS file " * 200)
    with pytest.raises(FetchError, match=r"garbage\.fits for garbage is not a readable FITS file"):
        provider.fetch("garbage", RA, DEC, 20.0)
    write_mef(tmp_path / "whole.fits", wcs, data)
    (tmp_path / "cut.fits").write_bytes((tmp_path / "whole.fits").read_bytes()[:9000])
    with pytest.raises(FetchError, match=r"cut\.fits for cut is not a readable FITS file"):
        provider.fetch("cut", RA, DEC, 20.0)
    fits.PrimaryHDU(np.stack([data] * 3)).writeto(tmp_path / "nokeys.fits")
    with pytest.raises(FetchError, match="without BANDS/BANDn"):
        provider.fetch("nokeys", RA, DEC, 20.0)
    fits.HDUList([fits.PrimaryHDU(), *[fits.ImageHDU(data, name=b) for b in BANDS]]).writeto(tmp_path / "nowcs.fits")
    with pytest.raises(FetchError, match="no celestial WCS"):
        provider.fetch("nowcs", RA, DEC, 20.0)
    per_band = provider_for(tmp_path, pattern="{object_id}_{band}.fits")
    for band in ("g", "r"):
        fits.PrimaryHDU(data, header=wcs.to_header()).writeto(tmp_path / f"half_{band}.fits")
    with pytest.raises(FetchError, match=r"no file half_z\.fits for half"):
        per_band.fetch("half", RA, DEC, 20.0)
    with pytest.raises(FetchError, match="path separator"):
        provider.fetch("../escape", RA, DEC, 20.0)


def colour_image(height=30, width=40):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    pixels[2:6, 3:7] = [250, 120, 30]  # a bright spot in the top-left (north-east) corner
    return pixels


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_colour_image_at_its_native_scale_lands_on_the_grid(tmp_path, suffix):
    # 64 px of 0.198" = 12.7": the 32-px grid of 0.396" = 12.7" holds the whole image, two pixels averaged into one.
    pixels = colour_image(64, 64)
    Image.fromarray(pixels).save(tmp_path / f"gal.{suffix}", quality=95)
    provider = provider_for(tmp_path, format="image", pattern="{object_id}." + suffix, bands=["z", "r", "g"],
                            native_pixel_scale_arcsec=GRID.pixel_scale_arcsec / 2)
    images = provider.fetch("gal", RA, DEC, 20.0)
    assert [img.band for img in images] == ["z", "r", "g"]
    assert all(img.data.shape == (GRID.size, GRID.size) and img.unit == "display" and img.wcs is None
               for img in images)
    if suffix == "png":  # lossless: channel k, bottom row first, 2x2 blocks averaged
        for channel, img in enumerate(images):
            expected = np.flipud(pixels[:, :, channel]).astype(float).reshape(32, 2, 32, 2).mean(axis=(1, 3))
            np.testing.assert_allclose(img.data, expected, atol=1e-4)
    assert images[0].header["BUNIT"] == "display"
    result = to_target(images, GRID, float("nan"), float("nan"))  # no position needed
    assert result.unit == "display" and np.isfinite(result.image).all()
    np.testing.assert_array_equal(result.image, np.stack([img.data for img in images]))  # values kept, not rescaled


def test_image_resampled_by_size_keeps_north_up_east_left(tmp_path):
    pixels = colour_image(64, 64)
    Image.fromarray(pixels).save(tmp_path / "gal.png")
    images = provider_for(tmp_path, format="image", pattern="{object_id}.png").fetch("gal", RA, DEC, 20.0)
    assert images[0].header["NATSCALE"] == pytest.approx(GRID.size * GRID.pixel_scale_arcsec / 64)
    result = to_target(images, GRID, RA, DEC)
    assert np.all(np.asarray(result.mask_fraction) == 0.0)
    cx, cy = np.unravel_index(np.argmax(result.image[0]), result.image[0].shape)[::-1]
    assert cx < GRID.size / 4 and cy > 3 * GRID.size / 4  # the spot stays north (top rows = high y) and east (left)


def test_image_smaller_than_the_grid_at_native_scale_leaves_no_data(tmp_path):
    Image.fromarray(colour_image(16, 16)).save(tmp_path / "gal.png")
    provider = provider_for(tmp_path, format="image", pattern="{object_id}.png",
                            native_pixel_scale_arcsec=GRID.pixel_scale_arcsec)
    plane = provider.fetch("gal", RA, DEC, 20.0)[0].data
    assert np.isnan(plane[:8]).all() and np.isnan(plane[:, :8]).all()  # 16 of 32 px covered, centred
    np.testing.assert_array_equal(plane[8:24, 8:24], np.flipud(colour_image(16, 16)[:, :, 0]))


def test_image_problems_are_fetch_errors(tmp_path):
    provider = provider_for(tmp_path, format="image")
    with pytest.raises(FetchError, match=r"no file lost\.jpg for lost"):
        provider.fetch("lost", RA, DEC, 20.0)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(FetchError, match=r"broken\.jpg for broken is not a readable PNG/JPEG image"):
        provider.fetch("broken", RA, DEC, 20.0)


def write_galaxy10(path, n_images=5, size=64):
    rng = np.random.default_rng(7)
    with h5py.File(path, "w") as h5_file:
        h5_file["images"] = rng.integers(0, 256, size=(n_images, size, size, 3), dtype=np.uint8)
        h5_file["ans"] = np.array([3, 0, 9, 5, 1], dtype=np.uint8)[:n_images]
        h5_file["ra"] = RA + 0.01 * np.arange(n_images)
        h5_file["dec"] = DEC - 0.02 * np.arange(n_images)
        h5_file["redshift"] = np.linspace(0.02, 0.2, n_images)
        h5_file["pxscale"] = np.array([0.262, 0.262, 0.3, 0.262, 0.262])[:n_images]


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_galaxy10_catalog_and_provider(tmp_path, suffix):
    h5_path = tmp_path / "Galaxy10_DECals.h5"
    write_galaxy10(h5_path)
    galaxy10_catalog(h5_path, tmp_path / f"catalog.{suffix}")
    catalog_path = tmp_path / f"catalog.{suffix}"
    table = pd.read_parquet(catalog_path) if suffix == "parquet" else pd.read_csv(catalog_path)
    assert table["object_id"].tolist() == [f"g10_{i:05d}" for i in range(5)]
    assert table["galaxy10_class"].tolist() == [3, 0, 9, 5, 1]
    np.testing.assert_allclose(table["redshift"], np.linspace(0.02, 0.2, 5))
    np.testing.assert_allclose(table["dec"], DEC - 0.02 * np.arange(5))

    provider = provider_for(h5_path, format="galaxy10_h5", bands=["g", "r", "z"])
    row = table.iloc[2]
    images = provider.fetch(row.object_id, row.ra, row.dec, 20.0)
    with h5py.File(h5_path, "r") as h5_file:
        stored = h5_file["images"][2]
    assert [img.band for img in images] == ["g", "r", "z"]
    # 64 px of 0.3" (pxscale of row 2) = 19.2" > the 12.7" grid: its central part, resampled to 0.396" pixels.
    assert all(img.unit == "display" and img.header["NATSCALE"] == pytest.approx(0.3) for img in images)
    same_scale = provider_for(h5_path, format="galaxy10_h5", bands=["g", "r", "z"], pixel_scale_arcsec=0.262)
    for channel, img in enumerate(same_scale.fetch("g10_00001", table.ra[1], table.dec[1], 20.0)):
        with h5py.File(h5_path, "r") as h5_file:  # same scale: the central 32 px copied exactly
            np.testing.assert_array_equal(img.data, np.flipud(h5_file["images"][1][16:48, 16:48, channel]))
    assert stored.shape == (64, 64, 3) and np.isfinite(images[0].data).all()

    with pytest.raises(FetchError, match="arcsec from row 2"):
        provider.fetch(row.object_id, row.ra + 0.01, row.dec, 20.0)
    with pytest.raises(FetchError, match="has only 5 images"):
        provider.fetch("g10_00009", RA, DEC, 20.0)
    with pytest.raises(FetchError, match="not a Galaxy10 object id"):
        provider.fetch("NGC1300", RA, DEC, 20.0)


def test_config_keys_and_errors(tmp_path):
    config = validate_config({"seed": 0, "surveys": {"mine": {
        "provider": "files", "path": str(tmp_path), "format": "image", "native_pixel_scale_arcsec": 0.262,
        "bands": ["g", "r", "z"], "pixel_scale_arcsec": 0.262}, "other": {
        "provider": "files", "path": str(tmp_path), "bands": ["r"], "pixel_scale_arcsec": 0.4}}})
    assert config["surveys"]["other"]["format"] == "fits"
    with pytest.raises(ConfigError, match="surveys.mine.native_pixel_scale_arcsec"):
        validate_config({"seed": 0, "surveys": {"mine": {"provider": "files", "path": "x", "bands": ["r"],
                                                         "pixel_scale_arcsec": 0.4, "native_pixel_scale_arcsec": 0}}})
    with pytest.raises(ConfigError, match=r"surveys\.mine\.pattern must contain \{object_id\}"):
        provider_for(tmp_path, pattern="cutout.fits")
    with pytest.raises(ConfigError, match=r"surveys\.mine\.path: no folder"):
        provider_for(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"surveys\.mine\.path: no file"):
        provider_for(tmp_path / "nowhere.h5", format="galaxy10_h5")
    with pytest.raises(ConfigError, match="3 colour channels"):
        provider_for(tmp_path, format="image", bands=["g", "r"])
