"""Load and validate the pipeline config (config/config.yaml) against workflow/schemas/config.schema.yaml.

``validate_config`` is called once, when Snakemake parses the workflow (workflow/rules/common.smk), so a wrong key
or value stops the run before any job with one line naming the key, instead of a traceback hours later.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match

from galssl.config_checks import (
    check_crops,
    check_finite,
    check_methods,
    check_shard_memory,
    check_splits,
    check_survey_urls,
)
from galssl.display import check_display_bands
from galssl.errors import ConfigError
from galssl.resources import resource_path, schema_path

SCHEMA_PATH: Path = schema_path()
"""The JSON schema (YAML) every config is validated against (``galssl.resources.schema_path``)."""

SPLIT_TOLERANCE = 1e-6
"""How far the train + val + test fractions may be from 1 (floating-point slack)."""

_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "object": "a mapping of keys to values",
    "array": "a list",
    "null": "null",
}

_BOUNDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def load_schema(path: Path | None = None) -> dict[str, Any]:
    """Read the config schema (default ``SCHEMA_PATH``); a fresh copy, parsed once per file version."""
    schema_file = path or SCHEMA_PATH
    try:
        version = schema_file.stat().st_mtime_ns
    except FileNotFoundError:
        raise ConfigError(f"config schema not found at {schema_file}: set GALSSL_SCHEMA to the repository's "
                          "workflow/schemas/config.schema.yaml") from None
    return copy.deepcopy(_parse_schema(schema_file, version))


@functools.lru_cache(maxsize=4)
def _parse_schema(schema_file: Path, version: int) -> dict[str, Any]:
    """The parsed schema file (``version``, its modification time, keys the cache)."""
    with open(schema_file, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML config file and return it validated, with defaults filled in."""
    return validate_config(read_config_file(path))


def read_config_file(path: str | os.PathLike[str]) -> Any:
    """Parse a YAML (or JSON) config file; ConfigError for a missing, unreadable, binary or invalid file, and for a
    key written twice in one mapping (YAML would silently keep the last)."""
    config_file = Path(path)
    try:
        text = config_file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config error: config file {config_file} not found") from None
    except UnicodeDecodeError as error:
        byte = error.object[error.start]
        raise ConfigError(f"config error: {config_file} is not a UTF-8 text file (byte 0x{byte:02x} at offset "
                          f"{error.start}); give a YAML config file such as config/config.yaml") from None
    except OSError as error:
        raise ConfigError(f"config error: cannot read config file {config_file} ({error.strerror})") from None
    try:
        _reject_duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), config_file)
        return yaml.safe_load(text)
    except yaml.reader.ReaderError as error:  # a control character (NUL, ...): a binary file that happens to be UTF-8
        raise ConfigError(f"config error: {config_file} is not a text file (control character 0x{error.character:02x} "
                          f"at offset {error.position}); give a YAML config file such as config/config.yaml") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ConfigError(f"config error: {config_file} is not valid YAML{where} ({problem})") from None


