"""The `labels` section: declared once, resolved against the label table's header, and `all` planned from it."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from galssl.catalog import normalise_catalog, table_columns
from galssl.config import validate_config
from galssl.errors import ConfigError, DataError
from galssl.labelspec import LabelSpec, ResolvedLabels, tree_vote_columns
from galssl.run_labels import label_source, resolve_config

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
MINIMAL = {"seed": 1, "surveys": {"sdss": {"provider": "mock", "instrument": "sdss", "bands": ["g", "r", "i"],
                                           "pixel_scale_arcsec": 0.396}}}
GZ2 = tree_vote_columns("gz2")


# --- resolution -------------------------------------------------------------------------------------------------

def test_defaults_resolve_against_a_table_that_has_every_column():
    resolved = LabelSpec().resolve(["object_id", "galaxy10_class", "galaxy10_name", "redshift", *GZ2], "t.csv")
    assert (resolved.class_column, resolved.class_names, resolved.redshift_column) == (
        "galaxy10_class", "galaxy10_name", "redshift")
    assert resolved.vote_tree == "gz2" and resolved.vote_columns == tuple(GZ2) and resolved.missing == ()
    assert all(resolved.has(kind) for kind in ("class", "redshift", "votes")) and resolved.any


def test_absent_columns_turn_their_kind_off_with_a_reason_naming_the_table_and_key():
    resolved = LabelSpec().resolve(["object_id", "morph"], "data/my_cutouts.csv")
    assert not resolved.has("class") and not resolved.has("redshift") and not resolved.has("votes")
    assert not resolved.any and resolved.class_names is None
    assert resolved.reason("redshift") == ("no redshift column ('redshift' is not in data/my_cutouts.csv; "
                                           "set labels.redshift_column)")
    assert resolved.reason("class") == ("no class column ('galaxy10_class' is not in data/my_cutouts.csv; "
                                        "set labels.class_column)")
    assert "Galaxy Zoo tree gz2 is in data/my_cutouts.csv; set labels.votes" in resolved.reason("votes")


def test_null_columns_and_explicit_lists():
    spec = LabelSpec.from_section({"class_column": "morph", "class_names": ["spiral", "elliptical"],
                                   "redshift_column": None, "votes": ["a__b_fraction", "c__d_fraction"],
                                   "extra_columns": ["mass", "colour"]})
    resolved = spec.resolve(["object_id", "morph", "a__b_fraction", "mass"], "t.parquet")
    assert resolved.class_column == "morph" and resolved.class_names == ("spiral", "elliptical")
    assert resolved.reason("redshift") == "no redshift labels (labels.redshift_column is null)"
    assert resolved.vote_columns == ("a__b_fraction",) and resolved.vote_tree is None  # a list: no vote probes
    assert resolved.extra_columns == ("mass",)
    assert resolved.class_name_map() == {0: "spiral", 1: "elliptical"}
    assert resolved.columns() == ["morph", "a__b_fraction", "mass"]


def test_part_of_a_tree_keeps_the_columns_there_are():
    first = tree_vote_columns("gz2")[:2]
    resolved = LabelSpec().resolve(["galaxy10_class", *first], "t.csv")
    assert resolved.vote_columns == tuple(first) and resolved.vote_tree == "gz2"
    assert resolved.class_names is None  # the name column is not there: classes shown as numbers


def test_unknown_columns_are_taken_as_present_and_json_round_trips():
    resolved = LabelSpec.from_section({"votes": "gz_decals", "extra_columns": ["x"]}).resolve(None)
    assert resolved.vote_columns == tuple(tree_vote_columns("gz_decals")) and resolved.extra_columns == ("x",)
    assert ResolvedLabels.from_json(resolved.to_json()) == resolved
    names = ResolvedLabels(class_column="c", class_names=("a", "b"))
    assert ResolvedLabels.from_json(names.to_json()).class_names == ("a", "b")
    with pytest.raises(ConfigError, match="--labels-config is not valid JSON"):
        ResolvedLabels.from_json("{class_column")


def test_class_name_map_from_the_table_pairs():
    labels = pd.DataFrame({"object_id": ["a", "b", "c", "d"], "cls": [1, 0, -1, 1],
                           "name": ["bar", "smooth", "star", "bar"]})
    resolved = ResolvedLabels(class_column="cls", class_names="name")
    assert resolved.class_name_map(labels) == {1: "bar", 0: "smooth"}  # -1 (not a galaxy) has no class name


# --- where the labels are, from file headers ----------------------------------------------------------------------

def test_table_columns_read_headers_of_every_format(tmp_path):
    frame = pd.DataFrame({"object_id": ["a"], "cls": [1], "z": [0.1]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    from astropy.table import Table

    Table.from_pandas(frame).write(tmp_path / "t.fits")
    for name in ("t.csv", "t.parquet", "t.fits"):
        assert table_columns(tmp_path / name) == ["object_id", "cls", "z"], name
    with h5py.File(tmp_path / "g.h5", "w") as h5:
        h5["images"] = np.zeros((2, 4, 4, 3), np.uint8)
        h5["ans"], h5["ra"], h5["dec"] = [0, 1], [1.0, 2.0], [3.0, 4.0]
    assert table_columns(tmp_path / "g.h5") == ["object_id", "ra", "dec", "galaxy10_class"]  # no redshifts there
    with pytest.raises(DataError, match=r"file not found \(set labels.table"):
        table_columns(tmp_path / "none.csv", key="labels.table")
    with pytest.raises(DataError, match="unknown file type '.txt'"):
        (tmp_path / "t.txt").write_text("a,b\n")
        table_columns(tmp_path / "t.txt")


def test_label_source_of_the_mock_a_catalogue_and_a_label_table(tmp_path):
    config = validate_config(MINIMAL)
    path, columns, where = label_source(config)
    assert path == "results/mock/labels.parquet" and where == "the mock sky's labels"
    assert {"galaxy10_class", "galaxy10_name", "redshift", *GZ2} <= set(columns)
    pd.DataFrame({"object_id": ["a"], "ra": [1.0], "dec": [2.0], "morph": [3]}).to_csv(tmp_path / "c.csv", index=False)
    config = validate_config({**MINIMAL, "catalog": {"source": "file", "path": str(tmp_path / "c.csv")},
                              "labels": {"class_column": "morph", "votes": None}})
    table, resolved = resolve_config(config)
    assert table == "results/catalog/catalog.parquet" and resolved.class_column == "morph"
    assert label_source(config)[1] == ["morph"]  # id and coordinates are not labels
    pd.DataFrame({"object_id": ["a"], "z": [0.3]}).to_parquet(tmp_path / "l.parquet")
    config["labels"] = {"table": str(tmp_path / "l.parquet"), "redshift_column": "z", "class_column": None,
                        "votes": None, "class_names": None, "extra_columns": []}
    table, resolved = resolve_config(config)
    assert table == str(tmp_path / "l.parquet") and resolved.redshift_column == "z" and not resolved.has("class")
    config["labels"] = {"class_column": None, "redshift_column": None, "votes": None}
    assert resolve_config(config)[0] is None  # nothing labelled: no label table at all


def test_the_mock_label_columns_are_those_the_mock_writes():
    from galssl.mocksky.catalog import label_columns, labels_table
    from galssl.mocksky.settings import MockSettings
    from galssl.mocksky.sky import MockSky

    table = labels_table(MockSky(MockSettings.from_section({"n_objects": 3}), seed=3))
    assert set(label_columns()) <= set(table.columns)


# --- config validation ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, message", [
    ("class_column", 3, "labels.class_column must be a string or null (got 3)"),
    ("class_names", 5, "labels.class_names must be a string or null or a list of strings (got 5)"),
    ("class_names", ["spiral", 2], "labels.class_names[1] must be a string (got 2)"),
    ("redshift_column", "", "labels.redshift_column must not be an empty string"),
    ("votes", "gz3", "labels.votes must be one of gz2, gz_decals (got 'gz3')"),
    ("votes", 7, "labels.votes must be one of gz2, gz_decals or a list of strings or null (got 7)"),
    ("extra_columns", "mass", "labels.extra_columns must be a list (got 'mass')"),
    ("table", 3, "labels.table must be a string or null (got 3)"),
    ("colour", "x", "unknown key 'colour' in labels (allowed: class_column, class_names, extra_columns"),
])
def test_bad_labels_are_one_line_errors_naming_the_key(key, value, message):
    config = copy.deepcopy(MINIMAL)
    config["labels"] = {key: value}
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("section, key", [("pretrain", "labels"), ("pretrain", "class_column"),
                                          ("probes", "class_column"), ("probes", "gz_tree"),
                                          ("search", "class_column"), ("search", "name_column"),
                                          ("photoz", "redshift_column"), ("maps", "vote_columns"),
                                          ("maps", "redshift_column")])
def test_the_old_per_stage_label_keys_are_gone(section, key):
    config = copy.deepcopy(MINIMAL)
    config[section] = {key: None}
    with pytest.raises(ConfigError, match=f"unknown key '{key}' in {section}"):
        validate_config(config)


def test_class_names_without_a_class_column_is_an_error():
    config = copy.deepcopy(MINIMAL)
    config["labels"] = {"class_column": None, "class_names": ["a", "b"]}
    with pytest.raises(ConfigError, match="labels.class_names lists names but labels.class_column is null"):
        validate_config(config)


# --- catalogues without positions -------------------------------------------------------------------------------

def test_a_files_catalogue_without_positions_gets_nan_and_splits(tmp_path):
    pd.DataFrame({"object_id": [f"g{i}" for i in range(30)], "morph": np.arange(30) % 3}).to_csv(
        tmp_path / "c.csv", index=False)
    table = normalise_catalog(tmp_path / "c.csv", tmp_path / "out.parquet", split_fractions={"train": 0.5, "val": 0.2,
                              "test": 0.3}, seed=1, positions_optional=True)
    assert list(table.columns[:4]) == ["object_id", "ra", "dec", "split"] and "morph" in table.columns
    assert table["ra"].isna().all() and table["dec"].isna().all()
    assert set(table["split"]) == {"train", "val", "test"}
    assert pd.read_parquet(tmp_path / "out.parquet")["ra"].isna().all()
    with pytest.raises(DataError, match="ra/dec may be left out only when every survey is a `files` survey"):
        normalise_catalog(tmp_path / "c.csv", tmp_path / "no.parquet", split_fractions={"train": 1.0}, seed=1)
    pd.DataFrame({"ra": [1.0], "dec": [2.0], "v": [1]}).to_csv(tmp_path / "gz.csv", index=False)
    with pytest.raises(DataError, match="^this run has no positions .* cannot be cross-matched by position"):
        normalise_catalog(tmp_path / "c.csv", tmp_path / "no.parquet", split_fractions={"train": 1.0}, seed=1,
                          labels_path=tmp_path / "gz.csv", positions_optional=True)
    assert not (tmp_path / "no.parquet").exists()


def test_search_by_position_says_the_run_has_none():
    from galssl.evaluate.search import resolve_query

    class Index:
        object_ids = ["a", "b"]

    catalog = pd.DataFrame({"object_id": ["a", "b"], "ra": [np.nan, np.nan], "dec": [np.nan, np.nan]})
    with pytest.raises(DataError, match="^this run has no positions .*query by --id$"):
        resolve_query(Index(), None, 10.0, 20.0, catalog, 2.0)


# --- `all` adapts to the labels there are (dry runs) ------------------------------------------------------------

def files_run(tmp_path: Path, columns: dict, labels: dict | None = None) -> tuple[str, str]:
    """Dry-run `all` for a JPEG-folder survey whose catalogue (no ra/dec) has ``columns``; (planned jobs, stderr)."""
    n = 20
    (tmp_path / "data" / "imgs").mkdir(parents=True)
    frame = pd.DataFrame({"object_id": [f"g{i:03d}" for i in range(n)], **{k: v[:n] for k, v in columns.items()}})
    frame.to_csv(tmp_path / "data" / "cat.csv", index=False)
    config = {"seed": 1, "catalog": {"source": "file", "path": "data/cat.csv"},
              "surveys": {"mine": {"provider": "files", "format": "image", "path": "data/imgs",
                                   "pattern": "{object_id}.jpg", "bands": ["red", "green", "blue"],
                                   "pixel_scale_arcsec": 0.4, "cutout_size": 32}},
              "pretrain": {"methods": ["simclr", "supervised"], "epochs": 1, "batch_size": 8,
                           "augment": {"jitter_crop": {"crop_size": 24, "max_shift": 2}}}}  # fits the 32-px cutouts
    if labels is not None:
        config["labels"] = labels
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n", "-p", "all",
                             "--configfile", str(tmp_path / "config.yaml")], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout, result.stderr


def left_out(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("galssl: ")]


REPRESENTATION = ["results/mine/simclr/embeddings.parquet", "results/mine/simclr/search/index.faiss",
                  "results/mine/simclr/search/similarity.png", "results/mine/simclr/maps/pca_variance.png",
                  "results/mine/simclr/maps/sae_frequent.png", "results/mine/simclr/maps/umap_map.png",
                  "results/mine/explorer/index.html", "results/mine/metrics.parquet"]
CLASS_ONLY = ["rule probe_confusion", "rule label_efficiency", "rule search_metrics", "rule finetune",
              "rule supervised_from_scratch", "rule labels_needed", "results/mine/supervised/"]


def test_no_class_column(tmp_path):
    planned, stderr = files_run(tmp_path, {"redshift": np.linspace(0.02, 0.3, 20)})
    for target in REPRESENTATION + ["rule photoz", "results/mine/simclr/maps/pca_spearman.png"]:
        assert target in planned, target
    for target in CLASS_ONLY + ["rule probes:", "rule maps_alignment"]:
        assert target not in planned, target
    why = "no class column ('galaxy10_class' is not in data/cat.csv; set labels.class_column)"
    lines = left_out(stderr)
    for stage in ("pretraining of supervised", "class probes (and their confusion matrices)", "label efficiency",
                  "search mAP", "fine-tuning", "supervised-from-scratch baseline"):
        assert f"galssl: {stage} left out: {why}" in lines, stage
    assert len(lines) == len(set(lines)) and not any("photo-z" in line for line in lines)


def test_no_redshift(tmp_path):
    planned, stderr = files_run(tmp_path, {"morph": np.arange(20) % 3}, {"class_column": "morph",
                                                                        "class_names": ["a", "b", "c"]})
    for target in REPRESENTATION + ["rule probe_confusion", "rule label_efficiency", "rule search_metrics",
                                    "results/mine/finetune/best/classes/confusion.png"]:
        assert target in planned, target
    for target in ("rule photoz", "finetune/best/photoz", "results/mine/simclr/maps/pca_spearman.png"):
        assert target not in planned, target
    lines = left_out(stderr)
    why = "no redshift column ('redshift' is not in data/cat.csv; set labels.redshift_column)"
    assert f"galssl: photo-z left out: {why}" in lines and f"galssl: fine-tuning on photo-z left out: {why}" in lines
    assert not any("class probes" in line for line in lines)


def test_no_votes(tmp_path):
    planned, stderr = files_run(tmp_path, {"morph": np.arange(20) % 3, "z": np.linspace(0.02, 0.3, 20)},
                                {"class_column": "morph", "redshift_column": "z", "class_names": None})
    for target in REPRESENTATION + ["rule probes:", "rule photoz", "results/mine/simclr/maps/pca_spearman.png",
                                    "results/mine/simclr/maps/sae_aligned.png"]:
        assert target in planned, target
    for target in ("rule maps_alignment", "rule probe_vote_fractions", "maps/alignment.png"):
        assert target not in planned, target
    lines = left_out(stderr)
    assert any(line.startswith("galssl: vote-alignment maps (SAE vs PCA alignment figure) left out: no vote "
                               "fractions") for line in lines)
    assert not any("photo-z" in line or "class probes" in line for line in lines)


def test_nothing_labelled_is_a_pure_representation_run(tmp_path):
    planned, stderr = files_run(tmp_path, {})
    for target in REPRESENTATION:
        assert target in planned, target
    for target in CLASS_ONLY + ["rule probes:", "rule photoz", "pca_spearman.png", "sae_aligned.png",
                                "rule maps_alignment"]:
        assert target not in planned, target
    assert "--labels " not in planned and "--positions-optional" in planned  # no label table, no ra/dec
    lines = left_out(stderr)
    assert "galssl: photo-z left out: no redshift column ('redshift' is not in data/cat.csv; set " \
           "labels.redshift_column)" in lines
    assert ("galssl: label-alignment maps (PCA Spearman heat map, SAE most label-aligned latents) left out: no vote "
            "fractions and no redshift to correlate features with") in lines


# --- stages with some labels missing ------------------------------------------------------------------------------

def test_votes_without_classes_give_empty_class_tables_with_their_columns():
    from galssl.evaluate.labelled import LabelledEmbeddings
    from galssl.evaluate.probes import PREDICTION_COLUMNS, ProbeSettings, run_class_probes

    data = LabelledEmbeddings("toy", np.array(["a", "b"]), np.zeros((2, 3), np.float32), np.array(["train", "test"]),
                              pd.DataFrame({"x": [1, 2]}))
    settings = ProbeSettings.from_section({}, ResolvedLabels(vote_tree="gz2", vote_columns=tuple(GZ2)))
    assert settings.class_column is None and settings.gz_tree == "gz2"
    metrics, predictions = run_class_probes(data, settings, seed=0)
    assert metrics.empty and list(predictions.columns) == PREDICTION_COLUMNS and predictions.empty


def test_the_explorer_opens_without_labels(tmp_path):
    from galssl.explorer.settings import ExplorerSettings
    from galssl.explorer.table import default_colour_by, default_tooltip, load_points

    ids = [f"g{i}" for i in range(6)]
    pd.DataFrame({"object_id": ids, "split": ["train", "test"] * 3, "x": np.arange(6.0), "y": np.ones(6)}).to_parquet(
        tmp_path / "umap.parquet")
    pd.DataFrame({"object_id": ids, "ra": np.nan, "dec": np.nan, "split": ["train", "test"] * 3}).to_parquet(
        tmp_path / "catalog.parquet")
    settings = ExplorerSettings.from_section({}, labels=ResolvedLabels())
    points = load_points(tmp_path / "umap.parquet", tmp_path / "catalog.parquet", None, settings, seed=0)
    assert list(points.labels.columns) == ["split"] and np.isnan(points.ra_dec).all()
    assert default_colour_by(points, settings) == "split" and default_tooltip(points, settings) == []
    labelled = ExplorerSettings.from_section({}, labels=ResolvedLabels(class_column="morph", class_names="kind"))
    pd.DataFrame({"object_id": ids, "morph": [0, 1] * 3, "kind": ["a", "b"] * 3}).to_parquet(tmp_path / "l.parquet")
    points = load_points(tmp_path / "umap.parquet", tmp_path / "catalog.parquet", tmp_path / "l.parquet", labelled, 0)
    assert default_colour_by(points, labelled) == "kind" and default_tooltip(points, labelled) == ["kind"]


def test_votes_without_classes_still_run_the_vote_probes(tmp_path):
    from galssl.gztree import DecisionTree, total_column

    columns = {name: np.full(20, 0.5) for name in GZ2}
    columns.update({total_column(q.name): np.full(20, 30) for q in DecisionTree.load("gz2").questions})
    planned, stderr = files_run(tmp_path, columns, {"redshift_column": None})
    for target in ("rule probes:", "rule probe_vote_fractions", "results/mine/simclr/probes/vote_fractions.png",
                   "rule maps_alignment", "results/mine/simclr/maps/pca_spearman.png"):
        assert target in planned, target
    for target in ("rule probe_confusion", "rule label_efficiency", "rule search_metrics", "rule photoz"):
        assert target not in planned, target
    lines = left_out(stderr)
    assert "galssl: photo-z left out: no redshift labels (labels.redshift_column is null)" in lines
    assert not any("vote" in line for line in lines)


def test_methods_that_learn_from_classes_need_a_class_column():
    from galssl.labelspec import trainable_methods

    methods = ["simclr", "supervised", "galaxalign_stage1", "mae"]
    assert trainable_methods(methods, ResolvedLabels(class_column="c")) == (methods, [])
    assert trainable_methods(methods, ResolvedLabels()) == (["simclr", "mae"], ["supervised", "galaxalign_stage1"])
