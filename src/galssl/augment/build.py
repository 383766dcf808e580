"""From the ``pretrain.augment`` config section to one :class:`Compose`: band wavelengths, extinction, the pipeline.

The section itself (keys, defaults, ranges) is parsed by :class:`galssl.augment.settings.AugmentSettings`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import cache, lru_cache
from typing import Any

import astropy.units as u
import numpy as np
import torch
import yaml
from astropy.table import Table

from galssl.augment.base import as_batch
from galssl.augment.geometry import JitterCrop, RandomRotation, SizeRescale
from galssl.augment.photometry import PSFBlur, Reddening, SkyNoise
from galssl.augment.settings import AugmentSettings
from galssl.display import FILTER_WAVELENGTH_NM, augmentations_off, has_plain_channels, manifest_is_display
from galssl.errors import ConfigError
from galssl.instruments import instrument_names, load_instrument
from galssl.resources import resource_path

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

__all__ = ["AugmentSettings", "Compose", "band_wavelengths_nm", "build_augmentations", "effective_wavelength_nm",
           "extinction_coefficients", "manifest_sky_mad"]


class Compose:
    """Apply augmentations in order, all drawing from one generator (so one seed fixes the whole view)."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        as_batch(images)  # fail early on a wrong shape
        for transform in self.transforms:
            images = transform(images, generator)
        return images

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


@cache
def effective_wavelength_nm(filter_name: str) -> float:
    """Throughput-weighted mean wavelength ∫λT dλ / ∫T dλ (nm) of resources/filters/<filter_name>.ecsv."""
    table = Table.read(resource_path("filters", f"{filter_name}.ecsv"))
    wavelength = np.asarray(table["wavelength"].to(u.nm).value, dtype=float)  # files differ: Å or nm
    response = np.clip(np.asarray(table["response"], dtype=float), 0.0, None)
    return float(np.trapezoid(wavelength * response, wavelength) / np.trapezoid(response, wavelength))


def band_wavelengths_nm(survey: str, bands: Sequence[str]) -> list[float]:
    """Effective wavelength of each band, via the band -> filter map of resources/mock/instruments.yaml."""
    if survey not in instrument_names():
        raise ConfigError(f"unknown survey/instrument {survey!r} for psf_blur band wavelengths "
                          f"(allowed: {', '.join(instrument_names())}; see resources/mock/instruments.yaml)")
    instrument = load_instrument(survey)
    return [effective_wavelength_nm(instrument.band(band).filter_name) for band in bands]


@lru_cache(maxsize=1)
def _extinction_table() -> dict[str, Any]:
    with open(resource_path("extinction.yaml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def extinction_coefficients(survey: str, bands: Sequence[str]) -> list[float]:
    """R_b = A_b / E(B-V) for each band of a survey (resources/extinction.yaml)."""
    table = _extinction_table()
    family = table["families"].get(survey)
    if family is None:
        raise ConfigError(f"no extinction coefficients for survey/instrument {survey!r} (known: "
                          f"{', '.join(table['families'])}): add it under `families` in resources/extinction.yaml")
    known = table["coefficients"][family]
    for band in bands:
        if band not in known:
            raise ConfigError(f"no extinction coefficient for band {band!r} of {survey} (filter family {family}; "
                              f"known: {', '.join(known)}): add R_{band} = A/E(B-V) to resources/extinction.yaml")
    return [float(known[band]) for band in bands]


def manifest_sky_mad(manifest: Mapping[str, Any], bands: Sequence[str]) -> list[float]:
    """Per-band sky MAD (nanomaggies per pixel) from an ingest manifest's ``band_statistics``."""
    statistics = manifest.get("band_statistics") or {}
    values = []
    for band in bands:
        sky_mad = (statistics.get(band) or {}).get("sky_mad")
        if not isinstance(sky_mad, (int, float)) or not math.isfinite(sky_mad) or sky_mad < 0:
            raise ConfigError(f"the ingest manifest has no usable band_statistics.{band}.sky_mad (got {sky_mad!r}), "
                              "needed by pretrain.augment.noise: re-run ingest, or set noise: null")
        values.append(float(sky_mad))
    return values


def display_wavelengths_nm(survey: str, bands: Sequence[str]) -> tuple[list[float], float | None]:
    """(wavelength per channel, reference wavelength) for the PSF blur of display images: the instrument's filters
    when it has every band, else approximate filter wavelengths; plain channels ([red, green, blue], [grey]) get
    one wavelength, so every channel is blurred alike."""
    if has_plain_channels(bands):
        return [1.0] * len(bands), 1.0
    if survey in instrument_names() and all(band in load_instrument(survey).bands for band in bands):
        wavelengths = band_wavelengths_nm(survey, bands)
        reference = load_instrument(survey).reference_band
        return wavelengths, wavelengths[list(bands).index(reference)] if reference in bands else None
    return [FILTER_WAVELENGTH_NM[band] for band in bands], None


def build_augmentations(config: Mapping[str, Any] | None, bands: Sequence[str], manifest: Mapping[str, Any],
                        survey: str) -> Compose:
    """The training-view pipeline for one survey, in the order light meets them.

    Intrinsic orientation and size first (rotation, rescale, on the full cutout so the crop trims their empty
    corners), then foreground dust (reddening), then the PSF (blur, on the full cutout so the crop edge sees real
    neighbours), then the crop, and sky noise last (independent per output pixel). ``survey`` is the instrument
    name (sdss, legacy, euclid) that fixes the filters; ``manifest`` is the ingest manifest (for ``sky_mad``).
    Display images (PNG/JPEG values, not fluxes) get no reddening and no sky-MAD noise: the manifest's
    ``augmentations_off`` says so (see :func:`galssl.display.augmentations_off`).
    """
    settings = AugmentSettings.from_section(config)
    off = augmentations_off(dict(manifest))
    settings = replace(settings, reddening_ebv=None if "reddening" in off else settings.reddening_ebv,
                       noise_scale=None if "noise" in off else settings.noise_scale)
    bands = list(bands)
    transforms: list[Transform] = []
    if settings.rotation or settings.flip:
        transforms.append(RandomRotation(rotate=settings.rotation, flip=settings.flip))
    if settings.rescale is not None:
        transforms.append(SizeRescale(settings.rescale))
    if settings.reddening_ebv is not None:
        transforms.append(Reddening(extinction_coefficients(survey, bands), settings.reddening_ebv))
    if settings.psf_sigma_px is not None and manifest_is_display(dict(manifest)):
        wavelengths, reference_nm = display_wavelengths_nm(survey, bands)
        transforms.append(PSFBlur(wavelengths, settings.psf_sigma_px, reference_nm, settings.psf_wavelength_exponent))
    elif settings.psf_sigma_px is not None:
        wavelengths = band_wavelengths_nm(survey, bands)
        reference = load_instrument(survey).reference_band
        reference_nm = wavelengths[bands.index(reference)] if reference in bands else None
        transforms.append(PSFBlur(wavelengths, settings.psf_sigma_px, reference_nm, settings.psf_wavelength_exponent))
    if settings.crop_size is not None:
        transforms.append(JitterCrop(settings.crop_size, settings.max_shift_px))
    if settings.noise_scale is not None:
        transforms.append(SkyNoise(manifest_sky_mad(manifest, bands), settings.noise_scale))
    return Compose(transforms)
