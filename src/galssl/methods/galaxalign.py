"""GalaxAlign: tri-modal contrastive alignment of galaxy images, schematic symbols and text (Wang et al. 2024,
arXiv:2411.19475), on an open_clip model (``galssl.methods.clip_model``).

Each labelled galaxy of class k is paired with the text "A picture of a/an <class name>" and with class k's symbol
(``galssl.symbols``, randomly rotated and flipped). Losses are the symmetric CLIP loss with CLIP's learnable
temperature, averaged over the active modality pairs; galaxies of the same class in a batch are all positives of
each other (with unique classes this is exactly CLIP's loss).

* Stage 1: one shared image encoder embeds images and symbols; image–text and symbol–text losses.
* Stage 2: the symbol encoder starts as an exact copy of the stage-1 image encoder; image–text, image–symbol and
  symbol–text losses train all three encoders.

``stage1_epochs`` then ``stage2_epochs`` set the schedule. Ablations are further method names with the same settings
(they inherit ``method_config.galaxalign``) and the same total epochs: ``galaxalign_nosymbols`` (image–text only:
plain CLIP fine-tuning), ``galaxalign_stage1`` (stage 1 throughout), ``galaxalign_stage2`` (stage 2 from the start).
The representation is the image tower's output in the joint image–text space; objects without a class are left out
of the loss.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from galssl.methods.base import augmented_views
from galssl.methods.clip_model import clip_image_size, create_clip, custom_clip_config, named_clip_config, tokenize
from galssl.methods.prompts import CLASS_TEXT, class_prompts
from galssl.methods.settings import MethodSettings
from galssl.symbols import SYMBOLS, check_symbol_names, draw_symbols

SYMBOL_PEAK = 3.0
"""Brightest symbol pixel, about the asinh-stretched centre of a bright galaxy (images are normalised by sky MAD)."""
MAX_LOGIT_SCALE = 100.0
"""CLIP clamps its learnt inverse temperature here."""


@dataclasses.dataclass(frozen=True)
class GalaxAlignSettings(MethodSettings):
    """``pretrain.method_config.galaxalign``: model, local weights, classes and prompts, stage schedule."""

    METHOD: ClassVar[str] = "galaxalign"
    VARIANT: ClassVar[str] = "full"  # full | no_symbols | stage1_only | stage2_only (set by the method name)

    architecture: str | None = None  # open_clip architecture (e.g. ViT-B-32) of `weights`; null = the custom model
    weights: str | None = None  # local open_clip checkpoint of this model; null = random init (never downloaded)
    input_size: int | None = None  # side the image tower sees (images resized); null = the training crop
    embed_dim: int = 64  # joint image-text space (custom model)
    patch_size: int = 8  # ViT patch side in pixels (custom model)
    vision_width: int = 64
    vision_layers: int = 2
    vision_head_width: int = 32
    text_width: int = 64
    text_layers: int = 2
    text_heads: int = 2
    context_length: int = 32  # BPE tokens per prompt (custom model)
    classes: tuple[str, ...] = tuple(SYMBOLS)  # class names in label order (0, 1, ...): each has a symbol and a text
    templates: tuple[str, ...] = ("A picture of {a} {name}.",)  # {name}: class text, {a}: its article (a/an)
    stage1_epochs: int = 10  # shared image/symbol encoder
    stage2_epochs: int = 5  # separate symbol encoder, three pairwise losses
    init_temperature: float = 0.07  # initial softmax temperature (learnt); pretrained weights keep theirs
    augment: bool = True  # train on one augmented view of each image (the plain image when false)

    def __post_init__(self) -> None:
        for key in ("embed_dim", "patch_size", "vision_width", "vision_layers", "vision_head_width", "text_width",
                    "text_layers", "text_heads"):
            self.require(getattr(self, key) >= 1, key, ">= 1")
        self.require(self.vision_width % self.vision_head_width == 0, "vision_width",
                     f"a multiple of vision_head_width ({self.vision_head_width})")
        self.require(self.text_width % self.text_heads == 0, "text_width",
                     f"a multiple of text_heads ({self.text_heads})")
        self.require(self.context_length >= 8, "context_length", ">= 8")
        self.require(self.input_size is None or self.input_size >= 8, "input_size", "null or >= 8")
        self.require(len(self.classes) >= 2, "classes", "a list of at least two class names")
        self.require(len(set(self.classes)) == len(self.classes), "classes", "free of repeated names")
        check_symbol_names(self.classes, self.where("classes"))
        self.require(len(self.templates) >= 1, "templates", "a list of at least one template")
        for template in self.templates:
            self.require("{name}" in template, "templates", "templates that each contain {name}")
        self.require(self.stage1_epochs >= 0 and self.stage2_epochs >= 0, "stage1_epochs", ">= 0 (and so must "
                     "stage2_epochs)")
        self.require(self.stage1_epochs + self.stage2_epochs >= 1, "stage1_epochs", "at least 1 with stage2_epochs")
        if self.VARIANT == "full":
            self.require(self.stage1_epochs >= 1, "stage1_epochs", ">= 1 (galaxalign_stage2 skips stage 1)")
            self.require(self.stage2_epochs >= 1, "stage2_epochs", ">= 1 (galaxalign_stage1 skips stage 2)")
        self.require(0.001 <= self.init_temperature <= 1.0, "init_temperature", "in [0.001, 1]")


@dataclasses.dataclass(frozen=True)
class GalaxAlignNoSymbolsSettings(GalaxAlignSettings):
    """``galaxalign_nosymbols``: image–text loss only (plain CLIP fine-tuning)."""

    METHOD: ClassVar[str] = "galaxalign_nosymbols"
    VARIANT: ClassVar[str] = "no_symbols"


@dataclasses.dataclass(frozen=True)
class GalaxAlignStage1Settings(GalaxAlignSettings):
    """``galaxalign_stage1``: stage 1 (shared image/symbol encoder) for all epochs."""

    METHOD: ClassVar[str] = "galaxalign_stage1"
    VARIANT: ClassVar[str] = "stage1_only"


@dataclasses.dataclass(frozen=True)
class GalaxAlignStage2Settings(GalaxAlignSettings):
    """``galaxalign_stage2``: stage 2 (separate symbol encoder, three losses) for all epochs."""

    METHOD: ClassVar[str] = "galaxalign_stage2"
    VARIANT: ClassVar[str] = "stage2_only"


def contrastive_loss(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor | float,
                     groups: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric CLIP loss between two (B, D) batches: mean of cross-entropy a→b and b→a over
    ``logit_scale * cos(a_i, b_j)``. Row i's positives are j = i, or every j with ``groups[j] == groups[i]`` (the
    target then spreads evenly over them)."""
    a, b = F.normalize(a.float(), dim=-1), F.normalize(b.float(), dim=-1)
    logits = logit_scale * a @ b.T
    if groups is None:
        target = torch.eye(len(a), device=a.device)
    else:
        target = (groups[:, None] == groups[None, :]).float()
    target = target / target.sum(dim=1, keepdim=True)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target.T))


