"""Display-unit images (PNG/JPEG): reading every kind of file, bad files as failures, channel names, the display
normalisation, the stationarity noise unit and the colour composite that shows them as they are."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from galssl.composite import image_rgb
from galssl.data import AsinhNormalise, DisplayNormalise, normaliser_from_manifest
from galssl.display import check_display_bands, noise_sky_mad, rgb_channel_order
from galssl.errors import ConfigError
from galssl.ingest import SurveySpec, ingest_shard, write_manifest
from galssl.providers import ProviderContext, create_provider
from galssl.providers.base import FetchError
from galssl.providers.images import read_display_image

CONTEXT = ProviderContext(survey="mine", seed=0, cache_dir="cache")


def smooth_rgb(size: int = 48) -> np.ndarray:
    """(size, size, 3) uint8: a galaxy-like blob on a dark sky, different in each channel (JPEG-friendly)."""
    yy, xx = np.mgrid[0:size, 0:size]
    radius2 = (yy - size / 2) ** 2 + (xx - size / 2.5) ** 2
    planes = [20 + 200 * np.exp(-radius2 / (2 * s**2)) for s in (9.0, 7.0, 5.0)]
    return np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)


def _paeth(left: np.ndarray, up: np.ndarray, up_left: np.ndarray) -> np.ndarray:
    p = left.astype(int) + up - up_left
    pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - up_left)
    return np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))


def write_png16(path, samples: np.ndarray) -> None:
    """A 16-bit PNG (grey (H, W) or RGB (H, W, 3)) written by hand, rows cycling through all five PNG filters, so
    the reader is tested on real filtered scanlines (Pillow cannot write 16-bit colour)."""
    samples = np.asarray(samples, dtype=">u2")
    height, width = samples.shape[:2]
    colour_type = 0 if samples.ndim == 2 else 2
    rows = samples.reshape(height, -1).view(np.uint8).reshape(height, -1).astype(int)
    bpp = 2 if samples.ndim == 2 else 6
    raw = b""
    for index, row in enumerate(rows):
        up = rows[index - 1] if index else np.zeros_like(row)
        left = np.concatenate([np.zeros(bpp, int), row[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, int), up[:-bpp]])
        kind = index % 5
        predictor = [0, left, up, (left + up) // 2, _paeth(left, up, up_left)][kind]
        raw += bytes([kind]) + ((row - predictor) % 256).astype(np.uint8).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


def test_eight_bit_png_is_read_exactly(tmp_path):
    pixels = smooth_rgb()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    read = read_display_image(tmp_path / "a.png", "a.png", "a", 3)
    assert read.dtype == np.float32 and read.shape == (48, 48, 3)
    np.testing.assert_array_equal(read, pixels)


def test_sixteen_bit_png_keeps_all_bits_scaled_to_255(tmp_path):
    rng = np.random.default_rng(1)
    colour = rng.integers(0, 65536, size=(9, 11, 3))
    write_png16(tmp_path / "c.png", colour)
    read = read_display_image(tmp_path / "c.png", "c.png", "c", 3)
    np.testing.assert_allclose(read, colour * 255.0 / 65535.0, rtol=1e-6)  # not just the high byte
    grey = rng.integers(0, 65536, size=(9, 11))
    write_png16(tmp_path / "g.png", grey)
    np.testing.assert_allclose(read_display_image(tmp_path / "g.png", "g.png", "g", 1)[..., 0],
                               grey * 255.0 / 65535.0, rtol=1e-6)


def test_progressive_and_baseline_jpeg_read_alike(tmp_path):
    pixels = smooth_rgb()
    Image.fromarray(pixels).save(tmp_path / "base.jpg", quality=95)
    Image.fromarray(pixels).save(tmp_path / "prog.jpg", quality=95, progressive=True)
    assert Image.open(tmp_path / "prog.jpg").info.get("progressive") == 1
    base = read_display_image(tmp_path / "base.jpg", "base.jpg", "base", 3)
    progressive = read_display_image(tmp_path / "prog.jpg", "prog.jpg", "prog", 3)
    assert np.abs(progressive - pixels).max() <= 8 and np.abs(progressive - base).max() <= 3


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
    pixels = smooth_rgb()
    # Pillow's RGB -> CMYK is C = 255 - R, M = 255 - G, Y = 255 - B, K = 0; back through R = (1 - C)(1 - K).
    Image.fromarray(pixels).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    read = read_display_image(tmp_path / "cmyk.jpg", "cmyk.jpg", "cmyk", 3)
    assert np.abs(read - pixels).mean() < 2.0 and np.abs(read - pixels).max() <= 12
    # An embedded profile that cannot be parsed falls back to the same formula instead of failing the object.
    Image.fromarray(pixels).convert("CMYK").save(tmp_path / "bad_icc.jpg", quality=95, icc_profile=b"not a profile")
    assert Image.open(tmp_path / "bad_icc.jpg").info["icc_profile"] == b"not a profile"
    np.testing.assert_array_equal(read_display_image(tmp_path / "bad_icc.jpg", "bad_icc.jpg", "x", 3), read)


def test_grey_and_colour_channels_must_match_the_bands(tmp_path):
    grey = smooth_rgb()[..., 1]
    Image.fromarray(grey).save(tmp_path / "grey.png")
    with pytest.raises(FetchError, match=r"grey\.png for grey is a greyscale image but the survey's bands name 3 "
                                         r"colour channels; give bands: \[grey\]"):
        read_display_image(tmp_path / "grey.png", "grey.png", "grey", 3)
    np.testing.assert_array_equal(read_display_image(tmp_path / "grey.png", "grey.png", "grey", 1)[..., 0], grey)
    Image.fromarray(np.repeat(grey[..., None], 3, -1)).save(tmp_path / "grey_as_rgb.png")  # grey stored as RGB: fine
    np.testing.assert_array_equal(read_display_image(tmp_path / "grey_as_rgb.png", "x", "x", 1)[..., 0], grey)
    Image.fromarray(smooth_rgb()).save(tmp_path / "colour.png")
    with pytest.raises(FetchError, match="is a colour image .* but the survey's bands name 1 greyscale channel"):
        read_display_image(tmp_path / "colour.png", "colour.png", "colour", 1)


def test_bad_files_are_fetch_errors_with_a_reason(tmp_path):
    Image.fromarray(smooth_rgb()).save(tmp_path / "t.png")
    Image.fromarray(smooth_rgb()).save(tmp_path / "t.jpg", quality=95)
    for name in ("t.png", "t.jpg"):
        data = (tmp_path / name).read_bytes()
        (tmp_path / f"cut_{name}").write_bytes(data[: len(data) // 2])
        with pytest.raises(FetchError, match=rf"cut_{name.replace('.', '[.]')} for cut is not a readable PNG/JPEG "
                                             r"image \((?i:.*truncated.*)\)"):
            read_display_image(tmp_path / f"cut_{name}", f"cut_{name}", "cut", 3)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(FetchError, match=r"text\.png for text is not a readable PNG/JPEG image \(cannot identify"):
        read_display_image(tmp_path / "text.png", "text.png", "text", 3)
    with pytest.raises(FetchError, match=r"no file gone\.png for gone"):
        read_display_image(tmp_path / "gone.png", "gone.png", "gone", 3)
    Image.fromarray(np.zeros((8, 8), np.float32)).save(tmp_path / "float.tif")
    with pytest.raises(FetchError, match="float pixels, not 8- or 16-bit display values"):
        read_display_image(tmp_path / "float.tif", "float.tif", "float", 1)


def folder_survey(tmp_path, **extra) -> dict:
    return {"provider": "files", "format": "image", "path": str(tmp_path), "pattern": "{object_id}.png",
            "bands": ["i", "r", "g"], "pixel_scale_arcsec": 0.5, "cutout_size": 32, **extra}


def test_sizes_an_image_resampled_by_size_must_have(tmp_path):
    provider = create_provider(folder_survey(tmp_path), CONTEXT)
    Image.fromarray(smooth_rgb(48)[:, :40]).save(tmp_path / "wide.png")
    with pytest.raises(FetchError, match=r"wide\.png for wide is 40x48 px, not square"):
        provider.fetch("wide", np.nan, np.nan, 10.0)
    Image.fromarray(smooth_rgb(6)).save(tmp_path / "tiny.png")
    with pytest.raises(FetchError, match=r"tiny\.png for tiny is 6x6 px: smaller than 8 px, it would be enlarged "
                                         r"more than 4x onto the 32-px cutout"):
        provider.fetch("tiny", np.nan, np.nan, 10.0)
    Image.fromarray(smooth_rgb(48)[:, :47]).save(tmp_path / "almost.png")  # one pixel off: square enough
    plane = provider.fetch("almost", np.nan, np.nan, 10.0)[0].data
    assert plane.shape == (32, 32) and np.isfinite(plane).all()
    # At a native pixel scale a non-square image is fine: it is cut about its centre.
    native = create_provider(folder_survey(tmp_path, native_pixel_scale_arcsec=0.25), CONTEXT)
    assert native.fetch("wide", np.nan, np.nan, 10.0)[0].data.shape == (32, 32)


def test_a_folder_with_bad_files_ingests_the_good_ones_and_lists_the_rest(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(smooth_rgb(64)).save(folder / "good.png")
    write_png16(folder / "deep.png", smooth_rgb(64).astype(np.uint16) * 257)
    Image.fromarray(smooth_rgb(64)[..., 0]).save(folder / "grey.png")
    (folder / "cut.png").write_bytes((folder / "good.png").read_bytes()[:300])
    Image.fromarray(smooth_rgb(64)[:, :50]).save(folder / "wide.png")
    ids = ["good", "deep", "grey", "cut", "wide", "missing"]
    catalog = pd.DataFrame({"object_id": ids, "ra": np.nan, "dec": np.nan, "split": "train"})
    section = folder_survey(folder)
    spec = SurveySpec.from_section("mine", section)
    shard, failures = tmp_path / "shard.parquet", tmp_path / "failures.parquet"
    ok, failed = ingest_shard(catalog, spec, create_provider(section, CONTEXT), 0, 100, 0, str(shard), str(failures))
    assert (ok, failed) == (2, 4)
    reasons = pd.read_parquet(failures).set_index("object_id")["reason"]
    assert "greyscale image" in reasons["grey"] and "not a readable PNG/JPEG image" in reasons["cut"]
    assert "not square" in reasons["wide"] and "no file missing.png" in reasons["missing"]
    from galssl.shards import read_images

    object_ids, images = read_images(shard)
    assert object_ids == ["deep", "good"]
    np.testing.assert_allclose(images[0], images[1], atol=1e-4)  # 16-bit x 257 = the same display values
    manifest = write_manifest(spec, [str(shard)], [str(failures)], str(tmp_path / "manifest.json"),
                              str(tmp_path / "all_failures.parquet"), "hash")
    assert manifest["image_unit"].startswith("display")
    assert set(manifest["augmentations_off"]) == {"reddening", "noise"}
    assert json.loads((tmp_path / "manifest.json").read_text())["augmentations_off"] == manifest["augmentations_off"]


@pytest.mark.parametrize("bands, problem", [(["r", "g", "b"], "'b' is not a filter"),
                                            (["red", "g", "blue"], "'red' is not a filter"),
                                            (["r", "r", "g"], "a filter is named twice"),
                                            (["gray"], "'gray' is not a filter")])
def test_channel_names_are_filters_or_plain_colours(tmp_path, bands, problem):
    with pytest.raises(ConfigError, match=rf"surveys\.mine\.bands = .*{problem}.*\[i, r, g\].*\[red, green, blue\]"):
        create_provider(folder_survey(tmp_path, bands=bands), CONTEXT)
    with pytest.raises(ConfigError, match=r"surveys\.x\.bands must name the 3 colour channels \(or 1"):
        check_display_bands(["g", "r"], "surveys.x.bands")
    assert check_display_bands(["red", "green", "blue"], "b") == ("red", "green", "blue")
    assert check_display_bands(["grey"], "b") == ("grey",)


def test_display_normalisation_values():
    normalise = DisplayNormalise([51.0, 0.0, 25.5])
    image = torch.tensor([[[51.0, 255.0]], [[0.0, 102.0]], [[25.5, 76.5]]])
    expected = torch.tensor([[[0.0, 4.0]], [[0.0, 2.0]], [[0.0, 1.0]]])  # (x - sky) / 255 / 0.2
    torch.testing.assert_close(normalise(image), expected)
    manifest = {"bands": ["red", "green", "blue"], "image_unit": "display per target pixel",
                "band_statistics": {b: {"sky_median": m, "sky_mad": 3.0} for b, m in zip(["red", "green", "blue"],
                                                                                      [51.0, 0.0, 25.5])}}
    chosen = normaliser_from_manifest(manifest)
    assert isinstance(chosen, DisplayNormalise)
    torch.testing.assert_close(chosen(image[None]), expected[None])
    flux = {**manifest, "image_unit": "nanomaggy per target pixel"}
    asinh = normaliser_from_manifest(flux)
    assert isinstance(asinh, AsinhNormalise)
    torch.testing.assert_close(asinh(image), AsinhNormalise.from_manifest(flux)(image), rtol=0, atol=0)
    with pytest.raises(ConfigError, match="one finite sky_median per channel"):
        DisplayNormalise([float("nan")])


def test_stationarity_noise_unit_for_display_images_is_at_least_one_level():
    manifest = {"bands": ["red", "grey"], "image_unit": "display per target pixel",
                "band_statistics": {"red": {"sky_mad": 0.0}, "grey": {"sky_mad": 2.5}}}
    assert noise_sky_mad(manifest) == [1.0, 2.5]
    assert noise_sky_mad({**manifest, "image_unit": "nanomaggy"}) == [0.0, 2.5]


def test_display_composite_shows_the_channels_unchanged():
    image = np.array([[[10.0, 300.0]], [[20.0, -5.0]], [[30.0, 12.6]]])  # (3 channels, 1, 2)
    # Filters: red = the longest wavelength. [g, i, r] -> red i (1), green r (2), blue g (0).
    np.testing.assert_array_equal(image_rgb(image, ["g", "i", "r"], "sdss", display=True),
                                  [[[20, 30, 10], [0, 13, 255]]])
    np.testing.assert_array_equal(image_rgb(image, ["red", "green", "blue"], display=True),
                                  [[[10, 20, 30], [255, 0, 13]]])
    grey = image_rgb(image[:1], ["grey"], display=True)
    np.testing.assert_array_equal(grey, [[[10, 10, 10], [255, 255, 255]]])
    assert grey.dtype == np.uint8
    assert rgb_channel_order(["i", "r", "g"]) == (0, 1, 2)
    # Flux images keep the asinh composite.
    flux = np.abs(image)
    assert not np.array_equal(image_rgb(flux, ["g", "i", "r"], "sdss"), image_rgb(flux, ["g", "i", "r"], "sdss",
                                                                                  display=True))


def test_config_validation_names_the_bands_before_any_job_runs(tmp_path):
    from galssl.config import validate_config

    section = folder_survey(tmp_path, bands=["r", "g", "b"])
    crop = {"augment": {"jitter_crop": {"crop_size": 24, "max_shift": 2}}}  # fits the 32-px cutouts
    with pytest.raises(ConfigError, match=r"^config error: surveys\.mine\.bands = \['r', 'g', 'b'\]: 'b' is not a "
                                          r"filter; .*\[red, green, blue\]"):
        validate_config({"seed": 0, "surveys": {"mine": section}, "pretrain": crop})
    assert validate_config({"seed": 0, "surveys": {"mine": {**section, "bands": ["red", "green", "blue"]}},
                            "pretrain": crop})
