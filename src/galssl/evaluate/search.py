"""Similarity search on embeddings: faiss indexes, queries by object_id or sky position, retrieval mAP.

Vectors are L2-normalised, so the inner product an index ranks by is the cosine similarity (-1 to 1). Up to
``approximate_above`` vectors the index is exact (``IndexFlatIP``); above it, IVF-Flat (spherical k-means coarse
quantiser trained with the config seed) or HNSW-Flat. An index is two files: ``<name>.faiss`` (faiss format) and
``<name>.ids.parquet`` (the object_id of every index row, in row order).

Retrieval metrics follow GalaxAlign's protocol: a neighbour is relevant when its class equals the query's, and a
query is never its own neighbour. Queries are the labelled objects of the test split; the database is every
labelled object (``search.database: all``, the default) or only the labelled test objects (``test``). For a ranked
list, AP@k = (1/R_k) Σ_{i≤k} P@i · rel_i with R_k the number of relevant neighbours in the top k (AP@k = 0 when
there is none); mAP@k averages AP@k over the queries; mAP uses the whole ranked database (k = database size - 1).
Metrics rank by exact cosine similarity, so they measure the embedding, not the index approximation.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd

from galssl.errors import ConfigError, DataError, reject_unknown_keys
from galssl.evaluate.labelled import LabelledEmbeddings, metric_frame, metric_rows
from galssl.io import atomic_path, write_parquet_atomic

MIN_POINTS_PER_CENTROID = 39
"""faiss k-means wants at least this many training vectors per IVF list; nlist is lowered to respect it."""

RANKING_CELLS = 1 << 25
"""Similarity-matrix cells ranked at once by ``retrieval_scores`` (bounds memory at ~0.4 GB)."""


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """The ``search`` config section (see workflow/schemas/config.schema.yaml for each key's meaning), with the class
    column and class-name column of the ``labels`` section."""

    k: int = 10
    map_k: int = 5
    database: str = "all"
    class_column: str | None = "galaxy10_class"
    name_column: str | None = "galaxy10_name"
    redshift_column: str | None = "redshift"
    approximate_above: int = 200_000
    approximate_index: str = "ivf"
    nlist: int = 1024
    nprobe: int = 32
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128
    match_radius_arcsec: float = 2.0
    figure_queries: int = 10
    figure_neighbours: int = 7

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, labels: Any = None) -> SearchSettings:
        """Settings from the config mapping and the resolved labels (galssl.labelspec.ResolvedLabels; None = the
        Galaxy10 columns); unknown keys are a ConfigError."""
        section = dict(section or {})
        label_fields = ("class_column", "name_column", "redshift_column")
        reject_unknown_keys(section, (f.name for f in dataclasses.fields(cls) if f.name not in label_fields), "search")
        if labels is not None:
            section.update(class_column=labels.class_column, name_column=labels.class_name_column,
                           redshift_column=labels.redshift_column)
        settings = cls(**section)
        if settings.database not in ("all", "test"):
            raise ConfigError(f"config error: search.database must be all or test (got {settings.database!r})")
        if settings.approximate_index not in ("ivf", "hnsw"):
            raise ConfigError(f"config error: search.approximate_index must be ivf or hnsw "
                              f"(got {settings.approximate_index!r})")
        return settings


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32, C order); all-zero rows stay zero."""
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise DataError(f"embeddings must be a 2-d (objects, dimensions) array (got shape {matrix.shape})")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix / np.where(norms > 0, norms, 1.0), dtype=np.float32)


