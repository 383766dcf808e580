"""MoCo v2: momentum contrast with a queue of negatives (He et al. 2020, arXiv:1911.05722; Chen et al. 2020,
arXiv:2003.04297).

A query encoder (backbone + 2-layer MLP head) is trained so that the query of one view matches the key of the other
view, computed by a momentum (EMA) copy of the encoder, against a queue of keys from earlier batches. The loss is
symmetric over the two views. The representation is the online backbone's pooled features (pre-head).

The InfoNCE term is written here rather than taken from ``lightly.loss.NTXentLoss(memory_bank_size=...)``: that loss
enqueues the keys inside each call, so in the symmetric loss the second term would see the keys of the *same*
images (view 1) as negatives. Here both terms use the queue as it was before the batch, then both views' keys are
enqueued (lightly's ``MemoryBankModule`` holds the queue and gathers keys across GPUs).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from lightly.models.modules import MoCoProjectionHead
from lightly.models.modules.memory_bank import MemoryBankModule
from lightly.models.utils import (
    batch_shuffle_distributed,
    batch_unshuffle_distributed,
    deactivate_requires_grad,
    update_momentum,
)
from torch import nn

from galssl.methods.backbone import BackboneSettings, build_backbone
from galssl.methods.base import augmented_views, features_in_eval_mode


@dataclasses.dataclass(frozen=True)
class MoCoSettings(BackboneSettings):
    """``pretrain.method_config.moco``: head sizes, queue length, InfoNCE temperature, momentum schedule."""

    METHOD: ClassVar[str] = "moco"

    projection_hidden_dim: int = 512
    projection_dim: int = 128
    queue_size: int = 4096  # negatives kept from earlier batches (65536 in the paper; small for a CPU demo)
    temperature: float = 0.2
    momentum: float = 0.99  # EMA factor; with the cosine schedule the starting value, rising to 1 at the end
    momentum_schedule: Literal["cosine", "fixed"] = "cosine"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require(self.projection_hidden_dim >= 1, "projection_hidden_dim", ">= 1")
        self.require(self.projection_dim >= 1, "projection_dim", ">= 1")
        self.require(self.queue_size >= 1, "queue_size", ">= 1")
        self.require(self.temperature > 0, "temperature", "> 0")
        self.require(0 <= self.momentum <= 1, "momentum", "in [0, 1]")


def momentum_at(step: int, total_steps: int, base: float, schedule: str) -> float:
    """EMA factor at ``step``: fixed, or cosine from ``base`` at step 0 to 1 at ``total_steps`` (BYOL-style)."""
    if schedule == "fixed":
        return base
    progress = min(1.0, max(0.0, step / max(1, total_steps)))
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


def info_nce(query: torch.Tensor, key: torch.Tensor, negatives: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE of L2-normalised (B, D) queries against their keys (positives) and (K, D) queue negatives."""
    positive = (query * key).sum(dim=1, keepdim=True)
    negative = query @ negatives.to(query.dtype).T
    logits = torch.cat([positive, negative], dim=1) / temperature
    return F.cross_entropy(logits.float(), torch.zeros(len(query), dtype=torch.long, device=query.device))


class MoCo(nn.Module):
    """MoCo v2 with a queue, momentum encoder and symmetric InfoNCE loss; ``n_views`` = 2."""

    name = "moco"
    n_views = 2

    def __init__(self, *, in_chans: int, img_size: int, config: MoCoSettings) -> None:
        super().__init__()
        self.config = config
        self.encoder, self.embedding_dim = build_backbone(config, in_chans, img_size)
        self.projection_head = MoCoProjectionHead(self.embedding_dim, config.projection_hidden_dim,
                                                  config.projection_dim)
        self.encoder_momentum = copy.deepcopy(self.encoder)
        self.projection_head_momentum = copy.deepcopy(self.projection_head)
        deactivate_requires_grad(self.encoder_momentum)
        deactivate_requires_grad(self.projection_head_momentum)
        self.queue = MemoryBankModule(size=(config.queue_size, config.projection_dim), gather_distributed=True,
                                      feature_dim_first=False)
        self.keys_seen = 0  # keys enqueued so far (per process), for the queue-fill log
        self.current_momentum = config.momentum

    def _query(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projection_head(self.encoder(images)), dim=1)

    @torch.no_grad()
    def _key(self, images: torch.Tensor) -> torch.Tensor:
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized() \
            and torch.distributed.get_world_size() > 1
        if distributed:  # shuffle-BN: keep batch-norm statistics from leaking which key belongs to which query
            images, shuffle = batch_shuffle_distributed(images)
        keys = F.normalize(self.projection_head_momentum(self.encoder_momentum(images)), dim=1)
        if distributed:
            keys = batch_unshuffle_distributed(keys, shuffle)
        return keys.detach()

    def training_loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """Symmetric InfoNCE over the two views against the queue as it was before this batch; when training (train
        mode, gradients on) both views' keys are then enqueued."""
        view0, view1 = augmented_views(batch, 2, self.name)
        query0, query1 = self._query(view0), self._query(view1)
        key0, key1 = self._key(view0), self._key(view1)
        _, negatives = self.queue(key0, update=False)
        loss = 0.5 * (info_nce(query0, key1, negatives, self.config.temperature)
                      + info_nce(query1, key0, negatives, self.config.temperature))
        if self.training and torch.is_grad_enabled():  # validation / no-grad evaluation leaves the queue alone
            keys = torch.cat([key0, key1]).float()
            self.queue(keys, update=True)
            self.keys_seen += len(keys)
        positive = 0.5 * ((query0 * key1).sum(1).mean() + (query1 * key0).sum(1).mean())
        logs = {"positive_similarity": float(positive.detach()), "momentum": self.current_momentum,
                "queue_fill": min(1.0, self.keys_seen / self.config.queue_size)}
        return loss, logs

    @torch.no_grad()
    def on_train_batch_end(self, step: int, total_steps: int) -> None:
        """Move the momentum encoder and head towards the online ones (after the optimiser step)."""
        self.current_momentum = momentum_at(step, total_steps, self.config.momentum, self.config.momentum_schedule)
        update_momentum(self.encoder, self.encoder_momentum, self.current_momentum)
        update_momentum(self.projection_head, self.projection_head_momentum, self.current_momentum)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, embedding_dim) float32 online-backbone features in eval mode."""
        return features_in_eval_mode(self.encoder, images)
