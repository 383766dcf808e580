"""Image services of the mock sky server: Legacy Survey ``fits-cutout`` and CDS ``hips2fits``, plus shared helpers.

Each service is a pure function ``(sky, params) -> Reply``; the HTTP plumbing lives in ``galssl.testing.server``.
Images are float32 nanomaggies per pixel on a TAN WCS written with CD matrices (as the real services do). The
noise of a request derives from a string of its service, band, WCS and shape, so identical requests give
identical bytes. Rendering at a pixel scale other than the band's native one keeps the point-source depth
(noise per pixel follows the pixel area, as for a resampled image).
"""

from __future__ import annotations

import io
import json
import math
import threading
from dataclasses import dataclass, field, replace

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from galssl import __version__
from galssl.errors import ConfigError, GalsslError
from galssl.instruments import load_instrument
from galssl.mocksky.render import make_wcs
from galssl.mocksky.sky import MockSky
from galssl.mocksky.truth import object_rng

LEGACY_MAX_SIZE = 512
"""Largest side (pixels) of a Legacy cutout, as legacysurvey.org/viewer/fits-cutout."""
HIPS_MAX_SIZE = 2048
"""Largest side (pixels) of a mock hips2fits image (the real service allows more; the mock renders every pixel)."""

LEGACY_LAYERS: dict[str, tuple[str, str]] = {
    **{layer: ("legacy", "grz") for layer in ("ls-dr9", "ls-dr10", "ls-dr9-north", "ls-dr9-south", "ls-dr10-south")},
    "sdss": ("sdss", "gri"),
}
"""fits-cutout layer → (mock instrument, default bands)."""

HIPS_SURVEYS: dict[str, tuple[str, str]] = {
    **{f"CDS/P/DESI-Legacy-Surveys/DR10/{band}": ("legacy", band) for band in "griz"},
    **{f"CDS/P/SDSS9/{band}": ("sdss", band) for band in "ugriz"},
    **{f"CDS/P/Euclid/Q1/{band}": ("euclid", band) for band in ("VIS", "Y", "J", "H")},
}
"""HiPS id → (mock instrument, band). The Euclid ids are the mock's own convention (Q1 VIS and NISP Y/J/H)."""

FITSIO_COMMENTS = ("  FITS (Flexible Image Transport System) format is defined in 'Astronomy",
                   "  and Astrophysics', volume 376, page 359; bibcode: 2001A&A...376..359H")
"""The two COMMENT cards fitsio writes into every primary header (and so the Legacy Survey viewer's cutouts)."""

_RENDER_LOCK = threading.Lock()  # MockSky fills lazy caches (photometry tables) on first use


class BadRequest(GalsslError):
    """A request parameter is missing or invalid: HTTP 400 with this one-line message."""


class NotFound(GalsslError):
    """No such resource (e.g. an SDSS frame outside the tiling): HTTP 404."""