@contextmanager
def _faiss_threads(n: int) -> Iterator[None]:
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def build_index(vectors: np.ndarray, settings: SearchSettings, seed: int) -> faiss.Index:
    """A faiss inner-product index holding the L2-normalised ``vectors`` (row i = object i)."""
    unit = normalise(vectors)
    n, dim = unit.shape
    if n <= settings.approximate_above:
        index = faiss.IndexFlatIP(dim)
        index.add(unit)
    elif settings.approximate_index == "ivf":
        nlist = max(1, min(settings.nlist, n // MIN_POINTS_PER_CENTROID))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed  # seeds both the k-means training sample and the initial centroids
        index.cp.spherical = True
        index.train(unit)
        index.add(unit)
        index.nprobe = min(settings.nprobe, nlist)
    else:
        index = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.hnsw_ef_construction
        index.hnsw.efSearch = settings.hnsw_ef_search
        with _faiss_threads(1):  # parallel insertion makes the graph depend on thread timing
            index.add(unit)
    return index


def index_kind(index: faiss.Index) -> str:
    """``exact``, ``ivf (nlist=…, nprobe=…)`` or ``hnsw (M=…, efSearch=…)``: what a saved index is."""
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexIVF):
        return f"ivf (nlist={index.nlist}, nprobe={index.nprobe})"
    if isinstance(index, faiss.IndexHNSW):
        return f"hnsw (M={index.hnsw.nb_neighbors(1)}, efSearch={index.hnsw.efSearch})"
    return "exact"


def ids_path(index_path: str | os.PathLike) -> Path:
    """The object_id table that goes with an index file: ``index.faiss`` → ``index.ids.parquet``."""
    path = Path(index_path)
    return path.with_name(f"{path.stem}.ids.parquet")


@dataclasses.dataclass
class Neighbour:
    """One search result: rank 1 is the most similar object; similarity is the cosine similarity."""

    rank: int
    object_id: str
    similarity: float


@dataclasses.dataclass
class SearchIndex:
    """A faiss index with the object_id of each of its rows."""

    index: faiss.Index
    object_ids: list[str]

    def __post_init__(self) -> None:
        if self.index.ntotal != len(self.object_ids):
            raise DataError(f"the index holds {self.index.ntotal} vectors but {len(self.object_ids)} object_ids; "
                            "rebuild it")
        self._rows = {object_id: row for row, object_id in enumerate(self.object_ids)}
        if len(self._rows) != len(self.object_ids):
            raise DataError("object_ids of the index are not unique; rebuild it from an embeddings table")
        ivf = faiss.try_extract_index_ivf(self.index)
        if ivf is not None:
            ivf.make_direct_map()  # lets reconstruct() fetch a stored vector by row

    def row(self, object_id: str) -> int:
        """Index row of an object; DataError when it is not indexed."""
        try:
            return self._rows[object_id]
        except KeyError:
            example = f", e.g. {self.object_ids[0]!r}" if self.object_ids else ""
            raise DataError(f"object_id {object_id!r} is not in the index ({len(self.object_ids)} objects"
                            f"{example}); check --id") from None

    def vector(self, object_id: str) -> np.ndarray:
        """The stored (unit) vector of an object."""
        return self.index.reconstruct(self.row(object_id))

    def neighbours(self, object_id: str, k: int) -> list[Neighbour]:
        """The k most similar indexed objects to an indexed object, the object itself left out."""
        row = self.row(object_id)
        similarity, rows = self.index.search(self.vector(object_id)[None, :], min(k + 1, self.index.ntotal))
        found = [(r, s) for r, s in zip(rows[0], similarity[0]) if r >= 0 and r != row][:k]
        return [Neighbour(rank, self.object_ids[r], float(s)) for rank, (r, s) in enumerate(found, start=1)]


def save_index(path: str | os.PathLike, index: faiss.Index, object_ids: list[str]) -> None:
    """Write ``<path>`` (faiss) and its object_id table atomically; the ids go first, the index file last."""
    if index.ntotal != len(object_ids):
        raise DataError(f"the index holds {index.ntotal} vectors but {len(object_ids)} object_ids were given")
    write_parquet_atomic(pd.DataFrame({"object_id": pd.Series(object_ids, dtype=str)}), ids_path(path))
    with atomic_path(path, suffix=".faiss.tmp") as tmp:
        faiss.write_index(index, str(tmp))


def load_index(path: str | os.PathLike) -> SearchIndex:
    """Read an index written by ``save_index``."""
    path = Path(path)
    if not path.is_file() or not ids_path(path).is_file():
        raise DataError(f"no search index at {path} (and {ids_path(path).name}); build one with `galssl search-index`")
    object_ids = pd.read_parquet(ids_path(path), columns=["object_id"])["object_id"].astype(str).tolist()
    return SearchIndex(faiss.read_index(str(path)), object_ids)


def nearest_object(ra_deg: float, dec_deg: float, catalog: pd.DataFrame, radius_arcsec: float) -> tuple[str, float]:
    """(object_id, separation in arcsec) of the catalogue object nearest to (RA, Dec) in degrees (ICRS).

    DataError when the nearest object is farther than ``radius_arcsec``.
    """
    from astropy import units
    from astropy.coordinates import SkyCoord

    if not -90.0 <= dec_deg <= 90.0:
        raise DataError(f"--dec must be within [-90, 90] degrees (got {dec_deg})")
    if catalog.empty:
        raise DataError("the catalogue has no indexed object to match RA/Dec against")
    target = SkyCoord(ra_deg * units.deg, dec_deg * units.deg)
    objects = SkyCoord(catalog["ra"].to_numpy(float) * units.deg, catalog["dec"].to_numpy(float) * units.deg)
    row, separation, _ = target.match_to_catalog_sky(objects)
    row, arcsec = int(np.ravel(row)[0]), float(np.ravel(separation.arcsec)[0])
    object_id = str(catalog["object_id"].iloc[row])
    if arcsec > radius_arcsec:
        raise DataError(f"no indexed object within {radius_arcsec:g}\" of RA={ra_deg:g}, Dec={dec_deg:g} (nearest: "
                        f"{object_id} at {arcsec:.1f}\"); check the position or raise search.match_radius_arcsec")
    return object_id, arcsec


def resolve_query(index: SearchIndex, object_id: str | None, ra_deg: float | None, dec_deg: float | None,
                  catalog: pd.DataFrame | None, radius_arcsec: float) -> tuple[str, float | None]:
    """The indexed object a query names: ``object_id`` itself, or the one nearest to (RA, Dec) among the indexed
    catalogue objects, with its separation in arcsec (None for a query by id)."""
    if object_id is not None:
        index.row(object_id)
        return object_id, None
    if ra_deg is None or dec_deg is None:
        raise DataError("give --id OBJECT_ID, or both --ra and --dec (degrees)")
    if catalog is None:
        raise DataError("a query by --ra/--dec needs --catalog (a table with object_id, ra, dec)")
    for column in ("ra", "dec"):
        if column not in catalog.columns:
            raise DataError(f"the catalogue has no {column!r} column; give results/catalog/catalog.parquet")
    indexed = catalog[catalog["object_id"].astype(str).isin(set(index.object_ids))]
    if len(indexed) and not np.isfinite(pd.to_numeric(indexed["ra"], errors="coerce")).any():
        from galssl.catalog import NO_POSITIONS

        raise DataError(f"{NO_POSITIONS}, so it cannot be searched by --ra/--dec; query by --id")
    return nearest_object(ra_deg, dec_deg, indexed, radius_arcsec)


def index_embeddings(embeddings: str | os.PathLike, out: str | os.PathLike, settings: SearchSettings,
                     seed: int) -> SearchIndex:
    """Build the index of an embeddings table and save it to ``out`` (plus its object_id table)."""
    from galssl.embed import read_embeddings

    if not Path(embeddings).is_file():
        raise DataError(f"embeddings {embeddings}: file not found")
    object_ids, vectors = read_embeddings(embeddings)
    if not object_ids:
        raise DataError(f"embeddings {embeddings}: the table is empty")
    index = build_index(vectors, settings, seed)
    save_index(out, index, [str(object_id) for object_id in object_ids])
    return SearchIndex(index, [str(object_id) for object_id in object_ids])


def average_precision(relevance: np.ndarray, k: int | None = None) -> np.ndarray:
    """AP@k of each row of a (queries, ranked neighbours) relevance matrix; k=None uses the whole row.

    AP@k = (1/R_k) Σ_{i≤k} P@i · rel_i, R_k = relevant neighbours within the top k; 0 for a row with none.
    """
    relevant = np.asarray(relevance, dtype=bool)
    if relevant.ndim != 2:
        raise ValueError(f"relevance must be 2-d (queries, ranked neighbours), got shape {relevant.shape}")
    relevant = relevant[:, :k] if k is not None else relevant
    hits = np.cumsum(relevant, axis=1)
    precision = hits / np.arange(1, relevant.shape[1] + 1)
    total = np.where(relevant, precision, 0.0).sum(axis=1)
    n_relevant = hits[:, -1] if relevant.shape[1] else np.zeros(len(relevant))
    return np.divide(total, n_relevant, out=np.zeros(len(relevant)), where=n_relevant > 0)


def mean_average_precision(relevance: np.ndarray, k: int | None = None) -> float:
    """mAP@k: the mean over queries of ``average_precision`` (k=None: mAP over the whole ranking)."""
    return float(np.mean(average_precision(relevance, k))) if len(relevance) else float("nan")


def retrieval_scores(query_vectors: np.ndarray, query_labels: np.ndarray, query_rows: np.ndarray,
                     database_vectors: np.ndarray, database_labels: np.ndarray,
                     k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-query (AP@k, AP over the full ranking), ranking the database by exact cosine similarity.

    ``query_rows[i]`` is the database row of query i (left out of its own ranking), or -1 if it is not there.
    Ties are broken by database row, so the result is deterministic.
    """
    queries, database = normalise(query_vectors), normalise(database_vectors)
    query_labels, database_labels = np.asarray(query_labels), np.asarray(database_labels)
    query_rows = np.asarray(query_rows, dtype=np.int64)
    chunk = max(1, min(len(queries), RANKING_CELLS // max(1, len(database))))
    at_k, full = [], []
    for start in range(0, len(queries), chunk):
        stop = min(start + chunk, len(queries))
        similarity = queries[start:stop] @ database.T
        relevant = database_labels[None, :] == query_labels[start:stop, None]
        lines, own = np.arange(stop - start), query_rows[start:stop]
        inside = own >= 0
        similarity[lines[inside], own[inside]] = -np.inf
        relevant[lines[inside], own[inside]] = False
        # the query itself ranks last (-inf) and is irrelevant, so it changes neither AP@k nor AP
        ranked = np.take_along_axis(relevant, np.argsort(-similarity, axis=1, kind="stable"), axis=1)
        at_k.append(average_precision(ranked, k))
        full.append(average_precision(ranked))
    empty = np.zeros(0)
    return (np.concatenate(at_k) if at_k else empty), (np.concatenate(full) if full else empty)


def known_classes(classes: np.ndarray) -> np.ndarray:
    """Mask of known classes: not missing and, for numbers, not negative (-1 marks stars and artifacts)."""
    series = pd.Series(classes)
    known = series.notna()
    if pd.api.types.is_numeric_dtype(series):
        known &= series >= 0
    return known.to_numpy()


def search_metrics(data: LabelledEmbeddings, settings: SearchSettings, seed: int) -> pd.DataFrame:
    """Tidy table (METRIC_COLUMNS) with ``map@<map_k>`` and ``map`` over the test split's labelled objects.

    n_labels is the number of labelled objects in the search database.
    """
    if settings.class_column is None:
        raise ConfigError("config error: labels.class_column is null, so there is no class to score retrieval with; "
                          "set it to a label column")
    classes = data.column(settings.class_column)
    known = known_classes(classes)
    is_test = data.split == "test"
    is_query = known & is_test
    in_database = known & is_test if settings.database == "test" else known
    if not is_query.any():
        raise DataError(f"no test-split object has a known {settings.class_column!r}; check the labels and catalogue")
    database_rows = np.flatnonzero(in_database)
    row_in_database = np.full(len(classes), -1)
    row_in_database[database_rows] = np.arange(len(database_rows))
    ap_k, ap = retrieval_scores(data.vectors[is_query], classes[is_query], row_in_database[is_query],
                                data.vectors[database_rows], classes[database_rows], settings.map_k)
    values = {f"map@{settings.map_k}": float(ap_k.mean()), "map": float(ap.mean())}
    return metric_frame(metric_rows(data.method, "similarity_search", len(database_rows), seed, "test", values))


def choose_queries(object_ids: list[str], catalog: pd.DataFrame, labels: pd.DataFrame | None,
                   settings: SearchSettings, seed: int) -> list[str]:
    """Figure queries from the test split, chosen with ``seed``: one per class when the labels hold the class
    column (classes in sorted order, at most ``figure_queries``), else ``figure_queries`` objects drawn at random."""
    if "split" not in catalog.columns:
        raise DataError("the catalogue has no 'split' column; use results/catalog/catalog.parquet from ingest")
    rng = np.random.default_rng(seed)
    test = catalog.loc[catalog["split"].eq("test"), "object_id"].astype(str)
    candidates = sorted(set(test) & set(object_ids))
    if not candidates:
        raise DataError("no test-split object is in the index; check the catalogue and embeddings")
    if labels is None or settings.class_column not in labels.columns:
        count = min(settings.figure_queries, len(candidates))
        return [candidates[i] for i in rng.choice(len(candidates), size=count, replace=False)]
    classes = labels.set_index(labels["object_id"].astype(str))[settings.class_column].reindex(candidates)
    classes = classes[known_classes(classes.to_numpy())]
    chosen = []
    for value in sorted(classes.unique())[: settings.figure_queries]:
        members = sorted(classes.index[classes == value])
        chosen.append(members[int(rng.integers(len(members)))])
    return chosen


def search_table(index: SearchIndex, object_id: str, k: int, catalog: pd.DataFrame | None = None,
                 labels: pd.DataFrame | None = None, settings: SearchSettings | None = None) -> pd.DataFrame:
    """The query (rank ``query``) and its k neighbours: rank, object_id, similarity, then class name, redshift,
    ra, dec where a label table / catalogue is given."""
    settings = settings or SearchSettings()
    found = index.neighbours(object_id, k)
    frame = pd.DataFrame({"rank": ["query"] + [str(n.rank) for n in found],
                          "object_id": [object_id] + [n.object_id for n in found],
                          "similarity": [1.0] + [n.similarity for n in found]})
    if labels is not None:
        table = labels.set_index(labels["object_id"].astype(str))
        name = settings.name_column if settings.name_column in table.columns else settings.class_column
        for column, title in ((name, "class"), (settings.redshift_column, "redshift")):
            if column is not None and column in table.columns:
                frame[title] = table[column].reindex(frame["object_id"]).to_numpy()
    if catalog is not None:
        table = catalog.set_index(catalog["object_id"].astype(str))
        for column in ("ra", "dec"):
            frame[column] = table[column].reindex(frame["object_id"]).to_numpy()
    return frame


def format_search_table(frame: pd.DataFrame) -> str:
    """``search_table`` as aligned text: similarity to 4 decimals, redshift to 4, RA/Dec to 6 (degrees)."""
    formats = {"similarity": "{:.4f}", "redshift": "{:.4f}", "ra": "{:.6f}", "dec": "{:+.6f}"}
    shown = frame.copy()
    for column, pattern in formats.items():
        if column in shown.columns:
            shown[column] = [pattern.format(value) if pd.notna(value) else "-" for value in shown[column]]
    return shown.fillna("-").to_string(index=False)
