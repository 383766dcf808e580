"""The static galaxy explorer: the builder on a tiny synthetic survey, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from explorer_browser import check_explorer, decode, read_page_data
from galssl.cli import main
from galssl.composite import image_rgb
from galssl.config import load_config, validate_config
from galssl.embeddings import write_embeddings
from galssl.errors import ConfigError, DataError
from galssl.explorer.build import ExplorerInputs, build_explorer
from galssl.explorer.neighbours import nearest_neighbours
from galssl.explorer.settings import ExplorerSettings
from galssl.explorer.sprites import thumbnail, tile_position
from galssl.explorer.table import choose_points, column_kind
from galssl.shards import ShardRow, shard_schema, write_shard

REPO = Path(__file__).resolve().parents[1]
BANDS = ["g", "r", "i"]
SIZE = 16
CLASSES = ["round_smooth", "barred_spiral", "edge_on_with_bulge", "merging"]


def galaxy(rng: np.random.Generator, kind: int) -> np.ndarray:
    """(3, SIZE, SIZE) nanomaggies: sky noise plus an elliptical blob whose colour and shape depend on ``kind``."""
    rows, cols = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    axis = 1.0 + kind
    blob = np.exp(-0.5 * ((rows / axis) ** 2 + (cols / 2.0) ** 2))
    colour = np.array([0.5 + 0.3 * kind, 1.0, 1.5 - 0.2 * kind])[:, None, None]
    return (colour * 3.0 * blob + rng.normal(0, 0.05, (3, SIZE, SIZE))).astype(np.float32)


def synthetic_survey(root: Path, n: int = 90, seed: int = 0) -> ExplorerInputs:
    """Two shards, embeddings, a UMAP table, a catalogue and labels for ``n`` objects in four classes."""
    rng = np.random.default_rng(seed)
    ids = [f"obj{index:04d}" for index in range(n)]
    kinds = rng.integers(0, len(CLASSES), n)
    splits = np.array(["train", "val", "test"])[rng.integers(0, 3, n)]
    images = np.stack([galaxy(rng, int(kind)) for kind in kinds])
    schema = shard_schema(BANDS, SIZE, 0.4)
    shards = []
    for part in range(2):
        rows = [ShardRow(ids[i], 180.0 + i / 1000, 2.0, "sdss", str(splits[i]), images[i], np.zeros(3, np.float32),
                         np.ones(3, np.float32), np.zeros(3, np.float32), np.full(3, 0.05, np.float32))
                for i in range(part, n, 2)]
        path = root / f"shards/shard-{part:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_shard(path, rows, schema)
        shards.append(str(path))
    centres = rng.normal(size=(len(CLASSES), 12))
    vectors = (centres[kinds] + 0.4 * rng.normal(size=(n, 12))).astype(np.float32)
    write_embeddings(root / "embeddings.parquet", ids, vectors, "simclr")
    xy = np.stack([kinds * 3.0, np.zeros(n)], 1) + rng.normal(size=(n, 2))
    pd.DataFrame({"object_id": ids, "split": splits, "x": xy[:, 0], "y": xy[:, 1]}).to_parquet(root / "umap.parquet")
    pd.DataFrame({"object_id": ids, "ra": 180.0 + np.arange(n) / 1000, "dec": np.full(n, 2.0),
                  "split": splits}).to_parquet(root / "catalog.parquet")
    smooth = np.clip(1.0 - kinds / 3 + rng.normal(0, 0.1, n), 0, 1)
    redshift = rng.uniform(0.01, 0.3, n)
    redshift[::17] = np.nan
    pd.DataFrame({"object_id": ids, "galaxy10_class": kinds, "galaxy10_name": np.array(CLASSES)[kinds],
                  "redshift": redshift, "has_bar": kinds == 1,
                  "smooth_or_featured__smooth_fraction": smooth,
                  "smooth_or_featured__featured_or_disk_fraction": 1 - smooth,
                  "smooth_or_featured__total": rng.integers(20, 60, n)}).to_parquet(root / "labels.parquet")
    return ExplorerInputs(umap=root / "umap.parquet", embeddings=root / "embeddings.parquet",
                          catalog=root / "catalog.parquet", labels=root / "labels.parquet", shards=shards, bands=BANDS,
                          survey="sdss", instrument="sdss", embedding="simclr")


def shard_images(inputs: ExplorerInputs) -> dict[str, np.ndarray]:
    from galssl.shards import read_images

    found = {}
    for path in inputs.shards:
        ids, images = read_images(path)
        found.update(zip(ids, images))
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[ExplorerInputs, Path, dict]:
    root = tmp_path_factory.mktemp("explorer")
    inputs = synthetic_survey(root)
    settings = ExplorerSettings(k_neighbours=5, thumbnail_px=SIZE, tiles_per_side=4)
    out = root / "results/sdss/explorer"
    build_explorer(inputs, settings, seed=7, out_dir=out)
    return inputs, out, read_page_data(out)


def test_sprite_tile_equals_composite_of_its_object(built):
    inputs, out, data = built
    images = shard_images(inputs)
    tiles = decode(data["sprites"]["tile"], "<i4")
    sheets = {}
    for index, object_id in enumerate(data["object_id"]):
        sheet, column, row = tile_position(int(tiles[index]), data["sprites"]["tiles_per_side"])
        if sheet not in sheets:
            sheets[sheet] = np.asarray(Image.open(out / data["sprites"]["sheets"][sheet]["file"]).convert("RGB"))
        tile = sheets[sheet][row * SIZE:(row + 1) * SIZE, column * SIZE:(column + 1) * SIZE]
        np.testing.assert_array_equal(tile, image_rgb(images[object_id], BANDS, "sdss"))


def test_every_point_has_exactly_one_tile_and_sheets_are_packed(built):
    _, out, data = built
    n, per_side = data["n_points"], data["sprites"]["tiles_per_side"]
    tiles = decode(data["sprites"]["tile"], "<i4")
    assert sorted(tiles.tolist()) == list(range(n))
    sheets = data["sprites"]["sheets"]
    assert len(sheets) == -(-n // per_side**2) == 6
    last = Image.open(out / sheets[-1]["file"])
    left = n - (len(sheets) - 1) * per_side**2  # 10 tiles: three rows of four
    assert last.size == (sheets[-1]["width"], sheets[-1]["height"]) == (per_side * SIZE, -(-left // per_side) * SIZE)


def test_thumbnail_resamples_the_composite_to_the_tile_size():
    image = galaxy(np.random.default_rng(1), 2)
    tile = thumbnail(image, BANDS, "sdss", 24)
    expected = Image.fromarray(image_rgb(image, BANDS, "sdss")).resize((24, 24), Image.Resampling.LANCZOS)
    assert tile.shape == (24, 24, 3) and tile.dtype == np.uint8
    np.testing.assert_array_equal(tile, np.asarray(expected))


def brute_force_neighbours(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(similarity, order, axis=1)


def test_neighbours_equal_brute_force_cosine_knn(built):
    inputs, _, data = built
    from galssl.embeddings import read_embeddings

    ids, vectors = read_embeddings(inputs.embeddings)
    rows = [ids.index(object_id) for object_id in data["object_id"]]
    expected, expected_similarity = brute_force_neighbours(vectors[rows], data["neighbours"]["k"])
    found = decode(data["neighbours"]["rows"], "<i4").reshape(data["n_points"], -1)
    similarity = decode(data["neighbours"]["similarity"], "<f4").reshape(data["n_points"], -1)
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(similarity, expected_similarity, atol=1e-5)


def test_nearest_neighbours_caps_k_and_never_returns_the_object_itself():
    vectors = np.random.default_rng(3).normal(size=(4, 6)).astype(np.float32)
    rows, similarity = nearest_neighbours(vectors, k=10, seed=0)
    assert rows.shape == similarity.shape == (4, 3)
    for own, found in enumerate(rows):
        assert own not in found and sorted(found) == sorted(set(range(4)) - {own})
    assert np.all(np.diff(similarity, axis=1) <= 1e-6)


def test_bad_embedding_name_is_a_one_line_config_error():
    with pytest.raises(ConfigError) as error:
        ExplorerSettings.from_section({"embedding": "simclrr"}, ["simclr", "moco", "pixels_pca"])
    message = str(error.value)
    assert "explorer.embedding" in message and "simclr, moco, pixels_pca" in message and "\n" not in message
    config = load_config(REPO / "config/config.yaml")
    config["explorer"]["embedding"] = "byol"
    with pytest.raises(ConfigError, match=r"explorer\.embedding must be one of the embeddings"):
        validate_config(config)
    config["explorer"] = {"embeding": "simclr"}
    with pytest.raises(ConfigError, match="unknown key 'embeding' in explorer"):
        validate_config(config)
    config["explorer"] = {"k_neighbours": 0}
    with pytest.raises(ConfigError, match="explorer.k_neighbours"):
        validate_config(config)


def test_null_embedding_is_the_first_one_the_run_produces():
    config = load_config(REPO / "config/config.yaml")
    assert config["explorer"]["embedding"] == "simclr"
    settings = ExplorerSettings.from_section({}, ["mae", "pixels_pca"])
    assert settings.embedding_from(["mae", "pixels_pca"]) == "mae"


def test_label_columns_are_encoded_by_kind(built):
    _, _, data = built
    kinds = {column["name"]: column["kind"] for column in data["columns"]}
    assert kinds["galaxy10_name"] == kinds["galaxy10_class"] == kinds["has_bar"] == kinds["split"] == "category"
    assert kinds["redshift"] == kinds["smooth_or_featured__smooth_fraction"] == "number"
    assert kinds["smooth_or_featured__total"] == "number"
    name = next(column for column in data["columns"] if column["name"] == "galaxy10_name")
    assert name["categories"] == sorted(CLASSES)
    redshift = next(column for column in data["columns"] if column["name"] == "redshift")
    values = decode(redshift["values"], "<f4")
    assert np.isnan(values).sum() == 6 and redshift["range"][0] < redshift["range"][1]
    has_bar = next(column for column in data["columns"] if column["name"] == "has_bar")
    assert has_bar["categories"] == ["false", "true"]
    assert data["colour_by"] == "galaxy10_name"
    assert data["tooltip"][:2] == ["galaxy10_name", "redshift"]
    assert "smooth_or_featured__smooth_fraction" in data["tooltip"]
    assert column_kind(pd.Series([f"name {i}" for i in range(100)])) == "text"


def test_subsample_is_deterministic_and_neighbours_stay_inside_it(tmp_path):
    assert choose_points(10, 20, seed=1).tolist() == list(range(10))
    first, again, other = (choose_points(1000, 50, seed) for seed in (1, 1, 2))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert len(set(first.tolist())) == 50 and np.all(np.diff(first) > 0)
    inputs = synthetic_survey(tmp_path, n=60)
    settings = ExplorerSettings(k_neighbours=4, thumbnail_px=8, max_points=25, tiles_per_side=8)
    build_explorer(inputs, settings, seed=3, out_dir=tmp_path / "explorer")
    data = read_page_data(tmp_path / "explorer")
    assert data["n_points"] == 25 and data["n_objects"] == 60
    assert data["object_id"] == [f"obj{index:04d}" for index in choose_points(60, 25, seed=3)]
    assert decode(data["neighbours"]["rows"], "<i4").max() < 25


def test_build_is_byte_reproducible_and_replaces_the_old_folder_atomically(tmp_path):
    inputs = synthetic_survey(tmp_path, n=30)
    settings = ExplorerSettings(k_neighbours=3, thumbnail_px=12, tiles_per_side=4)
    out = tmp_path / "results/explorer"
    build_explorer(inputs, settings, seed=1, out_dir=out)
    first = {path.relative_to(out): path.read_bytes() for path in out.rglob("*") if path.is_file()}
    (out / "stale.txt").write_text("from an older build")
    build_explorer(inputs, settings, seed=1, out_dir=out)
    second = {path.relative_to(out): path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert first == second
    assert {"index.html", "explorer.js", "explorer.css", "data.js"} <= {str(path) for path in first}
    assert sorted(path.name for path in out.parent.iterdir()) == ["explorer"]  # no temporary folders left
    script = (out / "explorer.js").read_text()
    assert "fetch(" not in script and "XMLHttpRequest" not in script  # Chromium refuses both for file:// URLs
    html = (out / "index.html").read_text()
    assert "http://" not in html and "https://" not in html  # nothing from the network


def test_failed_build_keeps_the_old_explorer_and_names_the_problem(tmp_path):
    inputs = synthetic_survey(tmp_path, n=30)
    out = tmp_path / "explorer"
    build_explorer(inputs, ExplorerSettings(thumbnail_px=8), seed=1, out_dir=out)
    before = (out / "data.js").read_bytes()
    with pytest.raises(DataError, match="explorer.colour_by: 'colour'"):
        build_explorer(inputs, ExplorerSettings(thumbnail_px=8, colour_by="colour"), seed=1, out_dir=out)
    with pytest.raises(DataError, match="objects of the UMAP are in no shard"):
        build_explorer(inputs.__class__(**{**inputs.__dict__, "shards": inputs.shards[:1]}),
                       ExplorerSettings(thumbnail_px=8), seed=1, out_dir=out)
    assert (out / "data.js").read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []


def test_cli_builds_the_explorer(tmp_path, capsys):
    inputs = synthetic_survey(tmp_path, n=20)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"survey": "sdss", "bands": BANDS, "image_shape": [3, SIZE, SIZE],
                                    "band_statistics": {band: {"sky_mad": 0.05} for band in BANDS}}))
    main(["explorer", "--umap", str(inputs.umap), "--embeddings", str(inputs.embeddings), "--catalog",
          str(inputs.catalog), "--labels", str(inputs.labels), "--shards", *inputs.shards, "--manifest", str(manifest),
          "--explorer", json.dumps({"k_neighbours": 3, "thumbnail_px": 16, "colour_by": "redshift"}),
          "--search", "{}", "--survey-config", json.dumps({"provider": "mock", "instrument": "sdss"}),
          "--embedding", "simclr", "--seed", "0", "--out-dir", str(tmp_path / "explorer")])
    assert "20 of 20 galaxies, 3 neighbours each" in capsys.readouterr().out
    data = read_page_data(tmp_path / "explorer")
    assert data["colour_by"] == "redshift" and data["embedding"] == "simclr" and data["title"] == "sdss / simclr"


@pytest.mark.timeout(600)
def test_snakemake_rule_builds_the_explorer_from_the_stage_outputs(tmp_path):
    """The explorer rule alone (--allowed-rules) on a workdir holding the files earlier stages write."""
    inputs = synthetic_survey(tmp_path, n=30)
    results = tmp_path / "results"
    for source, target in ((inputs.umap, "sdss/pixels_pca/maps/umap.parquet"),
                           (inputs.embeddings, "sdss/pixels_pca/embeddings.parquet"),
                           (inputs.catalog, "catalog/catalog.parquet"), (inputs.labels, "mock/labels.parquet"),
                           *((shard, f"sdss/shards/{Path(shard).name}") for shard in inputs.shards)):
        (results / target).parent.mkdir(parents=True, exist_ok=True)
        Path(source).rename(results / target)
    (results / "sdss/manifest.json").write_text(json.dumps({
        "survey": "sdss", "bands": BANDS, "image_shape": [3, SIZE, SIZE],
        "band_statistics": {band: {"sky_mad": 0.05} for band in BANDS}}))
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["mock"]["n_objects"] = 30
    config.setdefault("ingest", {})["shard_size"] = 15
    config["surveys"]["sdss"]["bands"] = BANDS
    config["explorer"].update(embedding="pixels_pca", k_neighbours=4)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    result = subprocess.run([snakemake, "results/sdss/explorer/index.html", "--snakefile", str(REPO / "Snakefile"),
                             "-d", str(tmp_path), "-c1", "--configfile", str(tmp_path / "config.yaml"),
                             "--allowed-rules", "explorer"], capture_output=True, text=True, timeout=500,
                            env={**os.environ,
                                 "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr[-3000:]
    data = read_page_data(results / "sdss/explorer")
    assert data["n_points"] == 30 and data["neighbours"]["k"] == 4 and data["embedding"] == "pixels_pca"
    assert "30 of 30 galaxies" in (tmp_path / "logs/explorer/sdss.log").read_text()
    assert (tmp_path / "logs/benchmarks/explorer/sdss.tsv").is_file()


@pytest.mark.timeout(300)
def test_explorer_works_in_headless_chromium(tmp_path):
    """A real browser opens the page from file://: point count, hover thumbnail, click neighbours, search."""
    inputs = synthetic_survey(tmp_path, n=400, seed=5)
    out = tmp_path / "explorer"
    build_explorer(inputs, ExplorerSettings(k_neighbours=6), seed=0, out_dir=out)
    summary = check_explorer(out, tmp_path / "explorer_synthetic.png")
    assert summary["points"] == 400 and summary["k"] == 6
    assert Image.open(summary["screenshot"]).size[0] >= 1200
