"""Masked autoencoder (He et al. 2022, arXiv:2111.06377) on a timm ViT with 8 px patches.

A random ``mask_ratio`` of the patches of each cutout is hidden; the encoder runs on the visible patch tokens (+ the
class token) only; a light decoder (timm blocks, fixed sine-cosine positions) gets the encoded tokens plus a mask
token at every hidden position and predicts the pixels of each patch; the loss is the MSE on hidden patches only,
against per-patch normalised pixels (``norm_pix_loss``). The representation (``embed``) is the mean of the
encoder's patch tokens on the full, unmasked cutout (``pool: cls`` takes the class token instead) — mean pooling
reads a linear probe better for MAE, whose class token gets no direct training signal.

Built from lightly's pieces: ``MaskedVisionTransformerTIMM`` (encoder that keeps only given tokens),
``MaskedVisionTransformerDecoderTIMM``, ``patchify``/``unpatchify`` and index helpers. The masking is ours:
lightly's ``random_token_mask`` takes no ``torch.Generator`` and keeps ``int(n * (1 - ratio))`` patches, while here
masks are reproducible from a seed and hide exactly ``round(mask_ratio * n_patches)`` patches.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from lightly.models.modules import MaskedVisionTransformerDecoderTIMM, MaskedVisionTransformerTIMM
from lightly.models.utils import get_at_index, patchify, repeat_token, set_at_index, unpatchify
from torch import nn

from galssl.methods.backbone import BackboneSettings, build_backbone, is_vision_transformer


@dataclasses.dataclass(frozen=True)
class MAESettings(BackboneSettings):
    """``pretrain.method_config.mae``: ViT encoder, masking, decoder size, loss and pooling."""

    METHOD: ClassVar[str] = "mae"

    backbone: str = "vit_tiny_patch16_224"  # rebuilt with patch_size 8 and img_size = cutout size
    mask_ratio: float = 0.75  # fraction of patches hidden (0.9 also works for sparse galaxy images)
    decoder_dim: int = 128
    decoder_depth: int = 2
    decoder_heads: int = 4
    norm_pix_loss: bool = True  # targets are each patch's pixels minus its mean, over its standard deviation
    pool: Literal["mean", "cls"] = "mean"
    mask_seed: int = 0  # seeds the masking generator (offset by the process rank under DDP)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require(is_vision_transformer(self.backbone), "backbone", "a timm vision transformer "
                     "(e.g. 'vit_tiny_patch16_224')")
        self.require(0 < self.mask_ratio < 1, "mask_ratio", "in (0, 1)")
        self.require(self.decoder_dim >= 1 and self.decoder_dim % self.decoder_heads == 0, "decoder_dim",
                     f"a positive multiple of decoder_heads ({self.decoder_heads})")
        self.require(self.decoder_depth >= 1, "decoder_depth", ">= 1")
        self.require(self.decoder_heads >= 1, "decoder_heads", ">= 1")


def random_patch_mask(batch_size: int, n_patches: int, mask_ratio: float, generator: torch.Generator | None = None,
                      device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (idx_keep, idx_mask) patch indices, (B, n_keep) and (B, n_mask) with n_mask =
    round(mask_ratio * n_patches) clipped to [1, n_patches - 1]; reproducible for a seeded CPU generator."""
    n_mask = min(n_patches - 1, max(1, round(mask_ratio * n_patches)))
    order = torch.rand(batch_size, n_patches, generator=generator).argsort(dim=1).to(device)
    return order[:, n_mask:], order[:, :n_mask]


