"""Encoders (backbones) from timm, always built from scratch and optionally initialised from a local weights file.

Nothing is ever downloaded: ``pretrained=False`` is forced and a ``weights`` path must point at a local
safetensors or PyTorch file (read with ``weights_only=True``, so no pickled code runs).

* ResNets (``resnet18``, ``resnet50``...) take ``in_chans`` survey bands. timm's stem (stride-2 conv + max-pool,
  stride 4) is kept for 64 px cutouts: the last stage then sees a 2x2 map, which is enough for galaxy-scale
  structure and keeps the CPU demo fast; a 32 px cutout ends at 1x1, which still trains.
* Vision transformers (timm names such as ``vit_tiny_patch16_224``) are rebuilt for the cutout size:
  ``img_size`` = cutout side and ``patch_size`` (8 by default, so a 64 px cutout is an 8x8 grid of tokens).
  ``backbone_kwargs`` reach ``timm.create_model`` (e.g. ``{embed_dim: 64, depth: 2, num_heads: 2}``).
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from galssl.errors import ConfigError, DataError
from galssl.methods.settings import MethodSettings

# Keys the caller controls; letting backbone_kwargs override them would break the no-download rule or the shapes.
RESERVED_KWARGS = ("pretrained", "num_classes", "in_chans", "img_size", "patch_size", "pretrained_cfg_overlay")
# Where a backbone's tensors sit in a galssl checkpoint or a wrapped model: tried in this order.
STATE_PREFIXES = ("", "encoder.", "encoder.vit.", "backbone.", "module.", "vit.")


@dataclasses.dataclass(frozen=True)
class BackboneSettings(MethodSettings):
    """Settings shared by every method: which timm encoder, its ViT patch size, extra timm kwargs, local weights."""

    backbone: str = "resnet18"
    patch_size: int = 8  # pixels per ViT token side; ignored for CNNs
    backbone_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    weights: str | None = None  # local safetensors / torch file to initialise the encoder; never a hub name

    def __post_init__(self) -> None:
        self.require(timm.is_model(self.backbone), "backbone", "a timm model name such as 'resnet18' or "
                     "'vit_tiny_patch16_224'")
        self.require(self.patch_size >= 1, "patch_size", ">= 1")
        reserved = sorted(set(self.backbone_kwargs) & set(RESERVED_KWARGS))
        self.require(not reserved, "backbone_kwargs", f"free of {', '.join(RESERVED_KWARGS)} (set by galssl)")


def is_vision_transformer(name: str) -> bool:
    """True for timm models defined in ``timm.models.vision_transformer`` (they need img_size and patch_size)."""
    return bool(timm.models.is_model_in_modules(name, ["vision_transformer"]))


def create_backbone(name: str, in_chans: int, img_size: int, *, patch_size: int = 8,
                    weights: str | os.PathLike[str] | None = None,
                    **timm_kwargs: Any) -> tuple[nn.Module, int]:
    """A headless timm encoder mapping (B, in_chans, img_size, img_size) images to (B, feature_dim) features.

    ``weights`` is an optional local file (``.safetensors`` or a torch state dict) loaded into the encoder; a
    classification head or other extra tensors in it are ignored, missing or misshapen tensors raise DataError.
    """
    if not timm.is_model(name):
        raise ConfigError(f"backbone {name!r} is not a timm model (e.g. 'resnet18', 'vit_tiny_patch16_224')")
    if in_chans < 1 or img_size < 1:
        raise ConfigError(f"backbone {name!r} needs in_chans >= 1 and img_size >= 1 (got {in_chans}, {img_size})")
    kwargs: dict[str, Any] = {"pretrained": False, "num_classes": 0, "in_chans": in_chans}
    if is_vision_transformer(name):
        if img_size % patch_size:
            raise ConfigError(f"backbone {name!r}: cutout size {img_size} px is not a multiple of "
                              f"patch_size {patch_size}")
        kwargs.update(img_size=img_size, patch_size=patch_size)
    clash = sorted(set(timm_kwargs) & set(RESERVED_KWARGS))
    if clash:
        raise ConfigError(f"backbone {name!r}: {', '.join(clash)} are set by galssl, not by backbone_kwargs")
    kwargs.update(timm_kwargs)
    try:
        model = timm.create_model(name, **kwargs)
    except (TypeError, ValueError, AssertionError) as error:
        raise ConfigError(f"backbone {name!r} cannot be built with {timm_kwargs or 'default kwargs'}: "
                          f"{error}") from error
    if weights is not None:
        load_weights(model, weights)
    return model, int(model.num_features)


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors of a local ``.safetensors`` file or torch file (a state dict, or a dict with ``state_dict``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"weights file {path} does not exist (only local files are accepted, no hub names)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DataError(f"weights file {path} cannot be read as safetensors or torch tensors: {error}") from error
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise DataError(f"weights file {path} holds a {type(state).__name__}, not a dict of tensors")
    return {str(key): value for key, value in state.items() if isinstance(value, torch.Tensor)}


def load_weights(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Copy tensors from a local file into ``model``, stripping the first prefix under which all its keys exist."""
    state = read_state_dict(path)
    wanted = set(model.state_dict())
    for prefix in STATE_PREFIXES:
        candidate = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
        if wanted <= set(candidate):
            break
    else:
        missing = sorted(wanted - set(state))
        raise DataError(f"weights file {path} lacks {len(missing)} of the encoder's {len(wanted)} tensors "
                        f"(first: {missing[0]!r})")
    try:
        model.load_state_dict({key: candidate[key] for key in wanted}, strict=True)
    except RuntimeError as error:
        raise DataError(f"weights file {path} does not fit the encoder: {str(error).splitlines()[0]} "
                        f"{str(error).splitlines()[-1].strip()}") from error


def build_backbone(settings: BackboneSettings, in_chans: int, img_size: int) -> tuple[nn.Module, int]:
    """``create_backbone`` from a method's settings."""
    return create_backbone(settings.backbone, in_chans, img_size, patch_size=settings.patch_size,
                           weights=settings.weights, **dict(settings.backbone_kwargs))
