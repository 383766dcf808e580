"""Pretraining methods: a registry from ``pretrain.methods`` names to (settings dataclass, model class).

Every method is an ``nn.Module`` following ``galssl.methods.base.Method`` (``training_loss``, ``embed``,
``on_train_batch_end``, ``name``, ``embedding_dim``, ``n_views``, ``encoder``) and keeps its parsed settings in
``.config``.

>>> method = create_method("simclr", in_chans=5, img_size=64, config={"temperature": 0.2})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from galssl.errors import ConfigError
from galssl.methods.backbone import BackboneSettings, create_backbone
from galssl.methods.base import Method, encoder_module
from galssl.methods.galaxalign import (
    GalaxAlign,
    GalaxAlignNoSymbolsSettings,
    GalaxAlignSettings,
    GalaxAlignStage1Settings,
    GalaxAlignStage2Settings,
)
from galssl.methods.mae import MAE, MAESettings
from galssl.methods.moco import MoCo, MoCoSettings
from galssl.methods.pixels_pca import PixelPCA, PixelPCASettings
from galssl.methods.settings import MethodSettings, parse_settings
from galssl.methods.simclr import SimCLR, SimCLRSettings
from galssl.methods.supervised import Supervised, SupervisedSettings

_REGISTRY: dict[str, tuple[type[MethodSettings], type[nn.Module]]] = {
    "moco": (MoCoSettings, MoCo),
    "simclr": (SimCLRSettings, SimCLR),
    "mae": (MAESettings, MAE),
    "supervised": (SupervisedSettings, Supervised),
    "pixels_pca": (PixelPCASettings, PixelPCA),
    # GalaxAlign and its ablations: one model class, the variant comes with the settings class.
    "galaxalign": (GalaxAlignSettings, GalaxAlign),
    "galaxalign_nosymbols": (GalaxAlignNoSymbolsSettings, GalaxAlign),
    "galaxalign_stage1": (GalaxAlignStage1Settings, GalaxAlign),
    "galaxalign_stage2": (GalaxAlignStage2Settings, GalaxAlign),
}
# Methods trained by `galssl pretrain` (pixels_pca is fitted in closed form by `galssl fit-pixel-pca`).
METHODS: tuple[str, ...] = ("moco", "simclr", "mae", "supervised")
# GalaxAlign (image-text-symbol alignment on a CLIP model) and its ablations, also trained by `galssl pretrain`.
GALAXALIGN_METHODS: tuple[str, ...] = ("galaxalign", "galaxalign_nosymbols", "galaxalign_stage1", "galaxalign_stage2")


def method_settings(name: str, config: Mapping[str, Any] | None = None) -> MethodSettings:
    """The validated settings dataclass of method ``name`` (defaults filled in) from a user mapping."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown pretraining method {name!r}; choose one of: "
                          f"{', '.join(METHODS + GALAXALIGN_METHODS)}")
    return parse_settings(_REGISTRY[name][0], config)


def create_method(name: str, *, in_chans: int, img_size: int, config: Mapping[str, Any] | None = None) -> nn.Module:
    """Build method ``name`` for cutouts of ``in_chans`` bands and ``img_size`` x ``img_size`` pixels.

    ``config`` is the ``pretrain.method_config.<name>`` mapping; unknown keys or bad values raise a ConfigError that
    names ``pretrain.method_config.<name>.<key>``. Weights are never downloaded.
    """
    settings = method_settings(name, config)
    if in_chans < 1 or img_size < 8:
        raise ConfigError(f"method {name} needs in_chans >= 1 and img_size >= 8 (got {in_chans}, {img_size})")
    return _REGISTRY[name][1](in_chans=in_chans, img_size=img_size, config=settings)


__all__ = ["GALAXALIGN_METHODS", "GalaxAlign", "GalaxAlignSettings",
           "METHODS", "BackboneSettings", "MAE", "MAESettings", "Method", "MethodSettings", "MoCo", "MoCoSettings",
           "PixelPCA", "PixelPCASettings",
           "SimCLR", "SimCLRSettings", "Supervised", "SupervisedSettings", "create_backbone", "create_method",
           "encoder_module", "method_settings"]
