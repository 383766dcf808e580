"""Exceptions whose message is a one-line, user-facing explanation (field + fix)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class GalsslError(Exception):
    """Base class: the CLI prints ``str(error)`` on one line and exits non-zero."""


class ConfigError(GalsslError):
    """A config key, type or value is wrong; the message names the key and what is allowed."""


class DataError(GalsslError):
    """An input file (catalogue, image, checkpoint) is malformed; the message names the file and field."""


def reject_unknown_keys(section: Mapping[str, object], allowed: Iterable[str], where: str) -> None:
    """Raise a ConfigError naming the first key of ``section`` not in ``allowed`` (and listing what is allowed)."""
    allowed = sorted(set(allowed))
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ConfigError(f"config error: unknown key {unknown[0]!r} in {where} (allowed: {', '.join(allowed)})")
