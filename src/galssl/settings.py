"""One config model: settings dataclasses whose defaults come from the config schema, and one parser for all of them.

Every config section has one frozen dataclass (``ProbeSettings`` for ``probes``, ``SAESettings`` for ``maps.sae``,
...). Its defaults are written once, in ``workflow/schemas/config.schema.yaml``: the ``@schema_defaults("probes")``
decorator copies each field's schema default onto the class, and refuses a field that also writes its own
default, so the two cannot drift apart. Fields the schema does not hold keep their own defaults: the method and
augmentation settings (the schema leaves those to the dataclasses, see its ``method_config`` and ``augment``), and
context fields that come from another section (the label columns, from ``labels``) or from the code.

``parse_section`` is the one parser: unknown keys, value types and nested sections are checked here and named by
their dotted key, then the class's own ``check()`` runs the checks across keys. The workflow, the CLI and the Python
API all build their settings through it.

No library builds frozen dataclasses from a JSON schema's defaults (pydantic or attrs would replace the schema that
Snakemake and ``galssl validate-config`` check against, not read it), hence the few lines here.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, Union

import yaml

from galssl.errors import ConfigError, reject_unknown_keys
from galssl.resources import schema_path

T = TypeVar("T")


@functools.lru_cache(maxsize=2)
def _read_schema(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _resolve(node: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow local ``$ref`` pointers (``#/$defs/name``)."""
    while "$ref" in node:
        target: Any = schema
        for part in str(node["$ref"]).lstrip("#").split("/"):
            if part:
                target = target[part]
        node = target
    return node


def schema_node(section: str) -> Mapping[str, Any]:
    """The schema of a config section by dotted path (``maps.sae``; ``surveys.*`` = any survey; ``""`` = the whole
    config)."""
    schema = _read_schema(str(schema_path()))
    node: Mapping[str, Any] = schema
    for part in filter(None, section.split(".")):
        node = _resolve(node, schema)
        node = node["additionalProperties"] if part == "*" else node["properties"][part]
    return _resolve(node, schema)


def _frozen(value: Any) -> Any:
    """A schema default as a dataclass default: lists become tuples (frozen settings hold no mutable lists)."""
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


def schema_defaults(section: str, **keys: str) -> Callable[[type[T]], type[T]]:
    """Class decorator, placed below ``@dataclass``: give every field the default that the config schema writes for
    it in ``section`` (``keys`` maps a field to a differently named or nested key, e.g. ``z_min="redshift.min"``, or
    with a leading ``/`` to another section's key whose default it shares, e.g. ``"/labels.redshift_column"``).

    A field that has a schema default and writes one of its own raises TypeError when the module is imported: each
    default lives in exactly one place. The fields found in the schema are the section's config keys
    (``config_keys``); the others are context fields, set by the code.
    """
    def decorate(cls: type[T]) -> type[T]:
        node = schema_node(section)
        root = schema_node("")
        found: dict[str, str] = {}
        for name in cls.__dict__.get("__annotations__", {}):
            key = keys.get(name, name)
            sub: Mapping[str, Any] | None = root if key.startswith("/") else node
            for part in key.lstrip("/").split("."):
                sub = sub.get("properties", {}).get(part) if sub is not None else None
            if sub is None:
                continue
            if not key.startswith("/"):  # "/labels.redshift_column": a context field with another section's default
                found[name] = key
            if "default" not in sub or (sub["default"] == {} and "properties" in sub):  # a nested section
                continue
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__}.{name} writes a default, but the config schema has one for "
                                f"{section}.{key} ({sub['default']!r}): delete the dataclass default")
            default = _frozen(sub["default"])
            if isinstance(default, dict):
                setattr(cls, name, dataclasses.field(default_factory=functools.partial(copy.deepcopy, default)))
            else:
                setattr(cls, name, default)
        cls.__config_section__ = section  # type: ignore[attr-defined]
        cls.__config_keys__ = found  # type: ignore[attr-defined]
        return cls
    return decorate


def config_keys(cls: type) -> list[str]:
    """The fields of a settings class that a user sets in its config section (all fields of an undecorated class)."""
    keys = getattr(cls, "__config_keys__", None)
    return list(keys) if keys is not None else [field.name for field in dataclasses.fields(cls)]


def parse_section(cls: type[T], section: Mapping[str, Any] | None, where: str, **context: Any) -> T:
    """Build the settings dataclass ``cls`` from a config section (missing keys take the schema defaults).

    Unknown keys and wrong value types raise a ConfigError naming the dotted key (``where`` is the section's path);
    a nested settings dataclass is parsed the same way; ``context`` sets fields that are not config keys (e.g. label
    columns resolved from the ``labels`` section). The class's ``check()``, if any, runs last.
    """
    if section is not None and not isinstance(section, Mapping):
        raise ConfigError(f"config error: {where} must be a mapping of keys to values (got {section!r})")
    values = dict(section or {})
    allowed = config_keys(cls)
    reject_unknown_keys(values, allowed, where)
    hints = typing.get_type_hints(cls)
    parsed = {key: check_value(value, hints[key], f"{where}.{key}") for key, value in values.items()}
    settings = cls(**parsed, **context)
    check = getattr(settings, "check", None)
    if callable(check):
        check()
    return settings


def check_value(value: Any, hint: Any, where: str) -> Any:
    """Return ``value`` as the type ``hint`` asks (ints widened to float, lists to tuples, mappings read-only,
    sections to their dataclass) or raise a ConfigError naming ``where``."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return parse_section(hint, value, where)
    if origin is Literal:
        if value not in typing.get_args(hint):
            choices = ", ".join(repr(choice) for choice in typing.get_args(hint))
            raise ConfigError(f"config error: {where} must be one of {choices} (got {value!r})")
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):
            return None
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return check_value(value, options[0], where)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config error: {where} must be a number (got {value!r})")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config error: {where} must be an integer (got {value!r})")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config error: {where} must be true or false (got {value!r})")
        return value
    if hint is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"config error: {where} must be a non-empty string (got {value!r})")
        return value
    if origin is tuple:  # tuple[X, ...] or tuple[X, Y]: a YAML list
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"config error: {where} must be a list (got {value!r})")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis or len(args) == 1:
            element = args[0]
            return tuple(check_value(item, element, f"{where}[{index}]") for index, item in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"config error: {where} must be a list of {len(args)} values (got {list(value)!r})")
        return tuple(check_value(item, arg, f"{where}[{index}]") for index, (item, arg) in enumerate(zip(value, args)))
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
            raise ConfigError(f"config error: {where} must be a mapping with string keys (got {value!r})")
        return dict(value) if dict in (origin, hint) else types.MappingProxyType(dict(value))
    return value


def fill_defaults(section: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """A copy of a config section with each missing key that has a schema default filled in (one level), for code
    that reads a section as a mapping (the survey providers): the default is still written only in the schema."""
    filled = dict(section or {})
    for key, sub in schema_node(where).get("properties", {}).items():
        if key not in filled and "default" in sub:
            filled[key] = copy.deepcopy(sub["default"])
    return filled
