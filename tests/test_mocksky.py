"""Mock sky: determinism, WCS, physics, labels and FITS output."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from galssl.instruments import load_instrument
from galssl.mocksky import artifacts
from galssl.mocksky.catalog import labels_table
from galssl.mocksky.fits import write_cutouts
from galssl.mocksky.render import Grid, body_templates, convolve_and_bin, make_wcs, paint_band
from galssl.mocksky.settings import GALAXY10_CLASSES, MockSettings
from galssl.mocksky.sky import MockSky
from galssl.mocksky.truth import object_rng


@pytest.fixture(scope="module")
def sky() -> MockSky:
    return MockSky(MockSettings.from_section({"n_objects": 800}), seed=7)


@pytest.fixture(scope="module")
def labels(sky: MockSky) -> pd.DataFrame:
    return labels_table(sky)


def _fits_bytes(tmp_path, sky: MockSky, object_id: str, name: str) -> bytes:
    cutouts = sky.object_cutouts(object_id, "sdss", list("ugriz"), 30.0)
    path = tmp_path / name
    write_cutouts(path, cutouts, "sdss", object_id, sky.seed)
    return path.read_bytes()


def test_same_seed_gives_identical_bytes_other_seed_differs(tmp_path, sky):
    first = _fits_bytes(tmp_path, sky, "mock000003", "a.fits")
    settings = MockSettings.from_section({"n_objects": 800})
    again = _fits_bytes(tmp_path, MockSky(settings, seed=7), "mock000003", "b.fits")
    other = _fits_bytes(tmp_path, MockSky(settings, seed=8), "mock000003", "c.fits")
    assert first == again
    assert first != other


def test_catalogue_is_deterministic_and_inside_patch(sky):
    again = MockSky(MockSettings.from_section({"n_objects": 800}), seed=7)
    pd.testing.assert_frame_equal(sky.catalog(), again.catalog())
    catalog = sky.catalog()
    assert catalog["object_id"].is_unique
    assert catalog["dec"].between(14.0, 16.0).all()
    assert (abs(catalog["ra"] - 185.0) <= 1.0 / math.cos(math.radians(15.0)) + 1e-9).all()


def test_object_position_falls_on_cutout_centre(sky):
    for object_id in ("mock000001", "mock000010", "mock000100"):
        ra, dec = sky.position(object_id)
        for cutout in sky.object_cutouts(object_id, "sdss", ["g", "r"], 30.0):
            x, y = cutout.wcs.world_to_pixel_values(ra, dec)
            ny, nx = cutout.image.shape
            assert abs(x - (nx - 1) / 2) <= 0.5 and abs(y - (ny - 1) / 2) <= 0.5
        rotations = {round(math.degrees(math.atan2(c.wcs.wcs.cd[1, 0], c.wcs.wcs.cd[1, 1])), 6) for c in
                     sky.object_cutouts(object_id, "sdss", ["r"], 30.0)}
        assert len(rotations) == 1


def test_light_is_drawn_where_the_wcs_says(sky):
    """A bright round galaxy rendered through a rotated, offset WCS peaks at its RA/Dec (within 0.5 px)."""
    instrument = load_instrument("sdss")
    obj = sky.build("centroid-probe", force_class="round_smooth", force_z=0.03)
    wcs = make_wcs(150.0, 2.0, 0.396, (61, 61), rotation_deg=37.0, offset_px=(0.3, -0.4))
    images = sky.render(wcs, (61, 61), instrument, ["r"], {"r": 1.3}, {"r": object_rng(1, "n")},
                        [(0.0, 0.0, b) for b in obj.bodies])
    image = np.clip(images["r"], 0, None)
    yy, xx = np.mgrid[0:61, 0:61]
    x0, y0 = wcs.world_to_pixel_values(150.0, 2.0)
    near = (xx - x0) ** 2 + (yy - y0) ** 2 < 8**2
    cx, cy = (image * xx)[near].sum() / image[near].sum(), (image * yy)[near].sum() / image[near].sum()
    assert math.hypot(cx - x0, cy - y0) < 0.5


def test_render_conserves_flux_and_psf_widens():
    """Noise-free pipeline: a galaxy fully inside the grid keeps its catalogue flux through PSF and binning."""
    sky = MockSky(MockSettings.from_section({"n_objects": 1}), seed=3)
    photometry = sky.photometry("sdss")
    obj = sky.build("flux-probe", force_class="in_between_round_smooth", force_z=0.1)
    wcs = make_wcs(10.0, 0.0, 0.396, (201, 201), rotation_deg=20.0)
    grid = Grid.from_wcs(wcs, (201, 201), margin=12)
    padded = np.zeros(grid.padded_shape)
    for body in obj.bodies:
        paint_band(padded, body_templates(grid, body, 0.0, 0.0), "r", photometry)
    image = convolve_and_bin(padded, grid, 1.3, 3.5)
    from galssl.mocksky.catalog import total_magnitudes
    expected = 10 ** (-0.4 * (total_magnitudes(obj, photometry)["r"] - 22.5))
    assert image.sum() == pytest.approx(expected, rel=0.02)
    assert padded.max() > image.max()


def test_colours_redden_with_redshift_for_every_type(labels):
    galaxies = labels[labels["object_type"] == "galaxy"].copy()
    galaxies["g_r"] = galaxies["mag_sdss_g"] - galaxies["mag_sdss_r"]
    for cls in ("round_smooth", "unbarred_loose_spiral", "edge_on_with_bulge", "barred_spiral"):
        subset = galaxies[galaxies["galaxy10_name"] == cls]
        low = subset[subset["redshift"] < 0.07]["g_r"].median()
        high = subset[subset["redshift"] > 0.12]["g_r"].median()
        assert high > low, cls


def test_angular_size_falls_with_redshift_at_fixed_physical_size(sky):
    photometry = sky.photometry("sdss")
    sizes = [5.0 / photometry.kpc_per_arcsec(z) for z in (0.02, 0.05, 0.1, 0.2, 0.4)]
    assert all(a > b for a, b in zip(sizes, sizes[1:]))
    assert sizes[0] == pytest.approx(5.0 / 0.4, rel=0.1)  # ~0.4 kpc/arcsec at z=0.02 (H0=70)


def test_truth_sizes_follow_cosmology(labels, sky):
    galaxies = labels[labels["object_type"] == "galaxy"]
    photometry = sky.photometry("sdss")
    expected = galaxies["r_eff_kpc"] / galaxies["redshift"].map(photometry.kpc_per_arcsec)
    np.testing.assert_allclose(galaxies["r_eff_arcsec"], expected, rtol=1e-9)


def test_edge_on_disks_are_thin(labels):
    edge = labels[labels["galaxy10_name"].isin(["edge_on_without_bulge", "edge_on_with_bulge"])]
    assert len(edge) > 20
    assert (edge["axis_ratio"] < 0.3).all()


def test_votes_follow_morphology(labels):
    smooth = labels.groupby("galaxy10_name")["smooth_or_featured__smooth_fraction"].median()
    for spiral in ("barred_spiral", "unbarred_tight_spiral", "unbarred_loose_spiral"):
        assert smooth["round_smooth"] > smooth[spiral] + 0.2
    edge = labels.groupby("galaxy10_name")["disk_edge_on__yes_fraction"].median()
    assert edge["edge_on_with_bulge"] > 0.6 > edge["unbarred_loose_spiral"]
    stars = labels[labels["object_type"] == "star"]
    assert stars["smooth_or_featured__star_or_artifact_fraction"].median() > 0.5


def test_votes_obey_the_tree_and_fade_with_redshift(labels):
    assert (labels["disk_edge_on__total"] == labels["smooth_or_featured__featured_or_disk_count"]).all()
    assert (labels["bar__total"] == labels["disk_edge_on__no_count"]).all()
    fractions = labels.filter(like="smooth_or_featured__").filter(like="_fraction")
    np.testing.assert_allclose(fractions.sum(axis=1), 1.0)
    spirals = labels[labels["galaxy10_name"].isin(["unbarred_loose_spiral", "unbarred_tight_spiral", "barred_spiral"])]
    near = spirals[spirals["redshift"] < 0.06]["smooth_or_featured__featured_or_disk_fraction"].median()
    far = spirals[spirals["redshift"] > 0.15]["smooth_or_featured__featured_or_disk_fraction"].median()
    assert near > far + 0.1
    assert set(labels["galaxy10_name"].unique()) - {""} == set(GALAXY10_CLASSES)


def test_fits_headers(tmp_path, sky):
    _fits_bytes(tmp_path, sky, "mock000005", "h.fits")
    with fits.open(tmp_path / "h.fits") as hdul:
        assert [h.name for h in hdul[1:]] == ["U", "G", "R", "I", "Z"]
        for hdu in hdul[1:]:
            header = hdu.header
            assert header["SURVEY"] == "sdss" and header["BUNIT"] == "nanomaggy" and header["MAGZP"] == 22.5
            assert 0.8 < header["PSFFWHM"] < 2.5
            assert header["OBJECT"] == "mock000005"
            wcs = WCS(header)
            assert wcs.wcs.ctype[0] == "RA---TAN"
            assert wcs.proj_plane_pixel_scales()[0].to_value("arcsec") == pytest.approx(0.396)
            assert hdu.data.dtype.kind == "f" and hdu.data.dtype.itemsize == 4 and np.isfinite(hdu.data).all()


def test_noise_matches_depth():
    spec = load_instrument("sdss").band("r")
    from galssl.mocksky.render import add_noise
    noisy = add_noise(np.zeros((400, 400)), spec, np.random.default_rng(0))
    assert np.std(noisy) == pytest.approx(spec.sky_sigma_nmgy(), rel=0.05)
    five_sigma = 5 * spec.sky_sigma_nmgy() * math.sqrt(4 * math.pi * (1.32 / 2.3548 / 0.396) ** 2)
    assert 22.5 - 2.5 * math.log10(five_sigma) == pytest.approx(spec.depth_mag, abs=1e-6)


def test_saturation_bleeds_charge_along_columns():
    image = np.zeros((40, 5))
    image[20, 2] = 1000.0
    mask = artifacts.saturate(image, 100.0)
    assert image.max() == 100.0
    assert image.sum() == pytest.approx(1000.0)
    assert mask[:, 2].sum() == 10 and not mask[:, [0, 1, 3, 4]].any()


def test_artifact_objects_and_rates(sky, labels):
    kinds = labels.loc[labels["object_type"] == "artifact", "artifact_kind"]
    assert len(kinds) > 0 and set(kinds) <= {"satellite_trail", "cosmic_ray", "saturated_star"}
    trail = labels.loc[labels["artifact_kind"] == "satellite_trail", "object_id"]
    if len(trail):
        cutouts = sky.object_cutouts(trail.iloc[0], "sdss", ["r"], 30.0)
        assert cutouts[0].artifact == "satellite_trail"
