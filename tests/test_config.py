"""Config validation: each bad config is a small mutation of config/config.yaml with its exact one-line message."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from galssl.config import SCHEMA_PATH, load_config, load_schema, validate_config
from galssl.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "config" / "config.yaml"
MOCK_KEYS = ("artifact_fraction, artifact_rate, class_fractions, cosmology, field_density_arcmin2, gallery, "
             "labels_instrument, n_objects, patch, redshift, star_fraction, volunteers")

Mutation = Callable[[dict[str, Any]], None]


def default_config() -> dict[str, Any]:
    """A fresh copy of the shipped config/config.yaml."""
    return yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))


def mutated(mutation: Mutation) -> dict[str, Any]:
    """The default config with one mutation applied."""
    config = default_config()
    mutation(config)
    return config


def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()
    assert SCHEMA_PATH == REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_default_config_validates_and_gets_defaults() -> None:
    raw = default_config()
    config = validate_config(raw)
    assert config["surveys"]["sdss"]["cutout_size"] == 64
    assert config["ingest"] == {"shard_size": 500, "reproject": "interp", "max_mask_fraction": 0.2}
    assert config["surveys"]["sdss"]["max_retries"] == 5
    assert config["pretrain"]["methods"] == ["simclr", "moco", "mae", "supervised"]
    assert config["embed"] == {"batch_size": 256, "pixels_pca": {"n_components": 64}, "external": {}}
    assert "ingest" not in raw, "validate_config must fill a copy, not the caller's dict"
    assert load_config(DEFAULT_CONFIG) == config


@pytest.mark.parametrize("external,message", [
    ({"mae": {"timm": "resnet18"}}, "embed.external.mae clashes with a pretraining method or the pixels_pca floor"),
    ({"pixels_pca": {"timm": "resnet18"}}, "embed.external.pixels_pca clashes"),
])
def test_external_encoder_names_must_not_clash(external, message) -> None:
    raw = default_config()
    raw["embed"] = {"external": external}
    with pytest.raises(ConfigError, match=message):
        validate_config(raw)


def test_external_encoder_gets_defaults() -> None:
    raw = default_config()
    raw["embed"] = {"external": {"resnet18_random": {"timm": "resnet18"}}}
    assert validate_config(raw)["embed"]["external"] == {"resnet18_random": {"timm": "resnet18", "weights": None,
                                                                               "crop": None}}


def test_minimal_config_gets_every_default() -> None:
    minimal = {"seed": 0, "surveys": {"sdss": {"provider": "mock", "instrument": "sdss", "bands": ["g", "r", "i"],
                                               "pixel_scale_arcsec": 0.396}}}
    config = validate_config(minimal)
    full = validate_config(default_config())
    # The defaults reproduce the shipped config's catalogue and mock sky.
    assert config["catalog"] == full["catalog"]
    assert config["mock"] == full["mock"]
    assert config["surveys"]["sdss"]["cutout_size"] == 64


def test_defaults_are_not_shared_between_configs() -> None:
    first = validate_config({"seed": 1, "surveys": {"legacy": {"provider": "legacy", "bands": ["g", "r", "z"],
                                                               "pixel_scale_arcsec": 0.262}}})
    first["mock"]["gallery"]["redshifts"].append(1.0)
    second = validate_config(default_config())
    assert second["mock"]["gallery"]["redshifts"] == [0.03, 0.07, 0.14]


def _set(*path: str, value: Any) -> Mutation:
    """A mutation that sets config[path[0]][path[1]]... to value."""
    def mutate(config: dict[str, Any]) -> None:
        node = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _delete(*path: str) -> Mutation:
    def mutate(config: dict[str, Any]) -> None:
        node = config
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return mutate


def _zero_classes(config: dict[str, Any]) -> None:
    config["mock"]["class_fractions"] = {name: 0 for name in config["mock"]["class_fractions"]}


BAD_CONFIGS: list[tuple[str, Mutation, str]] = [
    ("negative pixel scale", _set("surveys", "sdss", "pixel_scale_arcsec", value=-0.4),
     "config error: surveys.sdss.pixel_scale_arcsec must be > 0 (got -0.4)"),
    ("typo in mock key", _set("mock", "colour", value="red"),
     f"config error: unknown key 'colour' in mock (allowed: {MOCK_KEYS})"),
    ("unknown top-level key", _set("sed", value=1),
     ("config error: unknown key 'sed' at top level (allowed: catalog, embed, explorer, finetune, ingest, labels, "
      "maps, mock, photoz, pretrain, probes, search, seed, surveys)")),
    ("misspelt provider", _set("surveys", "sdss", "provider", value="sdds"),
     "config error: surveys.sdss.provider must be one of mock, legacy, sdss, euclid, hips, files (got 'sdds')"),
    ("missing bands", _delete("surveys", "sdss", "bands"),
     "config error: missing required key 'bands' in surveys.sdss"),
    ("missing seed", _delete("seed"), "config error: missing required key 'seed' at top level"),
    ("quoted seed", _set("seed", value="42"), "config error: seed must be an integer (got '42')"),
    ("negative seed", _set("seed", value=-1), "config error: seed must be >= 0 (got -1)"),
    ("fractional cutout size", _set("surveys", "sdss", "cutout_size", value=64.5),
     "config error: surveys.sdss.cutout_size must be an integer (got 64.5)"),
    ("tiny cutout", _set("surveys", "sdss", "cutout_size", value=4),
     "config error: surveys.sdss.cutout_size must be >= 8 (got 4)"),
    ("zero objects", _set("mock", "n_objects", value=0), "config error: mock.n_objects must be >= 1 (got 0)"),
    ("fraction above one", _set("mock", "star_fraction", value=1.5),
     "config error: mock.star_fraction must be <= 1 (got 1.5)"),
    ("unknown Galaxy10 class", _set("mock", "class_fractions", "spiral", value=0.1),
     ("config error: unknown key 'spiral' in mock.class_fractions (allowed: barred_spiral, cigar_shaped_smooth, "
      "disturbed, edge_on_with_bulge, edge_on_without_bulge, in_between_round_smooth, merging, round_smooth, "
      "unbarred_loose_spiral, unbarred_tight_spiral)")),
    ("redshift beyond mock range", _set("mock", "redshift", "max", value=5),
     "config error: mock.redshift.max must be <= 3 (got 5)"),
    ("dec beyond pole", _set("mock", "patch", "dec_center_deg", value=95),
     "config error: mock.patch.dec_center_deg must be <= 90 (got 95)"),
    ("ra of 360", _set("mock", "patch", "ra_center_deg", value=360),
     "config error: mock.patch.ra_center_deg must be < 360 (got 360)"),
    ("zero patch width", _set("mock", "patch", "width_deg", value=0),
     "config error: mock.patch.width_deg must be > 0 (got 0)"),
    ("no volunteers", _set("mock", "volunteers", value=0), "config error: mock.volunteers must be >= 1 (got 0)"),
    ("empty gallery redshifts", _set("mock", "gallery", "redshifts", value=[]),
     "config error: mock.gallery.redshifts must not be empty"),
    ("negative gallery redshift", _set("mock", "gallery", "redshifts", value=[0.03, -0.1]),
     "config error: mock.gallery.redshifts[1] must be > 0 (got -0.1)"),
    ("unknown mock instrument", _set("surveys", "sdss", "instrument", value="hst"),
     "config error: surveys.sdss.instrument must be one of sdss, legacy, euclid (got 'hst')"),
    ("mock survey without instrument", _delete("surveys", "sdss", "instrument"),
     "config error: missing required key 'instrument' in surveys.sdss"),
    ("unknown labels instrument", _set("mock", "labels_instrument", value="hst"),
     "config error: mock.labels_instrument must be one of sdss, legacy, euclid (got 'hst')"),
    ("empty mock section", _set("mock", value=None),
     "config error: mock must be a mapping of keys to values (got null)"),
    ("survey name with a dash", _set("surveys", "sdss-dr7", value={"provider": "sdss", "bands": ["r"],
                                                                  "pixel_scale_arcsec": 0.396}),
     ("config error: surveys has key 'sdss-dr7', which is not allowed (use lowercase letters, digits and '_', "
      "starting with a letter)")),
    ("repeated band", _set("surveys", "sdss", "bands", value=["g", "r", "g"]),
     "config error: surveys.sdss.bands lists 'g' more than once"),
    ("no surveys", _set("surveys", value={}), "config error: surveys must not be empty"),
    ("later stage not a mapping", _set("pretrain", value="moco"),
     "config error: pretrain must be a mapping of keys to values (got 'moco')"),
    # Checks across keys (galssl.config._check_semantics).
    ("split does not sum to 1", _set("catalog", "split", "train", value=0.6),
     "config error: catalog.split fractions must sum to 1 (got train + val + test = 0.9)"),
    ("file catalogue without path", _set("catalog", "source", value="file"),
     "config error: catalog.path must be set when catalog.source is 'file' (only source 'mock' needs no file)"),
    ("redshift min above max", _set("mock", "redshift", "min", value=0.5),
     "config error: mock.redshift.min must be < mock.redshift.max (got min=0.5, max=0.4)"),
    ("all classes zero", _zero_classes, "config error: mock.class_fractions must not all be zero"),
    ("stars and artifacts fill the catalogue", _set("mock", "artifact_fraction", value=0.97),
     "config error: mock.star_fraction + mock.artifact_fraction must be < 1 (got 0.03 + 0.97)"),
    ("band the mock instrument lacks", _set("surveys", "sdss", "bands", value=["g", "r", "y"]),
     "config error: surveys.sdss.bands has 'y', which instrument sdss does not have (allowed: u, g, r, i, z)"),
    ("u band on the legacy mock", _set("surveys", "sdss", "instrument", value="legacy"),
     "config error: surveys.sdss.bands has 'u', which instrument legacy does not have (allowed: g, r, i, z)"),
]


@pytest.mark.parametrize(("mutation", "message"), [case[1:] for case in BAD_CONFIGS],
                         ids=[case[0] for case in BAD_CONFIGS])
def test_bad_config_gives_one_line_message(mutation: Mutation, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        validate_config(mutated(mutation))


def test_real_survey_needs_no_instrument() -> None:
    config = validate_config(mutated(_set("surveys", "legacy", value={
        "provider": "legacy", "bands": ["g", "r", "z"], "pixel_scale_arcsec": 0.262})))
    assert "instrument" not in config["surveys"]["legacy"]


def test_config_that_is_not_a_mapping() -> None:
    message = "config error: the config must be a mapping of keys to values (got null)"
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        validate_config(None)  # type: ignore[arg-type]


def test_load_config_names_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=f"^config error: config file {re.escape(str(missing))} not found$"):
        load_config(missing)


def test_load_config_names_invalid_yaml(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: 42\nmock: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"^config error: {re.escape(str(broken))} is not valid YAML at line 3"):
        load_config(broken)


def _snakemake() -> list[str]:
    """The snakemake of the running interpreter's environment."""
    script = Path(sys.executable).with_name("snakemake")
    return [str(script)] if script.exists() else [sys.executable, "-m", "snakemake"]


