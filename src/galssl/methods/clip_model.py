"""CLIP models (open_clip) for multi-band galaxy cutouts, built offline.

A model is either a small custom one (tiny widths, for CPU demos and tests) or a named open_clip architecture
(``ViT-B-32``, ``ViT-B-16``, ...; its config ships inside the package). Weights are random unless a local open_clip
checkpoint is given (``.safetensors`` or a torch state dict, read with ``weights_only=True``); nothing is ever
downloaded. The image tower's first convolution is widened from RGB to the survey's bands with timm's
``adapt_input_conv`` (pretrained RGB filters repeated over the bands and rescaled). Text is tokenised by open_clip's
byte-pair tokenizer, whose vocabulary ships inside the package.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from galssl.errors import ConfigError, DataError


def import_open_clip():
    """The ``open_clip`` module, or a one-line ConfigError saying how to install it (GalaxAlign is optional)."""
    try:
        import open_clip
    except ModuleNotFoundError:
        raise ConfigError("the galaxalign methods need open_clip, which is not installed: "
                          "pip install 'galssl[clip]' (or remove them from pretrain.methods)") from None
    return open_clip


def custom_clip_config(*, embed_dim: int, input_size: int, patch_size: int, vision_width: int, vision_layers: int,
                       vision_head_width: int, text_width: int, text_layers: int, text_heads: int,
                       context_length: int) -> dict[str, Any]:
    """An open_clip model config (``embed_dim``, ``vision_cfg``, ``text_cfg``) of a small ViT + text transformer."""
    return {"embed_dim": embed_dim,
            "vision_cfg": {"image_size": input_size, "patch_size": patch_size, "width": vision_width,
                           "layers": vision_layers, "head_width": vision_head_width},
            "text_cfg": {"context_length": context_length, "vocab_size": 49408, "width": text_width,
                         "heads": text_heads, "layers": text_layers}}


def named_clip_config(architecture: str, input_size: int | None, where: str) -> dict[str, Any]:
    """The config of a built-in open_clip architecture, with the image size set to ``input_size`` (if given)."""
    open_clip = import_open_clip()
    config = open_clip.get_model_config(architecture)
    if config is None:
        shown = ", ".join(name for name in open_clip.list_models() if name.startswith(("ViT-B", "ViT-S", "RN50")))
        raise ConfigError(f"{where} {architecture!r} is not an open_clip architecture (e.g. {shown})")
    text, vision = config.get("text_cfg", {}), config.get("vision_cfg", {})
    if text.get("hf_model_name") or text.get("hf_tokenizer_name") or config.get("multimodal_cfg"):
        raise ConfigError(f"{where} {architecture!r} needs a Hugging Face text model or tokenizer (downloaded at run "
                          "time); choose an architecture with open_clip's own text tower, e.g. ViT-B-32 or ViT-B-16")
    if vision.get("timm_model_name"):
        vision["timm_model_pretrained"] = False  # never fetch timm weights; the local checkpoint has them
    if input_size is not None:
        vision["image_size"] = input_size
    return copy.deepcopy(config)


def clip_image_size(config: Mapping[str, Any]) -> int:
    """Side in pixels of the images the config's image tower takes."""
    size = config["vision_cfg"].get("image_size", 224)
    return int(size if isinstance(size, int) else size[0])


def create_clip(config: Mapping[str, Any], in_chans: int, weights: str | os.PathLike[str] | None = None) -> nn.Module:
    """An open_clip ``CLIP`` (or ``CustomTextCLIP``) from ``config``, weights from a local file when given, and an
    image tower taking ``in_chans`` bands."""
    open_clip = import_open_clip()
    config = copy.deepcopy(dict(config))
    custom_text = bool(config.pop("custom_text", False))
    config.pop("init_logit_bias", None)  # SigLIP-style bias: GalaxAlign trains the CLIP softmax loss
    model_class = open_clip.CustomTextCLIP if custom_text else open_clip.CLIP
    try:
        model = model_class(**config)
    except (TypeError, ValueError, AssertionError) as error:
        raise ConfigError(f"open_clip model cannot be built from {config}: {error}") from error
    if weights is not None:
        load_clip_weights(model, weights)
    widen_input_conv(model.visual, in_chans)
    return model


def load_clip_weights(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a local open_clip checkpoint (safetensors or torch state dict; position embeddings are interpolated to
    the model's grid). Raises DataError when the file is missing, unreadable or of another architecture."""
    open_clip = import_open_clip()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"CLIP weights file {path} does not exist (only local files are read; download once, "
                          "see the README section GalaxAlign)")
    try:
        open_clip.load_checkpoint(model, str(path), strict=True, weights_only=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0][:200]
        raise DataError(f"CLIP weights file {path} does not fit the configured architecture ({first}); set "
                        "architecture to the model the file was saved from") from None
    except Exception as error:  # noqa: BLE001 - any decoding failure means an unreadable file
        raise DataError(f"CLIP weights file {path} cannot be read as safetensors or torch tensors "
                        f"({type(error).__name__}: {str(error)[:160]})") from None


def widen_input_conv(visual: nn.Module, in_chans: int) -> None:
    """Replace the image tower's first 3-channel convolution by one taking ``in_chans`` channels, its filters
    adapted from the RGB ones (timm ``adapt_input_conv``: repeated over channels, scaled by 3 / in_chans)."""
    from timm.models import adapt_input_conv

    if in_chans == 3:
        return
    for parent in visual.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d) and child.in_channels == 3:
                conv = nn.Conv2d(in_chans, child.out_channels, child.kernel_size, child.stride, child.padding,
                                 child.dilation, child.groups, child.bias is not None)
                with torch.no_grad():
                    conv.weight.copy_(adapt_input_conv(in_chans, child.weight.detach()))
                    if child.bias is not None:
                        conv.bias.copy_(child.bias)
                setattr(parent, name, conv)
                return
    raise ConfigError("the CLIP image tower has no 3-channel input convolution to widen to the survey's bands")


def tokenize(texts: Sequence[str], context_length: int) -> torch.Tensor:
    """(len(texts), context_length) int64 BPE token ids (open_clip's tokenizer; vocabulary shipped, no network).

    Raises ConfigError when a text does not fit, instead of silently cutting it.
    """
    SimpleTokenizer = import_open_clip().tokenizer.SimpleTokenizer

    tokenizer = SimpleTokenizer(context_length=context_length)
    for text in texts:
        n_tokens = len(tokenizer.encode(text)) + 2  # start and end tokens
        if n_tokens > context_length:
            raise ConfigError(f"the prompt {text!r} has {n_tokens} tokens, more than context_length "
                              f"{context_length}; shorten the template or raise context_length")
    return tokenizer(list(texts)).long()