def random_symmetry(images: torch.Tensor) -> torch.Tensor:
    """Each image rotated by a random multiple of 90° and randomly mirrored (torch's seeded global generator)."""
    turns = torch.randint(0, 4, (len(images),), device=images.device)
    flips = torch.randint(0, 2, (len(images),), device=images.device).bool()
    out = torch.stack([torch.rot90(image, int(k), dims=(-2, -1)) for image, k in zip(images, turns)]) if len(images) \
        else images
    return torch.where(flips[:, None, None, None], out.flip(-1), out)


class GalaxAlign(nn.Module):
    """Image, text and symbol encoders trained with pairwise CLIP losses in one or two stages."""

    needs_labels = True  # every galaxy is paired with its class's text and symbol

    def __init__(self, *, in_chans: int, img_size: int, config: GalaxAlignSettings) -> None:
        super().__init__()
        self.config = config
        self.name = config.METHOD
        self.variant = config.VARIANT
        self.n_views = 1 if config.augment else 0
        if config.architecture is None:
            clip_config = custom_clip_config(
                embed_dim=config.embed_dim, input_size=config.input_size or img_size, patch_size=config.patch_size,
                vision_width=config.vision_width, vision_layers=config.vision_layers,
                vision_head_width=config.vision_head_width, text_width=config.text_width,
                text_layers=config.text_layers, text_heads=config.text_heads, context_length=config.context_length)
        else:
            clip_config = named_clip_config(config.architecture, config.input_size, config.where("architecture"))
        self.input_size = clip_image_size(clip_config)
        self.clip = create_clip(clip_config, in_chans, config.weights)
        self.embedding_dim = int(clip_config["embed_dim"])
        if config.weights is None:  # pretrained weights keep their learnt temperature
            with torch.no_grad():
                self.clip.logit_scale.fill_(float(torch.log(torch.tensor(1.0 / config.init_temperature))))
        # The stage-2 symbol encoder (absent when symbols share the image encoder throughout).
        self.symbol_encoder = copy.deepcopy(self.clip.visual) if self.variant in ("full", "stage2_only") else None
        self.register_buffer("stage", torch.tensor(2 if self.variant == "stage2_only" else 1), persistent=True)
        prompts = class_prompts(config.classes, config.templates)  # (templates, classes)
        tokens = tokenize([text for row in prompts for text in row], int(self.clip.context_length))
        self.register_buffer("prompt_tokens", tokens.view(len(prompts), len(config.classes), -1), persistent=False)
        symbols = torch.from_numpy(draw_symbols(config.classes, self.input_size)) * SYMBOL_PEAK
        self.register_buffer("symbols", symbols[:, None].expand(-1, in_chans, -1, -1).contiguous(), persistent=False)
        self._restarted: list[nn.Parameter] = []

    @property
    def encoder(self) -> nn.Module:
        """The image encoder (its output is the representation)."""
        return self.clip.visual

    @property
    def planned_epochs(self) -> int:
        """Training epochs of this run: stage 1 plus stage 2 (the ablations keep the same total)."""
        return self.config.stage1_epochs + self.config.stage2_epochs

    @property
    def min_epochs(self) -> int:
        """Early stopping may not end the run before stage 2 has trained one epoch (it would silently skip it)."""
        return self.config.stage1_epochs + min(1, self.config.stage2_epochs)

    @property
    def class_names(self) -> list[str]:
        """Readable class names, in label order."""
        return [CLASS_TEXT[name] for name in self.config.classes]

    def _resize(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] == self.input_size:
            return images
        return F.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear", antialias=True,
                             align_corners=False)

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """(B, embed_dim) joint-space features of (B, C, H, W) normalised cutouts (resized to ``input_size``)."""
        return self.clip.encode_image(self._resize(images))

    def encode_symbols(self, symbols: torch.Tensor) -> torch.Tensor:
        """Symbol features: the shared image encoder in stage 1, the separate symbol encoder in stage 2."""
        encoder = self.symbol_encoder if int(self.stage) == 2 and self.symbol_encoder is not None else self.clip.visual
        return encoder(self._resize(symbols))

    def text_features(self) -> torch.Tensor:
        """(templates, classes, embed_dim) features of every prompt."""
        n_templates, n_classes, length = self.prompt_tokens.shape
        return self.clip.encode_text(self.prompt_tokens.reshape(-1, length)).view(n_templates, n_classes, -1)

    @torch.no_grad()
    def class_text_embeddings(self) -> torch.Tensor:
        """(classes, embed_dim) unit vectors: each class's prompt features averaged over the templates (eval mode)."""
        was_training = self.training
        self.eval()
        try:
            features = F.normalize(self.text_features().float(), dim=-1).mean(dim=0)
        finally:
            self.train(was_training)
        return F.normalize(features, dim=-1)

    def training_loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean of the active pairwise CLIP losses over the labelled galaxies of the batch (in eval mode: the
        image–text loss)."""
        if "label" not in batch:
            raise ValueError(f"method {self.name} needs batch['label'] (-1 = unknown): set labels.class_column and "
                             "labels.table")
        label = batch["label"].long()
        images = augmented_views(batch, 1, self.name)[0] if self.n_views and self.training else batch["image"]
        known = label >= 0
        n_classes = len(self.config.classes)
        if bool(known.any()) and int(label[known].max()) >= n_classes:
            raise ValueError(f"label {int(label.max())} has no class in pretrain.method_config.{self.name}.classes "
                             f"({n_classes} classes)")
        logs: dict[str, float] = {"labelled_fraction": float(known.float().mean()) if len(label) else 0.0,
                                  "stage": float(self.stage), "temperature": float(1.0 / self._logit_scale().detach())}
        if not bool(known.any()):
            return sum(parameter.sum() for parameter in self.parameters()) * 0.0, logs
        label, images = label[known], images[known]
        scale = self._logit_scale()
        image_features = self.encode_images(images)
        text = self.text_features()
        text_features = text[torch.arange(len(label), device=label.device) % text.shape[0], label]
        losses = {"image_text": contrastive_loss(image_features, text_features, scale, label)}
        if self.variant != "no_symbols":
            symbols = self.symbols[label]
            symbol_features = self.encode_symbols(random_symmetry(symbols) if self.training else symbols)
            losses["symbol_text"] = contrastive_loss(symbol_features, text_features, scale, label)
            if int(self.stage) == 2:
                losses["image_symbol"] = contrastive_loss(image_features, symbol_features, scale, label)
        # Validation (eval mode) scores the image-text loss alone: the one criterion every stage and ablation shares,
        # so early stopping and the val curves compare like with like across the stage switch.
        loss = torch.stack(list(losses.values())).mean() if self.training else losses["image_text"]
        if self.symbol_encoder is not None and int(self.stage) == 1:
            # Every parameter takes part in every step (DDP requires it); the idle symbol encoder gets zero gradients.
            loss = loss + 0.0 * sum(parameter.sum() for parameter in self.symbol_encoder.parameters())
        with torch.no_grad():
            classes = F.normalize(text.float(), dim=-1).mean(dim=0)
            predicted = (F.normalize(image_features.float(), dim=-1) @ classes.T).argmax(dim=1)
        logs.update({f"loss_{pair}": float(value.detach()) for pair, value in losses.items()})
        logs["zero_shot_accuracy"] = float((predicted == label).float().mean())
        return loss, logs

    def _logit_scale(self) -> torch.Tensor:
        return self.clip.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE).squeeze()

    def start_stage2(self) -> None:
        """Copy the image encoder into the symbol encoder and switch to the three pairwise losses."""
        if self.symbol_encoder is None:
            raise ValueError(f"method {self.name} has no separate symbol encoder (variant {self.variant})")
        with torch.no_grad():
            self.symbol_encoder.load_state_dict(self.clip.visual.state_dict())
        self.stage.fill_(2)
        self._restarted = list(self.symbol_encoder.parameters())

    def pop_restarted_parameters(self) -> list[nn.Parameter]:
        """Parameters whose training (re)starts now; the trainer gives them fresh optimizer state (once)."""
        restarted, self._restarted = self._restarted, []
        return restarted

    def on_train_batch_end(self, step: int, total_steps: int) -> None:
        """Enter stage 2 after the stage-1 share of the steps (full GalaxAlign only)."""
        if self.variant != "full" or int(self.stage) != 1:
            return
        if step >= total_steps * self.config.stage1_epochs // self.planned_epochs:
            self.start_stage2()

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, embedding_dim) float32 image features in the joint space, in eval mode."""
        was_training = self.training
        self.eval()
        try:
            return self.encode_images(images).float()
        finally:
            self.train(was_training)
