"""Method settings: turn the ``pretrain.method_config.<name>`` mapping into that method's frozen config dataclass.

Every method module declares one frozen dataclass whose fields are the keys a user may set, with defaults sized for
a CPU demo. ``parse_settings`` checks key names and value types once, so the model code never digs in dicts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypeVar, Union

from galssl.errors import ConfigError

SettingsT = TypeVar("SettingsT", bound="MethodSettings")


@dataclasses.dataclass(frozen=True)
class MethodSettings:
    """Base of every method's settings; ``METHOD`` names the config section in error messages."""

    METHOD: ClassVar[str] = "method"

    def where(self, key: str) -> str:
        """The dotted config path of ``key``, e.g. ``pretrain.method_config.moco.queue_size``."""
        return f"pretrain.method_config.{self.METHOD}.{key}"

    def require(self, condition: bool, key: str, rule: str) -> None:
        """Raise a ConfigError naming ``key`` and its value unless ``condition`` holds."""
        if not condition:
            raise ConfigError(f"{self.where(key)} must be {rule} (got {getattr(self, key)!r})")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able copy of the settings (what a checkpoint recipe stores)."""
        return {f.name: (dict(v) if isinstance(v := getattr(self, f.name), Mapping) else
                         list(v) if isinstance(v, tuple) else v)
                for f in dataclasses.fields(self)}


def _check_type(value: Any, hint: Any, where: str) -> Any:
    """Return ``value`` (ints widened to float where a float is expected) or raise a ConfigError."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            choices = ", ".join(repr(choice) for choice in typing.get_args(hint))
            raise ConfigError(f"{where} must be one of {choices} (got {value!r})")
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):
            return None
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _check_type(value, options[0], where)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number (got {value!r})")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer (got {value!r})")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false (got {value!r})")
        return value
    if hint is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} must be a non-empty string (got {value!r})")
        return value
    if origin is tuple:  # tuple[X, ...]: a YAML list of X
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list (got {value!r})")
        element = typing.get_args(hint)[0]
        return tuple(_check_type(item, element, f"{where}[{index}]") for index, item in enumerate(value))
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
            raise ConfigError(f"{where} must be a mapping with string keys (got {value!r})")
        return types.MappingProxyType(dict(value))
    return value


def parse_settings(cls: type[SettingsT], config: Mapping[str, Any] | None) -> SettingsT:
    """Build ``cls`` from a user mapping; unknown keys and wrong types raise a ConfigError naming the key."""
    config = dict(config or {})
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    for key in config:
        if key not in known:
            raise ConfigError(f"pretrain.method_config.{cls.METHOD}.{key} is not a setting of {cls.METHOD} "
                              f"(known: {', '.join(known)})")
    values = {key: _check_type(value, hints[key], f"pretrain.method_config.{cls.METHOD}.{key}")
              for key, value in config.items()}
    return cls(**values)
