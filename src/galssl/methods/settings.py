"""Method settings: turn the ``pretrain.method_config.<name>`` mapping into that method's frozen config dataclass.

Every method module declares one frozen dataclass whose fields are the keys a user may set, with defaults sized for
a CPU demo (the schema leaves these defaults to the dataclasses). ``parse_settings`` builds one with the config's one
parser, ``galssl.settings.parse_section``, so the model code never digs in dicts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from galssl.errors import ConfigError
from galssl.settings import parse_section

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


def parse_settings(cls: type[SettingsT], config: Mapping[str, Any] | None) -> SettingsT:
    """Build ``cls`` from a ``pretrain.method_config.<name>`` mapping with the one config parser
    (``galssl.settings.parse_section``): unknown keys and wrong types raise a ConfigError naming the key."""
    return parse_section(cls, config, f"pretrain.method_config.{cls.METHOD}")
