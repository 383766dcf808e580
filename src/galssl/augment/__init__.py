"""Astronomy augmentations for self-supervised pretraining (Hayat et al. 2021, ApJL 911, L33), all in torch.

Each is one small class with a physical meaning, acting on (C, H, W) or (B, C, H, W) float tensors in flux units
(nanomaggies per pixel, sky-subtracted) before any normalisation, vectorised over the batch, drawing its per-image
parameters from a ``torch.Generator`` so that a seed fixes every view:

- geometry: :class:`RandomRotation`, :class:`SizeRescale`, :class:`JitterCrop`, :func:`center_crop` (evaluation);
- photometry: :class:`Reddening`, :class:`PSFBlur`, :class:`SkyNoise`;
- :func:`build_augmentations` turns the ``pretrain.augment`` config section into one :class:`Compose`.

Usage: ``views = augment(images, generator)``; ``eval_images = center_crop(48)(images)``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from galssl.augment.settings import AugmentSettings

if TYPE_CHECKING:
    from galssl.augment.build import (
        Compose,
        band_wavelengths_nm,
        build_augmentations,
        effective_wavelength_nm,
        extinction_coefficients,
        manifest_sky_mad,
    )
    from galssl.augment.geometry import CenterCrop, JitterCrop, RandomRotation, SizeRescale, center_crop
    from galssl.augment.photometry import PSFBlur, Reddening, SkyNoise, gaussian_kernels

# Imported on first use, so that the config check (galssl.config, which needs only AugmentSettings) loads no torch.
_LAZY = {"Compose": "build", "band_wavelengths_nm": "build", "build_augmentations": "build",
         "effective_wavelength_nm": "build", "extinction_coefficients": "build", "manifest_sky_mad": "build",
         "CenterCrop": "geometry", "JitterCrop": "geometry", "RandomRotation": "geometry", "SizeRescale": "geometry",
         "center_crop": "geometry", "PSFBlur": "photometry", "Reddening": "photometry", "SkyNoise": "photometry",
         "gaussian_kernels": "photometry"}

__all__ = ["AugmentSettings", "CenterCrop", "Compose", "JitterCrop", "PSFBlur", "RandomRotation", "Reddening",
           "SizeRescale", "SkyNoise", "band_wavelengths_nm", "build_augmentations", "center_crop",
           "effective_wavelength_nm", "extinction_coefficients", "gaussian_kernels", "manifest_sky_mad"]


def __getattr__(name: str) -> Any:
    """The torch-based augmentations, imported from their module when first asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module 'galssl.augment' has no attribute {name!r}")
    return getattr(import_module(f"galssl.augment.{_LAZY[name]}"), name)
