"""Geometric augmentations: orientation, apparent size, centring — what does not change a galaxy's identity.

Conventions: x is the column (last axis), y the row, both measured from the array centre ((W-1)/2, (H-1)/2), which is
where ingest puts the object (galssl.reproject.TargetGrid). Angles are counter-clockwise as displayed with
``origin="lower"``. Resampling is bilinear (``torch.nn.functional.grid_sample``, ``align_corners=False``); samples
falling outside the cutout read 0, which is the sky level of the sky-subtracted cutouts (no mirrored copies of the
galaxy, as reflection padding would make).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from galssl.augment.base import RandomTransform, as_batch, check_range, per_image, restore, uniform


def _resample(batch: torch.Tensor, linear: torch.Tensor) -> torch.Tensor:
    """Sample every image at ``linear @ p`` for each output position p (pixel offsets from the centre), bilinear.

    ``linear`` is (B, 2, 2) in pixel units, mapping output to input positions; one grid for the whole batch.
    """
    n, _, height, width = batch.shape
    # Pixel offsets -> grid_sample's normalised coordinates (x / (W/2), y / (H/2)); keeps non-square images right.
    to_norm = torch.tensor([[2.0 / width, 0.0], [0.0, 2.0 / height]], dtype=batch.dtype, device=batch.device)
    from_norm = torch.tensor([[width / 2.0, 0.0], [0.0, height / 2.0]], dtype=batch.dtype, device=batch.device)
    theta = torch.zeros(n, 2, 3, dtype=batch.dtype, device=batch.device)
    theta[:, :, :2] = to_norm @ linear.to(batch.dtype) @ from_norm
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class RandomRotation(RandomTransform):
    """Rotate by a uniform angle in [0, 2π) and mirror with probability 1/2: a galaxy's orientation on the sky and
    its handedness as seen from Earth carry no physical information, so a representation should ignore them.

    Mirroring left-right suffices: with a uniform angle it reaches every reflection (an up-down flip is a left-right
    flip followed by a half turn). Rotation about the centre keeps total flux and surface brightness (the map has unit
    Jacobian); the corners it brings in from outside the cutout are empty sky (0). To keep them out of the training
    views, rotate the full cutout — the larger field — and crop afterwards (:class:`JitterCrop`, :class:`CenterCrop`):
    a crop of side ≤ H/√2 (45 px of 64) never sees them; the default 48-px crop jittered ±4 px at most a corner
    triangle (< 3 per cent of its pixels, near 45°), where SkyNoise then puts sky noise.
    """

    def __init__(self, rotate: bool = True, flip: bool = True) -> None:
        self.rotate = rotate
        self.flip = flip

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(angle_rad, mirror) per image."""
        angle = uniform(generator, n, 0.0, 2 * math.pi) if self.rotate else torch.zeros(n, device=generator.device)
        mirror = (torch.rand(n, generator=generator, device=generator.device) < 0.5) if self.flip \
            else torch.zeros(n, dtype=torch.bool, device=generator.device)
        return angle, mirror

    def apply(self, images: torch.Tensor, angle_rad: torch.Tensor | float = 0.0,
              mirror: torch.Tensor | bool = False) -> torch.Tensor:
        """Mirror left-right (where ``mirror``), then rotate counter-clockwise by ``angle_rad`` about the centre."""
        batch, single = as_batch(images)
        n = batch.shape[0]
        mirror = per_image(mirror, n, batch.device, torch.bool)
        batch = torch.where(mirror[:, None, None, None], batch.flip(-1), batch)  # exact: no resampling
        angle = per_image(angle_rad, n, batch.device)
        if bool((angle != 0).any()):
            cos, sin = torch.cos(angle), torch.sin(angle)
            # Output pixel p shows input position R(-angle) p, i.e. the image turns by +angle.
            linear = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
            batch = _resample(batch, linear)
        return restore(batch, single)


