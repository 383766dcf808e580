"""FITS output of mock cutouts, with the header keys a survey service provides."""

from __future__ import annotations

import os

import numpy as np
from astropy.io import fits

from galssl import __version__
from galssl.instruments import ZEROPOINT_NMGY
from galssl.io import atomic_path
from galssl.mocksky.sky import Cutout


def cutout_header(cutout: Cutout, survey: str, object_id: str, seed: int) -> fits.Header:
    """WCS plus provenance: survey, band, unit, zero point, PSF FWHM, artifact flag."""
    header = cutout.wcs.to_header()
    header["SURVEY"] = (survey, "mock instrument imitated")
    header["BAND"] = (cutout.band, "filter band")
    header["FILTER"] = (cutout.band, "filter band")
    header["BUNIT"] = ("nanomaggy", "flux per pixel, 1 nmgy = AB 22.5")
    header["MAGZP"] = (ZEROPOINT_NMGY, "AB mag = MAGZP - 2.5 log10(flux)")
    header["PSFFWHM"] = (round(float(cutout.psf_fwhm_arcsec), 4), "[arcsec] PSF FWHM of this image")
    header["OBJECT"] = (object_id, "catalogue object_id")
    header["ARTIFACT"] = (cutout.artifact or "none", "artifact injected in this image")
    header["ORIGIN"] = (f"galssl {__version__} mock sky", "software")
    header["MOCKSEED"] = (seed, "mock sky seed")
    return header


def write_cutouts(path: str | os.PathLike, cutouts: list[Cutout], survey: str, object_id: str, seed: int) -> None:
    """Write one FITS file (atomically): an empty primary HDU and one image extension per band (EXTNAME=band)."""
    primary = fits.PrimaryHDU()
    primary.header["OBJECT"] = object_id
    primary.header["SURVEY"] = survey
    hdus = [primary] + [fits.ImageHDU(np.asarray(c.image, dtype=np.float32),
                                      header=cutout_header(c, survey, object_id, seed), name=c.band) for c in cutouts]
    with atomic_path(path, suffix=".tmp.fits") as tmp:
        fits.HDUList(hdus).writeto(tmp, overwrite=True)
