"""Reading PNG/JPEG display images robustly, and resampling them onto the target grid without a WCS.

Every problem with one file (missing, unreadable, truncated, too small, not square, grey where colour is expected,
32-bit or float pixels) is a :class:`FetchError` whose reason lands in failures.parquet. 8- and 16-bit PNGs (grey or
colour), baseline and progressive JPEGs, palette images and CMYK JPEGs (through their ICC profile when they carry
one, else the standard subtractive formula) are read. Values come back as float32 display units on 0-255.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from galssl.display import DISPLAY_MAX
from galssl.providers.base import FetchError

MAX_UPSAMPLING = 4.0
"""An image resampled by size may be enlarged at most this much (smaller ones are 'too small')."""
GREY_TOLERANCE = 2
"""Largest channel difference (of 255) for which a colour-encoded image counts as grey (JPEG chroma rounding)."""

_READ_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, IndexError, KeyError)
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N"}
_SIXTEEN_BIT = {"I", "I;16", "I;16B", "I;16L", "I;16N"}
# 16-bit colour PNGs: Pillow keeps only the high byte of each sample (rawmode ';16B'). Decoding the same data a
# second time with the little-endian rawmode picks the other byte of each sample: together the full 16 bits.
_LOW_BYTE_RAWMODE = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _is_sixteen_bit_colour(image: Image.Image) -> bool:
    """Whether an opened, not yet loaded image is a 16-bit colour PNG."""
    return image.format == "PNG" and len(image.tile) == 1 and image.tile[0].args in _LOW_BYTE_RAWMODE


def _sixteen_bit_colour(path: Path) -> np.ndarray:
    """(H, W, 3) uint16 samples of a 16-bit colour PNG."""
    planes = []
    for swap in (False, True):
        with Image.open(path) as image:
            tile = image.tile[0]
            if swap:
                image.tile = [tile._replace(args=_LOW_BYTE_RAWMODE[tile.args])]
            image.load()
            planes.append(np.asarray(image.convert("RGB"), dtype=np.uint16))
    return (planes[0] << 8) | planes[1]


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """sRGB version of a CMYK image: through its embedded ICC profile when it has one, else R = (1-C)(1-K) etc."""
    profile = image.info.get("icc_profile")
    try:
        from PIL import ImageCms
    except ImportError:  # Pillow without littlecms
        profile = None
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the plain formula below is still a faithful conversion
    return image.convert("RGB")


def read_display_image(path: Path, name: str, object_id: str, n_channels: int) -> np.ndarray:
    """(H, W, n_channels) float32 display values on 0-255 of one PNG/JPEG file, top row first."""
    what = f"{name} for {object_id}"
    if not path.is_file():
        raise FetchError(f"no file {name} for {object_id}")
    try:
        with Image.open(path) as image:
            sixteen_bit_colour = _is_sixteen_bit_colour(image)
            image.load()  # decode everything now: a truncated file fails here, not later
            mode = image.mode
            if mode == "F" or (mode == "I" and image.format != "PNG"):
                raise FetchError(f"{what} holds {'float' if mode == 'F' else '32-bit'} pixels, not 8- or 16-bit "
                                 "display values")
            if mode in _SIXTEEN_BIT:
                pixels = np.asarray(image, dtype=np.float64)[..., None] * (DISPLAY_MAX / 65535.0)
            elif mode in _GREY_MODES:
                pixels = np.asarray(image.convert("L"), dtype=np.float64)[..., None]
            elif sixteen_bit_colour:
                pixels = _sixteen_bit_colour(path).astype(np.float64) * (DISPLAY_MAX / 65535.0)
            else:
                rgb = _cmyk_to_rgb(image) if mode == "CMYK" else image.convert("RGB")
                pixels = np.asarray(rgb, dtype=np.float64)
    except FetchError:
        raise
    except Image.DecompressionBombError as error:
        raise FetchError(f"{what} is too large to decode ({_first_line(error)})") from None
    except _READ_ERRORS as error:  # Image.UnidentifiedImageError is an OSError
        raise FetchError(f"{what} is not a readable PNG/JPEG image ({_first_line(error)})") from None
    return _match_channels(pixels, n_channels, what).astype(np.float32)


def _match_channels(pixels: np.ndarray, n_channels: int, what: str) -> np.ndarray:
    """The image with the configured number of channels: grey where colour is expected is refused; colour where grey
    is expected is accepted only when its channels agree (a grey image saved as RGB)."""
    have = pixels.shape[-1]
    if have == n_channels:
        return pixels
    if have == 1:
        raise FetchError(f"{what} is a greyscale image but the survey's bands name {n_channels} colour channels; "
                         "give bands: [grey] (one channel) for greyscale images")
    spread = float(np.max(pixels.max(axis=-1) - pixels.min(axis=-1))) if pixels.size else 0.0
    if spread > GREY_TOLERANCE:
        raise FetchError(f"{what} is a colour image (channels differ by up to {spread:.0f} of 255) but the survey's "
                         "bands name 1 greyscale channel")
    return pixels.mean(axis=-1, keepdims=True)


def check_resampled_size(height: int, width: int, target_size: int, what: str) -> None:
    """An image resampled by size must be square (it spans the cutout in both directions; a pixel or 2 per cent
    off is tolerated, the centre is kept) and at least ``target_size / MAX_UPSAMPLING`` pixels on a side."""
    if abs(height - width) > max(1.0, 0.02 * max(height, width)):
        raise FetchError(f"{what} is {width}x{height} px, not square: an image without native_pixel_scale_arcsec "
                         "is resampled by size, so it must span the cutout equally in x and y")
    minimum = int(np.ceil(target_size / MAX_UPSAMPLING))
    if width < minimum:
        raise FetchError(f"{what} is {width}x{height} px: smaller than {minimum} px, it would be enlarged more than "
                         f"{MAX_UPSAMPLING:g}x onto the {target_size}-px cutout")


def resample_to_grid(plane: np.ndarray, source_scale: float, target_scale: float, target_size: int) -> np.ndarray:
    """(target_size, target_size) float32 resampling of a 2-D image about its centre; NaN where it has no pixels.

    Source pixels of ``source_scale`` arcsec are mapped onto target pixels of ``target_scale`` arcsec, both grids
    centred on the image centre and axis-aligned (no WCS: display images are north up as stored). Shrinking
    averages the source pixels each target pixel covers (area weights, Pillow's box filter); enlarging interpolates
    bilinearly; equal scales on whole pixels copy the values exactly.
    """
    height, width = plane.shape
    half = target_size * target_scale / source_scale / 2  # target half-side in source pixels
    box = (width / 2 - half, height / 2 - half, width / 2 + half, height / 2 + half)
    margin = int(np.ceil(max(0.0, -box[0], -box[1], box[2] - width, box[3] - height))) + 1
    # Pad so the box always lies inside: padded pixels are NaN (no data) and tracked by a coverage plane.
    padded = np.pad(np.asarray(plane, dtype=np.float32), margin, constant_values=0.0)
    cover = np.pad(np.ones_like(plane, dtype=np.float32), margin, constant_values=0.0)
    shifted = tuple(value + margin for value in box)
    shrink = 2 * half >= target_size
    method = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
    out = [np.asarray(Image.fromarray(array).resize((target_size, target_size), method, box=shifted))
           for array in (padded, cover)]
    values, coverage = out
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(coverage > 0.5, values / np.maximum(coverage, 1e-6), np.nan)
    return values.astype(np.float32)
