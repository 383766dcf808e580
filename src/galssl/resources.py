"""Locate the project's static inputs: ``resources/`` (filter curves, Galaxy Zoo trees, instrument tables) and the
config schema.

An installed wheel carries them inside the package (``galssl/_data/``, copied there by setup.py) and they are read
with ``importlib.resources``; an editable install from the repository reads the repository's own ``resources/`` and
``workflow/schemas/``.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from galssl.errors import ConfigError

REPOSITORY = Path(__file__).resolve().parents[2]
"""The repository root of an editable install (meaningless for an installed wheel, which has ``_data/``)."""


def packaged_or_repository(packaged: str, *repository: str) -> Path:
    """The folder ``galssl/_data/<packaged>`` of an installed wheel if present, else
    ``<repository root>/<repository>``."""
    inside = files("galssl").joinpath("_data", packaged)
    if isinstance(inside, Path) and inside.is_dir():
        return inside
    return REPOSITORY.joinpath(*repository)


def resources_dir() -> Path:
    """Return the resources folder: ``$GALSSL_RESOURCES`` if set, else the installed package's copy, else the
    repository's ``resources/``."""
    env = os.environ.get("GALSSL_RESOURCES")
    root = Path(env) if env else packaged_or_repository("resources", "resources")
    if not root.is_dir():
        raise ConfigError(f"resources folder not found at {root}: set GALSSL_RESOURCES to the repository's resources/")
    return root


def resource_path(*parts: str) -> Path:
    """Return the path of one resource file, with a clear error if it is missing."""
    path = resources_dir().joinpath(*parts)
    if not path.exists():
        raise ConfigError(f"missing resource file {path}: the repository's resources/ folder is incomplete")
    return path


def schema_path() -> Path:
    """Return the config schema: ``$GALSSL_SCHEMA`` if set, else the installed package's copy, else the repository's
    workflow/schemas/config.schema.yaml (the file Snakemake validates against)."""
    env = os.environ.get("GALSSL_SCHEMA")
    if env:
        return Path(env)
    return packaged_or_repository("schemas", "workflow", "schemas") / "config.schema.yaml"
