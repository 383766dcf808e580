"""The user's own cutouts as a provider: a folder of FITS or PNG/JPEG files, or a Galaxy10-style HDF5 file.

``surveys.<name>.format`` picks the layout:

- ``fits``: ``path`` is a folder, ``pattern`` (default ``{object_id}.fits``) names each object's file. With
  ``{band}`` in the pattern there is one file per band; otherwise one file holds every band, either as image
  extensions named by band (EXTNAME) or as a (bands, y, x) cube whose planes the BANDn keys (or a BANDS string
  such as ``grz``) name, like the Legacy Survey cutout service. The WCS, the flux unit (BUNIT, kept as given) and
  the PSF FWHM in arcsec (PSFFWHM, SEEING or FWHM) come from the headers.
- ``image``: ``path`` is a folder of PNG/JPEG images, 8 or 16 bit, colour or grey (``pattern`` default
  ``{object_id}.jpg``); the bands name the channels in order: filters (e.g. [i, r, g] for red = i) or
  [red, green, blue] / [grey] (:mod:`galssl.display`). Values are display units (0-255, ``unit="display"``), not
  fluxes. The files carry no WCS: each image is resampled about its centre straight onto the target grid (north up
  as stored), at ``native_pixel_scale_arcsec`` when set, else by size (a square image spans the target cutout).
- ``galaxy10_h5``: ``path`` is a Galaxy10-style HDF5 file (datasets images (N, y, x, 3) uint8, ans, ra, dec,
  redshift, pxscale); :func:`galaxy10_catalog` writes its catalogue with object ids ``g10_NNNNN`` (the row). Each
  image is resampled like a PNG, at its own pxscale.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits

from galssl.display import DISPLAY_UNIT, check_display_bands
from galssl.errors import ConfigError, DataError
from galssl.io import atomic_path, write_parquet_atomic
from galssl.providers.base import BandImage, FetchError
from galssl.providers.images import check_resampled_size, read_display_image, resample_to_grid
from galssl.settings import fill_defaults, schema_defaults
from galssl.wcsutil import celestial_wcs

FORMATS = ("fits", "image", "galaxy10_h5")
DEFAULT_PATTERNS = {"fits": "{object_id}.fits", "image": "{object_id}.jpg"}
PSF_KEYS = ("PSFFWHM", "SEEING", "FWHM")
GALAXY10_ID = re.compile(r"^g10_(\d+)$")
POSITION_TOLERANCE_ARCSEC = 1.0
"""How far a catalogue position may be from the HDF5 file's own ra/dec before the row is refused."""

_FITS_ERRORS = (OSError, ValueError, TypeError, IndexError, KeyError, fits.VerifyError)


def galaxy10_id(index: int) -> str:
    """Object id of row ``index`` of a Galaxy10-style file."""
    return f"g10_{index:05d}"


