"""Astronomy augmentations: flux, geometry, noise level, reddening and blur against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from galssl.augment import (
    CenterCrop,
    Compose,
    JitterCrop,
    PSFBlur,
    RandomRotation,
    Reddening,
    SizeRescale,
    SkyNoise,
    build_augmentations,
    center_crop,
    effective_wavelength_nm,
    extinction_coefficients,
)
from galssl.errors import ConfigError

SDSS_BANDS = ["u", "g", "r", "i", "z"]
MANIFEST = {"band_statistics": {band: {"sky_mad": mad, "sky_median": 0.0}
                                for band, mad in zip(SDSS_BANDS, [0.036, 0.032, 0.035, 0.084, 0.170])}}


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def gaussian(size: int = 64, sigma: float = 3.0, centre: tuple[float, float] | None = None, bands: int = 1,
             flux: float = 100.0) -> torch.Tensor:
    """(bands, size, size) Gaussian of total ``flux`` per band centred at (row, col), default the array centre."""
    row0, col0 = centre if centre is not None else ((size - 1) / 2, (size - 1) / 2)
    rows, cols = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64),
                                indexing="ij")
    image = torch.exp(-0.5 * ((rows - row0) ** 2 + (cols - col0) ** 2) / sigma**2)
    return (flux * image / image.sum()).float().expand(bands, size, size).clone()


def point_source(size: int = 33, bands: int = 1, flux: float = 10.0) -> torch.Tensor:
    image = torch.zeros(bands, size, size)
    image[:, size // 2, size // 2] = flux
    return image


def second_moment(image: torch.Tensor) -> float:
    """Radial second moment <x²> (pixels²) about the flux centroid, per axis."""
    rows, cols = torch.meshgrid(torch.arange(image.shape[-2], dtype=torch.float64),
                                torch.arange(image.shape[-1], dtype=torch.float64), indexing="ij")
    image = image.double()
    total = image.sum()
    row0, col0 = (image * rows).sum() / total, (image * cols).sum() / total
    return float((image * ((rows - row0) ** 2 + (cols - col0) ** 2)).sum() / total / 2)


def test_rotation_preserves_flux_of_a_centred_source_and_is_deterministic():
    images = torch.stack([gaussian(sigma=3.0, bands=2), gaussian(sigma=5.0, bands=2)])
    rotate = RandomRotation()
    first = rotate(images, seeded(7))
    assert torch.equal(first, rotate(images, seeded(7)))
    assert not torch.equal(first, rotate(images, seeded(8)))
    for angle in (0.3, 1.0, math.pi / 4, 2.5, 5.9):
        rotated = rotate.apply(images, angle, False)
        assert rotated.sum(dim=(-2, -1)) == pytest.approx(images.sum(dim=(-2, -1)), rel=0.01)


def test_rotation_turns_counter_clockwise_about_the_centre():
    # A blob right of centre (+x) ends up above it (+y, row index up) after a quarter turn.
    image = gaussian(sigma=1.5, centre=(31.5, 31.5 + 10))
    turned = RandomRotation().apply(image, math.pi / 2, False)[0]
    row, col = divmod(int(turned.argmax()), 64)
    assert (row, col) in {(41, 31), (41, 32)}
    full_turn = RandomRotation().apply(image, 2 * math.pi, False)
    assert torch.allclose(full_turn, image, atol=1e-4)


def test_flips_mirror_left_right_exactly():
    images = torch.rand(3, 2, 16, 16, generator=seeded(1))
    rotate = RandomRotation(rotate=False, flip=True)
    mirrored = rotate.apply(images, 0.0, torch.tensor([True, False, True]))
    assert torch.equal(mirrored[0], images[0].flip(-1))
    assert torch.equal(mirrored[1], images[1])
    assert torch.equal(mirrored[2], images[2].flip(-1))
    angles, mirror = rotate.draw(1000, seeded(2))
    assert torch.all(angles == 0) and 400 < int(mirror.sum()) < 600
    flipped = rotate(images, seeded(3))
    for out, original in zip(flipped, images):
        assert torch.equal(out, original) or torch.equal(out, original.flip(-1))


def test_jitter_crop_size_and_shift_within_bounds():
    size, crop, max_shift = 64, 48, 4
    image = point_source(size=size, bands=3)  # source at (32, 32) -> (32 - 8, 32 - 8) = (24, 24) in the centre crop
    batch = image.expand(200, -1, -1, -1).clone()
    out = JitterCrop(crop, max_shift)(batch, seeded(5))
    assert out.shape == (200, 3, crop, crop)
    positions = torch.stack([torch.tensor(divmod(int(view[0].argmax()), crop)) for view in out])
    offsets = positions - torch.tensor([24, 24])
    assert int(offsets.abs().max()) <= max_shift
    assert int(offsets.abs().max()) == max_shift  # 200 draws reach the bound
    assert torch.all(out.sum(dim=(-2, -1)) == 10.0)  # integer shifts: the source is moved, not resampled
    exact = JitterCrop(crop, max_shift).apply(image, 3, -2)
    assert divmod(int(exact[0].argmax()), crop) == (24 - 3, 24 + 2)  # centre moves down/right -> source up/left
    assert torch.equal(JitterCrop(crop, max_shift).apply(image, 0, 0), center_crop(crop)(image))
    with pytest.raises(ValueError, match="does not fit"):
        JitterCrop(60, 4)(batch, seeded(0))


def test_center_crop_is_deterministic_and_centred():
    image = torch.arange(36.0).reshape(1, 6, 6)
    assert torch.equal(CenterCrop(2)(image), image[:, 2:4, 2:4])
    assert center_crop(4)(image.unsqueeze(0)).shape == (1, 1, 4, 4)


def test_noise_std_is_the_requested_multiple_of_the_sky_mad_per_band():
    sky_mad = [0.01, 0.05, 0.2]
    noise = SkyNoise(sky_mad, scale_range=(2.0, 2.0))
    out = noise(torch.zeros(2, 3, 256, 256), seeded(11))
    measured = out.transpose(0, 1).reshape(3, -1).std(dim=1)
    assert measured.tolist() == pytest.approx([2.0 * m for m in sky_mad], rel=0.03)
    scales = noise.draw(5, seeded(0))[0]
    assert torch.all(scales == 2.0)
    ranged = SkyNoise(sky_mad, (1.0, 3.0)).draw(1000, seeded(1))[0]
    assert 1.0 <= float(ranged.min()) and float(ranged.max()) <= 3.0


def test_reddening_changes_the_g_over_r_ratio_by_the_coefficient_difference():
    r_g, r_r = extinction_coefficients("sdss", ["g", "r"])
    assert (r_g, r_r) == (3.303, 2.285)
    images = 1.0 + torch.rand(4, 2, 8, 8, generator=seeded(3))
    ebv = 0.37
    out = Reddening([r_g, r_r], ebv_range=(ebv, ebv))(images, seeded(0))
    ratio_change = (out[:, 0] / out[:, 1]) / (images[:, 0] / images[:, 1])
    assert torch.allclose(ratio_change, torch.full_like(ratio_change, 10 ** (-0.4 * (r_g - r_r) * ebv)), rtol=1e-5)
    assert torch.allclose(out[:, 1], images[:, 1] * 10 ** (-0.4 * r_r * ebv), rtol=1e-5)
    per_image = Reddening([r_g, r_r]).apply(images, torch.tensor([0.0, 0.1, 0.2, 0.5]))
    assert torch.equal(per_image[0], images[0])


def test_psf_blur_keeps_flux_widens_a_point_source_and_blurs_blue_more():
    wavelengths = [effective_wavelength_nm("sdss2010-g"), effective_wavelength_nm("sdss2010-i")]
    assert wavelengths[0] < wavelengths[1]
    blur = PSFBlur(wavelengths, sigma_px_range=(1.5, 1.5), reference_wavelength_nm=wavelengths[1])
    image = point_source(bands=2)
    out = blur(image, seeded(0))
    assert out.sum(dim=(-2, -1)).tolist() == pytest.approx([10.0, 10.0], rel=1e-5)
    sigma_g, sigma_i = (math.sqrt(second_moment(out[b])) for b in range(2))
    assert sigma_i == pytest.approx(1.5, rel=0.02)  # reference band gets sigma_ref
    assert sigma_g == pytest.approx(1.5 * (wavelengths[0] / wavelengths[1]) ** -0.3, rel=0.02)
    assert sigma_g > sigma_i > 0.0 == math.sqrt(second_moment(image[0]))
    assert torch.allclose(blur.apply(image, 0.0), image)  # sigma 0 = identity


def test_rescale_keeps_surface_brightness():
    image = gaussian(sigma=4.0)
    zoomed = SizeRescale((1.1, 1.1))(image, seeded(0))
    assert float(zoomed.max()) == pytest.approx(float(image.max()), rel=0.01)
    assert float(zoomed.sum()) == pytest.approx(1.1**2 * float(image.sum()), rel=0.02)
    assert math.sqrt(second_moment(zoomed)) == pytest.approx(1.1 * 4.0, rel=0.02)


def test_batch_and_single_image_paths_agree():
    images = torch.rand(3, 5, 64, 64, generator=seeded(4)) * 0.1
    augment = build_augmentations({"rescale": {"scale": [0.9, 1.1]}}, SDSS_BANDS, MANIFEST, "sdss")
    single = augment(images[1], seeded(9))
    assert single.shape == (5, 48, 48)
    assert torch.equal(single, augment(images[1:2], seeded(9))[0])
    # Same per-image parameters -> the batched computation equals image-by-image application.
    for transform in augment.transforms[:-1]:  # SkyNoise draws pixel noise, the rest only per-image parameters
        parameters = transform.draw(3, seeded(2))
        batched = transform.apply(images, *parameters)
        for index in range(3):
            alone = transform.apply(images[index], *(p[index] for p in parameters))
            assert torch.allclose(batched[index], alone, atol=1e-6), type(transform).__name__


def test_build_augmentations_from_a_config_section():
    config = {"rotation": True, "jitter_crop": {"crop_size": 40, "max_shift": 2}, "noise": {"scale": [1, 3]},
              "psf_blur": {"sigma_px": [0, 1]}, "reddening": {"ebv": [0, 0.5]}, "rescale": None}
    augment = build_augmentations(config, SDSS_BANDS, MANIFEST, "sdss")
    names = [type(t).__name__ for t in augment.transforms]
    assert names == ["RandomRotation", "Reddening", "PSFBlur", "JitterCrop", "SkyNoise"]
    noise = augment.transforms[-1]
    assert noise.sky_mad.tolist() == pytest.approx([0.036, 0.032, 0.035, 0.084, 0.170])
    blur = augment.transforms[2]
    assert blur.reference_wavelength_nm == pytest.approx(effective_wavelength_nm("sdss2010-r"))
    out = augment(torch.zeros(2, 5, 64, 64), seeded(0))
    assert out.shape == (2, 5, 40, 40) and not out.requires_grad
    off = build_augmentations({"rotation": False, "jitter_crop": None, "noise": None, "psf_blur": False,
                               "reddening": None}, SDSS_BANDS, {}, "sdss")
    assert isinstance(off, Compose) and off.transforms == []
    euclid = build_augmentations({"noise": None}, ["VIS", "Y", "J", "H"], {}, "euclid")
    assert [type(t).__name__ for t in euclid.transforms][-1] == "JitterCrop"
    legacy = build_augmentations({"noise": None, "psf_blur": None}, ["g", "r", "z"], {}, "legacy")
    assert legacy.transforms[1].coefficients.tolist() == pytest.approx([3.237, 2.176, 1.217])


def test_unknown_band_or_bad_config_is_a_config_error():
    with pytest.raises(ConfigError, match=r"band 'w1'.*resources/extinction.yaml"):
        build_augmentations({"noise": None, "psf_blur": None}, ["g", "w1"], {}, "sdss")
    with pytest.raises(ConfigError, match="pretrain.augment.blur is not an augmentation"):
        build_augmentations({"blur": {}}, SDSS_BANDS, MANIFEST, "sdss")
    with pytest.raises(ConfigError, match=r"reddening.ebv must be \[low, high\]"):
        build_augmentations({"reddening": {"ebv": [0.5, 0.1]}}, SDSS_BANDS, MANIFEST, "sdss")
    with pytest.raises(ConfigError, match="band_statistics.u.sky_mad"):
        build_augmentations({}, SDSS_BANDS, {"band_statistics": {}}, "sdss")
    with pytest.raises(ConfigError, match="survey/instrument 'hst'"):
        build_augmentations({"noise": None}, SDSS_BANDS, MANIFEST, "hst")


def test_augmentation_figure_has_one_panel_per_galaxy_and_column():
    from galssl.plots.augment import augmentation_figure

    images = torch.stack([gaussian(sigma=s, bands=5) for s in (2.0, 3.0, 4.0, 5.0)]).numpy()
    augment = build_augmentations({}, SDSS_BANDS, MANIFEST, "sdss")
    named = {type(t).__name__: t for t in augment.transforms}
    figure = augmentation_figure(images, SDSS_BANDS, named, "sdss")
    assert len(figure.axes) == 4 * (1 + len(named) + 1)
    titles = [ax.get_title() for ax in figure.axes[:len(named) + 2]]  # first row, left to right
    assert titles[0] == "original" and titles[-1] == "all composed"


def test_batch_views_are_seeded_by_batch_and_epoch_and_shaped_for_the_method():
    from galssl.augment.views import BatchViews

    images = gaussian(size=32, bands=3).expand(4, 3, 32, 32) * (1 + torch.arange(4.0)).view(4, 1, 1, 1)
    batch = {"image": images, "object_id": ["a", "b", "c", "d"]}
    augment = Compose([RandomRotation(), JitterCrop(24, 3)])
    views = BatchViews(augment, n_views=2, crop_size=24, normalise=torch.asinh, seed=7)
    first, again, later = views(batch, epoch=0), views(batch, epoch=0), views(batch, epoch=1)
    assert [v.shape for v in first["views"]] == [(4, 3, 24, 24)] * 2
    assert torch.equal(first["views"][0], again["views"][0]) and torch.equal(first["views"][1], again["views"][1])
    assert not torch.equal(first["views"][0], first["views"][1])  # two different views of each image
    assert not torch.equal(first["views"][0], later["views"][0])  # a new epoch draws anew
    other = views({**batch, "object_id": ["a", "b", "c", "e"]}, epoch=0)
    assert not torch.equal(first["views"][0], other["views"][0])  # another batch draws anew
    assert torch.equal(first["image"], torch.asinh(images[..., 4:28, 4:28]))  # plain image: normalised centre crop
    assert first["object_id"] == batch["object_id"] and torch.equal(batch["image"], images)  # input untouched
    single = BatchViews(augment, n_views=0, crop_size=24, normalise=torch.asinh, seed=7)(batch, epoch=0)
    assert single["image"].shape == (4, 3, 24, 24) and "views" not in single
    assert torch.allclose(torch.sinh(single["image"]).sum((1, 2, 3)), images.sum((1, 2, 3)), rtol=0.05)  # flux kept


DISPLAY_MANIFEST = {"bands": ["red", "green", "blue"], "image_unit": "display per target pixel",
                    "band_statistics": {band: {"sky_mad": 4.0, "sky_median": 12.0}
                                        for band in ("red", "green", "blue")}}


def test_display_images_get_no_reddening_or_sky_noise_but_keep_geometry_and_blur():
    # Before: bands [r, g, b] failed in every pretrain job with "no extinction coefficient for band 'b' of sdss".
    augment = build_augmentations({}, ["red", "green", "blue"], DISPLAY_MANIFEST, "sdss")
    assert [type(t).__name__ for t in augment.transforms] == ["RandomRotation", "PSFBlur", "JitterCrop"]
    assert augment.transforms[1].band_factors.tolist() == [1.0, 1.0, 1.0]  # no band is bluer: blurred alike
    filters = build_augmentations({}, ["i", "r", "g"], {**DISPLAY_MANIFEST, "bands": ["i", "r", "g"]}, "sdss")
    assert [type(t).__name__ for t in filters.transforms] == ["RandomRotation", "PSFBlur", "JitterCrop"]
    blur = filters.transforms[1]
    assert blur.reference_wavelength_nm == pytest.approx(effective_wavelength_nm("sdss2010-r"))
    assert blur.band_factors[2] > 1.0 > blur.band_factors[0]  # g (blue) blurred more than i
    grey = build_augmentations({"psf_blur": None}, ["grey"], {**DISPLAY_MANIFEST, "bands": ["grey"]}, "legacy")
    assert [type(t).__name__ for t in grey.transforms] == ["RandomRotation", "JitterCrop"]
    out = augment(torch.full((2, 3, 64, 64), 12.0), seeded(0))
    assert out.shape == (2, 3, 48, 48)
    # The same section on a flux dataset keeps both flux-only augmentations.
    flux = build_augmentations({}, ["g", "r", "i"], MANIFEST, "sdss")
    assert [type(t).__name__ for t in flux.transforms] == ["RandomRotation", "Reddening", "PSFBlur", "JitterCrop",
                                                           "SkyNoise"]


def test_the_manifest_record_decides_which_augmentations_are_off():
    from galssl.display import augmentations_off

    assert set(augmentations_off(DISPLAY_MANIFEST)) == {"reddening", "noise"}  # derived from the unit
    assert augmentations_off({"image_unit": "nanomaggy per target pixel"}) == {}
    recorded = {**MANIFEST, "bands": ["g", "r"], "augmentations_off": {"noise": "off: a reason"}}
    names = [type(t).__name__ for t in build_augmentations({}, ["g", "r"], recorded, "sdss").transforms]
    assert "SkyNoise" not in names and "Reddening" in names


def test_augmentation_figure_shows_display_images_as_stored():
    from galssl.composite import display_rgb
    from galssl.plots.augment import augmentation_figure

    images = torch.stack([12.0 + 200.0 * gaussian(sigma=s, bands=3, flux=1.0) / gaussian(sigma=s, flux=1.0).max()
                          for s in (2.0, 3.0, 4.0, 5.0)]).numpy()
    augment = build_augmentations({}, ["red", "green", "blue"], DISPLAY_MANIFEST, "sdss")
    named = {type(t).__name__: t for t in augment.transforms}
    figure = augmentation_figure(images, ["red", "green", "blue"], named, "sdss", display=True)
    original = figure.axes[0].images[0].get_array()
    assert np.array_equal(np.asarray(original), display_rgb(images[0], ["red", "green", "blue"]))
    assert "no stretch" in figure._suptitle.get_text()