def _reject_duplicate_keys(node: yaml.Node | None, config_file: Path, path: str = "") -> None:
    """Raise a ConfigError at the first mapping key written twice, naming its dotted path and both lines."""
    if isinstance(node, yaml.MappingNode):
        constructor = yaml.SafeLoader("")
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` merges may override: allowed
                continue
            key = constructor.construct_object(key_node, deep=True)
            key = key if isinstance(key, (str, int, float, bool)) or key is None else repr(key)
            dotted = f"{path}.{key}" if path else str(key)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(f"config error: {config_file} line {line}: duplicate key {dotted!r} (first at line "
                                  f"{seen[key]}; YAML would silently keep only the last); delete one of them")
            seen[key] = line
            _reject_duplicate_keys(value_node, config_file, dotted)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _reject_duplicate_keys(item, config_file, f"{path}[{index}]")


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a config mapping and return a deep copy with every schema default filled in.

    Raises ConfigError with a one-line message for the most relevant schema violation, or for the first failed
    check that the schema cannot express (see ``_check_semantics``).
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"config error: the config must be a mapping of keys to values (got {_show(config)})")
    check_finite(config)
    filled = copy.deepcopy(dict(config))
    schema = load_schema()
    validator_class = _with_defaults(jsonschema.validators.validator_for(schema))
    error = best_match(validator_class(schema).iter_errors(filled))
    if error is not None:
        raise ConfigError(f"config error: {describe_error(error)}")
    _check_semantics(filled)
    return filled


def _with_defaults(validator_class: type[Any]) -> type[Any]:
    """Extend a validator so ``properties`` also fills missing keys from each subschema's ``default``.

    Same behaviour as snakemake.utils.validate, but the default is deep-copied so a filled config never shares
    (and later mutates) an object that belongs to the schema.
    """
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator: Any, properties: dict[str, Any], instance: Any,
                     schema: dict[str, Any]) -> Iterator[ValidationError]:
        if validator.is_type(instance, "object"):
            for key, subschema in properties.items():
                if "default" in subschema and key not in instance:
                    instance[key] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def describe_error(error: ValidationError) -> str:
    """Turn one schema violation into a sentence naming the dotted key path and what is allowed."""
    where = dotted_path(error.absolute_path)
    kind, expected, value = error.validator, error.validator_value, error.instance
    if "propertyNames" in error.schema_path:
        rule = error.schema.get("description") or f"keys must match {error.schema.get('pattern')}"
        return f"{where} has key {_show(value)}, which is not allowed ({rule})"
    if kind == "additionalProperties" and expected is False:
        unknown = sorted(set(value) - set(error.schema.get("properties", {})))
        keys = ", ".join(repr(key) for key in unknown)
        place = f"in {where}" if error.absolute_path else "at top level"
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"unknown key{'s' if len(unknown) > 1 else ''} {keys} {place} (allowed: {allowed})"
    if kind == "required":
        missing = next(key for key in expected if key not in value)
        place = f"in {where}" if error.absolute_path else "at top level"
        return f"missing required key {missing!r} {place}"
    if kind == "type":
        types = [expected] if isinstance(expected, str) else list(expected)
        return f"{where} must be {' or '.join(_TYPE_NAMES.get(t, t) for t in types)} (got {_show(value)})"
    if kind in ("enum", "const"):
        options = expected if kind == "enum" else [expected]
        return f"{where} must be one of {', '.join(str(option) for option in options)} (got {_show(value)})"
    if kind in ("anyOf", "oneOf"):
        forms = " or ".join(_describe_form(option) for option in expected)
        return f"{where} must be {forms} (got {_show(value)})"
    if kind in _BOUNDS:
        return f"{where} must be {_BOUNDS[kind]} {_show(expected)} (got {_show(value)})"
    if kind == "minItems":
        return (f"{where} must not be empty" if expected == 1
                else f"{where} must have at least {expected} items (got {len(value)})")
    if kind == "minProperties":
        return f"{where} must not be empty" if expected == 1 else f"{where} needs at least {expected} keys"
    if kind == "uniqueItems":
        repeated = sorted({_show(item) for item in value if value.count(item) > 1})
        return f"{where} lists {', '.join(repeated)} more than once"
    if kind == "minLength":
        return f"{where} must not be an empty string"
    if kind == "pattern":
        return f"{where} must match {expected} (got {_show(value)})"
    return f"{where}: {error.message}"


def _describe_form(schema: Mapping[str, Any]) -> str:
    """One alternative of an anyOf, in words: 'one of gz2, gz_decals', 'a list of strings', 'a string or null'."""
    if "enum" in schema:
        return "one of " + ", ".join(str(option) for option in schema["enum"])
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    if types == ["array"]:
        item = schema.get("items", {}).get("type")
        return f"a list of {item}s" if isinstance(item, str) else "a list"
    return " or ".join(_TYPE_NAMES.get(t, t) for t in types) or "valid"


def dotted_path(parts: Iterable[str | int]) -> str:
    """Render a key path as ``surveys.sdss.bands[2]``; the empty path is ``the config``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the config"


def _show(value: Any) -> str:
    """Render a config value the way it would be written in YAML (strings quoted, null, true/false)."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_semantics(config: Mapping[str, Any]) -> None:
    """Checks across keys that the schema cannot express; ``config`` is schema-valid with defaults filled."""
    catalog, mock = config["catalog"], config["mock"]

    check_splits(catalog["split"], SPLIT_TOLERANCE)
    if catalog["source"] != "mock" and catalog["path"] is None:
        raise ConfigError(f"config error: catalog.path must be set when catalog.source is "
                          f"{catalog['source']!r} (only source 'mock' needs no file)")

    redshift = mock["redshift"]
    if redshift["min"] >= redshift["max"]:
        raise ConfigError(f"config error: mock.redshift.min must be < mock.redshift.max "
                          f"(got min={redshift['min']}, max={redshift['max']})")
    if not any(fraction > 0 for fraction in mock["class_fractions"].values()):
        raise ConfigError("config error: mock.class_fractions must not all be zero")
    if mock["star_fraction"] + mock["artifact_fraction"] >= 1:
        raise ConfigError(f"config error: mock.star_fraction + mock.artifact_fraction must be < 1 "
                          f"(got {mock['star_fraction']} + {mock['artifact_fraction']})")

    instruments = _instrument_bands()
    for key, name in (("mock.labels_instrument", mock["labels_instrument"]),
                      ("mock.gallery.instrument", mock["gallery"]["instrument"])):
        _check_instrument(key, name, instruments)
    for survey_name, survey in config["surveys"].items():
        if survey["provider"] != "mock":
            continue
        instrument = survey["instrument"]
        _check_instrument(f"surveys.{survey_name}.instrument", instrument, instruments)
        allowed = instruments[instrument]
        for band in survey["bands"]:
            if band not in allowed:
                raise ConfigError(f"config error: surveys.{survey_name}.bands has {band!r}, which instrument "
                                  f"{instrument} does not have (allowed: {', '.join(allowed)})")
    for survey_name, survey in config["surveys"].items():  # display images: channels named by filter or colour
        if survey["provider"] == "files" and survey.get("format") in ("image", "galaxy10_h5"):
            check_display_bands(survey["bands"], f"surveys.{survey_name}.bands")
    check_survey_urls(config["surveys"])
    check_methods(config["pretrain"]["methods"])
    check_crops(config["pretrain"]["augment"], config["surveys"])
    check_shard_memory(config["ingest"]["shard_size"], config["surveys"])
    _check_labels(config)
    _check_external_encoders(config)
    _check_search(config)
    _check_probes_photoz(config)
    _check_maps(config)
    _check_finetune(config)
    _check_explorer(config)


def embedding_names(config: Mapping[str, Any], external: bool = True) -> list[str]:
    """The embeddings a run makes and evaluates, in config order: every pretrained method, ``pixels_pca`` (the
    floor every encoder must beat) and, with ``external``, every encoder of ``embed.external`` (sorted)."""
    names = list(config["pretrain"]["methods"]) + ["pixels_pca"]
    return names + sorted(config["embed"]["external"]) if external else names


def _check_explorer(config: Mapping[str, Any]) -> None:
    """The explorer shows one of the embeddings the run produces (trained methods, pixels_pca, external encoders)."""
    from galssl.explorer.settings import ExplorerSettings

    ExplorerSettings.from_section(config["explorer"], embedding_names(config))


def _check_finetune(config: Mapping[str, Any]) -> None:
    """Fine-tuned methods must be trained; `best` needs a self-supervised method and a fitted select_probe."""
    from galssl.finetune.settings import FinetuneSettings

    FinetuneSettings.from_section(config["finetune"], config["pretrain"]["methods"], config["probes"]["classifiers"])


def _check_maps(config: Mapping[str, Any]) -> None:
    """The maps section's checks across keys (SAE k vs dictionary size, noise range, shown vs kept components)."""
    from galssl.maps.settings import MapsSettings

    MapsSettings.from_section(config["maps"])


def _check_probes_photoz(config: Mapping[str, Any]) -> None:
    """Label-efficiency range, photo-z range, and Galaxy Zoo questions that exist in the chosen tree."""
    probes, photoz = config["probes"], config["photoz"]
    efficiency = probes["label_efficiency"]
    if efficiency["min_log2"] > efficiency["max_log2"]:
        raise ConfigError(f"config error: probes.label_efficiency.min_log2 must be <= max_log2 "
                          f"(got {efficiency['min_log2']} > {efficiency['max_log2']})")
    if photoz["z_min"] >= photoz["z_max"]:
        raise ConfigError(f"config error: photoz.z_min must be < photoz.z_max "
                          f"(got z_min={photoz['z_min']}, z_max={photoz['z_max']})")
    tree_name = config["labels"]["votes"]
    if probes["gz_questions"] and not isinstance(tree_name, str):
        raise ConfigError("config error: probes.gz_questions needs labels.votes to name a Galaxy Zoo tree (gz2 or "
                          f"gz_decals; got {_show(tree_name)}); set it, or drop probes.gz_questions")
    if probes["gz_questions"]:
        from galssl.gztree import DecisionTree

        tree = DecisionTree.load(tree_name)
        names = [question.name for question in tree.questions]
        for question in probes["gz_questions"]:
            if question not in names:
                raise ConfigError(f"config error: probes.gz_questions has {question!r}, which Galaxy Zoo tree "
                                  f"{tree_name} (labels.votes) does not ask (questions: {', '.join(names)})")


def _check_labels(config: Mapping[str, Any]) -> None:
    """The labels section parses (types the schema's anyOf reports vaguely get a message naming the key); a class
    name list needs a class column, and a label table must be a file the workflow can read."""
    from galssl.labelspec import LabelSpec

    spec = LabelSpec.from_section(config["labels"])
    if isinstance(spec.class_names, tuple) and spec.class_column is None:
        raise ConfigError("config error: labels.class_names lists names but labels.class_column is null; name the "
                          "class column or drop the names")


def _check_search(config: Mapping[str, Any]) -> None:
    """An IVF search cannot visit more lists than the index has."""
    search = config["search"]
    if search["nprobe"] > search["nlist"]:
        raise ConfigError(f"config error: search.nprobe must be <= search.nlist (got nprobe={search['nprobe']}, "
                          f"nlist={search['nlist']})")


def _check_external_encoders(config: Mapping[str, Any]) -> None:
    """External encoder names become result folders next to the trained methods': they must not clash."""
    taken = set(config["pretrain"]["methods"]) | {"pixels_pca"}
    for name in config["embed"]["external"]:
        if name in taken:
            raise ConfigError(f"config error: embed.external.{name} clashes with a pretraining method or the "
                              f"pixels_pca floor; rename it (e.g. {name}_external)")


def _check_instrument(key: str, name: str, instruments: Mapping[str, Sequence[str]]) -> None:
    """Raise ConfigError if ``name`` is not an instrument of the mock sky."""
    if name not in instruments:
        raise ConfigError(f"config error: {key} must be one of {', '.join(instruments)} (got {name!r})")


def _instrument_bands() -> dict[str, list[str]]:
    """Band names of each mock-sky instrument, in the order of resources/mock/instruments.yaml."""
    path = resource_path("mock", "instruments.yaml")
    with open(path, encoding="utf-8") as handle:
        table = yaml.safe_load(handle)
    return {name: list(spec["bands"]) for name, spec in table.items()}