@dataclass
class Reply:
    """One HTTP answer: status, content type, body and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, status: int, message: str) -> Reply:
        return cls(status, "text/plain; charset=utf-8", (" ".join(message.split()) + "\n").encode("utf-8"))


# -- request parameters ----------------------------------------------------------------------------------------
def number(params: dict[str, str], name: str, default: float | None = None) -> float:
    """A finite float parameter; ``default`` None makes it required."""
    raw = params.get(name, "").strip()
    if raw == "":
        if default is None:
            raise BadRequest(f"missing required parameter {name!r}")
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"parameter {name!r} must be a number (got {raw!r})") from None
    if not math.isfinite(value):
        raise BadRequest(f"parameter {name!r} must be finite (got {raw!r})")
    return value


def pixels(params: dict[str, str], name: str, default: int | None, largest: int) -> int:
    """An image side in pixels, 1..``largest``."""
    value = number(params, name, None if default is None else float(default))
    if value != int(value) or not 1 <= value <= largest:
        raise BadRequest(f"parameter {name!r} must be an integer from 1 to {largest} (got {params.get(name)})")
    return int(value)


def sky_position(params: dict[str, str]) -> tuple[float, float]:
    """(ra, dec) in degrees from the ``ra``/``dec`` parameters; RA wrapped to [0, 360)."""
    ra, dec = number(params, "ra"), number(params, "dec")
    if not -90.0 <= dec <= 90.0:
        raise BadRequest(f"parameter 'dec' must be between -90 and 90 degrees (got {dec})")
    return ra % 360.0, dec


# -- rendering and FITS ----------------------------------------------------------------------------------------
def pixel_scale_arcsec(wcs: WCS) -> float:
    return float(math.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix)))) * 3600.0


def render_bands(sky: MockSky, instrument_name: str, bands: list[str], wcs: WCS, shape: tuple[int, int],
                 service: str, seeing: float = 1.0) -> dict[str, np.ndarray]:
    """Render ``bands`` of a mock instrument through ``wcs`` at its pixel scale; float32 nanomaggies per pixel.

    ``seeing`` multiplies the bands' median PSF FWHM. The noise generator of each band derives from
    ``service``, the band, the WCS numbers and the shape.
    """
    base = load_instrument(instrument_name)
    scale = pixel_scale_arcsec(wcs)
    try:
        instrument = replace(base, bands={band: replace(base.band(band), pixel_scale_arcsec=scale) for band in bands})
    except ConfigError as error:
        raise BadRequest(str(error)) from None
    geometry = (f"{shape[0]}x{shape[1]}|{wcs.wcs.crval.tolist()}|{wcs.wcs.crpix.tolist()}|"
                f"{wcs.pixel_scale_matrix.tolist()}")
    fwhm = {band: base.band(band).psf_fwhm_arcsec * seeing for band in bands}
    rngs = {band: object_rng(sky.seed, f"{service}|{band}|{geometry}") for band in bands}
    with _RENDER_LOCK:
        images = sky.render(wcs, shape, instrument, bands, fwhm, rngs)
    return {band: image.astype(np.float32) for band, image in images.items()}


def celestial_header(wcs: WCS) -> fits.Header:
    """A 2-axis TAN WCS as CD-matrix cards (ICRS, degrees), as survey services write it."""
    cd = wcs.pixel_scale_matrix
    header = fits.Header()
    header["WCSAXES"] = 2
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    header["CUNIT1"], header["CUNIT2"] = "deg", "deg"
    header["CRVAL1"], header["CRVAL2"] = (float(v) for v in wcs.wcs.crval)
    header["CRPIX1"], header["CRPIX2"] = (float(v) for v in wcs.wcs.crpix)
    header["CD1_1"], header["CD1_2"] = float(cd[0, 0]), float(cd[0, 1])
    header["CD2_1"], header["CD2_2"] = float(cd[1, 0]), float(cd[1, 1])
    header["RADESYS"], header["EQUINOX"] = "ICRS", 2000.0
    return header


def provenance(header: fits.Header, sky: MockSky) -> None:
    """Unit and mock provenance cards shared by all services."""
    header["BUNIT"] = ("nanomaggy", "flux per pixel; 1 nmgy = AB mag 22.5")
    header["ORIGIN"] = (f"galssl {__version__} mock sky server", "software")
    header["MOCKSEED"] = (sky.seed, "mock sky seed")


def fits_bytes(hdu: fits.PrimaryHDU) -> bytes:
    buffer = io.BytesIO()
    fits.HDUList([hdu]).writeto(buffer)
    return buffer.getvalue()


# -- Legacy Survey viewer: /fits-cutout -------------------------------------------------------------------------
def legacy_fits_cutout(sky: MockSky, params: dict[str, str]) -> Reply:
    """``fits-cutout?ra=&dec=&layer=ls-dr10&pixscale=0.262&bands=griz&size=64`` → FITS cube (nbands, H, W).

    Defaults as legacysurvey.org: pixscale 0.262 arcsec, size 256 (``width``/``height`` override it; at most
    512), bands 'grz'. North up, east left, CRPIX at the centre. The header has the cards of the real service's
    answer, in its order (recorded responses: tests/data/legacy_fits_cutout_header.txt): SURVEY, VERSION,
    IMAGETYP, BANDS, BANDn, a TAN WCS with a CD matrix, IMAGEW, IMAGEH; no unit and no PSF card. The header is
    3-D with a 2-axis celestial WCS: read it with ``WCS(header, naxis=2)``.
    """
    ra, dec = sky_position(params)
    layer = params.get("layer", "").strip() or "ls-dr10"
    if layer not in LEGACY_LAYERS:
        raise BadRequest(f"unknown layer {layer!r} (mock layers: {', '.join(LEGACY_LAYERS)})")
    instrument_name, default_bands = LEGACY_LAYERS[layer]
    scale = number(params, "pixscale", 0.262)
    if not 0.01 <= scale <= 60.0:
        raise BadRequest(f"parameter 'pixscale' must be between 0.01 and 60 arcsec per pixel (got {scale})")
    size = pixels(params, "size", 256, LEGACY_MAX_SIZE)
    width = pixels(params, "width", size, LEGACY_MAX_SIZE)
    height = pixels(params, "height", size, LEGACY_MAX_SIZE)
    bands = list(params.get("bands", "").strip() or default_bands)
    allowed = load_instrument(instrument_name).bands
    for band in bands:
        if band not in allowed:
            raise BadRequest(f"unknown band {band!r} for layer {layer} (allowed: {''.join(allowed)})")
    wcs = make_wcs(ra, dec, scale, (height, width))
    images = render_bands(sky, instrument_name, sorted(set(bands)), wcs, (height, width), f"fits-cutout|{layer}")
    cube = np.stack([images[band] for band in bands])
    hdu = fits.PrimaryHDU(cube, legacy_header(wcs, (height, width), layer, bands))
    # fitsio (which the viewer writes with) puts EXTEND and its two standard COMMENT cards after the NAXISn cards.
    position = hdu.header.index(f"NAXIS{cube.ndim}") + 1
    cards = [("EXTEND", True, "FITS dataset may contain extensions")] + [("COMMENT", line) for line in FITSIO_COMMENTS]
    for offset, card in enumerate(cards):
        hdu.header.insert(position + offset, card)
    return Reply(200, "application/fits", fits_bytes(hdu))


def legacy_header(wcs: WCS, shape: tuple[int, int], layer: str, bands: list[str]) -> fits.Header:
    """The fits-cutout header as the viewer writes it (astrometry.net Tan.add_to_header after the band cards)."""
    header = fits.Header()
    header["SURVEY"] = "DECaLS" if layer != "sdss" else "SDSS"
    header["VERSION"] = layer.split("-")[-1].upper() if layer.startswith("ls-") else layer.upper()
    header["IMAGETYP"] = "image"
    header["BANDS"] = "".join(bands)
    for index, band in enumerate(bands):
        header[f"BAND{index}"] = band
    cd = wcs.pixel_scale_matrix
    header["CTYPE1"], header["CTYPE2"] = ("RA---TAN", "TANgent plane"), ("DEC--TAN", "TANgent plane")
    header["CRVAL1"], header["CRVAL2"] = (float(wcs.wcs.crval[0]), "Reference RA"), (float(wcs.wcs.crval[1]),
                                                                                     "Reference Dec")
    header["CRPIX1"], header["CRPIX2"] = (float(wcs.wcs.crpix[0]), "Reference x"), (float(wcs.wcs.crpix[1]),
                                                                                    "Reference y")
    for row, col in ((1, 1), (1, 2), (2, 1), (2, 2)):
        header[f"CD{row}_{col}"] = (float(cd[row - 1, col - 1]), "CD matrix")
    header["IMAGEW"] = (float(shape[1]), "Image width")
    header["IMAGEH"] = (float(shape[0]), "Image height")
    return header


# -- CDS hips2fits ----------------------------------------------------------------------------------------------
def hips2fits(sky: MockSky, params: dict[str, str]) -> Reply:
    """``hips2fits?hips=&width=&height=&fov=&ra=&dec=&projection=TAN&coordsys=icrs&rotation_angle=&format=fits``.

    ``fov`` (degrees) spans the larger of width and height, as at CDS, so the pixel scale is
    fov * 3600 / max(width, height) arcsec. A ``wcs`` parameter (JSON header with NAXIS1/2, as astroquery's
    ``query_with_wcs`` sends) replaces the geometry parameters; its CRVAL should lie on the image. Only TAN,
    ICRS and FITS are served; ``min_cut``, ``max_cut``, ``stretch`` and ``cmap`` (JPEG/PNG only) are ignored.
    """
    hips = params.get("hips", "").strip()
    survey = {key.lower(): value for key, value in HIPS_SURVEYS.items()}.get(hips.lower())
    if not hips:
        raise BadRequest("missing required parameter 'hips'")
    if survey is None:
        raise BadRequest(f"unknown hips {hips!r} (mock HiPS: {', '.join(HIPS_SURVEYS)})")
    output_format = params.get("format", "").strip().lower() or "fits"
    if output_format != "fits":
        raise BadRequest(f"the mock hips2fits serves format=fits only (got format={output_format!r})")
    wcs, shape = _wcs_from_json(params["wcs"]) if params.get("wcs", "").strip() else _hips_geometry(params)
    instrument_name, band = survey
    image = render_bands(sky, instrument_name, [band], wcs, shape, f"hips2fits|{instrument_name}")[band]
    return Reply(200, "application/fits", fits_bytes(fits.PrimaryHDU(image, hips2fits_header(wcs, hips))))


def hips2fits_header(wcs: WCS, hips: str) -> fits.Header:
    """The header hips2fits writes (recorded response: tests/data/hips2fits_header.txt): astropy's WCS cards with
    CDELT (and PC when rotated), LONPOLE, LATPOLE, RADESYS, then HISTORY lines naming the service and the HiPS."""
    cd = wcs.pixel_scale_matrix
    scale = math.sqrt(abs(np.linalg.det(cd)))
    cdelt = np.array([-scale, scale])
    written = WCS(naxis=2)
    written.wcs.ctype = list(wcs.wcs.ctype)
    written.wcs.cunit = ["deg", "deg"]
    written.wcs.crval = list(wcs.wcs.crval)
    written.wcs.crpix = list(wcs.wcs.crpix)
    written.wcs.cdelt = cdelt
    pc = cd / cdelt[:, np.newaxis]
    if not np.allclose(pc, np.eye(2), rtol=0, atol=1e-12):  # astropy writes PC cards once pc is set: only if rotated
        written.wcs.pc = pc
    written.wcs.radesys = "ICRS"
    header = written.to_header()
    for key in ("MJDREF", "DATEREF", "EQUINOX"):  # astropy's defaults; hips2fits answers carry none of them
        header.remove(key, ignore_missing=True)
    header.add_history("Generated by CDS HiPS2FITS service - See https://alasky.cds.unistra.fr/hips-image-services/"
                       "hips2fits for details")
    header.add_history(f"From HiPS {hips} (galssl mock sky)")
    return header


def _hips_geometry(params: dict[str, str]) -> tuple[WCS, tuple[int, int]]:
    width = pixels(params, "width", None, HIPS_MAX_SIZE)
    height = pixels(params, "height", None, HIPS_MAX_SIZE)
    ra, dec = sky_position(params)
    fov = number(params, "fov")
    if not 0 < fov <= 10:
        raise BadRequest(f"parameter 'fov' must be in (0, 10] degrees (got {fov})")
    projection = params.get("projection", "").strip().upper() or "TAN"
    if projection != "TAN":
        raise BadRequest(f"the mock hips2fits serves projection=TAN only (got {projection!r})")
    coordsys = params.get("coordsys", "").strip().lower() or "icrs"
    if coordsys != "icrs":
        raise BadRequest(f"the mock hips2fits serves coordsys=icrs only (got {coordsys!r})")
    rotation = number(params, "rotation_angle", 0.0)
    scale = fov * 3600.0 / max(width, height)
    return make_wcs(ra, dec, scale, (height, width), rotation_deg=rotation), (height, width)


def _wcs_from_json(text: str) -> tuple[WCS, tuple[int, int]]:
    try:
        cards = json.loads(text)
        header = fits.Header({key: value for key, value in cards.items() if key not in ("COMMENT", "HISTORY")})
        shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
        given = WCS(header, naxis=2)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BadRequest(f"parameter 'wcs' must be a JSON FITS header with NAXIS1, NAXIS2 and a WCS "
                         f"({error})") from None
    if list(given.wcs.ctype) != ["RA---TAN", "DEC--TAN"]:
        raise BadRequest(f"the mock hips2fits serves RA---TAN/DEC--TAN WCS only (got {list(given.wcs.ctype)})")
    if not all(1 <= side <= HIPS_MAX_SIZE for side in shape):
        raise BadRequest(f"NAXIS1 and NAXIS2 must be from 1 to {HIPS_MAX_SIZE} (got {shape[1]}, {shape[0]})")
    wcs = make_wcs(float(given.wcs.crval[0]), float(given.wcs.crval[1]), 1.0, shape)
    wcs.wcs.crpix = list(given.wcs.crpix)
    wcs.wcs.cd = given.pixel_scale_matrix
    return wcs, shape


def json_error(message: str) -> Reply:
    """hips2fits errors are JSON with title and description (astroquery reads them)."""
    body = json.dumps({"title": "Bad request", "description": " ".join(message.split())}) + "\n"
    return Reply(400, "application/json", body.encode("utf-8"))
