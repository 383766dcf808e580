"""Config checks a JSON schema cannot express: non-finite numbers anywhere, usable splits, a method to train, crops
that fit the cutouts, shards that fit in memory, and no credentials in survey URLs.

Each raises a one-line :class:`ConfigError` naming the key, the value and the fix; ``galssl.config.validate_config``
runs them (``check_finite`` on the raw config, the rest on the schema-valid config with defaults filled in).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from galssl.augment.settings import AugmentSettings
from galssl.errors import ConfigError

SHARD_MEMORY_LIMIT_BYTES = 4 * 2**30
"""Largest shard (cutout pixels as float32) an ingest job builds in memory before writing it."""

BYTES_PER_PIXEL = 4
"""Cutouts are float32."""

EUCLID_CREDENTIAL_VARIABLES = ("GALSSL_EUCLID_USER", "GALSSL_EUCLID_PASSWORD")
"""The environment variables galssl.providers.euclid reads the archive login from (its USER_ENV, PASSWORD_ENV)."""

SPLIT_USES = {
    "train": "every encoder, probe and map is fitted on the train split; give it a share such as 0.7",
    "val": ("pretraining stops early and keeps its best epoch by the val loss, and the probes choose their settings "
            "on val; give it a share such as 0.1"),
    "test": ("the probes, photo-z, search and maps measure every number on the test split; give it a share such "
             "as 0.2"),
}
"""Why each split must not be empty, and the fix."""


def yaml_value(value: Any) -> str:
    """A number as YAML writes it: ``.nan``, ``.inf``, ``-.inf`` for the non-finite ones."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    return repr(value)


def check_finite(node: Any, path: str = "") -> None:
    """Raise a ConfigError at the first NaN or infinity anywhere in a config (mappings and lists, any depth)."""
    if isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"config error: {path or 'the config'} must be a finite number (got {yaml_value(node)}); "
                          "write an ordinary number (NaN and infinity are never valid config values)")
    if isinstance(node, Mapping):
        for key, value in node.items():
            check_finite(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            check_finite(value, f"{path}[{index}]")


def check_splits(split: Mapping[str, float], tolerance: float) -> None:
    """Train, val and test each get objects, and the fractions sum to 1 (within ``tolerance``)."""
    for name, use in SPLIT_USES.items():
        if split[name] <= 0:
            raise ConfigError(f"config error: catalog.split.{name} must be > 0 (got {split[name]}): {use} "
                              "(and keep train + val + test = 1)")
    total = split["train"] + split["val"] + split["test"]
    if abs(total - 1.0) > tolerance:
        raise ConfigError(f"config error: catalog.split fractions must sum to 1 "
                          f"(got train + val + test = {total:.6g})")


def check_methods(methods: Sequence[str]) -> None:
    """At least one method is trained: every later stage is keyed by the trained methods."""
    if not methods:
        raise ConfigError("config error: pretrain.methods is empty (got []); list at least one method to train, "
                          "e.g. methods: [simclr] (the pixels_pca floor alone is not a run)")


def check_crops(augment: Mapping[str, Any] | None, surveys: Mapping[str, Mapping[str, Any]]) -> None:
    """``pretrain.augment`` parses, and its jitter crop (crop_size plus the shift either way) fits every cutout."""
    settings = AugmentSettings.from_section(augment)
    if settings.crop_size is None:
        return
    crop, shift = settings.crop_size, settings.max_shift_px
    given = "jitter_crop" in (augment or {})
    source = "" if given else " (the defaults: pretrain.augment.jitter_crop is not set)"
    for name, survey in surveys.items():
        cutout = survey["cutout_size"]
        if crop + 2 * shift > cutout:
            raise ConfigError(
                f"config error: pretrain.augment.jitter_crop (crop_size {crop} + 2 x max_shift {shift} = "
                f"{crop + 2 * shift} px){source} does not fit in surveys.{name}.cutout_size ({cutout} px); lower "
                f"crop_size to <= {max(0, cutout - 2 * shift)} (or max_shift), or raise cutout_size to >= "
                f"{crop + 2 * shift}")


def check_shard_memory(shard_size: int, surveys: Mapping[str, Mapping[str, Any]]) -> None:
    """One shard of every survey fits in an ingest job's memory (``SHARD_MEMORY_LIMIT_BYTES``)."""
    for name, survey in surveys.items():
        bands, cutout = len(survey["bands"]), survey["cutout_size"]
        per_object = bands * cutout * cutout * BYTES_PER_PIXEL
        total = shard_size * per_object
        if total > SHARD_MEMORY_LIMIT_BYTES:
            largest = max(1, SHARD_MEMORY_LIMIT_BYTES // per_object)
            raise ConfigError(
                f"config error: ingest.shard_size {shard_size} x {bands} bands x {cutout}^2 px x 4 bytes = "
                f"{total / 2**30:.1f} GiB per shard of surveys.{name}, above the "
                f"{SHARD_MEMORY_LIMIT_BYTES // 2**30} GiB an ingest job holds in memory; lower ingest.shard_size "
                f"to <= {largest} or surveys.{name}.cutout_size")


def check_survey_urls(surveys: Mapping[str, Mapping[str, Any]]) -> None:
    """No survey URL carries a user name or password: URLs land on job command lines and in logs."""
    for name, survey in surveys.items():
        for key, url in survey.items():
            if not key.endswith("_url") or not isinstance(url, str):
                continue
            parts = urlsplit(url)
            if "@" not in parts.netloc:
                continue
            masked = parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()
            if survey["provider"] == "euclid":
                fix = (f"remove it and set {' and '.join(EUCLID_CREDENTIAL_VARIABLES)} (or store the password in the "
                       "keyring) instead")
            else:
                fix = f"remove it (provider {survey['provider']} reads no login)"
            raise ConfigError(f"config error: surveys.{name}.{key} holds a user name or password ({masked}), which "
                              f"would appear on job command lines and in logs; {fix}")
