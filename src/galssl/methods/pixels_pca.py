"""``pixels_pca``: principal components of the asinh-normalised pixels — the floor every encoder must beat.

Not trained by gradient: ``galssl.pixels.fit_pixel_pca`` fits it on the train split and saves it as an ordinary
encoder checkpoint, so embedding, probes, maps and search treat it like any other method. The representation of an
image is its projection on the top ``n_components`` principal components of the training images (not whitened).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from galssl.errors import ConfigError
from galssl.methods.settings import MethodSettings


@dataclasses.dataclass(frozen=True)
class PixelPCASettings(MethodSettings):
    """``embed.pixels_pca``: number of components kept."""

    METHOD: ClassVar[str] = "pixels_pca"

    n_components: int = 64

    def where(self, key: str) -> str:
        """Its settings live in the ``embed`` section, not under ``pretrain.method_config``."""
        return f"embed.pixels_pca.{key}"

    def __post_init__(self) -> None:
        self.require(self.n_components >= 1, "n_components", ">= 1")


class _Projection(nn.Module):
    """(B, C, H, W) → (B, n_components): centre on the training mean, project on the components."""

    def __init__(self, n_features: int, n_components: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("components", torch.zeros(n_components, n_features))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        flat = images.reshape(images.shape[0], -1).float()
        if flat.shape[1] != self.mean.shape[0]:
            raise ConfigError(f"pixels_pca was fitted on {self.mean.shape[0]} pixel values per image, "
                              f"got {flat.shape[1]}")
        return (flat - self.mean) @ self.components.T


class PixelPCA(nn.Module):
    """The pixel-PCA "method": an encoder with fitted buffers and no trainable weights."""

    name = "pixels_pca"
    n_views = 0

    def __init__(self, in_chans: int, img_size: int, config: PixelPCASettings) -> None:
        super().__init__()
        self.config = config
        self.embedding_dim = config.n_components
        self.encoder = _Projection(in_chans * img_size * img_size, config.n_components)

    def set_components(self, mean: np.ndarray, components: np.ndarray) -> None:
        """Load a fitted PCA (``mean`` (F,), ``components`` (K, F), rows orthonormal)."""
        self.encoder.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.encoder.components.copy_(torch.as_tensor(components, dtype=torch.float32))

    def training_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        raise ConfigError("pixels_pca is fitted in closed form (galssl fit-pixel-pca), not trained: "
                          "remove it from pretrain.methods")

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, n_components) projections of normalised images."""
        return self.encoder(images)

    def on_train_batch_end(self, step: int, total_steps: int) -> None:
        """Nothing to update."""
