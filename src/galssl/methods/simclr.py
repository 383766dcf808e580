"""SimCLR: contrast two augmented views of each image against the rest of the batch (Chen et al. 2020,
arXiv:2002.05709).

Backbone + lightly's ``SimCLRProjectionHead`` (2-layer MLP with batch norm) + lightly's ``NTXentLoss`` (normalised
temperature-scaled cross-entropy; the 2(B-1) other views in the batch, gathered over GPUs, are the negatives).
The representation is the backbone's pooled features (pre-head).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from torch import nn

from galssl.methods.backbone import BackboneSettings, build_backbone
from galssl.methods.base import augmented_views, features_in_eval_mode


@dataclasses.dataclass(frozen=True)
class SimCLRSettings(BackboneSettings):
    """``pretrain.method_config.simclr``: head sizes and NT-Xent temperature."""

    METHOD: ClassVar[str] = "simclr"

    projection_hidden_dim: int = 512
    projection_dim: int = 128
    temperature: float = 0.5  # 0.1 suits batches of thousands; 0.5 the small batches of a CPU demo

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require(self.projection_hidden_dim >= 1, "projection_hidden_dim", ">= 1")
        self.require(self.projection_dim >= 1, "projection_dim", ">= 1")
        self.require(0.01 <= self.temperature <= 1.0, "temperature", "in [0.01, 1] (SimCLR uses 0.1-0.5)")


class SimCLR(nn.Module):
    """SimCLR with NT-Xent over two views; ``n_views`` = 2."""

    name = "simclr"
    n_views = 2

    def __init__(self, *, in_chans: int, img_size: int, config: SimCLRSettings) -> None:
        super().__init__()
        self.config = config
        self.encoder, self.embedding_dim = build_backbone(config, in_chans, img_size)
        self.projection_head = SimCLRProjectionHead(self.embedding_dim, config.projection_hidden_dim,
                                                    config.projection_dim)
        self.criterion = NTXentLoss(temperature=config.temperature,
                                    gather_distributed=torch.distributed.is_available())

    def training_loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """NT-Xent between the projections of the two views."""
        view0, view1 = augmented_views(batch, 2, self.name)
        projection0 = self.projection_head(self.encoder(view0))
        projection1 = self.projection_head(self.encoder(view1))
        loss = self.criterion(projection0.float(), projection1.float())
        positive = torch.nn.functional.cosine_similarity(projection0, projection1, dim=1).mean()
        return loss, {"positive_similarity": float(positive.detach())}

    def on_train_batch_end(self, step: int, total_steps: int) -> None:
        """Nothing to update between steps."""

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, embedding_dim) float32 backbone features in eval mode."""
        return features_in_eval_mode(self.encoder, images)