def normalise_patches(patches: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Each (…, P) patch vector minus its mean, over its standard deviation (MAE's norm_pix_loss target)."""
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True)
    return (patches - mean) / (var + eps).sqrt()


class MAE(nn.Module):
    """Masked autoencoder; ``n_views`` = 0 (it trains on ``batch['image']``)."""

    name = "mae"
    n_views = 0

    def __init__(self, *, in_chans: int, img_size: int, config: MAESettings) -> None:
        super().__init__()
        self.config = config
        self.in_chans = in_chans
        vit, self.embedding_dim = build_backbone(config, in_chans, img_size)
        self.patch_size = config.patch_size
        self.n_patches = int(vit.patch_embed.num_patches)
        # The encoder's own mask token is unused (hidden patches are dropped, not replaced): freeze it for DDP.
        unused_mask_token = nn.Parameter(torch.zeros(1, 1, vit.embed_dim), requires_grad=False)
        keep_weights = config.weights is not None  # don't overwrite loaded weights with MAE's initialisation
        self.encoder = MaskedVisionTransformerTIMM(
            vit=vit, mask_token=unused_mask_token, weight_initialization="skip" if keep_weights else "",
            pos_embed_initialization="skip" if keep_weights else "sincos")
        self.decoder_embed = nn.Linear(vit.embed_dim, config.decoder_dim)
        self.decoder = MaskedVisionTransformerDecoderTIMM(
            num_patches=self.n_patches, embed_dim=config.decoder_dim, depth=config.decoder_depth,
            num_heads=config.decoder_heads, num_prefix_tokens=vit.num_prefix_tokens)
        self.decoder_predict = nn.Linear(config.decoder_dim, config.patch_size ** 2 * in_chans)
        self.n_prefix = int(vit.num_prefix_tokens)
        self.generator: torch.Generator | None = None  # training masks; set a seeded one to control them

    @property
    def n_masked(self) -> int:
        """Hidden patches per image."""
        return min(self.n_patches - 1, max(1, round(self.config.mask_ratio * self.n_patches)))

    def mask_generator(self) -> torch.Generator:
        """The training masks' generator: ``self.generator``, or one seeded with mask_seed + process rank."""
        if self.generator is None:
            rank = torch.distributed.get_rank() if torch.distributed.is_available() \
                and torch.distributed.is_initialized() else 0
            self.generator = torch.Generator().manual_seed(self.config.mask_seed + rank)
        return self.generator

    def _decode(self, images: torch.Tensor, idx_keep: torch.Tensor) -> torch.Tensor:
        """Decoder output for every token (B, n_prefix + n_patches, decoder_dim), encoding visible patches only."""
        prefix = torch.arange(self.n_prefix, device=idx_keep.device).expand(len(idx_keep), -1)
        token_keep = torch.cat([prefix, idx_keep + self.n_prefix], dim=1)
        encoded = self.encoder.encode(images, idx_keep=token_keep)  # (B, n_prefix + n_keep, D)
        visible = self.decoder_embed(encoded)
        tokens = repeat_token(self.decoder.mask_token, (len(images), self.decoder.sequence_length))
        tokens = set_at_index(tokens.to(visible.dtype), token_keep, visible)
        return self.decoder(tokens)

    def _predict(self, decoded: torch.Tensor, idx_patches: torch.Tensor) -> torch.Tensor:
        """Predicted pixels (B, n, patch_size² · C) of the patches ``idx_patches``."""
        return self.decoder_predict(get_at_index(decoded, idx_patches + self.n_prefix))

    def training_loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """MSE between predicted and (normalised) true pixels of the hidden patches."""
        images = batch["image"]
        idx_keep, idx_mask = random_patch_mask(len(images), self.n_patches, self.config.mask_ratio,
                                               self.mask_generator(), images.device)
        prediction = self._predict(self._decode(images, idx_keep), idx_mask)
        target = get_at_index(patchify(images, self.patch_size), idx_mask)
        if self.config.norm_pix_loss:
            target = normalise_patches(target)
        loss = F.mse_loss(prediction.float(), target.float())
        return loss, {"masked_patches": float(idx_mask.shape[1])}

    def on_train_batch_end(self, step: int, total_steps: int) -> None:
        """Nothing to update between steps."""

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, embedding_dim) float32: mean patch token (or class token) of the unmasked cutout, eval mode."""
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            tokens = self.encoder.encode(images)
        finally:
            self.encoder.train(was_training)
        pooled = tokens[:, self.n_prefix:].mean(dim=1) if self.config.pool == "mean" else tokens[:, 0]
        return pooled.float()

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, generator: torch.Generator | None = None,
                    paste_visible: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(masked_input, reconstruction, mask) in image space for a reconstruction figure, in eval mode.

        ``mask`` is (B, 1, H, W) bool, True on hidden pixels; ``masked_input`` is the image with hidden patches set
        to 0. With ``norm_pix_loss`` the decoder predicts normalised patches; each is shown with the true patch's
        mean and standard deviation restored (so the figure shows recovered structure, not flux). With
        ``paste_visible`` the visible patches are the input's. ``generator`` defaults to one seeded with mask_seed.
        """
        was_training = self.training
        self.eval()
        try:
            generator = generator if generator is not None else torch.Generator().manual_seed(self.config.mask_seed)
            idx_keep, idx_mask = random_patch_mask(len(images), self.n_patches, self.config.mask_ratio, generator,
                                                   images.device)
            every_patch = torch.arange(self.n_patches, device=images.device).expand(len(images), -1)
            prediction = self._predict(self._decode(images, idx_keep), every_patch).float()
        finally:
            self.train(was_training)
        patches = patchify(images.float(), self.patch_size)
        if self.config.norm_pix_loss:
            prediction = prediction * (patches.var(dim=-1, keepdim=True) + 1e-6).sqrt() \
                + patches.mean(dim=-1, keepdim=True)
        hidden = torch.zeros(len(images), self.n_patches, 1, device=images.device)
        hidden = set_at_index(hidden, idx_mask, torch.ones_like(idx_mask, dtype=hidden.dtype).unsqueeze(-1))
        if paste_visible:
            prediction = torch.where(hidden.bool(), prediction, patches)
        mask_patches = hidden.expand(-1, -1, patches.shape[-1])
        reconstruction = unpatchify(prediction, self.patch_size, self.in_chans)
        mask = unpatchify(mask_patches, self.patch_size, self.in_chans)[:, :1].bool()
        return images.float() * ~mask, reconstruction, mask
