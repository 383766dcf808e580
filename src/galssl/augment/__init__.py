"""Astronomy augmentations for self-supervised pretraining (Hayat et al. 2021, ApJL 911, L33), all in torch.

Each is one small class with a physical meaning, acting on (C, H, W) or (B, C, H, W) float tensors in flux units
(nanomaggies per pixel, sky-subtracted) before any normalisation, vectorised over the batch, drawing its per-image
parameters from a ``torch.Generator`` so that a seed fixes every view:

- geometry: :class:`RandomRotation`, :class:`SizeRescale`, :class:`JitterCrop`, :func:`center_crop` (evaluation);
- photometry: :class:`Reddening`, :class:`PSFBlur`, :class:`SkyNoise`;
- :func:`build_augmentations` turns the ``pretrain.augment`` config section into one :class:`Compose`.

Usage: ``views = augment(images, generator)``; ``eval_images = center_crop(48)(images)``.
"""

from galssl.augment.build import (AugmentSettings, Compose, band_wavelengths_nm, build_augmentations,
                                  effective_wavelength_nm, extinction_coefficients, manifest_sky_mad)
from galssl.augment.geometry import CenterCrop, JitterCrop, RandomRotation, SizeRescale, center_crop
from galssl.augment.photometry import PSFBlur, Reddening, SkyNoise, gaussian_kernels

__all__ = ["AugmentSettings", "CenterCrop", "Compose", "JitterCrop", "PSFBlur", "RandomRotation", "Reddening",
           "SizeRescale", "SkyNoise", "band_wavelengths_nm", "build_augmentations", "center_crop",
           "effective_wavelength_nm", "extinction_coefficients", "gaussian_kernels", "manifest_sky_mad"]
