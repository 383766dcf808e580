"""Reprojection onto the target grid: astrometry, flux conservation, cube path, masks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from galssl.mocksky.render import make_wcs
from galssl.providers.base import BandImage
from galssl.reproject import TargetGrid, to_target


def gaussian_source(wcs, shape, ra, dec, flux, sigma_px):
    """A Gaussian point-like source of total ``flux`` drawn at (ra, dec) on a native grid."""
    x0, y0 = wcs.world_to_pixel_values(ra, dec)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    image = np.exp(-0.5 * ((xx - x0) ** 2 + (yy - y0) ** 2) / sigma_px**2)
    return flux * image / image.sum()


def centroid(image):
    yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    return (image * xx).sum() / image.sum(), (image * yy).sum() / image.sum()


@pytest.mark.parametrize("method", ["interp", "adaptive", "exact"])
def test_point_source_lands_on_centre_and_flux_is_kept(method):
    ra, dec = 212.3, -3.7
    native_scale, target_scale = 0.262, 0.396
    # Rotated, sub-pixel offset native grid; the source sits 0.3" off the native centre.
    wcs_in = make_wcs(ra + 0.3 / 3600, dec - 0.2 / 3600, native_scale, (121, 121), rotation_deg=33.0,
                      offset_px=(0.37, -0.21))
    data = gaussian_source(wcs_in, (121, 121), ra, dec, flux=100.0, sigma_px=3.0)
    grid = TargetGrid(target_scale, 48)
    result = to_target([BandImage("r", data, wcs_in)], grid, ra, dec, method)
    cx, cy = centroid(result.image[0])
    assert math.hypot(cx - (48 - 1) / 2, cy - (48 - 1) / 2) < 0.25
    if method in ("adaptive", "exact"):
        assert result.image[0].sum() == pytest.approx(100.0, rel=0.01)
    else:
        assert result.image[0].sum() == pytest.approx(100.0, rel=0.03)
    assert result.mask_fraction.tolist() == [0.0]


def test_cube_path_equals_band_by_band():
    ra, dec = 10.0, 20.0
    wcs = make_wcs(ra, dec, 0.396, (90, 90), rotation_deg=71.0)
    rng = np.random.default_rng(1)
    bands = [BandImage(b, rng.normal(size=(90, 90)) + gaussian_source(wcs, (90, 90), ra, dec, 50, 2.5), wcs)
             for b in "gri"]
    grid = TargetGrid(0.396, 32)
    cube = to_target(bands, grid, ra, dec)
    separate = [to_target([band], grid, ra, dec).image[0] for band in bands]
    np.testing.assert_allclose(cube.image, np.stack(separate), rtol=1e-5, atol=1e-6)
    assert cube.image.shape == (3, 32, 32) and cube.image.dtype == np.float32


def test_uncovered_pixels_are_masked_and_counted():
    ra, dec = 150.0, 2.0
    wcs_in = make_wcs(ra + 5.0 / 3600, dec, 0.396, (40, 40))  # shifted 5": one edge of the target is not covered
    data = np.ones((40, 40))
    result = to_target([BandImage("r", data, wcs_in)], TargetGrid(0.396, 40), ra, dec)
    assert result.mask_fraction.shape == (1,) and 0.2 < result.mask_fraction[0] < 0.4
    assert np.isfinite(result.image).all()


def test_sky_statistics_recover_noise():
    ra, dec = 150.0, 2.0
    wcs = make_wcs(ra, dec, 0.396, (64, 64))
    data = np.random.default_rng(3).normal(0.01, 0.05, (64, 64))
    result = to_target([BandImage("r", data, wcs)], TargetGrid(0.396, 64), ra, dec, "exact")
    assert result.sky_mad[0] == pytest.approx(0.05, rel=0.15)
    assert result.sky_median[0] == pytest.approx(0.01, abs=0.01)


def test_fetch_size_covers_rotated_target():
    grid = TargetGrid(0.396, 64)
    assert grid.fetch_size_arcsec >= 64 * 0.396 * math.sqrt(2)
