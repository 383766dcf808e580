"""Imaging properties of the surveys galssl knows (resources/mock/instruments.yaml): bands, their wavelengths, PSF,
pixel scale and depth. The augmentations read them for real and mock data alike; the mock sky renders with them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import yaml

from galssl.errors import ConfigError
from galssl.resources import resource_path

ZEROPOINT_NMGY = 22.5
"""AB magnitude of 1 nanomaggy: every mock image is in nanomaggies per pixel, as SDSS and Legacy Survey data."""


@dataclass(frozen=True)
class BandSpec:
    """One band of one instrument; angles in arcsec, magnitudes AB."""

    name: str
    filter_name: str
    pixel_scale_arcsec: float
    psf_fwhm_arcsec: float
    depth_mag: float
    sky_mag_arcsec2: float
    read_noise_e: float
    saturation_nmgy: float

    @property
    def sky_nmgy_per_pixel(self) -> float:
        """Sky level per pixel in nanomaggies."""
        return 10 ** (-0.4 * (self.sky_mag_arcsec2 - ZEROPOINT_NMGY)) * self.pixel_scale_arcsec**2

    def sky_sigma_nmgy(self, psf_fwhm_arcsec: float | None = None) -> float:
        """Per-pixel background noise (nanomaggies) that makes a point source 5 sigma at ``depth_mag``.

        Uses the noise-equivalent area of a Gaussian PSF, 4 pi sigma^2 (sky-limited optimal photometry).
        """
        fwhm = self.psf_fwhm_arcsec if psf_fwhm_arcsec is None else psf_fwhm_arcsec
        sigma_pix = fwhm / 2.3548 / self.pixel_scale_arcsec
        n_eff = max(4.0 * math.pi * sigma_pix**2, 1.0)
        flux_5sigma = 10 ** (-0.4 * (self.depth_mag - ZEROPOINT_NMGY))
        return flux_5sigma / (5.0 * math.sqrt(n_eff))

    def gain_e_per_nmgy(self) -> float:
        """Electrons per nanomaggy such that sky Poisson noise plus read noise equals ``sky_sigma_nmgy``.

        Solves sigma^2 g^2 - S g - rn^2 = 0 for g (S: sky per pixel in nanomaggies, rn: read noise).
        """
        sigma = self.sky_sigma_nmgy()
        sky = self.sky_nmgy_per_pixel
        rn = self.read_noise_e
        return (sky + math.sqrt(sky**2 + 4 * sigma**2 * rn**2)) / (2 * sigma**2)


@dataclass(frozen=True)
class Instrument:
    """A survey camera: its bands, PSF shape and variation."""

    name: str
    reference_band: str
    psf_beta: float
    psf_fwhm_scatter_dex: float
    bands: dict[str, BandSpec]

    def band(self, name: str) -> BandSpec:
        """Return one band, or a ConfigError naming the allowed bands."""
        try:
            return self.bands[name]
        except KeyError:
            raise ConfigError(f"instrument {self.name} has no band {name!r} "
                              f"(allowed: {', '.join(self.bands)})") from None


@cache
def load_instrument(name: str) -> Instrument:
    """Read one instrument from resources/mock/instruments.yaml."""
    with open(resource_path("mock", "instruments.yaml"), encoding="utf-8") as handle:
        table = yaml.safe_load(handle)
    if name not in table:
        raise ConfigError(f"unknown mock instrument {name!r} (allowed: {', '.join(table)})")
    entry = table[name]
    bands = {
        band: BandSpec(
            name=band, filter_name=spec["filter"], pixel_scale_arcsec=float(spec["pixel_scale_arcsec"]),
            psf_fwhm_arcsec=float(spec["psf_fwhm_arcsec"]), depth_mag=float(spec["depth_mag"]),
            sky_mag_arcsec2=float(spec["sky_mag_arcsec2"]), read_noise_e=float(spec["read_noise_e"]),
            saturation_nmgy=float(spec["saturation_nmgy"]),
        )
        for band, spec in entry["bands"].items()
    }
    return Instrument(name=name, reference_band=entry["reference_band"], psf_beta=float(entry["psf_beta"]),
                      psf_fwhm_scatter_dex=float(entry["psf_fwhm_scatter_dex"]), bands=bands)


def instrument_names() -> list[str]:
    """Names of all mock instruments."""
    with open(resource_path("mock", "instruments.yaml"), encoding="utf-8") as handle:
        return list(yaml.safe_load(handle))
