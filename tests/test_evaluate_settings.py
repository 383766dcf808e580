"""The probes and photoz config sections: schema defaults = dataclass defaults, one-line cross-key errors."""

from __future__ import annotations

import copy
from dataclasses import asdict
from pathlib import Path

import pytest
import yaml

from galssl.binned_redshift import PhotozSettings
from galssl.config import load_schema, validate_config
from galssl.errors import ConfigError
from galssl.evaluate.label_efficiency import LabelEfficiencySettings
from galssl.evaluate.probes import LABEL_FIELDS, ProbeSettings
from galssl.labelspec import LabelSpec

REPO = Path(__file__).resolve().parents[1]
MINIMAL = {"seed": 1, "surveys": {"sdss": {"provider": "mock", "instrument": "sdss", "bands": ["g", "r", "i"],
                                           "pixel_scale_arcsec": 0.396}}}


def as_plain(value):
    return list(value) if isinstance(value, tuple) else value


def test_schema_defaults_equal_the_dataclass_defaults():
    filled = validate_config(MINIMAL)
    probes = asdict(ProbeSettings())
    probes.pop("label_efficiency")
    for key in LABEL_FIELDS:  # from the labels section
        probes.pop(key)
    for key, value in probes.items():
        assert filled["probes"][key] == as_plain(value), key
    for key, value in asdict(LabelEfficiencySettings()).items():
        assert filled["probes"]["label_efficiency"][key] == as_plain(value), key
    for key, value in asdict(PhotozSettings()).items():
        if key != "redshift_column":  # from the labels section
            assert filled["photoz"][key] == as_plain(value), key
    # ... whose defaults are the same columns
    assert (filled["labels"]["class_column"], filled["labels"]["votes"], filled["labels"]["redshift_column"]) == (
        ProbeSettings().class_column, ProbeSettings().gz_tree, PhotozSettings().redshift_column)


def test_every_schema_key_is_a_dataclass_field():
    properties = load_schema()["properties"]
    assert set(properties["probes"]["properties"]) == set(asdict(ProbeSettings())) - set(LABEL_FIELDS)
    assert set(properties["probes"]["properties"]["label_efficiency"]["properties"]) == set(
        asdict(LabelEfficiencySettings()))
    assert set(properties["photoz"]["properties"]) == set(asdict(PhotozSettings())) - {"redshift_column"}


def test_the_default_config_sections_build_settings():
    config = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    labels = LabelSpec.from_section(config["labels"]).resolve(None)
    probes = ProbeSettings.from_section(config["probes"], labels)
    assert probes.gz_tree == "gz2" and probes.class_column == "galaxy10_class"
    no_classes = LabelSpec.from_section({**config["labels"], "class_column": None, "votes": None}).resolve(None)
    probes = ProbeSettings.from_section(config["probes"], no_classes)
    assert probes.gz_tree is None and probes.class_column is None
    efficiency = LabelEfficiencySettings.from_section(probes.label_efficiency)
    assert (efficiency.min_log2, efficiency.max_log2, efficiency.seeds) == (4, 11, 3)
    photoz = PhotozSettings.from_section(config["photoz"], labels)
    assert photoz.n_bins == 180 and photoz.bin_edges[-1] == pytest.approx(0.4) and photoz.redshift_column == "redshift"
    with pytest.raises(ConfigError, match="no redshift column"):
        PhotozSettings.from_section(config["photoz"], no_classes.__class__(redshift_column=None))


@pytest.mark.parametrize("section, change, message", [
    ("probes", {"label_efficiency": {"min_log2": 9, "max_log2": 5}},
     "probes.label_efficiency.min_log2 must be <= max_log2 (got 9 > 5)"),
    ("photoz", {"z_min": 0.4, "z_max": 0.4}, "photoz.z_min must be < photoz.z_max"),
    ("probes", {"gz_questions": ["bar", "has_bar"]}, "probes.gz_questions has 'has_bar', which Galaxy Zoo tree gz2"),
    ("probes", {"class_column": "galaxy10_class"}, "unknown key 'class_column' in probes"),
    ("photoz", {"redshift_column": "z"}, "unknown key 'redshift_column' in photoz"),
    ("probes", {"classifiers": ["svm"]}, "probes.classifiers[0] must be one of logistic, knn, mlp"),
    ("photoz", {"n_bins": 1}, "photoz.n_bins must be >= 2"),
    ("photoz", {"train_fractions": [0.0, 1.0]}, "photoz.train_fractions[0] must be > 0"),
])
def test_config_mistakes_are_one_line_errors(section, change, message):
    config = copy.deepcopy(MINIMAL)
    config[section] = change
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_gz_questions_of_the_tree_are_accepted():
    config = copy.deepcopy(MINIMAL)
    config["labels"] = {"votes": "gz_decals"}
    config["probes"] = {"gz_questions": ["bar", "merging"]}
    assert validate_config(config)["probes"]["gz_questions"] == ["bar", "merging"]
    config["probes"] = {"gz_questions": ["anything_odd"]}
    with pytest.raises(ConfigError,
                       match="'anything_odd', which Galaxy Zoo tree gz_decals \\(labels.votes\\) does not"):
        validate_config(config)
    config["labels"] = {"votes": ["bar__yes_fraction"]}
    config["probes"] = {"gz_questions": ["bar"]}
    with pytest.raises(ConfigError, match="probes.gz_questions needs labels.votes to name a Galaxy Zoo tree"):
        validate_config(config)
