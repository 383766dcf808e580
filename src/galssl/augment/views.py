"""Augmented views of a whole batch at once, on the batch's device (the GPU on a cluster).

The loader only reads and stacks raw flux cutouts; augmentation runs vectorised over the batch after it reaches the
device (Lightning's ``on_after_batch_transfer``), so loader workers are never the bottleneck and a GPU does the
augmentation arithmetic. Draws come from a generator seeded by (seed, epoch, the batch's object_ids): the same
config gives the same views on every run, also after resuming from a checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import torch

from galssl.augment.geometry import center_crop

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def batch_generator(seed: int, epoch: int, object_ids: Sequence[str], device: torch.device) -> torch.Generator:
    """A generator on ``device`` seeded by BLAKE2b of (seed, epoch, object_ids) — stable across runs and processes."""
    digest = hashlib.blake2b(f"{seed}:{epoch}:".encode(), digest_size=8)
    for object_id in object_ids:
        digest.update(object_id.encode() + b"\0")
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest.digest(), "little") & (2**63 - 1))


class BatchViews:
    """Turn a batch of raw flux cutouts into what a method trains on.

    ``n_views`` ≥ 1 (contrastive, supervised with augmentation): ``views`` = that many augmented, normalised views
    and ``image`` = the normalised centre crop. ``n_views`` = 0 (MAE): ``image`` = one augmented, normalised view.
    """

    def __init__(self, transform: Transform, n_views: int, crop_size: int,
                 normalise: Callable[[torch.Tensor], torch.Tensor], seed: int) -> None:
        if n_views < 0:
            raise ValueError(f"n_views must be >= 0 (got {n_views})")
        self.transform, self.n_views, self.crop_size = transform, int(n_views), int(crop_size)
        self.normalise, self.seed = normalise, int(seed)

    @torch.no_grad()
    def __call__(self, batch: dict[str, Any], epoch: int) -> dict[str, Any]:
        images = batch["image"]
        generator = batch_generator(self.seed, epoch, batch["object_id"], images.device)
        out = dict(batch)
        if self.n_views == 0:
            out["image"] = self.normalise(self.transform(images, generator))
            return out
        out["views"] = [self.normalise(self.transform(images, generator)) for _ in range(self.n_views)]
        out["image"] = self.normalise(center_crop(self.crop_size)(images))
        return out