def _dry_run(config: dict[str, Any], workdir: Path) -> subprocess.CompletedProcess[str]:
    """`snakemake -n all` of the repository's Snakefile on ``config``, working in ``workdir`` (not the repo)."""
    config_file = workdir / "config.yaml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    command = [*_snakemake(), "-n", "--snakefile", str(REPO_ROOT / "Snakefile"), "--configfile", str(config_file),
               "--directory", str(workdir), "all"]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_snakemake_stops_on_bad_config_with_one_line(tmp_path: Path) -> None:
    result = _dry_run(mutated(_set("mock", "colour", value="red")), tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"config error: unknown key 'colour' in mock (allowed: {MOCK_KEYS})" in output.splitlines()
    assert "Traceback" not in output
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("rows", [0, 1])
def test_snakemake_stops_on_a_catalogue_too_small_to_split(tmp_path: Path, rows: int) -> None:
    """A header-only or one-object catalogue, and a one-object mock sky, stop with one line before the DAG."""
    if rows == 1:
        result = _dry_run(mutated(_set("mock", "n_objects", value=1)), tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "mock.n_objects: 1 object(s), but a run needs at least 10 (train, val and test splits, and a 2-d " \
               "map); add objects" in (result.stdout + result.stderr).splitlines()
    (tmp_path / "few.csv").write_text("object_id,ra,dec\n" + "".join(f"g{i},150.0,2.0\n" for i in range(rows)))
    config = default_config()
    config["catalog"].update(source="file", path="few.csv")
    result = _dry_run(config, tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"catalog.path few.csv: {rows} object(s), but a run needs at least 10 (train, val and test splits, and a " \
           "2-d map); add objects" in (result.stdout + result.stderr).splitlines()
    assert not (tmp_path / "results").exists()


def test_snakemake_dry_run_plans_mock_rules(tmp_path: Path) -> None:
    result = _dry_run(default_config(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mock_catalog" in result.stdout and "mock_gallery" in result.stdout
    assert not (tmp_path / "results").exists()


def test_method_config_schema_lists_exactly_the_keys_each_method_reads() -> None:
    """The schema closes pretrain.method_config.<method> (checked with the config, without importing torch); its keys
    must stay those of the method's settings dataclass plus the optimisation overrides galssl.pretrain reads."""
    import dataclasses

    from galssl.methods import GALAXALIGN_METHODS, METHODS, method_settings

    schema = load_schema()
    sections = schema["properties"]["pretrain"]["properties"]["method_config"]["properties"]
    assert set(sections) == set(METHODS + GALAXALIGN_METHODS)
    for method, section in sections.items():
        properties = set(schema["$defs"][section["$ref"].rsplit("/", 1)[1]]["properties"])
        fields = {field.name for field in dataclasses.fields(method_settings(method))}
        overrides = {"lr", "batch_size"} | (set() if method in GALAXALIGN_METHODS else {"epochs"})
        assert properties == fields | overrides, method


def test_credential_variables_named_in_messages_are_the_ones_the_euclid_provider_reads() -> None:
    from galssl.config_checks import EUCLID_CREDENTIAL_VARIABLES
    from galssl.providers.euclid import PASSWORD_ENV, USER_ENV

    assert EUCLID_CREDENTIAL_VARIABLES == (USER_ENV, PASSWORD_ENV)


def test_config_check_loads_no_torch() -> None:
    """validate-config and `snakemake -n` stay fast: the config checks import neither torch nor the methods."""
    code = "import sys, galssl.config; galssl.config.load_config('config/config.yaml'); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                            check=True)
    assert result.stdout.strip() == "False"


def test_building_the_dag_loads_no_torch() -> None:
    """Every galssl module the Snakefile and its rules import while Snakemake builds the DAG stays light (no torch,
    Lightning, timm, faiss, UMAP, scikit-learn or matplotlib): `snakemake -n` is quick and jobs are not slowed."""
    import re

    sources = [REPO_ROOT / "Snakefile", *sorted((REPO_ROOT / "workflow" / "rules").rglob("*.smk"))]
    imports = sorted({line.strip() for path in sources for line in path.read_text().splitlines()
                      if re.match(r"\s*(from galssl[\w.]* import |import galssl)", line)})
    assert len(imports) >= 5, imports
    heavy = ("torch", "lightning", "timm", "faiss", "umap", "sklearn", "matplotlib")
    code = "\n".join(["import sys", *imports, f"print(sorted(m for m in {heavy!r} if m in sys.modules))"])
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                            check=True)
    assert result.stdout.strip() == "[]", (imports, result.stdout)


@pytest.mark.parametrize("example", sorted((REPO_ROOT / "config" / "examples").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_config_is_valid(example: Path) -> None:
    assert load_config(example)["surveys"]
