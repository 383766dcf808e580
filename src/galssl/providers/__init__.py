"""Cutout providers: one module per source, all behind :class:`galssl.providers.base.Provider`.

``create_provider`` is the registry: ``surveys.<name>.provider`` names a module here whose ``create(section,
context)`` builds the provider. Modules are imported lazily (``astroquery.esa.euclid`` contacts its server on import).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from galssl.errors import ConfigError
from galssl.providers.base import Provider
from galssl.settings import fill_defaults

PROVIDERS = ("mock", "legacy", "sdss", "euclid", "hips", "files")


@dataclass(frozen=True)
class ProviderContext:
    """What a provider may need beyond its own config section."""

    survey: str
    seed: int
    cache_dir: str
    mock_section: dict = field(default_factory=dict)


def create_provider(section: dict, context: ProviderContext) -> Provider:
    """Build the provider named by ``section['provider']`` (missing keys take the schema defaults)."""
    name = section.get("provider")
    if name not in PROVIDERS:
        raise ConfigError(f"config error: surveys.{context.survey}.provider must be one of {', '.join(PROVIDERS)} "
                          f"(got {name!r})")
    module = importlib.import_module(f"galssl.providers.{name}")
    return module.create(fill_defaults(section, "surveys.*"), context)