@dataclass(frozen=True)
@schema_defaults("surveys.*")
class FilesSettings:
    """A ``surveys.<name>`` section with ``provider: files``, validated once."""

    survey: str
    path: Path
    pattern: str
    bands: tuple[str, ...]
    target_span_arcsec: float
    format: str
    native_pixel_scale_arcsec: float | None = None  # the schema leaves it unset: None = from the file's WCS
    cutout_size: int

    @classmethod
    def from_section(cls, section: dict, survey: str) -> FilesSettings:
        key = f"config error: surveys.{survey}"
        section = fill_defaults(section, "surveys.*")
        fmt = section["format"]
        if fmt not in FORMATS:
            raise ConfigError(f"{key}.format must be one of {', '.join(FORMATS)} (got {fmt!r})")
        if not section.get("path"):
            raise ConfigError(f"{key}.path must be set for provider files (a folder of cutouts, or the .h5 file "
                              "for format galaxy10_h5)")
        path = Path(section["path"])
        if fmt == "galaxy10_h5" and not path.is_file():
            raise ConfigError(f"{key}.path: no file {path} (format galaxy10_h5 reads one HDF5 file)")
        if fmt != "galaxy10_h5" and not path.is_dir():
            raise ConfigError(f"{key}.path: no folder {path} (format {fmt} reads one file per object from a folder)")
        pattern = section.get("pattern") or DEFAULT_PATTERNS.get(fmt, "")
        if fmt != "galaxy10_h5":
            fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
            allowed = {"object_id", "band"} if fmt == "fits" else {"object_id"}
            if "object_id" not in fields or not fields <= allowed:
                raise ConfigError(f"{key}.pattern must contain {{object_id}} and no field but "
                                  f"{' and '.join('{' + f + '}' for f in sorted(allowed))} (got {pattern!r})")
        bands = tuple(section["bands"])
        if fmt == "galaxy10_h5" and len(bands) != 3:
            raise ConfigError(f"{key}.bands must name the 3 colour channels of the Galaxy10 images, e.g. [g, r, z] "
                              f"(got {len(bands)})")
        if fmt != "fits":
            bands = check_display_bands(bands, f"surveys.{survey}.bands")
        scale = section.get("native_pixel_scale_arcsec")
        if scale is not None and not float(scale) > 0:
            raise ConfigError(f"{key}.native_pixel_scale_arcsec must be > 0 (got {scale})")
        size = int(section["cutout_size"])
        span = size * float(section["pixel_scale_arcsec"])
        return cls(survey=survey, path=path, pattern=pattern, bands=bands, target_span_arcsec=span, format=fmt,
                   native_pixel_scale_arcsec=None if scale is None else float(scale), cutout_size=size)

    def file_for(self, object_id: str, band: str | None = None) -> tuple[Path, str]:
        """The object's file (and its name relative to ``path``, for messages)."""
        if not object_id or object_id in (".", "..") or any(sep and sep in object_id for sep in (os.sep, os.altsep)):
            raise FetchError(f"object id {object_id!r} cannot name a file (empty, '.', '..' or holds a path separator)")
        name = self.pattern.format(object_id=object_id, band=band)
        return self.path / name, name


def display_bands(pixels: np.ndarray, settings: FilesSettings, source: str, pixel_scale_arcsec: float | None = None,
                  what: str = "") -> list[BandImage]:
    """Resample a (y, x, channels) display image, top row = north, onto the target grid: one BandImage per channel
    (no WCS: already on the grid), at ``pixel_scale_arcsec`` (else the configured native scale, else by size)."""
    height, width = pixels.shape[:2]
    scale = pixel_scale_arcsec or settings.native_pixel_scale_arcsec
    if scale is None:
        check_resampled_size(height, width, settings.cutout_size, what or source)
        scale = settings.target_span_arcsec / width
    target_scale = settings.target_span_arcsec / settings.cutout_size
    images = []
    for channel, band in enumerate(settings.bands):
        header = fits.Header()
        header["BAND"] = (band, "filter or channel named by the config for this channel")
        header["BUNIT"] = (DISPLAY_UNIT, "display values of a colour image, not fluxes")
        header["SOURCE"] = (source[-68:], "file the image was read from")
        header["NATSCALE"] = (float(scale), "arcsec per pixel of the image as read")
        # Image files store the top (north) row first; FITS/WCS arrays start at the bottom (south) row.
        plane = np.flipud(np.asarray(pixels[:, :, channel], dtype=np.float32))
        data = resample_to_grid(plane, scale, target_scale, settings.cutout_size)
        images.append(BandImage(band, data, None, header, DISPLAY_UNIT, None))
    return images


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _header_value(key: str, *headers: fits.Header):
    for header in headers:
        if key in header and header[key] not in (None, ""):
            return header[key]
    return None


def _psf_fwhm_arcsec(*headers: fits.Header) -> float | None:
    for key in PSF_KEYS:
        value = _header_value(key, *headers)
        try:
            if value is not None and float(value) > 0:
                return float(value)
        except (TypeError, ValueError):
            continue
    return None


