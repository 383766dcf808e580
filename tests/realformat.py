"""Small inputs in the exact formats of the real sources galssl reads, made from the mock sky at test time.

Each writer makes what a user downloads for one example config (config/examples/): the catalogue table with the
real file's column names and types, and for the files surveys the images themselves. Network surveys (Legacy
fits-cutout, SDSS SkyServer/SAS, hips2fits) are served by the mock sky server (galssl.testing.server) from the same
``fixture_sky``, so every catalogue position below holds a mock galaxy. Recorded real headers that the fakes are
compared with live in tests/data/ (with their provenance).
"""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from astropy.coordinates import Angle
from astropy.io import fits
from PIL import Image

from galssl.composite import image_rgb
from galssl.mocksky.catalog import labels_table
from galssl.mocksky.settings import MockSettings
from galssl.mocksky.sky import MockSky
from galssl.providers.base import BandImage
from galssl.providers.http import bands_to_fits

SEED = 42
PATCH = {"ra_center_deg": 185.0, "dec_center_deg": 15.0, "width_deg": 0.08}
"""A small patch: 4 frames of the mock SAS (0.05 deg tiles) hold every object, so the SDSS run renders few."""

GALAXY10_NAMES = ("Disturbed", "Merging", "Round Smooth", "In-between Round Smooth", "Cigar Shaped Smooth",
                  "Barred Spiral", "Unbarred Tight Spiral", "Unbarred Loose Spiral", "Edge-on without Bulge",
                  "Edge-on with Bulge")
"""Galaxy10 DECaLS class names in label order (ans 0-9), as astroNN documents them."""

# GZ DECaLS (gz_decals_volunteers_5.csv) questions with the answers the mock's GZ2 votes can stand in for:
# (real question, real answer) -> (mock GZ2 question, answer). Real columns: <question>_<answer> (count),
# <question>_<answer>_fraction, <question>_<answer>_debiased, <question>_total-votes.
GZ_DECALS_ANSWERS = {
    ("smooth-or-featured", "smooth"): ("smooth_or_featured", "smooth"),
    ("smooth-or-featured", "featured-or-disk"): ("smooth_or_featured", "featured_or_disk"),
    ("smooth-or-featured", "artifact"): ("smooth_or_featured", "star_or_artifact"),
    ("disk-edge-on", "yes"): ("disk_edge_on", "yes"),
    ("disk-edge-on", "no"): ("disk_edge_on", "no"),
    ("has-spiral-arms", "yes"): ("has_spiral_arms", "yes"),
    ("has-spiral-arms", "no"): ("has_spiral_arms", "no"),
    ("how-rounded", "round"): ("how_rounded", "completely_round"),
    ("how-rounded", "in-between"): ("how_rounded", "in_between"),
    ("how-rounded", "cigar-shaped"): ("how_rounded", "cigar_shaped"),
}
# GZ2 Hart et al. (2016) table (gz2_hart16.csv): t<task>_<question>_a<answer>_<answer>_{count,weight,fraction,
# weighted_fraction,debiased,flag}, the task and answer numbers of Willett et al. (2013), Table 2.
GZ2_HART16_ANSWERS = {
    "t01_smooth_or_features_a01_smooth": ("smooth_or_featured", "smooth"),
    "t01_smooth_or_features_a02_features_or_disk": ("smooth_or_featured", "featured_or_disk"),
    "t01_smooth_or_features_a03_star_or_artifact": ("smooth_or_featured", "star_or_artifact"),
    "t02_edgeon_a04_yes": ("disk_edge_on", "yes"),
    "t02_edgeon_a05_no": ("disk_edge_on", "no"),
    "t03_bar_a06_bar": ("bar", "yes"),
    "t03_bar_a07_no_bar": ("bar", "no"),
    "t04_spiral_a08_spiral": ("has_spiral_arms", "yes"),
    "t04_spiral_a09_no_spiral": ("has_spiral_arms", "no"),
    "t07_rounded_a16_completely_round": ("how_rounded", "completely_round"),
    "t07_rounded_a17_in_between": ("how_rounded", "in_between"),
    "t07_rounded_a18_cigar_shaped": ("how_rounded", "cigar_shaped"),
}


