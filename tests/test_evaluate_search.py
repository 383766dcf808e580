"""Similarity search: retrieval mAP vs hand-computed values, exact/approximate faiss indexes, queries, CLI, figure."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from galssl.cli import main
from galssl.config import validate_config
from galssl.embeddings import write_embeddings
from galssl.errors import ConfigError, DataError
from galssl.evaluate.labelled import LabelledEmbeddings
from galssl.evaluate.search import (
    average_precision,
    mean_average_precision,
    nearest_object,
    resolve_query,
    retrieval_scores,
    search_metrics,
)
from galssl.metric_table import METRIC_COLUMNS
from galssl.plots.search import choose_queries
from galssl.search_index import (
    SearchIndex,
    SearchSettings,
    build_index,
    ids_path,
    index_kind,
    load_index,
    normalise,
    save_index,
)
from galssl.shards import ShardRow, shard_schema, write_shard

REPO = Path(__file__).resolve().parents[1]
faiss.omp_set_num_threads(1)


def angles(*degrees: float) -> np.ndarray:
    """Unit 2-d vectors at the given angles: the cosine similarity of two is cos(angle difference)."""
    radians = np.radians(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1).astype(np.float32)


def clustered(n: int, dim: int, n_clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    return centres[rng.integers(n_clusters, size=n)] + 0.25 * rng.standard_normal((n, dim)).astype(np.float32)


# --- mAP -----------------------------------------------------------------------------------------------------------
def test_average_precision_matches_hand_computed_values():
    relevance = np.array([[1, 0, 1, 0, 1], [0, 1, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=bool)
    # row 0: hits at ranks 1, 3, 5 -> (1/1 + 2/3 + 3/5) / 3; row 1: hits at 2, 3 -> (1/2 + 2/3) / 2; row 2: none -> 0
    np.testing.assert_allclose(average_precision(relevance), [(1 + 2 / 3 + 3 / 5) / 3, (1 / 2 + 2 / 3) / 2, 0.0])
    # top 3: row 0 keeps hits 1, 3 -> (1 + 2/3) / 2; row 1 the same hits -> unchanged
    np.testing.assert_allclose(average_precision(relevance, 3), [(1 + 2 / 3) / 2, (1 / 2 + 2 / 3) / 2, 0.0])
    np.testing.assert_allclose(average_precision(relevance, 1), [1.0, 0.0, 0.0])
    assert mean_average_precision(relevance, 2) == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert mean_average_precision(relevance) == pytest.approx(((1 + 2 / 3 + 3 / 5) / 3 + (1 / 2 + 2 / 3) / 2) / 3)


def test_retrieval_scores_rank_by_cosine_and_leave_the_query_out():
    # angles 0, 10, 30, 90 degrees with classes A, A, B, A; scaling a vector must not change anything
    database = angles(0, 10, 30, 90) * np.array([[1.0], [3.0], [0.5], [7.0]], dtype=np.float32)
    labels = np.array(["A", "A", "B", "A"])
    at_2, full = retrieval_scores(database[[0, 2, 3]], labels[[0, 2, 3]], np.array([0, 2, 3]), database, labels, k=2)
    # query 0°: 10°(A) 30°(B) 90°(A) -> [1,0,1]; query 30°: 10°(A) 0°(A) 90°(A) -> none; 90°: 30°(B) 10°(A) 0°(A)
    np.testing.assert_allclose(at_2, [1.0, 0.0, 0.5])
    np.testing.assert_allclose(full, [(1 + 2 / 3) / 2, 0.0, (1 / 2 + 2 / 3) / 2])


def toy_labelled() -> LabelledEmbeddings:
    """The four objects above plus a star (class -1) right next to the first query, which must be ignored."""
    ids = np.array(["g0", "g1", "g2", "g3", "star"])
    labels = pd.DataFrame({"galaxy10_class": [3, 3, 5, 3, -1]})
    return LabelledEmbeddings("toy", ids, angles(0, 10, 30, 90, 1), np.array(["test", "train", "test", "test", "test"]),
                              labels)


def test_search_metrics_table_database_all_and_test():
    table = search_metrics(toy_labelled(), SearchSettings(map_k=2, database="all"), seed=7)
    assert list(table.columns) == METRIC_COLUMNS
    values = dict(zip(table["metric"], table["value"]))
    assert values["map@2"] == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    assert values["map"] == pytest.approx(((1 + 2 / 3) / 2 + 0.0 + (1 / 2 + 2 / 3) / 2) / 3)
    assert set(table["n_labels"]) == {4} and set(table["split"]) == {"test"} and set(table["seed"]) == {7}
    assert set(table["method"]) == {"toy"} and set(table["task"]) == {"similarity_search"}
    # database = labelled test objects (0°, 30°, 90°): query 0° ranks 30°(B), 90°(A) -> AP 1/2; 90° the same
    table = search_metrics(toy_labelled(), SearchSettings(map_k=2, database="test"), seed=7)
    values = dict(zip(table["metric"], table["value"]))
    assert values["map"] == pytest.approx(1 / 3) and values["map@2"] == pytest.approx(1 / 3)
    assert set(table["n_labels"]) == {3}


def test_search_metrics_errors_name_the_problem():
    with pytest.raises(DataError, match="label column 'morphology'"):
        search_metrics(toy_labelled(), SearchSettings(class_column="morphology"), seed=0)
    with pytest.raises(ConfigError, match="labels.class_column is null"):
        search_metrics(toy_labelled(), SearchSettings(class_column=None), seed=0)
    data = toy_labelled()
    no_test = LabelledEmbeddings("toy", data.object_ids, data.vectors, np.array(["train"] * 5), data.labels)
    with pytest.raises(DataError, match="no test-split object"):
        search_metrics(no_test, SearchSettings(), seed=0)


# --- indexes -------------------------------------------------------------------------------------------------------
def test_exact_index_returns_the_true_nearest_neighbours():
    vectors = np.random.default_rng(1).standard_normal((400, 24)).astype(np.float32)
    index = build_index(vectors, SearchSettings(), seed=0)
    assert index_kind(index) == "exact" and index.ntotal == 400
    unit = normalise(vectors)
    similarity, rows = index.search(unit[:20], 10)
    brute = unit[:20] @ unit.T
    expected = np.argsort(-brute, axis=1)[:, :10]
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_allclose(similarity, np.take_along_axis(brute, expected, axis=1), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-6)
    assert np.all(normalise(np.zeros((2, 3))) == 0)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_has_high_recall_on_clustered_data(kind):
    vectors = clustered(4000, 32, 40, seed=2)
    settings = SearchSettings(approximate_above=1000, approximate_index=kind, nlist=64, nprobe=8, hnsw_m=16,
                              hnsw_ef_construction=40, hnsw_ef_search=64)
    index = build_index(vectors, settings, seed=3)
    assert index_kind(index).startswith(kind)
    unit = normalise(vectors)
    queries = unit[::40]
    _, approximate = index.search(queries, 10)
    exact = np.argsort(-(queries @ unit.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approximate, exact)])
    assert recall >= 0.9
    # same seed, same inputs -> byte-identical index
    again = build_index(vectors, settings, seed=3)
    assert np.array_equal(faiss.serialize_index(index), faiss.serialize_index(again))


def test_ivf_lists_are_capped_by_the_number_of_training_vectors():
    settings = SearchSettings(approximate_above=10, nlist=1024, nprobe=32)
    index = build_index(clustered(390, 8, 4, seed=0), settings, seed=0)
    assert index_kind(index) == "ivf (nlist=10, nprobe=10)"  # 390 / 39 = 10 lists


def test_save_load_round_trip_and_neighbours_leave_the_query_out(tmp_path):
    vectors = clustered(2000, 16, 20, seed=4)
    ids = [f"obj{i:05d}" for i in range(len(vectors))]
    index = build_index(vectors, SearchSettings(approximate_above=100, nlist=32, nprobe=6), seed=0)
    save_index(tmp_path / "index.faiss", index, ids)
    assert ids_path(tmp_path / "index.faiss") == tmp_path / "index.ids.parquet"
    loaded = load_index(tmp_path / "index.faiss")
    assert loaded.object_ids == ids and index_kind(loaded.index) == "ivf (nlist=32, nprobe=6)"
    np.testing.assert_allclose(loaded.vector("obj00007"), normalise(vectors)[7], atol=1e-6)
    found = loaded.neighbours("obj00007", 5)
    assert [n.rank for n in found] == [1, 2, 3, 4, 5] and "obj00007" not in [n.object_id for n in found]
    assert all(a.similarity >= b.similarity for a, b in zip(found, found[1:]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.faiss", "index.ids.parquet"]  # no temporaries left


def test_index_errors_are_one_line(tmp_path):
    index = SearchIndex(build_index(angles(0, 10, 20), SearchSettings(), 0), ["a", "b", "c"])
    with pytest.raises(DataError) as error:
        index.neighbours("mock999999", 2)
    assert "object_id 'mock999999' is not in the index" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(DataError, match="no search index"):
        load_index(tmp_path / "missing.faiss")
    with pytest.raises(DataError, match="3 vectors but 2 object_ids"):
        SearchIndex(index.index, ["a", "b"])


# --- sky positions -------------------------------------------------------------------------------------------------
CATALOG = pd.DataFrame({"object_id": ["a", "b", "c"], "ra": [150.0, 150.01, 150.02], "dec": [2.0, 2.0, 2.0],
                        "split": ["test", "test", "train"]})


def test_query_by_ra_dec_finds_the_nearest_object_and_reports_the_separation():
    object_id, separation = nearest_object(150.01, 2.0 + 1.0 / 3600, CATALOG, radius_arcsec=2.0)
    assert object_id == "b" and separation == pytest.approx(1.0, abs=1e-3)


def test_query_by_ra_dec_beyond_the_radius_is_an_error():
    with pytest.raises(DataError, match=r'no indexed object within 2" .*nearest: b at 10.0"'):
        nearest_object(150.01, 2.0 + 10.0 / 3600, CATALOG, radius_arcsec=2.0)
    with pytest.raises(DataError, match=r"--dec must be within"):
        nearest_object(150.0, 95.0, CATALOG, radius_arcsec=2.0)


def test_resolve_query_only_matches_indexed_objects():
    index = SearchIndex(build_index(angles(0, 10), SearchSettings(), 0), ["a", "c"])  # b is not indexed
    object_id, separation = resolve_query(index, None, 150.01, 2.0, CATALOG, radius_arcsec=600.0)
    assert object_id in {"a", "c"} and separation == pytest.approx(36.0, abs=0.1)
    assert resolve_query(index, "c", None, None, None, 2.0) == ("c", None)
    with pytest.raises(DataError, match="needs --catalog"):
        resolve_query(index, None, 150.0, 2.0, None, 2.0)


# --- figure queries ------------------------------------------------------------------------------------------------
def test_figure_queries_one_per_class_from_the_test_split_and_deterministic():
    ids = [f"o{i}" for i in range(60)]
    catalog = pd.DataFrame({"object_id": ids, "split": ["test" if i % 2 else "train" for i in range(60)]})
    labels = pd.DataFrame({"object_id": ids, "galaxy10_class": [i % 3 if i < 57 else -1 for i in range(60)]})
    chosen = choose_queries(ids, catalog, labels, SearchSettings(), seed=5)
    assert [int(labels.set_index("object_id").loc[q, "galaxy10_class"]) for q in chosen] == [0, 1, 2]
    assert all(int(q[1:]) % 2 == 1 for q in chosen)  # test split only
    assert chosen == choose_queries(ids, catalog, labels, SearchSettings(), seed=5)
    unlabelled = choose_queries(ids, catalog, None, SearchSettings(figure_queries=4), seed=5)
    assert len(set(unlabelled)) == 4 and all(int(q[1:]) % 2 == 1 for q in unlabelled)


# --- config --------------------------------------------------------------------------------------------------------
def test_schema_defaults_match_the_settings_dataclass_and_config_checks():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert SearchSettings.from_section(validate_config(config)["search"]) == SearchSettings()
    del config["search"]
    assert SearchSettings.from_section(validate_config(config)["search"]) == SearchSettings()
    with pytest.raises(ConfigError, match="search.nprobe must be <= search.nlist"):
        validate_config({**config, "search": {"nlist": 8, "nprobe": 16}})
    with pytest.raises(ConfigError, match="unknown key 'nlists' in search"):
        SearchSettings.from_section({"nlists": 3})


# --- CLI -----------------------------------------------------------------------------------------------------------
def write_inputs(tmp_path: Path, n: int = 80) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(6)
    ids = [f"mock{i:06d}" for i in range(n)]
    classes = np.arange(n) % 4
    vectors = (np.eye(8, dtype=np.float32)[classes] * 3 + rng.standard_normal((n, 8)).astype(np.float32))
    write_embeddings(tmp_path / "emb.parquet", ids, vectors, "toy")
    pd.DataFrame({"object_id": ids, "ra": 180 + np.arange(n) * 0.01, "dec": np.full(n, 10.0),
                  "split": ["test" if i % 5 == 0 else "train" for i in range(n)]}).to_parquet(tmp_path / "cat.parquet")
    pd.DataFrame({"object_id": ids, "galaxy10_class": classes, "galaxy10_name": [f"class_{c}" for c in classes],
                  "redshift": np.linspace(0.01, 0.3, n)}).to_parquet(tmp_path / "labels.parquet")
    return ids, vectors


def test_cli_builds_queries_and_prints_a_table(tmp_path, capsys):
    ids, vectors = write_inputs(tmp_path)
    index_file = str(tmp_path / "search" / "index.faiss")
    main(["search-index", "--embeddings", str(tmp_path / "emb.parquet"), "--out", index_file, "--seed", "1"])
    assert "exact index of 80 objects" in capsys.readouterr().out
    main(["search", "--index", index_file, "--id", "mock000010", "--k", "3", "--catalog", str(tmp_path / "cat.parquet"),
          "--labels", str(tmp_path / "labels.parquet")])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["rank", "object_id", "similarity", "class", "redshift", "ra", "dec"]
    assert [line.split()[0] for line in lines[1:]] == ["query", "1", "2", "3"]
    unit = normalise(vectors)
    similarity = unit @ unit[10]
    similarity[10] = -np.inf
    assert lines[2].split()[1] == ids[int(np.argmax(similarity))]
    assert lines[2].split()[2] == f"{similarity.max():.4f}"
    main(["search", "--index", index_file, "--ra", "180.2", "--dec", "10.0001",
          "--catalog", str(tmp_path / "cat.parquet")])
    out = capsys.readouterr().out
    assert 'nearest indexed object to RA=180.2, Dec=10.0001: mock000020 at 0.36"' in out
    assert len(out.strip().splitlines()) == 3 + 10  # match line, header, query, search.k neighbours


def test_cli_unknown_object_id_is_a_one_line_error(tmp_path, capsys):
    write_inputs(tmp_path)
    index_file = str(tmp_path / "index.faiss")
    main(["search-index", "--embeddings", str(tmp_path / "emb.parquet"), "--out", index_file])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--index", index_file, "--id", "mock999999"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("galssl: error: object_id 'mock999999' is not in the index") and "\n" not in err


def test_cli_search_eval_writes_tidy_metrics(tmp_path, capsys):
    write_inputs(tmp_path)
    out = tmp_path / "metrics.parquet"
    main(["search-eval", "--embeddings", str(tmp_path / "emb.parquet"), "--catalog", str(tmp_path / "cat.parquet"),
          "--labels", str(tmp_path / "labels.parquet"), "--method", "toy", "--seed", "3", "--out", str(out),
          "--search", json.dumps({"map_k": 5})])
    table = pd.read_parquet(out)
    assert list(table.columns) == METRIC_COLUMNS and list(table["metric"]) == ["map@5", "map"]
    # classes are well separated (signal 3 vs unit noise in 8-d): retrieval far above the 0.25 of random ranking
    assert table["value"].min() > 0.6 and table["value"].max() <= 1.0


def test_cli_plot_search_draws_queries_and_neighbours(tmp_path):
    ids, _ = write_inputs(tmp_path, n=40)
    bands = ["g", "r", "i"]
    rng = np.random.default_rng(0)
    rows = [ShardRow(object_id, 180.0, 10.0, "sdss", "test", rng.random((3, 16, 16), dtype=np.float32), np.zeros(3),
                     np.ones(3), np.zeros(3), np.full(3, 0.01)) for object_id in ids]
    write_shard(tmp_path / "shard-00000.parquet", rows, shard_schema(bands, 16, 0.4))
    (tmp_path / "manifest.json").write_text(json.dumps({"bands": bands, "image_shape": [3, 16, 16],
                                                        "band_statistics": {}}))
    index_file = str(tmp_path / "index.faiss")
    main(["search-index", "--embeddings", str(tmp_path / "emb.parquet"), "--out", index_file])
    out = tmp_path / "similarity.png"
    main(["plot-search", "--index", index_file, "--catalog", str(tmp_path / "cat.parquet"), "--labels",
          str(tmp_path / "labels.parquet"), "--shards", str(tmp_path / "shard-00000.parquet"), "--manifest",
          str(tmp_path / "manifest.json"), "--survey-config", '{"provider": "mock", "instrument": "sdss"}',
          "--search", json.dumps({"figure_neighbours": 3}), "--title", "toy", "--out", str(out)])
    # 4 classes -> 4 query rows of 1 + 3 stamps: 1.2 in per column + 0.3, 1.25 in per row + 0.8 (150 dpi)
    assert Image.open(out).size == (round((1.2 * 4 + 0.3) * 150), round((1.25 * 4 + 0.8) * 150))
