"""Colours and fluxes: redshifted SED templates through real filter curves, with an astropy cosmology.

Magnitudes come from GalSim's CWW templates (``galsim.SED``) integrated through the survey filter curves kept in
``resources/filters`` (``galsim.Bandpass`` with an AB zero point). An object's rest-frame absolute magnitude is set
in SDSS r; its apparent magnitude in any band follows from the distance modulus plus the template's K-correction,
so redshift is recoverable from colour and size the way it is in real data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import galsim
import numpy as np
from astropy import units as u
from astropy.cosmology import FlatLambdaCDM
from astropy.table import Table

from galssl.instruments import ZEROPOINT_NMGY, Instrument
from galssl.resources import resource_path

SED_TEMPLATES: dict[str, str] = {
    "E": "CWW_E_ext.sed",
    "Sbc": "CWW_Sbc_ext.sed",
    "Scd": "CWW_Scd_ext.sed",
    "Im": "CWW_Im_ext.sed",
}
"""Coleman, Wu & Weedman (1980) templates, extended (shipped with GalSim): elliptical to irregular."""

STAR_TEMPERATURES_K: tuple[float, ...] = (3500.0, 4500.0, 5500.0, 6500.0, 8000.0)
"""Blackbody temperatures standing in for M to A stars."""

REFERENCE_FILTER = "sdss2010-r"
"""Rest-frame band in which absolute magnitudes are defined."""

_Z_STEP = 0.0025


def load_bandpass(filter_name: str) -> galsim.Bandpass:
    """Read a filter curve (speclite ECSV, wavelength in Angstrom) as an AB-calibrated GalSim bandpass."""
    table = Table.read(resource_path("filters", f"{filter_name}.ecsv"))
    wave_nm = np.asarray(table["wavelength"].to(u.nm).value, dtype=float)
    response = np.clip(np.asarray(table["response"], dtype=float), 0.0, None)
    lookup = galsim.LookupTable(wave_nm, response, interpolant="linear")
    return galsim.Bandpass(lookup, wave_type="nm").withZeropoint("AB")


def _blackbody_sed(temperature_k: float) -> galsim.SED:
    h, c, k = 6.62607015e-34, 2.99792458e8, 1.380649e-23

    def planck(wave_nm: np.ndarray) -> np.ndarray:
        wave_m = np.asarray(wave_nm) * 1e-9
        return 1.0 / wave_m**5 / np.expm1(h * c / (wave_m * k * temperature_k))

    return galsim.SED(galsim.LookupTable(np.linspace(90, 2500, 2000), planck(np.linspace(90, 2500, 2000))),
                      wave_type="nm", flux_type="flambda")


@dataclass
class Photometry:
    """Apparent magnitudes of templates at any redshift, tabulated once per instrument for speed."""

    instrument: Instrument
    z_max: float = 3.0
    H0: float = 70.0
    Om0: float = 0.3
    _z_grid: np.ndarray = field(init=False, repr=False)
    _kcorr: dict[tuple[str, str], np.ndarray] = field(init=False, repr=False)
    _star_colour: dict[tuple[int, str], float] = field(init=False, repr=False)
    _distance_modulus: np.ndarray = field(init=False, repr=False)
    _effective_wavelength: dict[str, float] = field(init=False, repr=False)
    _kpc_per_arcsec: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.cosmology = FlatLambdaCDM(H0=self.H0, Om0=self.Om0)
        self._z_grid = np.arange(0.0, self.z_max + 2 * _Z_STEP, _Z_STEP)
        z_safe = np.maximum(self._z_grid, 1e-4)
        self._distance_modulus = self.cosmology.distmod(z_safe).value
        self._kpc_per_arcsec = (self.cosmology.angular_diameter_distance(z_safe).to(u.kpc).value
                                * np.pi / (180 * 3600))
        reference = load_bandpass(REFERENCE_FILTER)
        bandpasses = {name: load_bandpass(spec.filter_name) for name, spec in self.instrument.bands.items()}
        self._effective_wavelength = {name: float(bp.effective_wavelength) for name, bp in bandpasses.items()}
        self._kcorr = {}
        for sed_name, filename in SED_TEMPLATES.items():
            sed = galsim.SED(filename, wave_type="Ang", flux_type="flambda")
            rest_reference = sed.calculateMagnitude(reference)
            for band, bandpass in bandpasses.items():
                # K_QR(z) = m_Q(template at z) - M_R(template at rest) + 2.5 log10(1+z) (bandwidth dimming)
                mags = np.array([sed.atRedshift(z).calculateMagnitude(bandpass) for z in self._z_grid])
                self._kcorr[(sed_name, band)] = mags - rest_reference + 2.5 * np.log10(1 + self._z_grid)
        self._star_colour = {}
        for index, temperature in enumerate(STAR_TEMPERATURES_K):
            sed = _blackbody_sed(temperature)
            ref = sed.calculateMagnitude(reference)
            for band, bandpass in bandpasses.items():
                self._star_colour[(index, band)] = sed.calculateMagnitude(bandpass) - ref

    def effective_wavelength_nm(self, band: str) -> float:
        """Throughput-weighted mean wavelength of a band (nm)."""
        return self._effective_wavelength[band]

    def distance_modulus(self, z: float) -> float:
        """Distance modulus (mag) at redshift z."""
        return float(np.interp(z, self._z_grid, self._distance_modulus))

    def kpc_per_arcsec(self, z: float) -> float:
        """Proper transverse size (kpc) of one arcsec at redshift z."""
        return float(np.interp(z, self._z_grid, self._kpc_per_arcsec))

    def apparent_mag(self, sed_name: str, band: str, absolute_mag_r: float, z: float) -> float:
        """AB magnitude in ``band`` of a template with rest-frame SDSS-r absolute magnitude at redshift z."""
        kcorr = float(np.interp(z, self._z_grid, self._kcorr[(sed_name, band)]))
        return absolute_mag_r + self.distance_modulus(z) + kcorr

    def star_mag(self, temperature_index: int, band: str, mag_r: float) -> float:
        """AB magnitude in ``band`` of a blackbody star with SDSS-r magnitude ``mag_r``."""
        return mag_r + self._star_colour[(temperature_index, band)]


def mag_to_nmgy(mag: float | np.ndarray) -> float | np.ndarray:
    """AB magnitude to flux in nanomaggies."""
    return 10 ** (-0.4 * (np.asarray(mag) - ZEROPOINT_NMGY))