def fixture_sky(n_objects: int = 36, seed: int = SEED) -> MockSky:
    """The mock sky every fixture of a test module is drawn from (and its mock server serves)."""
    return MockSky(MockSettings.from_section({"n_objects": n_objects, "patch": PATCH}), seed)


def galaxy_labels(sky: MockSky) -> pd.DataFrame:
    """Position and mock labels of the sky's galaxies (stars and artifacts dropped: real tables hold galaxies)."""
    labels = sky.catalog().merge(labels_table(sky), on="object_id")
    return labels[labels["galaxy10_class"] >= 0].reset_index(drop=True)


def iau_name(ra: float, dec: float) -> str:
    """IAU designation 'JHHMMSS.ss+DDMMSS.s' as in the GZ DECaLS and NSA tables."""
    hms = Angle(ra, "deg").to_string(unit="hour", sep="", precision=2, pad=True)
    dms = Angle(dec, "deg").to_string(unit="deg", sep="", precision=1, pad=True, alwayssign=True)
    return f"J{hms}{dms}"


def _votes(labels: pd.DataFrame, question: str, answer: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, fraction, total) of one mock GZ2 answer."""
    count = labels[f"{question}__{answer}_count"].to_numpy()
    total = labels[f"{question}__total"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(total > 0, count / np.maximum(total, 1), np.nan)
    return count, fraction, total


# -- catalogues of the network surveys ------------------------------------------------------------------------------
def write_gz_decals_volunteers(sky: MockSky, path: Path) -> pd.DataFrame:
    """gz_decals_volunteers_5.csv layout: iauname, ra, dec, redshift, then per answer count/_fraction/_debiased."""
    labels = galaxy_labels(sky)
    table = pd.DataFrame({"iauname": [iau_name(ra, dec) for ra, dec in zip(labels["ra"], labels["dec"])],
                          "ra": labels["ra"].round(7), "dec": labels["dec"].round(7),
                          "redshift": labels["redshift"].astype(np.float64)})
    for (question, answer), (mock_question, mock_answer) in GZ_DECALS_ANSWERS.items():
        count, fraction, total = _votes(labels, mock_question, mock_answer)
        table[f"{question}_total-votes"] = total
        table[f"{question}_{answer}"] = count
        table[f"{question}_{answer}_fraction"] = fraction
        table[f"{question}_{answer}_debiased"] = fraction
    table = table.loc[:, ~table.columns.duplicated()]
    table.to_csv(path, index=False)
    return table


def dr7_objid(index: int) -> int:
    """An SDSS DR7 objID-like 64-bit integer (gz2_hart16 ids are such integers, not strings)."""
    return 587722981741363200 + 37 * index


def write_gz2_hart16(sky: MockSky, path: Path) -> pd.DataFrame:
    """gz2_hart16.csv layout: dr7objid, ra, dec, rastring, decstring, sample, gz2_class, total_classifications,
    total_votes, then per answer _count, _weight, _fraction, _weighted_fraction, _debiased, _flag. No redshift."""
    labels = galaxy_labels(sky)
    smooth = labels["smooth_or_featured__smooth_fraction"].fillna(0).to_numpy()
    table = pd.DataFrame({
        "dr7objid": [dr7_objid(index) for index in range(len(labels))],
        "ra": labels["ra"].round(6), "dec": labels["dec"].round(6),
        "rastring": [Angle(ra, "deg").to_string(unit="hour", sep=":", precision=2, pad=True) for ra in labels["ra"]],
        "decstring": [Angle(dec, "deg").to_string(unit="deg", sep=":", precision=2, pad=True, alwayssign=True)
                      for dec in labels["dec"]],
        "sample": "original",
        "gz2_class": np.where(smooth > 0.5, "Ei", "Sc"),
        "total_classifications": labels["smooth_or_featured__total"].to_numpy(),
        "total_votes": sum(labels[column] for column in labels.columns if column.endswith("__total")).to_numpy()})
    for prefix, (question, answer) in GZ2_HART16_ANSWERS.items():
        count, fraction, _ = _votes(labels, question, answer)
        table[f"{prefix}_count"] = count
        table[f"{prefix}_weight"] = count.astype(np.float64)
        table[f"{prefix}_fraction"] = np.round(fraction, 3)
        table[f"{prefix}_weighted_fraction"] = np.round(fraction, 3)
        table[f"{prefix}_debiased"] = np.round(fraction, 3)
        table[f"{prefix}_flag"] = 0
    table.to_csv(path, index=False)
    return table


def write_position_list(sky: MockSky, path: Path, names: bool = False) -> pd.DataFrame:
    """A plain target list: object_id, ra, dec (and a name column like config/examples/data/nearby_galaxies.csv)."""
    labels = galaxy_labels(sky)
    table = pd.DataFrame({"object_id": labels["object_id"], "ra": labels["ra"].round(7),
                          "dec": labels["dec"].round(7)})
    if names:
        table["name"] = [f"MOCK {index}" for index in range(len(table))]
    table.to_csv(path, index=False)
    return table


def seed_euclid_cache(sky: MockSky, table: pd.DataFrame, cache: Path, size_arcsec: float,
                      pixel_scale_arcsec: float = 0.1) -> None:
    """Per-object cache files as galssl's Euclid provider writes them after its archive calls: one extension per
    band (EXTNAME = band) holding the MER cutout header (TAN WCS, MAGZERO) and nanomaggies (VIS 0.1", NISP 0.3").

    ``size_arcsec`` is 1.6 target grids of ``pixel_scale_arcsec``; each file is named for the request ingest makes
    (the target grid's fetch size), as the provider keys its cache by position, bands and size.
    """
    from galssl.providers.euclid import cache_name
    from galssl.reproject import TargetGrid

    requested = TargetGrid(pixel_scale_arcsec, round(size_arcsec / 1.6 / pixel_scale_arcsec)).fetch_size_arcsec
    positions = dict(zip(table["object_id"], zip(table["ra"], table["dec"])))
    cache.mkdir(parents=True, exist_ok=True)
    for object_id in table["object_id"]:
        images = []
        for cutout in sky.object_cutouts(object_id, "euclid", ["VIS", "Y", "J", "H"], size_arcsec):
            header = cutout.wcs.to_header()
            header["MAGZERO"] = (30.0, "AB zero point of the MER mosaic (ADU)")
            header["BUNIT"] = ("nanomaggy", "converted from ADU with MAGZERO by galssl")
            header["PSFFWHM"] = (round(cutout.psf_fwhm_arcsec, 4), "[arcsec]")
            images.append(BandImage(cutout.band, cutout.image, cutout.wcs, header, "nanomaggy",
                                    cutout.psf_fwhm_arcsec))
        ra, dec = positions[object_id]
        name = cache_name(object_id, float(ra), float(dec), requested, ["VIS", "Y", "J", "H"])
        (cache / name).write_bytes(bands_to_fits(images))


# -- image files ----------------------------------------------------------------------------------------------------
def colour_composite(sky: MockSky, object_id: str, instrument: str, bands: list[str], side_px: int) -> np.ndarray:
    """uint8 (side, side, 3) Lupton composite of one mock galaxy as the surveys' colour JPEGs show it, north up."""
    scale = {"sdss": 0.396, "legacy": 0.262}[instrument]
    cutouts = sky.object_cutouts(object_id, instrument, bands, side_px * scale)
    cube = np.stack([cutout.image[:side_px, :side_px] for cutout in cutouts])
    return np.flipud(image_rgb(cube, bands, survey=instrument))  # FITS rows run south to north, image rows north down


def write_galaxy10_h5(sky: MockSky, path: Path, side_px: int = 64) -> pd.DataFrame:
    """Galaxy10_DECals.h5 layout: images (N, side, side, 3) uint8 (R, G, B = z, r, g), ans uint8, ra, dec, redshift,
    pxscale (float64; 0.262). Redshift NaN for a few galaxies, as in the real file."""
    labels = galaxy_labels(sky)
    images = np.stack([colour_composite(sky, object_id, "legacy", ["g", "r", "z"], side_px)
                       for object_id in labels["object_id"]])
    redshift = labels["redshift"].to_numpy(np.float64).copy()
    redshift[::9] = np.nan
    with h5py.File(path, "w") as h5:
        h5.create_dataset("images", data=images, dtype=np.uint8)
        h5.create_dataset("ans", data=labels["galaxy10_class"].to_numpy(np.uint8))
        h5.create_dataset("ra", data=labels["ra"].to_numpy(np.float64))
        h5.create_dataset("dec", data=labels["dec"].to_numpy(np.float64))
        h5.create_dataset("redshift", data=redshift)
        h5.create_dataset("pxscale", data=np.full(len(labels), 0.262))
    return labels.assign(redshift=redshift)


BAD_JPEGS = {"bad_truncated": "truncated", "bad_grey": "greyscale"}
"""Deliberately bad files of the JPEG folder: object id -> what the reader must say about it."""


def write_jpeg_folder(sky: MockSky, folder: Path, table_path: Path, side_px: int = 64) -> pd.DataFrame:
    """A folder of SDSS gri colour JPEGs (<object_id>.jpg; R, G, B = i, r, g, one galaxy centred, 8-bit) and a CSV
    of object_id and one integer class column, nothing else. Also one CMYK JPEG (readable) and the bad files of
    ``BAD_JPEGS``: a truncated JPEG and a greyscale JPEG (the survey has three colour bands)."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = galaxy_labels(sky)
    for object_id in labels["object_id"]:
        Image.fromarray(colour_composite(sky, object_id, "sdss", ["g", "r", "i"], side_px)).save(
            folder / f"{object_id}.jpg", quality=90)
    cmyk_id = labels["object_id"].iloc[0]
    with Image.open(folder / f"{cmyk_id}.jpg") as image:
        image.convert("CMYK").save(folder / f"{cmyk_id}.jpg", quality=90)
    body = (folder / f"{labels['object_id'].iloc[1]}.jpg").read_bytes()
    (folder / "bad_truncated.jpg").write_bytes(body[: len(body) // 2])
    with Image.open(folder / f"{labels['object_id'].iloc[2]}.jpg") as image:
        image.convert("L").save(folder / "bad_grey.jpg", quality=90)
    table = pd.DataFrame({"object_id": list(labels["object_id"]) + list(BAD_JPEGS),
                          "class": list(labels["galaxy10_class"].astype(int)) + [0, 1]})
    table.to_csv(table_path, index=False)
    return table


def write_png_folder(sky: MockSky, folder: Path, table_path: Path, side_px: int = 48) -> pd.DataFrame:
    """16-bit greyscale PNGs (<object_id>.png) of one band (SDSS r, asinh-stretched onto 0-65535, north up), as
    exported from a science image, and a CSV of object ids only: nothing labelled."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = galaxy_labels(sky)
    for object_id in labels["object_id"]:
        image = sky.object_cutouts(object_id, "sdss", ["r"], side_px * 0.396)[0].image[:side_px, :side_px]
        sigma = 1.4826 * float(np.median(np.abs(image - np.median(image)))) or 1.0
        stretched = np.arcsinh(np.clip(image, 0, None) / (3 * sigma)) / math.asinh(200.0)
        pixels = np.flipud(np.clip(stretched, 0, 1) * 65535).round().astype(np.uint16)
        Image.fromarray(pixels).save(folder / f"{object_id}.png")
    table = pd.DataFrame({"object_id": labels["object_id"]})
    table.to_csv(table_path, index=False)
    return table


def fits_cards(path: Path) -> list[str]:
    """Keywords of a recorded header in tests/data (comment lines starting with '#' skipped)."""
    return [line[:8].strip() for line in path.read_text().splitlines() if line and not line.startswith("#")]


def primary_header(body: bytes) -> fits.Header:
    """The primary header of a FITS body."""
    return fits.Header.fromstring(body[: body.index(b"END" + b" " * 77) + 80])