def _cube_bands(header: fits.Header, primary: fits.Header, n_planes: int) -> list[str] | None:
    """Band of each cube plane from BAND0..BANDn-1, else from a BANDS string ('grz' or 'g,r,z')."""
    named = [_header_value(f"BAND{i}", header, primary) for i in range(n_planes)]
    if all(isinstance(name, str) and name.strip() for name in named):
        return [name.strip() for name in named]
    listed = _header_value("BANDS", header, primary)
    if isinstance(listed, str):
        parts = [part for part in re.split(r"[\s,]+", listed.strip()) if part]
        parts = list(parts[0]) if len(parts) == 1 and len(parts[0]) == n_planes else parts
        if len(parts) == n_planes:
            return parts
    return None


class FitsFolderProvider:
    """FITS cutouts with a celestial WCS from a folder: one file per object, or per object and band."""

    def __init__(self, settings: FilesSettings) -> None:
        self.settings = settings
        self.bands = list(settings.bands)
        self.name = "files:fits"
        self.per_band = "{band}" in settings.pattern

    def fetch(self, object_id: str, ra: float, dec: float, size_arcsec: float) -> list[BandImage]:
        """Read the object's file(s); the source's own pixels, WCS, unit and PSF, in ``bands`` order."""
        if self.per_band:
            images = []
            for band in self.bands:
                path, name = self.settings.file_for(object_id, band)
                primary, hdus = self._read(path, name, object_id)
                header, data = next(((h, d) for h, d in hdus if d.squeeze().ndim == 2), (None, None))
                if header is None:
                    raise FetchError(f"{name} for {object_id} holds no 2-D image")
                images.append(self._band_image(band, header, primary, data.squeeze(), name, object_id))
            return images
        path, name = self.settings.file_for(object_id)
        primary, hdus = self._read(path, name, object_id)
        return [self._band_image(band, header, primary, data, name, object_id)
                for band, header, data in self._split_bands(primary, hdus, name, object_id)]

    @staticmethod
    def _read(path: Path, name: str, object_id: str) -> tuple[fits.Header, list[tuple[fits.Header, np.ndarray]]]:
        """Primary header and (header, data) of every image HDU with data; unreadable files become FetchErrors."""
        if not path.is_file():
            raise FetchError(f"no file {name} for {object_id}")
        try:
            with fits.open(path, memmap=False) as hdul:
                # Headers stay valid after close (memmap=False); copying them would re-parse every card.
                primary = hdul[0].header
                hdus = [(hdu.header, np.asarray(hdu.data))
                        for hdu in hdul if hdu.is_image and hdu.data is not None]
        except _FITS_ERRORS as error:
            raise FetchError(f"{name} for {object_id} is not a readable FITS file ({_first_line(error)})") from None
        if not hdus:
            raise FetchError(f"{name} for {object_id} holds no image data")
        return primary, hdus

    def _split_bands(self, primary: fits.Header, hdus: list, name: str, object_id: str) -> list:
        """(band, header, 2-D data) per configured band: extensions named by band, else a cube with band keys."""
        by_extname = {str(h.get("EXTNAME", "")).strip().lower(): (h, d) for h, d in hdus if d.ndim == 2}
        if all(band.lower() in by_extname for band in self.bands):
            return [(band, *by_extname[band.lower()]) for band in self.bands]
        for header, data in hdus:
            if data.ndim != 3:
                continue
            planes = _cube_bands(header, primary, data.shape[0])
            if planes is None:
                listed = _header_value("BANDS", header, primary)
                if isinstance(listed, str) and listed.strip():  # e.g. a 4-plane cube whose BANDS says 'grz'
                    raise FetchError(f"{name} for {object_id} holds a {data.shape[0]}-plane cube, but its BANDS key "
                                     f"names other bands ({listed.strip()!r}): wrong number of planes")
                raise FetchError(f"{name} for {object_id} holds a {data.shape[0]}-plane cube without BANDS/BANDn "
                                 "keys naming its planes")
            lowered = [plane.lower() for plane in planes]
            missing = [band for band in self.bands if band.lower() not in lowered]
            if missing:
                raise FetchError(f"{name} for {object_id} has bands {', '.join(planes)}, not {', '.join(missing)}")
            return [(band, header, data[lowered.index(band.lower())]) for band in self.bands]
        two_d = [(h, d) for h, d in hdus if d.ndim == 2]
        if len(self.bands) == 1 and two_d:
            return [(self.bands[0], *two_d[0])]
        found = ", ".join(sorted(k for k in by_extname if k)) or "none"
        raise FetchError(f"{name} for {object_id} has neither extensions named {', '.join(self.bands)} (EXTNAME; "
                         f"found {found}) nor a (bands, y, x) cube with BANDS/BANDn keys")

    @staticmethod
    def _band_image(band: str, header: fits.Header, primary: fits.Header, data: np.ndarray, name: str,
                    object_id: str) -> BandImage:
        try:
            wcs = celestial_wcs(header)
        except (ValueError, KeyError, MemoryError) as error:
            raise FetchError(f"{name} for {object_id}: unusable WCS in band {band} ({_first_line(error)})") from None
        if not wcs.has_celestial or wcs.naxis != 2:
            raise FetchError(f"{name} for {object_id} has no celestial WCS in band {band} (CTYPE1/2 RA---/DEC--)")
        if not np.isfinite(data).any():
            raise FetchError(f"{name} for {object_id}: band {band} has no finite pixel (all NaN or inf)")
        unit = _header_value("BUNIT", header, primary)
        return BandImage(band, np.asarray(data, dtype=np.float64), wcs, header,
                         str(unit).strip() if unit is not None else "unknown", _psf_fwhm_arcsec(header, primary))


