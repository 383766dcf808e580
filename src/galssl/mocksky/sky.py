"""The mock sky as one object: target catalogue, field population, and cutout rendering for any WCS."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from astropy.wcs import WCS

from galssl.instruments import Instrument, load_instrument
from galssl.mocksky import artifacts
from galssl.mocksky.photometry import SED_TEMPLATES, STAR_TEMPERATURES_K, Photometry, mag_to_nmgy
from galssl.mocksky.render import (
    Grid,
    add_noise,
    body_templates,
    convolve_and_bin,
    gnomonic_offsets_arcsec,
    make_wcs,
    paint_band,
)
from galssl.mocksky.settings import MockSettings
from galssl.mocksky.structure import Body, Component, Sersic
from galssl.mocksky.truth import MockObject, build_object, object_rng

FIELD_CELL_ARCMIN = 1.0
SPIKE_MAG_LIMIT = 13.5


@dataclass
class Cutout:
    """One rendered band: image in nanomaggies per pixel, its WCS and provenance for the FITS header."""

    band: str
    image: np.ndarray
    wcs: WCS
    psf_fwhm_arcsec: float
    artifact: str


class MockSky:
    """Deterministic synthetic sky from (settings, seed); see ``galssl.mocksky``."""

    def __init__(self, settings: MockSettings, seed: int) -> None:
        self.settings = settings
        self.seed = int(seed)
        self._photometry: dict[str, Photometry] = {}
        self.object_ids = [f"mock{index:06d}" for index in range(settings.n_objects)]
        self._index = {object_id: index for index, object_id in enumerate(self.object_ids)}
        self.ra, self.dec = self._positions()

    # -- catalogue ---------------------------------------------------------------------------------------------
    def _positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Uniform in area over the patch: RA uniform, sin(Dec) uniform."""
        s = self.settings
        half = s.width_deg / 2
        dec_lo, dec_hi = max(-90.0, s.dec_center_deg - half), min(90.0, s.dec_center_deg + half)
        ra_half = min(180.0, half / max(math.cos(math.radians(s.dec_center_deg)), 1e-3))
        ra = np.empty(s.n_objects)
        dec = np.empty(s.n_objects)
        for index, object_id in enumerate(self.object_ids):
            rng = object_rng(self.seed, f"position:{object_id}")
            ra[index] = (s.ra_center_deg + rng.uniform(-ra_half, ra_half)) % 360.0
            sin_dec = rng.uniform(math.sin(math.radians(dec_lo)), math.sin(math.radians(dec_hi)))
            dec[index] = math.degrees(math.asin(sin_dec))
        return ra, dec

    def photometry(self, instrument: str) -> Photometry:
        """Magnitude tables for one instrument (built once per MockSky)."""
        if instrument not in self._photometry:
            self._photometry[instrument] = Photometry(load_instrument(instrument), z_max=max(self.settings.z_max, 1.2),
                                                      H0=self.settings.H0, Om0=self.settings.Om0)
        return self._photometry[instrument]

    def build(self, object_id: str, force_class: str | None = None, force_z: float | None = None) -> MockObject:
        """Truth and bodies of one object."""
        s = self.settings
        return build_object(self.seed, object_id, s.class_probabilities(), s.star_fraction, s.artifact_fraction,
                            s.z_min, s.z_max, self.photometry(s.labels_instrument), force_class, force_z)

    def position(self, object_id: str) -> tuple[float, float]:
        index = self._index[object_id]
        return float(self.ra[index]), float(self.dec[index])

    def catalog(self) -> pd.DataFrame:
        """The target catalogue as a survey user would have it: object_id, ra, dec (degrees, ICRS)."""
        return pd.DataFrame({"object_id": self.object_ids, "ra": self.ra, "dec": self.dec})

    # -- sources in a field -----------------------------------------------------------------------------------
    def _field_bodies(self, ra0: float, dec0: float, radius_arcsec: float,
                      instrument: str) -> list[tuple[float, float, Body]]:
        """Faint field galaxies and stars (not in the catalogue) generated per 1-arcmin sky cell."""
        photometry = self.photometry(instrument)
        reference = load_instrument(instrument).reference_band
        cos_dec = max(math.cos(math.radians(dec0)), 1e-3)
        reach = radius_arcsec / 60.0 + FIELD_CELL_ARCMIN
        rows = range(math.floor((dec0 * 60 - reach) / FIELD_CELL_ARCMIN),
                     math.floor((dec0 * 60 + reach) / FIELD_CELL_ARCMIN) + 1)
        cols = range(math.floor((ra0 * 60 * cos_dec - reach) / FIELD_CELL_ARCMIN),
                     math.floor((ra0 * 60 * cos_dec + reach) / FIELD_CELL_ARCMIN) + 1)
        bodies = []
        for row in rows:
            for col in cols:
                cell = object_rng(self.seed, f"field:{row}:{col}")
                n_sources = cell.poisson(self.settings.field_density_arcmin2 * FIELD_CELL_ARCMIN**2)
                decs = (row + cell.uniform(size=n_sources)) * FIELD_CELL_ARCMIN / 60.0
                ras = (col + cell.uniform(size=n_sources)) * FIELD_CELL_ARCMIN / 60.0 / cos_dec
                for k, (ra, dec) in enumerate(zip(ras, decs)):
                    xi, eta = gnomonic_offsets_arcsec(ra, dec, ra0, dec0)
                    if math.hypot(xi, eta) > radius_arcsec + 12.0:
                        continue
                    rng = object_rng(self.seed, f"field:{row}:{col}:{k}")
                    if rng.uniform() < 0.3:
                        body = Body(0.0, 0.0, 0.0, 1.0, float("nan"), 0.0, (), star_mag_r=rng.uniform(16.0, 23.5),
                                    star_temperature_index=int(rng.integers(len(STAR_TEMPERATURES_K))))
                    else:
                        # Euclidean-like counts N(<m) ∝ 10^(0.4 m) between r = 19 and 24 (inverse-CDF draw).
                        mag = 2.5 * math.log10(10 ** (0.4 * 19) + rng.uniform() * (10 ** (0.4 * 24) - 10 ** (0.4 * 19)))
                        z = rng.uniform(0.15, 1.0)
                        sed = str(rng.choice(list(SED_TEMPLATES)))
                        absolute = mag - photometry.apparent_mag(sed, reference, 0.0, z)
                        shape = Sersic(rng.uniform(0.8, 4.0), rng.uniform(0.25, 1.2))
                        body = Body(0.0, 0.0, rng.uniform(0, 180), rng.uniform(0.3, 1.0), absolute, z,
                                    (Component(shape, sed, 1.0),))
                    bodies.append((float(xi), float(eta), body))
        return bodies

    def _scene(self, ra0: float, dec0: float, radius_arcsec: float, instrument: str) -> list[tuple[float, float, Body]]:
        """All catalogue bodies and field sources within ``radius_arcsec`` (plus their extent) of (ra0, dec0)."""
        cos_sep = (np.sin(np.radians(self.dec)) * math.sin(math.radians(dec0)) +
                   np.cos(np.radians(self.dec)) * math.cos(math.radians(dec0)) * np.cos(np.radians(self.ra - ra0)))
        near = np.flatnonzero(cos_sep > math.cos(math.radians((radius_arcsec + 120.0) / 3600.0)))
        scene = []
        for index in near:
            xi, eta = gnomonic_offsets_arcsec(self.ra[index], self.dec[index], ra0, dec0)
            for body in self.build(self.object_ids[index]).bodies:
                scene.append((float(xi), float(eta), body))
        return scene + self._field_bodies(ra0, dec0, radius_arcsec, instrument)

    # -- rendering ---------------------------------------------------------------------------------------------
    def render(self, wcs: WCS, shape: tuple[int, int], instrument: Instrument, bands: list[str],
               psf_fwhm_arcsec: dict[str, float], noise_rngs: dict[str, np.random.Generator],
               scene: list[tuple[float, float, Body]] | None = None) -> dict[str, np.ndarray]:
        """Render the sky through one TAN ``wcs`` (CRVAL = tangent point) in bands sharing that pixel grid.

        Components are evaluated once and reused for every band; each band then gets its own fluxes (SEDs),
        dust attenuation, PSF, noise and saturation.
        """
        scales = {instrument.band(band).pixel_scale_arcsec for band in bands}
        if len(scales) != 1:
            raise ValueError(f"bands {bands} of {instrument.name} have different pixel scales; render them separately")
        scale = scales.pop()
        ra0, dec0 = (float(v) for v in wcs.wcs.crval)
        margin = int(math.ceil(3 * max(psf_fwhm_arcsec.values()) / scale)) + 2
        grid = Grid.from_wcs(wcs, shape, margin=margin)
        if scene is None:
            scene = self._scene(ra0, dec0, 0.75 * max(shape) * scale, instrument.name)
        photometry = self.photometry(instrument.name)
        entries = [body_templates(grid, body, xi, eta) for xi, eta, body in scene]
        images = {}
        for band in bands:
            spec = instrument.band(band)
            padded = np.zeros(grid.padded_shape)
            for entry in entries:
                paint_band(padded, entry, band, photometry)
            image = convolve_and_bin(padded, grid, psf_fwhm_arcsec[band], instrument.psf_beta)
            for xi, eta, body in scene:
                if body.is_star and body.star_mag_r < SPIKE_MAG_LIMIT:
                    col, row = grid.sub_pixel_of(xi + body.dx_arcsec, eta + body.dy_arcsec)
                    flux = float(mag_to_nmgy(photometry.star_mag(body.star_temperature_index, band, body.star_mag_r)))
                    artifacts.add_spikes(image, (col + 0.5) / grid.oversample - 0.5 - grid.margin,
                                         (row + 0.5) / grid.oversample - 0.5 - grid.margin, flux,
                                         psf_fwhm_arcsec[band], spec)
            image = add_noise(image, spec, noise_rngs[band])
            artifacts.saturate(image, spec.saturation_nmgy)
            images[band] = image
        return images

    def object_cutouts(self, object_id: str, instrument_name: str, bands: list[str],
                       size_arcsec: float) -> list[Cutout]:
        """Native-pixel cutouts of one catalogue object in each band, as a survey service would deliver them.

        The WCS carries a random rotation and sub-pixel offset (shared by bands of one pixel scale, as on one
        detector); the PSF FWHM varies object to object (one seeing factor for all bands). Artifacts follow
        ``mock.artifact_rate``.
        """
        instrument = load_instrument(instrument_name)
        ra, dec = self.position(object_id)
        mock_object = self.build(object_id)
        geometry = object_rng(self.seed, f"wcs:{instrument_name}:{object_id}")
        rotation = geometry.uniform(0, 360)
        seeing = 10 ** geometry.normal(0, instrument.psf_fwhm_scatter_dex)
        offset = tuple(geometry.uniform(-0.5, 0.5, 2))
        scene = self._scene(ra, dec, size_arcsec * 0.75, instrument_name)
        by_scale: dict[float, list[str]] = {}
        for band in bands:
            by_scale.setdefault(instrument.band(band).pixel_scale_arcsec, []).append(band)
        rendered: dict[str, tuple[np.ndarray, WCS, float]] = {}
        for scale, group in by_scale.items():
            n = int(math.ceil(size_arcsec / scale))
            wcs = make_wcs(ra, dec, scale, (n, n), rotation, offset)
            fwhm = {band: instrument.band(band).psf_fwhm_arcsec * seeing for band in group}
            rngs = {band: object_rng(self.seed, f"noise:{instrument_name}:{band}:{object_id}") for band in group}
            for band, image in self.render(wcs, (n, n), instrument, group, fwhm, rngs, scene).items():
                rendered[band] = (image, wcs, fwhm[band])
        cutouts = []
        for band in bands:
            image, wcs, fwhm = rendered[band]
            kind = self._add_image_artifacts(image, mock_object, instrument_name, band, instrument.band(band), fwhm)
            cutouts.append(Cutout(band, image.astype(np.float32), wcs, fwhm, kind))
        return cutouts

    def _add_image_artifacts(self, image: np.ndarray, mock_object: MockObject, instrument_name: str, band: str,
                             spec, fwhm: float) -> str:
        """Cosmic rays and satellite trails: always for artifact objects, at ``artifact_rate`` for the rest."""
        rng = object_rng(self.seed, f"artifact:{instrument_name}:{band}:{mock_object.object_id}")
        centre = ((image.shape[1] - 1) / 2, (image.shape[0] - 1) / 2)
        if mock_object.artifact_kind == "satellite_trail":
            artifacts.add_satellite_trail(image, rng, spec, fwhm, through_centre=True)
            return "satellite_trail"
        if mock_object.artifact_kind == "cosmic_ray" and rng.uniform() < 0.6:
            artifacts.add_cosmic_rays(image, rng, spec, int(rng.integers(6, 20)), near=centre)
            return "cosmic_ray"
        if mock_object.artifact_kind is None and rng.uniform() < self.settings.artifact_rate:
            if rng.uniform() < 0.7:
                artifacts.add_cosmic_rays(image, rng, spec, int(rng.integers(1, 5)))
                return "cosmic_ray"
            artifacts.add_satellite_trail(image, rng, spec, fwhm)
            return "satellite_trail"
        return mock_object.artifact_kind or ""
