"""Stationarity of a UMAP map (Hayat et al. 2021, Fig. 4): does a galaxy stay put when only nuisances change?

A few galaxies are rotated, shifted (jitter) and given more sky noise, step by step, with the augmentations of
:mod:`galssl.augment`; the copies join the objects in one UMAP fit (``umap.transform`` of new points scatters them by
itself, more than the nuisances would), once for the pixel-space map and once for an embedding's map. Score = mean
distance of the copies from the unchanged galaxy's place, divided by the map's typical nearest-neighbour distance
(among the objects): ~1 means a nuisance moves a galaxy no further than to its neighbour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from galssl.augment import CenterCrop, JitterCrop, RandomRotation, SkyNoise
from galssl.errors import DataError
from galssl.maps.settings import StationaritySettings

TRANSFORMS: tuple[str, ...] = ("rotation", "jitter", "noise")
"""The nuisance paths, in the order they are stored."""


def path_parameters(settings: StationaritySettings) -> dict[str, np.ndarray]:
    """Per transform, the parameter of each step: rotation angle (deg), jitter (row, col) shift (px), noise scale
    (in units of the sky MAD). Rotation and jitter go once round a circle; noise grows linearly."""
    steps = settings.n_steps
    turn = 2 * np.pi * np.arange(1, steps + 1) / (steps + 1)  # never the full turn (that is the original)
    shifts = np.rint(settings.max_shift_px * np.stack([np.sin(turn), np.cos(turn)], -1)).astype(int)
    return {"rotation": np.degrees(turn), "jitter": shifts,
            "noise": np.linspace(*settings.noise_scale, steps)}


def stationarity_views(images: np.ndarray, crop: int, settings: StationaritySettings, sky_mad: Sequence[float],
                       seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(originals (n, C, crop, crop), {transform: (n, steps, C, crop, crop)}) in flux units, from full cutouts
    ``images`` (n, C, H, W) in nanomaggies. Rotation acts on the full cutout before the centre crop (no empty
    corners); jitter moves the crop window; noise is added to the cropped image, from a generator seeded by ``seed``."""
    batch = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if batch.ndim != 4:
        raise DataError(f"stationarity needs (n, bands, H, W) images (got shape {tuple(batch.shape)})")
    height = min(batch.shape[-2:])
    if crop > height:
        raise DataError(f"stationarity crop {crop} px is larger than the {height}-px cutouts")
    if crop + 2 * settings.max_shift_px > height:
        raise DataError(f"maps.stationarity.max_shift_px={settings.max_shift_px} does not fit: a {crop}-px crop "
                        f"of {height}-px cutouts allows at most {(height - crop) // 2}")
    centre = CenterCrop(crop)
    parameters = path_parameters(settings)
    rotate, jitter = RandomRotation(), JitterCrop(crop, settings.max_shift_px)
    noise, generator = SkyNoise(sky_mad, (0.0, 0.0)), torch.Generator().manual_seed(seed)
    originals = centre(batch)
    views: dict[str, list[torch.Tensor]] = {name: [] for name in TRANSFORMS}
    for angle, (row, col), scale in zip(parameters["rotation"], parameters["jitter"], parameters["noise"]):
        views["rotation"].append(centre(rotate.apply(batch, float(np.radians(angle)), False)))
        views["jitter"].append(jitter.apply(batch, int(row), int(col)))
        views["noise"].append(noise.apply(originals, float(scale), generator))
    return originals.numpy(), {name: torch.stack(copies, 1).numpy() for name, copies in views.items()}


@torch.no_grad()
def embed_images(encode: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray,
                 normalise: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 256) -> np.ndarray:
    """(N, D) float32 ``encode(normalise(images))`` of flux images (N, C, H, W), in batches."""
    images = np.asarray(images, dtype=np.float32)
    out = [encode(normalise(torch.as_tensor(images[start:start + batch_size]))).float().cpu().numpy()
           for start in range(0, len(images), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def pixel_vectors(images: np.ndarray, normalise: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:
    """(N, C·H·W) float32 asinh-normalised pixels: the pixel-space representation of flux images."""
    images = torch.as_tensor(np.array(images, dtype=np.float32))  # a writable copy (shard buffers are read-only)
    return normalise(images).reshape(len(images), -1).numpy()


def displacements(reference: np.ndarray, paths: np.ndarray) -> np.ndarray:
    """(n, ...) distances of each path point ``paths`` (n, ..., 2) from its galaxy's ``reference`` (n, 2)."""
    reference = np.asarray(reference, dtype=float)
    paths = np.asarray(paths, dtype=float)
    shape = (len(reference),) + (1,) * (paths.ndim - 2) + (2,)
    return np.linalg.norm(paths - reference.reshape(shape), axis=-1)


def stationarity_score(reference: np.ndarray, paths: np.ndarray, neighbour_scale: float) -> float:
    """Mean displacement of the copies ÷ the map's typical nearest-neighbour distance (lower = more stationary)."""
    if not neighbour_scale > 0:
        raise DataError(f"the UMAP neighbour scale must be > 0 (got {neighbour_scale}): are all points identical?")
    return float(displacements(reference, paths).mean() / neighbour_scale)


def choose_galaxies(object_ids: Sequence[str], eligible: np.ndarray, n: int, seed: int) -> list[str]:
    """``n`` object ids drawn without replacement (seeded) from those marked ``eligible``, in sorted order."""
    pool = sorted(str(object_ids[index]) for index in np.flatnonzero(eligible))
    if len(pool) < n:
        raise DataError(f"maps.stationarity.n_galaxies={n} but only {len(pool)} test-split galaxies are available")
    rng = np.random.default_rng(seed)
    return sorted(pool[index] for index in rng.choice(len(pool), n, replace=False))
