"""Encoder + head as one Lightning module: two AdamW parameter groups (head at ``head_lr``, encoder at
``encoder_lr_ratio`` × ``head_lr``) under the pretraining's warm-up + cosine schedule; training images augmented
batch-wise on the device like pretraining, validation images centre-cropped and normalised like the embeddings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
from torch import nn

from galssl.data import centre_crop
from galssl.finetune.settings import FinetuneSettings
from galssl.finetune.tasks import ClassTask, PhotozTask
from galssl.methods.mae import MAE
from galssl.train import warmup_cosine


class EncoderFeatures(nn.Module):
    """The differentiable version of a method's ``embed``: the representation the probes saw, with gradients.

    CNN methods: ``method.encoder(images)`` (pooled backbone features). MAE: its ViT on the full, unmasked cutout,
    mean patch token (or class token with ``pool: cls``), exactly as ``MAE.embed``.
    """

    def __init__(self, method: nn.Module) -> None:
        super().__init__()
        self.encoder = method.encoder
        self.embedding_dim = int(method.embedding_dim)
        self.vit_prefix = int(method.n_prefix) if isinstance(method, MAE) else None
        self.pool = getattr(method.config, "pool", "mean")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.vit_prefix is None:
            return self.encoder(images)
        tokens = self.encoder.encode(images)
        return tokens[:, self.vit_prefix:].mean(dim=1) if self.pool == "mean" else tokens[:, 0]


class FinetuneModule(L.LightningModule):
    """Fine-tune ``features`` with ``head`` on ``task``; logs train/loss, train/lr (head), train/lr_encoder,
    val/loss (early stopping and model selection) and the task's val score (val/accuracy or val/sigma_mad)."""

    def __init__(self, features: EncoderFeatures, head: nn.Module, task: ClassTask | PhotozTask,
                 settings: FinetuneSettings, steps_per_epoch: int, crop: int,
                 normalise: Callable[[torch.Tensor], torch.Tensor],
                 batch_views: Callable[[dict, int], dict] | None = None) -> None:
        super().__init__()
        self.features, self.head, self.task = features, head, task
        self.settings, self.steps_per_epoch = settings, max(1, steps_per_epoch)
        self.crop, self.normalise, self.batch_views = int(crop), normalise, batch_views
        self._val: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Head logits of normalised, cropped images."""
        return self.head(self.features(images))

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        """Training: one augmented view (pretraining's pipeline, seeded by seed, epoch and object_ids). Otherwise
        the centre crop, normalised (as ``galssl.embed``)."""
        if self.trainer is not None and self.trainer.training and self.batch_views is not None:
            views = self.batch_views(batch, self.current_epoch)
            return {**batch, "image": views["views"][0]}
        return {**batch, "image": self.normalise(centre_crop(batch["image"], self.crop))}

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.task.loss(self(batch["image"]), batch)
        size = batch["image"].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=size, sync_dist=True)
        groups = {group["name"]: group["lr"] for group in self.optimizers().param_groups}
        self.log("train/lr", groups["head"], batch_size=size)
        self.log("train/lr_encoder", groups["encoder"], batch_size=size)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        logits = self(batch["image"])
        self.log("val/loss", self.task.loss(logits, batch), prog_bar=True, batch_size=batch["image"].shape[0],
                 sync_dist=True)
        self._val.append((logits.float().detach(), self.task.truth(batch).float().detach()))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        logits = torch.cat([pair[0] for pair in self._val])
        truth = torch.cat([pair[1] for pair in self._val])
        self._val.clear()
        if self.trainer.world_size > 1:  # every rank's val objects (equal counts: the val set drops uneven rows)
            logits, truth = (self.all_gather(t).flatten(0, 1) for t in (logits, truth))
        name, value = self.task.val_score(logits.cpu().numpy(), truth.cpu().numpy())
        if np.isfinite(value):
            self.log(f"val/{name}", float(value), sync_dist=False, rank_zero_only=True)

    def configure_optimizers(self) -> dict[str, Any]:
        settings = self.settings
        groups = [{"name": "head", "params": list(self.head.parameters()), "lr": settings.head_lr},
                  {"name": "encoder", "params": [p for p in self.features.parameters() if p.requires_grad],
                   "lr": settings.encoder_lr}]
        optimizer = torch.optim.AdamW(groups, lr=settings.head_lr, weight_decay=settings.weight_decay)
        total = self.steps_per_epoch * settings.epochs
        warmup = int(settings.warmup_epochs * self.steps_per_epoch)
        # One factor for both groups, so the encoder stays at encoder_lr_ratio x the head's rate at every step.
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, warmup, total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