class ImageFolderProvider:
    """PNG/JPEG cutouts from a folder, in display units, resampled about their centre onto the target grid."""

    def __init__(self, settings: FilesSettings) -> None:
        self.settings = settings
        self.bands = list(settings.bands)
        self.name = "files:image"

    def fetch(self, object_id: str, ra: float, dec: float, size_arcsec: float) -> list[BandImage]:
        """Read the object's image; one BandImage per channel on the target grid, named by ``bands`` in order."""
        path, name = self.settings.file_for(object_id)
        pixels = read_display_image(path, name, object_id, len(self.bands))
        return display_bands(pixels, self.settings, name, what=f"{name} for {object_id}")


def _galaxy10_layout(h5_file, path: Path) -> int:
    """Number of images of an open Galaxy10-style file, after checking its datasets are there and line up."""
    missing = [key for key in ("images", "ans", "ra", "dec") if key not in h5_file]
    if missing:
        raise DataError(f"{path} is not a Galaxy10-style file: no dataset {', '.join(missing)} "
                        f"(found {', '.join(sorted(h5_file.keys())) or 'none'})")
    n_images = h5_file["images"].shape[0]
    wrong = [key for key in ("ans", "ra", "dec", "redshift", "pxscale")
             if key in h5_file and h5_file[key].shape != (n_images,)]
    if wrong:
        raise DataError(f"{path}: datasets {', '.join(wrong)} must hold one value per image ({n_images})")
    return n_images


def galaxy10_table(h5_path: str | os.PathLike) -> pd.DataFrame:
    """The catalogue of a Galaxy10-style HDF5 file: object_id (g10_NNNNN), ra, dec (deg), galaxy10_class,
    redshift (NaN when the file has none)."""
    import h5py

    path = Path(h5_path)
    if not path.is_file():
        raise DataError(f"no Galaxy10 file {path}")
    try:
        with h5py.File(path, "r") as h5_file:
            n_images = _galaxy10_layout(h5_file, path)
            columns = {key: np.asarray(h5_file[key][()]) for key in ("ans", "ra", "dec", "redshift") if key in h5_file}
    except OSError as error:
        raise DataError(f"{path} is not a readable HDF5 file ({_first_line(error)})") from None
    return pd.DataFrame({
        "object_id": [galaxy10_id(index) for index in range(n_images)],
        "ra": columns["ra"].astype(np.float64),
        "dec": columns["dec"].astype(np.float64),
        "galaxy10_class": columns["ans"].astype(np.int64),
        "redshift": columns["redshift"].astype(np.float64) if "redshift" in columns else np.full(n_images, np.nan),
    })


