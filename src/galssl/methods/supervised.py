"""Supervised baseline: the same backbone trained from scratch on labels, with a linear head.

``target: class`` — cross-entropy on integer classes (e.g. the 10 Galaxy10 classes); label -1 (unknown) is ignored.
``target: votes`` — binary cross-entropy on Galaxy Zoo vote fractions, one independent output per answer (37 for
the GZ2 tree); NaN fractions (question not reached, or object not classified) are masked out.

Unknown labels contribute exactly zero to the loss and its gradient; a batch with no known label gives a loss of 0
that still backpropagates (zero gradients), so training and DDP never stall.

With ``augment: true`` (default) the method asks for one augmented view (``n_views`` = 1) and trains on it — the
usual recipe for supervised training; ``augment: false`` trains on the plain ``image`` (``n_views`` = 0). In eval
mode (validation) the loss is always computed on the plain ``image``.
The representation is the backbone's pooled features (pre-head).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from galssl.methods.backbone import BackboneSettings, build_backbone
from galssl.methods.base import augmented_views, features_in_eval_mode


@dataclasses.dataclass(frozen=True)
class SupervisedSettings(BackboneSettings):
    """``pretrain.method_config.supervised``: label kind, output size, augmentation."""

    METHOD: ClassVar[str] = "supervised"

    target: Literal["class", "votes"] = "class"
    n_classes: int = 10  # Galaxy10 classes, used when target is class
    n_targets: int = 37  # vote-fraction columns (GZ2 answers), used when target is votes
    augment: bool = True  # train on one augmented view instead of the plain image

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require(self.n_classes >= 2, "n_classes", ">= 2")
        self.require(self.n_targets >= 1, "n_targets", ">= 1")


def masked_class_loss(logits: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy over rows with label >= 0, and how many there were (0 → loss 0 with a graph)."""
    known = label >= 0
    n_known = int(known.sum())
    if n_known == 0:
        return logits.sum() * 0.0, 0
    return F.cross_entropy(logits.float()[known], label[known]), n_known


def masked_vote_loss(logits: torch.Tensor, fraction: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Mean binary cross-entropy between sigmoid(logits) and vote fractions over non-NaN entries, and their count."""
    known = ~torch.isnan(fraction)
    n_known = int(known.sum())
    if n_known == 0:
        return logits.sum() * 0.0, 0
    per_entry = F.binary_cross_entropy_with_logits(logits.float(), torch.nan_to_num(fraction.float(), nan=0.0),
                                                   reduction="none")
    return torch.where(known, per_entry, torch.zeros_like(per_entry)).sum() / n_known, n_known


class Supervised(nn.Module):
    """Backbone + linear head on classes or vote fractions; ``n_views`` = 1 with augmentation, else 0."""

    name = "supervised"
    needs_labels = True  # trained on the labels: its validation loss is the task's own (and early stopping's) metric

    def __init__(self, *, in_chans: int, img_size: int, config: SupervisedSettings) -> None:
        super().__init__()
        self.config = config
        self.n_views = 1 if config.augment else 0
        self.encoder, self.embedding_dim = build_backbone(config, in_chans, img_size)
        n_outputs = config.n_classes if config.target == "class" else config.n_targets
        self.head = nn.Linear(self.embedding_dim, n_outputs)

    def training_loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """Masked cross-entropy (classes) or masked binary cross-entropy (vote fractions)."""
        images = augmented_views(batch, 1, self.name)[0] if self.n_views and self.training else batch["image"]
        logits = self.head(self.encoder(images))
        if self.config.target == "class":
            if "label" not in batch:
                raise ValueError("method supervised with target class needs batch['label'] (-1 = unknown)")
            label = batch["label"].long()
            if len(label) and int(label.max()) >= self.config.n_classes:
                raise ValueError(f"label {int(label.max())} is outside pretrain.method_config.supervised.n_classes "
                                 f"({self.config.n_classes})")
            loss, n_known = masked_class_loss(logits, label)
            known = label >= 0
            correct = (logits.argmax(1)[known] == label[known]).float()
            logs = {"labelled_fraction": n_known / max(1, len(label))}
            if n_known:
                logs["accuracy"] = float(correct.mean())
        else:
            if "target" not in batch:
                raise ValueError("method supervised with target votes needs batch['target'] (NaN = unknown)")
            if batch["target"].shape[-1] != self.config.n_targets:
                raise ValueError(f"batch['target'] has {batch['target'].shape[-1]} vote-fraction columns but "
                                 f"pretrain.method_config.supervised.n_targets is {self.config.n_targets}")
            loss, n_known = masked_vote_loss(logits, batch["target"])
            logs = {"labelled_fraction": n_known / batch["target"].numel()}
        return loss, logs

    def on_train_batch_end(self, step: int, total_steps: int) -> None:
        """Nothing to update between steps."""

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, embedding_dim) float32 backbone features (pre-head) in eval mode."""
        return features_in_eval_mode(self.encoder, images)
