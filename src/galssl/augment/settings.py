"""The ``pretrain.augment`` config section, validated into :class:`AugmentSettings` (no torch: config checks use it).

Section (every key optional; absent = the default below, ``null`` or ``false`` = off)::

    rotation: true                                  # or {flip: false} to rotate without mirroring
    jitter_crop: {crop_size: 48, max_shift: 4}
    noise: {scale: [1, 3]}                          # added sigma in units of the manifest's sky_mad
    psf_blur: {sigma_px: [0, 1], wavelength_exponent: -0.3}
    reddening: {ebv: [0, 0.5]}
    rescale: null                                   # e.g. {scale: [0.9, 1.1]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from galssl.errors import ConfigError

MIN_CROP_PX = 8
"""Smallest crop an encoder accepts (galssl.methods.create_method needs img_size >= 8)."""

DEFAULT_AUGMENT: dict[str, Any] = {"rotation": True, "jitter_crop": {"crop_size": 48, "max_shift": 4},
                             "noise": {"scale": [1.0, 3.0]}, "psf_blur": {"sigma_px": [0.0, 1.0]},
                             "reddening": {"ebv": [0.0, 0.5]}, "rescale": None}
"""Hayat et al. (2021)-style defaults for 64-pixel cutouts: the one place they are written."""
_DEFAULTS = DEFAULT_AUGMENT
_ALLOWED = {"rotation": {"flip"}, "jitter_crop": {"crop_size", "max_shift"}, "noise": {"scale"},
            "psf_blur": {"sigma_px", "wavelength_exponent"}, "reddening": {"ebv"}, "rescale": {"scale"}}


def _pair(value: Any, where: str) -> tuple[float, float]:
    """A [low, high] range (a single number means low = high) of finite numbers, else a ConfigError."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), float(value)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2 and \
            all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        low, high = float(value[0]), float(value[1])
        if low <= high:
            return low, high
    raise ConfigError(f"config error: {where} must be [low, high] with low <= high (got {value!r})")


@dataclass(frozen=True)
class AugmentSettings:
    """The ``pretrain.augment`` section, validated; ``None`` switches an augmentation off."""

    rotation: bool = True
    flip: bool = True
    crop_size: int | None = 48
    max_shift_px: int = 4
    noise_scale: tuple[float, float] | None = (1.0, 3.0)
    psf_sigma_px: tuple[float, float] | None = (0.0, 1.0)
    psf_wavelength_exponent: float = -0.3
    reddening_ebv: tuple[float, float] | None = (0.0, 0.5)
    rescale: tuple[float, float] | None = None

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, where: str = "pretrain.augment") -> AugmentSettings:
        """Validate a config section (unknown keys, types, ranges) into settings; one ConfigError per problem."""
        if section is not None and not isinstance(section, Mapping):
            raise ConfigError(f"config error: {where} must be a mapping of augmentations (got {section!r})")
        section = dict(section or {})
        unknown = sorted(set(section) - set(_DEFAULTS))
        if unknown:
            raise ConfigError(f"config error: {where}.{unknown[0]} is not an augmentation "
                              f"(allowed: {', '.join(_DEFAULTS)})")
        merged = {key: section.get(key, default) for key, default in _DEFAULTS.items()}
        parts: dict[str, dict[str, Any] | None] = {}
        for key, value in merged.items():
            if value is None or value is False:
                parts[key] = None
            elif value is True:
                parts[key] = {} if key == "rotation" else dict(_DEFAULTS[key] or {"scale": [0.9, 1.1]})
            elif isinstance(value, Mapping):
                extra = sorted(set(value) - _ALLOWED[key])
                if extra:
                    raise ConfigError(f"config error: {where}.{key}.{extra[0]} is not a known key "
                                      f"(allowed: {', '.join(sorted(_ALLOWED[key]))})")
                parts[key] = dict(value)
            else:
                raise ConfigError(f"config error: {where}.{key} must be a mapping, true, false or null (got {value!r})")
        crop = parts["jitter_crop"]
        crop_size = crop.get("crop_size", _DEFAULTS["jitter_crop"]["crop_size"]) if crop is not None else None
        max_shift = crop.get("max_shift", _DEFAULTS["jitter_crop"]["max_shift"]) if crop is not None else 0
        for name, number, minimum in (("crop_size", crop_size, MIN_CROP_PX), ("max_shift", max_shift, 0)):
            if number is not None and (not isinstance(number, int) or isinstance(number, bool) or number < minimum):
                why = f"; encoders need crops of at least {MIN_CROP_PX} px" if name == "crop_size" else ""
                raise ConfigError(f"config error: {where}.jitter_crop.{name} must be an integer >= {minimum} "
                                  f"(got {number!r}){why}")
        ranges: dict[str, tuple[float, float] | None] = {}
        for key, field_name, minimum in (("noise", "scale", 0.0), ("psf_blur", "sigma_px", 0.0),
                                         ("reddening", "ebv", 0.0), ("rescale", "scale", 1e-6)):
            part = parts[key]
            default = (_DEFAULTS[key] or {"scale": [0.9, 1.1]})[field_name]
            pair = _pair(part.get(field_name, default), f"{where}.{key}.{field_name}") if part is not None else None
            if pair is not None and pair[0] < minimum:
                raise ConfigError(f"config error: {where}.{key}.{field_name} must be >= {minimum:g} (got {list(pair)})")
            ranges[key] = pair
        blur = parts["psf_blur"] or {}
        exponent = blur.get("wavelength_exponent", -0.3)
        if not isinstance(exponent, (int, float)) or isinstance(exponent, bool):
            raise ConfigError(f"config error: {where}.psf_blur.wavelength_exponent must be a number (got {exponent!r})")
        rotation = parts["rotation"]
        flip = rotation.get("flip", True) if rotation is not None else False
        if not isinstance(flip, bool):
            raise ConfigError(f"config error: {where}.rotation.flip must be true or false (got {flip!r})")
        return cls(rotation=rotation is not None, flip=flip, crop_size=crop_size, max_shift_px=max_shift,
                   noise_scale=ranges["noise"], psf_sigma_px=ranges["psf_blur"],
                   psf_wavelength_exponent=float(exponent),
                   reddening_ebv=ranges["reddening"], rescale=ranges["rescale"])


def augment_config(section: Mapping[str, Any]) -> dict[str, Any]:
    """The augmentation settings of a ``pretrain`` section: the defaults overridden key by key by its ``augment``."""
    merged = dict(DEFAULT_AUGMENT)
    merged.update(section.get("augment") or {})
    return merged


def crop_size(section: Mapping[str, Any], image_size: int) -> int:
    """Side of the images the encoder sees (the jitter-crop output, else the full cutout), for a ``pretrain``
    section; cheap enough for Snakemake to call while it builds the DAG (no torch)."""
    jitter = augment_config(section).get("jitter_crop")
    return int(jitter["crop_size"]) if jitter else image_size
