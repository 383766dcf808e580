"""The method interface: every pretraining method is an ``nn.Module`` that turns a batch into a loss and exposes
the encoder whose output is the galaxy representation.

A batch is a dict: ``image`` (B, C, H, W) float32, already normalised (asinh-stretched, see galssl.data);
``views`` (list of V tensors of the same shape, augmented views of ``image``) for contrastive methods; optional
``label`` (B,) int64 (-1 = unknown) and ``target`` (B, K) float32 soft labels (NaN = unknown) for supervised ones.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn


class Method(Protocol):
    """What the trainer needs from a method."""

    name: str
    embedding_dim: int
    n_views: int  # augmented views the method needs per image (0: uses ``image`` only)

    def training_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Scalar loss to minimise and a dict of extra numbers to log."""
        ...

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, embedding_dim) representations of un-augmented images (eval mode, no gradient needed)."""
        ...

    def on_train_batch_end(self, step: int, total_steps: int) -> None:
        """Per-step bookkeeping (momentum encoder update, queue); a no-op for most methods."""
        ...


def encoder_module(method: nn.Module) -> nn.Module:
    """The module whose weights define the representation (``method.encoder``)."""
    return method.encoder


@torch.no_grad()
def features_in_eval_mode(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``encoder(images)`` as float32 with the encoder in eval mode (batch-norm running statistics, no dropout)
    and no gradient; the encoder's train/eval mode is restored afterwards."""
    was_training = encoder.training
    encoder.eval()
    try:
        return encoder(images).float()
    finally:
        encoder.train(was_training)


def augmented_views(batch: dict[str, Any], n_views: int, method: str) -> list[torch.Tensor]:
    """The first ``n_views`` augmented views of a batch; a clear error when the data module supplied fewer."""
    views = batch.get("views")
    if views is None or len(views) < n_views:
        got = 0 if views is None else len(views)
        raise ValueError(f"method {method} needs {n_views} augmented views per image in batch['views'] (got {got})")
    return list(views[:n_views])
