"""Locate the project's static inputs (``resources/``: filter curves, Galaxy Zoo trees, instrument tables)."""

from __future__ import annotations

import os
from pathlib import Path

from galssl.errors import ConfigError


def resources_dir() -> Path:
    """Return the resources folder: ``$GALSSL_RESOURCES`` if set, else the repository's ``resources/``."""
    env = os.environ.get("GALSSL_RESOURCES")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "resources"
    if not root.is_dir():
        raise ConfigError(f"resources folder not found at {root}: set GALSSL_RESOURCES to the repository's resources/")
    return root


def resource_path(*parts: str) -> Path:
    """Return the path of one resource file, with a clear error if it is missing."""
    path = resources_dir().joinpath(*parts)
    if not path.exists():
        raise ConfigError(f"missing resource file {path}: the repository's resources/ folder is incomplete")
    return path