class SizeRescale(RandomTransform):
    """Zoom about the centre by a factor drawn from U(scale_range): the same galaxy a little nearer or farther.

    Pixel values are resampled, not rescaled, so surface brightness (nanomaggies per pixel) is kept and the total
    flux grows as zoom² — as for a nearby galaxy whose apparent size changes while surface brightness does not (Tolman
    dimming ignored over ±10 per cent in size). The PSF and the noise texture are zoomed too, a small inconsistency
    for zooms near 1. Zooming out brings in empty sky (0) at the edges.
    """

    def __init__(self, scale_range: tuple[float, float] = (0.9, 1.1)) -> None:
        low, high = check_range(scale_range, "rescale.scale")
        if low <= 0:
            raise ValueError(f"rescale.scale must be > 0 (got [{low:g}, {high:g}])")
        self.scale_range = (low, high)

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor]:
        """(zoom,) per image."""
        return (uniform(generator, n, *self.scale_range),)

    def apply(self, images: torch.Tensor, zoom: torch.Tensor | float) -> torch.Tensor:
        """Magnify by ``zoom`` (> 1: the galaxy looks bigger) about the centre."""
        batch, single = as_batch(images)
        inverse = 1.0 / per_image(zoom, batch.shape[0], batch.device)
        linear = torch.diag_embed(torch.stack([inverse, inverse], -1))
        return restore(_resample(batch, linear), single)


def _crop(batch: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: int) -> torch.Tensor:
    """Per-image windows ``size`` x ``size`` starting at (top, left) (integer (B,) tensors), by one gather."""
    offsets = torch.arange(size, device=batch.device)
    rows = (top.to(batch.device)[:, None] + offsets)[:, :, None]  # (B, size, 1)
    cols = (left.to(batch.device)[:, None] + offsets)[:, None, :]  # (B, 1, size)
    index = torch.arange(batch.shape[0], device=batch.device)[:, None, None]
    return batch.permute(0, 2, 3, 1)[index, rows, cols].permute(0, 3, 1, 2).contiguous()


def _check_fits(batch: torch.Tensor, size: int, margin: int, what: str) -> tuple[int, int]:
    height, width = batch.shape[-2:]
    if size + 2 * margin > min(height, width):
        raise ValueError(f"{what}: a {size}-px crop shifted by up to ±{margin} px does not fit in "
                         f"{height}x{width} images")
    return (height - size) // 2, (width - size) // 2


class JitterCrop(RandomTransform):
    """Shift the centre by a whole number of pixels in [-max_shift, max_shift] (each axis), then crop ``crop_size``.

    Physical meaning: ingest centres each cutout on a catalogue position that is off by a fraction of an arcsec;
    the representation should not hinge on where exactly the galaxy sits. Integer shifts move pixels without
    resampling (no smoothing of the noise). Hayat et al. (2021) jitter ±7 px and crop 107 → 64 px; for 64-px
    cutouts the default is ±4 px and 48 px.
    """

    def __init__(self, crop_size: int = 48, max_shift: int = 4) -> None:
        if crop_size < 1 or max_shift < 0:
            raise ValueError(f"jitter_crop needs crop_size >= 1 and max_shift >= 0 (got {crop_size}, {max_shift})")
        self.crop_size = int(crop_size)
        self.max_shift = int(max_shift)

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(row_shift, col_shift) per image, integers in [-max_shift, max_shift]."""
        shifts = torch.randint(-self.max_shift, self.max_shift + 1, (2, n), generator=generator,
                               device=generator.device)
        return shifts[0], shifts[1]

    def apply(self, images: torch.Tensor, row_shift: torch.Tensor | int = 0,
              col_shift: torch.Tensor | int = 0) -> torch.Tensor:
        """Crop ``crop_size`` around the centre moved by (row_shift, col_shift) pixels."""
        batch, single = as_batch(images)
        n = batch.shape[0]
        top, left = _check_fits(batch, self.crop_size, self.max_shift, "jitter_crop")
        rows = per_image(row_shift, n, batch.device, torch.long)
        cols = per_image(col_shift, n, batch.device, torch.long)
        if bool((rows.abs() > self.max_shift).any() or (cols.abs() > self.max_shift).any()):
            raise ValueError(f"jitter_crop shifts must be within ±{self.max_shift} px")
        return restore(_crop(batch, top + rows, left + cols, self.crop_size), single)


class CenterCrop:
    """The central ``size`` x ``size`` pixels, no randomness: the evaluation counterpart of :class:`JitterCrop`."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"center_crop size must be >= 1 (got {size})")
        self.size = int(size)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        batch, single = as_batch(images)
        top, left = _check_fits(batch, self.size, 0, "center_crop")
        return restore(batch[..., top:top + self.size, left:left + self.size].contiguous(), single)

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


def center_crop(size: int) -> CenterCrop:
    """The deterministic evaluation transform: crop the central ``size`` pixels (call it as ``crop(images)``)."""
    return CenterCrop(size)
