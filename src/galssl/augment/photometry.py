"""Photometric augmentations: observing conditions (depth, seeing) and Galactic dust — what changes how a galaxy is
seen, not what it is. Each acts band by band with physically scaled parameters (Hayat et al. 2021, ApJL 911, L33).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from galssl.augment.base import RandomTransform, as_batch, check_range, per_image, restore, uniform


def _per_band(values: Sequence[float], what: str) -> torch.Tensor:
    tensor = torch.as_tensor([float(v) for v in values], dtype=torch.float32)
    if tensor.ndim != 1 or len(tensor) == 0 or not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{what} must be one finite number per band (got {list(values)})")
    return tensor


def _check_bands(batch: torch.Tensor, per_band: torch.Tensor, what: str) -> torch.Tensor:
    if batch.shape[1] != len(per_band):
        raise ValueError(f"{what} has {len(per_band)} bands but the images have {batch.shape[1]}")
    return per_band.to(device=batch.device, dtype=batch.dtype)


class SkyNoise(RandomTransform):
    """Add Gaussian sky noise of standard deviation ``s × sky_mad_b`` in band b, one s ~ U(scale_range) per image.

    Physical meaning: the same galaxy observed in a shallower exposure or brighter sky. ``sky_mad`` is the MAD-based
    sky sigma of each band (nanomaggies per pixel, the ingest manifest's ``band_statistics[band]["sky_mad"]``), so
    the added noise is in proportion to the survey's own; the noise in the image then has sigma ≈ √(1 + s²) sky_mad.
    Apply it last, after blurring and cropping: sky noise is independent pixel to pixel.
    """

    def __init__(self, sky_mad: Sequence[float], scale_range: tuple[float, float] = (1.0, 3.0)) -> None:
        self.sky_mad = _per_band(sky_mad, "noise sky_mad")
        if bool((self.sky_mad < 0).any()):
            raise ValueError(f"noise sky_mad must be >= 0 in every band (got {self.sky_mad.tolist()})")
        self.scale_range = check_range(scale_range, "noise.scale")

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor]:
        """(s,) per image: the noise in units of the sky MAD."""
        return (uniform(generator, n, *self.scale_range),)

    def apply(self, images: torch.Tensor, noise_scale: torch.Tensor | float,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """Add ``noise_scale × sky_mad_b`` Gaussian noise (unit normal draws from ``generator``)."""
        batch, single = as_batch(images)
        sky_mad = _check_bands(batch, self.sky_mad, "noise sky_mad")
        scale = per_image(noise_scale, batch.shape[0], batch.device, batch.dtype)
        device = generator.device if generator is not None else batch.device
        unit = torch.randn(batch.shape, generator=generator, device=device, dtype=batch.dtype).to(batch.device)
        return restore(batch + unit * scale[:, None, None, None] * sky_mad[None, :, None, None], single)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        batch, _ = as_batch(images)
        return self.apply(images, *self.draw(batch.shape[0], generator), generator)


def gaussian_kernels(sigma_px: torch.Tensor) -> torch.Tensor:
    """(N, K) normalised 1-D Gaussian kernels, K = 2⌈4 max σ⌉ + 1; σ = 0 gives the identity (a delta)."""
    radius = max(1, math.ceil(4.0 * float(sigma_px.max())))
    offsets = torch.arange(-radius, radius + 1, dtype=sigma_px.dtype, device=sigma_px.device)
    sigma = sigma_px.clamp_min(1e-6)[:, None]
    kernels = torch.exp(-0.5 * (offsets[None, :] / sigma) ** 2)
    return kernels / kernels.sum(-1, keepdim=True)


class PSFBlur(RandomTransform):
    """Convolve band b with a Gaussian of σ_b = σ_ref (λ_b / λ_ref)^exponent pixels, σ_ref ~ U(sigma_px_range).

    Physical meaning: worse seeing. The PSF widens in quadrature (σ_psf² → σ_psf² + σ_b²); with the default
    exponent -0.3 (atmospheric seeing shrinks slowly with wavelength; Kolmogorov turbulence gives -0.2) the blue
    bands get the larger σ. A diffraction-limited space telescope (Euclid) scales as λ^+1: pass ``exponent=1``.
    Kernels are normalised, so total flux is kept (up to what spreads past the cutout edge; outside is sky, 0).
    ``wavelengths_nm``: effective wavelength per band; ``reference_wavelength_nm`` defaults to their median.
    """

    def __init__(self, wavelengths_nm: Sequence[float], sigma_px_range: tuple[float, float] = (0.0, 1.0),
                 reference_wavelength_nm: float | None = None, exponent: float = -0.3) -> None:
        self.wavelengths_nm = _per_band(wavelengths_nm, "psf_blur wavelengths_nm")
        if bool((self.wavelengths_nm <= 0).any()):
            raise ValueError(f"psf_blur wavelengths must be > 0 nm (got {self.wavelengths_nm.tolist()})")
        self.reference_wavelength_nm = float(reference_wavelength_nm if reference_wavelength_nm is not None
                                             else self.wavelengths_nm.median())
        self.sigma_px_range = check_range(sigma_px_range, "psf_blur.sigma_px")
        self.exponent = float(exponent)

    @property
    def band_factors(self) -> torch.Tensor:
        """σ_b / σ_ref per band."""
        return (self.wavelengths_nm / self.reference_wavelength_nm) ** self.exponent

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor]:
        """(σ_ref in pixels,) per image."""
        return (uniform(generator, n, *self.sigma_px_range),)

    def apply(self, images: torch.Tensor, sigma_ref_px: torch.Tensor | float) -> torch.Tensor:
        """Blur every band of every image with its own Gaussian (two separable grouped convolutions)."""
        batch, single = as_batch(images)
        n, bands, height, width = batch.shape
        factors = _check_bands(batch, self.band_factors, "psf_blur wavelengths_nm")
        sigma = per_image(sigma_ref_px, n, batch.device, batch.dtype)[:, None] * factors[None, :]  # (B, C)
        kernels = gaussian_kernels(sigma.reshape(-1))  # (B*C, K)
        radius = kernels.shape[1] // 2
        planes = batch.reshape(1, n * bands, height, width)
        planes = F.conv2d(planes, kernels[:, None, :, None], padding=(radius, 0), groups=n * bands)
        planes = F.conv2d(planes, kernels[:, None, None, :], padding=(0, radius), groups=n * bands)
        return restore(planes.reshape(n, bands, height, width), single)


class Reddening(RandomTransform):
    """Dim band b by 10^(-0.4 R_b E(B-V)), E(B-V) ~ U(ebv_range) per image: the galaxy behind more Milky Way dust.

    ``coefficients`` are R_b = A_b / E(B-V) per band (resources/extinction.yaml, Schlafly & Finkbeiner 2011 scale);
    blue bands have larger R_b, so the galaxy gets fainter and redder. Morphology is unchanged.
    """

    def __init__(self, coefficients: Sequence[float], ebv_range: tuple[float, float] = (0.0, 0.5)) -> None:
        self.coefficients = _per_band(coefficients, "reddening coefficients")
        self.ebv_range = check_range(ebv_range, "reddening.ebv")

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor]:
        """(E(B-V) in magnitudes,) per image."""
        return (uniform(generator, n, *self.ebv_range),)

    def apply(self, images: torch.Tensor, ebv: torch.Tensor | float) -> torch.Tensor:
        """Multiply band b by 10^(-0.4 R_b E(B-V))."""
        batch, single = as_batch(images)
        coefficients = _check_bands(batch, self.coefficients, "reddening coefficients")
        ebv = per_image(ebv, batch.shape[0], batch.device, batch.dtype)
        transmission = torch.pow(10.0, -0.4 * ebv[:, None] * coefficients[None, :])
        return restore(batch * transmission[:, :, None, None], single)
