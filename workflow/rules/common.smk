# Config validation and the helpers that turn the config into target lists.
import json
import sys

from snakemake.utils import min_version, validate

from galssl.config import validate_config
from galssl.errors import ConfigError

min_version("9.0")


# galssl's own check first: it prints one line naming the key, and it also runs the cross-key checks the
# schema cannot express. Exit before Snakemake builds the DAG, so no job starts on a bad config.
try:
    validate_config(config)
except ConfigError as error:
    print(error, file=sys.stderr)
    sys.exit(1)

# Snakemake's own validation fills the schema defaults into `config` in place.
validate(config, schema="../schemas/config.schema.yaml")


def uses_mock_sky():
    """True when the catalogue or any survey comes from the built-in mock sky."""
    return config["catalog"]["source"] == "mock" or any(
        survey["provider"] == "mock" for survey in config["surveys"].values()
    )


def mock_settings_json():
    """The `mock` config section as canonical JSON; a change in it re-runs every mock rule."""
    return json.dumps(config["mock"], sort_keys=True)


def all_targets():
    """Final outputs of the default DAG (`snakemake all`)."""
    targets = []
    if uses_mock_sky():
        targets += [
            "results/mock/catalog.parquet",
            "results/mock/labels.parquet",
            "results/mock/gallery.png",
        ]
    return targets