def galaxy10_catalog(h5_path: str | os.PathLike, out_path: str | os.PathLike) -> pd.DataFrame:
    """Write :func:`galaxy10_table` as Parquet or CSV (by the suffix of ``out_path``); return the table."""
    out = Path(out_path)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise ConfigError(f"galaxy10 catalogue {out} must end in .parquet or .csv")
    table = galaxy10_table(h5_path)
    if out.suffix.lower() == ".parquet":
        write_parquet_atomic(table, out)
    else:
        with atomic_path(out, suffix=".csv.tmp") as tmp:
            table.to_csv(tmp, index=False)
    return table


class Galaxy10Provider:
    """Colour images of a Galaxy10-style HDF5 file, in display units, resampled onto the target grid at each
    image's pxscale."""

    def __init__(self, settings: FilesSettings) -> None:
        self.settings = settings
        self.bands = list(settings.bands)
        self.name = "files:galaxy10_h5"

    def fetch(self, object_id: str, ra: float, dec: float, size_arcsec: float) -> list[BandImage]:
        """Read row ``N`` of object ``g10_N``; its position must match the file's ra/dec (catalogue from this file)."""
        import h5py

        match = GALAXY10_ID.match(object_id)
        if match is None:
            raise FetchError(f"{object_id} is not a Galaxy10 object id (g10_NNNNN, as written by galaxy10_catalog)")
        index = int(match.group(1))
        path = self.settings.path
        try:
            with h5py.File(path, "r") as h5_file:
                n_images = _galaxy10_layout(h5_file, path)
                if index >= n_images:
                    raise FetchError(f"{object_id}: {path.name} has only {n_images} images")
                pixels = np.asarray(h5_file["images"][index])
                file_ra, file_dec = float(h5_file["ra"][index]), float(h5_file["dec"][index])
                scale = float(h5_file["pxscale"][index]) if "pxscale" in h5_file else float("nan")
        except OSError as error:
            reason = _first_line(error)
            raise FetchError(f"{path.name} for {object_id} is not a readable HDF5 file ({reason})") from None
        offset = _separation_arcsec(ra, dec, file_ra, file_dec)
        if np.isfinite([ra, dec]).all() and not offset <= POSITION_TOLERANCE_ARCSEC:  # no position: id alone
            raise FetchError(f"{object_id}: catalogue position is {offset:.1f} arcsec from row {index} of {path.name}; "
                             "make the catalogue from this file with galaxy10_catalog")
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise FetchError(f"{object_id}: image {index} of {path.name} has shape {pixels.shape}, not (y, x, 3)")
        source = f"{path.name}[{index}]"
        # No or bad pxscale: the configured scale, else resampled by size.
        return display_bands(pixels.astype(np.float32), self.settings, source, scale if scale > 0 else None,
                             f"{source} for {object_id}")


def _separation_arcsec(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle distance (haversine, stable at small angles) between two positions in degrees."""
    ra1, dec1, ra2, dec2 = map(np.radians, (ra1, dec1, ra2, dec2))
    half = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return float(np.degrees(2 * np.arcsin(np.sqrt(min(1.0, half)))) * 3600)


def create(section: dict, context) -> FitsFolderProvider | ImageFolderProvider | Galaxy10Provider:
    """Registry hook: ``format`` (fits, image, galaxy10_h5) picks the reader of the files at ``path``."""
    settings = FilesSettings.from_section(section, context.survey)
    provider = {"fits": FitsFolderProvider, "image": ImageFolderProvider, "galaxy10_h5": Galaxy10Provider}
    return provider[settings.format](settings)
