"""One config model (galssl.settings): every default written once, in the schema; one parser for every section."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from dataclasses import dataclass

import pytest

import galssl
from galssl.config import validate_config
from galssl.errors import ConfigError
from galssl.maps.settings import MapsSettings, SAESettings
from galssl.settings import config_keys, fill_defaults, parse_section, schema_defaults, schema_node

MINIMAL = {"seed": 1, "surveys": {"sdss": {"provider": "mock", "instrument": "sdss", "bands": ["g", "r", "i"],
                                           "pixel_scale_arcsec": 0.396}}}

# Settings dataclasses whose section's schema writes no defaults: the schema leaves them to the dataclass (see the
# schema's `method_config` and `augment` descriptions).
DATACLASS_DEFAULTS = {"AugmentSettings"}


def settings_classes() -> list[type]:
    """Every ``*Settings`` dataclass of the galssl package (and LabelSpec), found by importing each module."""
    found: dict[str, type] = {}
    for module_info in pkgutil.walk_packages(galssl.__path__, "galssl."):
        if module_info.name.startswith(("galssl.testing", "galssl.cli")) or "clip" in module_info.name:
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__ \
                    and (name.endswith("Settings") or name == "LabelSpec"):
                found[f"{value.__module__}.{name}"] = value
    return list(found.values())


def section_value(config: dict, section: str, key: str):
    node = config
    for part in [*section.split("."), *key.split(".")]:
        node = node["sdss" if part == "*" else part]
    return node


def plain(value):
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    return value


def test_every_settings_class_takes_its_defaults_from_the_schema():
    classes = settings_classes()
    assert len(classes) >= 20  # the walk found the package's settings
    filled = validate_config(MINIMAL)
    decorated = 0
    for cls in classes:
        section = getattr(cls, "__config_section__", None)
        if section is None:
            from galssl.methods.settings import MethodSettings

            assert issubclass(cls, MethodSettings) or cls.__name__ in DATACLASS_DEFAULTS, (
                f"{cls.__name__} writes its own defaults: decorate it with @schema_defaults(<its section>)")
            continue
        decorated += 1
        defaults = {field.name: field for field in dataclasses.fields(cls)}
        for name, key in cls.__config_keys__.items():
            field = defaults[name]
            node = schema_node(f"{section}.{key}")
            if "properties" in node or "default" not in node:
                continue  # a nested section (its own class is checked), or a key the schema leaves unset
            value = field.default if field.default is not dataclasses.MISSING else (
                field.default_factory() if field.default_factory is not dataclasses.MISSING else None)
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                continue  # required (survey name, path, bands: no default anywhere)
            assert plain(value) == section_value(filled, section, key), f"{cls.__name__}.{name}"
    assert decorated >= 15


def test_method_and_augment_sections_of_the_schema_write_no_defaults():
    for name in ("moco", "simclr", "mae", "supervised", "galaxalign"):
        properties = schema_node(f"pretrain.method_config.{name}")["properties"]
        assert not [key for key, sub in properties.items() if "default" in sub], name
    assert "properties" not in schema_node("pretrain.augment")


def test_a_default_written_twice_is_refused_at_import():
    with pytest.raises(TypeError, match=r"SAECopy.k writes a default, but the config schema has one for maps.sae.k"):
        @dataclass(frozen=True)
        @schema_defaults("maps.sae")
        class SAECopy:
            k: int = 16


def test_parse_section_fills_defaults_converts_and_names_the_key():
    settings = parse_section(SAESettings, {"k": 8, "groups": [16, 16], "lr": 1}, "maps.sae")
    assert settings.k == 8 and settings.groups == (16, 16) and settings.lr == 1.0 and isinstance(settings.lr, float)
    assert settings.epochs == SAESettings().epochs == schema_node("maps.sae")["properties"]["epochs"]["default"]
    with pytest.raises(ConfigError, match=r"^config error: unknown key 'kk' in maps.sae \(allowed: .*\bk\b"):
        parse_section(SAESettings, {"kk": 8}, "maps.sae")
    with pytest.raises(ConfigError, match=r"^config error: maps.sae.k must be an integer \(got 'eight'\)$"):
        parse_section(SAESettings, {"k": "eight"}, "maps.sae")
    with pytest.raises(ConfigError, match=r"^config error: maps.sae.groups\[1\] must be an integer"):
        parse_section(SAESettings, {"groups": [16, 1.5]}, "maps.sae")
    with pytest.raises(ConfigError, match=r"^config error: maps must be a mapping"):
        parse_section(MapsSettings, ["pca"], "maps")


def test_nested_sections_and_cross_key_checks_run_through_the_one_parser():
    maps = MapsSettings.from_section({"umap": {"n_neighbors": 5}, "stationarity": {"noise_scale": [1, 2]}})
    assert maps.umap.n_neighbors == 5 and maps.stationarity.noise_scale == (1.0, 2.0)
    with pytest.raises(ConfigError, match=r"^config error: unknown key 'neighbours' in maps.umap"):
        MapsSettings.from_section({"umap": {"neighbours": 5}})
    with pytest.raises(ConfigError, match=r"^config error: maps.stationarity.noise_scale must be a list of 2 values"):
        MapsSettings.from_section({"stationarity": {"noise_scale": [1, 2, 3]}})
    with pytest.raises(ConfigError, match=r"maps.sae.k must be <= the dictionary size"):  # check() ran
        MapsSettings.from_section({"sae": {"k": 100, "groups": [8, 8]}})
    # label columns are context: set from the labels section, never from `maps`
    with pytest.raises(ConfigError, match=r"unknown key 'redshift_column' in maps"):
        MapsSettings.from_section({"redshift_column": "z"})
    assert "redshift_column" not in config_keys(MapsSettings)


def test_context_fields_share_the_labels_defaults():
    from galssl.binned_redshift import PhotozSettings
    from galssl.evaluate.probes import ProbeSettings
    from galssl.explorer.settings import ExplorerSettings
    from galssl.labelspec import LabelSpec
    from galssl.search_index import SearchSettings

    labels = LabelSpec()
    assert ProbeSettings().class_column == ExplorerSettings().class_column == SearchSettings().class_column \
        == labels.class_column
    assert MapsSettings().redshift_column == PhotozSettings().redshift_column == labels.redshift_column
    assert ProbeSettings().gz_tree == labels.votes


def test_fill_defaults_reads_the_schema_for_mapping_sections():
    survey = fill_defaults({"provider": "legacy", "timeout_s": 5}, "surveys.*")
    assert survey["timeout_s"] == 5 and survey["max_retries"] == schema_node("surveys.*")["properties"][
        "max_retries"]["default"]
    assert fill_defaults(None, "catalog")["id_column"] == "object_id"
