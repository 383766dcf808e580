"""What every augmentation shares: batch handling, per-image parameter draws, and the draw/apply split.

A random augmentation draws its per-image parameters with :meth:`RandomTransform.draw` (from a
``torch.Generator``, so a seed fixes them) and applies them with :meth:`RandomTransform.apply` (pure, no
randomness, so tests can pass hand-chosen values). Images are (C, H, W) or (B, C, H, W) float tensors in flux units
(nanomaggies per pixel), sky-subtracted, before any normalisation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch


def as_batch(images: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """(B, C, H, W) view of the images and whether the input was a single (C, H, W) image."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"augmentations take torch tensors (got {type(images).__name__})")
    if images.ndim == 3:
        return images.unsqueeze(0), True
    if images.ndim == 4:
        return images, False
    raise ValueError(f"augmentations take (C, H, W) or (B, C, H, W) images (got shape {tuple(images.shape)})")


def restore(batch: torch.Tensor, single: bool) -> torch.Tensor:
    """Undo :func:`as_batch`."""
    return batch.squeeze(0) if single else batch


def per_image(values: torch.Tensor | float | Sequence[float], n: int, device: torch.device,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(n,) tensor on ``device``: a scalar broadcast to every image, or one value per image."""
    tensor = torch.as_tensor(values, dtype=dtype).to(device)
    if tensor.ndim == 0:
        return tensor.expand(n)
    if tensor.shape != (n,):
        raise ValueError(f"expected one parameter per image ({n}), got shape {tuple(tensor.shape)}")
    return tensor


def uniform(generator: torch.Generator, n: int, low: float, high: float) -> torch.Tensor:
    """(n,) float32 draws from U(low, high) on the generator's device."""
    return low + (high - low) * torch.rand(n, generator=generator, device=generator.device)


def check_range(value_range: Sequence[float], what: str, minimum: float | None = 0.0) -> tuple[float, float]:
    """A (low, high) pair with low <= high (and low >= minimum), or a ValueError naming ``what``."""
    low, high = (float(v) for v in value_range)
    if low > high or (minimum is not None and low < minimum):
        bound = f" and low >= {minimum:g}" if minimum is not None else ""
        raise ValueError(f"{what} must be [low, high] with low <= high{bound} (got [{low:g}, {high:g}])")
    return low, high


class RandomTransform(ABC):
    """Base of the random augmentations: ``transform(images, generator)`` = ``apply(images, *draw(B, generator))``."""

    @abstractmethod
    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Per-image parameters for a batch of ``n`` images."""

    @abstractmethod
    def apply(self, images: torch.Tensor, *parameters: torch.Tensor) -> torch.Tensor:
        """The deterministic transform with given per-image parameters (scalars broadcast)."""

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        batch, _ = as_batch(images)
        return self.apply(images, *self.draw(batch.shape[0], generator))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"
