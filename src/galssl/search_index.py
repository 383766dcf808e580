"""The similarity index of an embedding: the ``search`` config section, a faiss index over L2-normalised vectors,
and its files. Shared by the similarity-search stage, the explorer's neighbour lists and the Python API.

Vectors are L2-normalised, so the inner product an index ranks by is the cosine similarity (-1 to 1). Up to
``approximate_above`` vectors the index is exact (``IndexFlatIP``); above it, IVF-Flat (spherical k-means coarse
quantiser trained with the config seed) or HNSW-Flat. An index is two files: ``<name>.faiss`` (faiss format) and
``<name>.ids.parquet`` (the object_id of every index row, in row order).
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

from galssl.errors import ConfigError, DataError
from galssl.io import atomic_path, write_parquet_atomic
from galssl.settings import parse_section, schema_defaults

MIN_POINTS_PER_CENTROID = 39
"""faiss k-means wants at least this many training vectors per IVF list; nlist is lowered to respect it."""


@dataclasses.dataclass(frozen=True)
@schema_defaults("search", class_column="/labels.class_column", name_column="/labels.class_names",
                 redshift_column="/labels.redshift_column")
class SearchSettings:
    """The ``search`` config section (see workflow/schemas/config.schema.yaml for each key's meaning), with the class
    column and class-name column of the ``labels`` section."""

    k: int
    map_k: int
    database: str
    class_column: str | None
    name_column: str | None
    redshift_column: str | None
    approximate_above: int
    approximate_index: str
    nlist: int
    nprobe: int
    hnsw_m: int
    hnsw_ef_construction: int
    hnsw_ef_search: int
    match_radius_arcsec: float
    figure_queries: int
    figure_neighbours: int

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, labels: Any = None) -> SearchSettings:
        """Parse the config section (``galssl.settings.parse_section``) with the resolved labels
        (galssl.labelspec.ResolvedLabels; None = the ``labels`` defaults, the Galaxy10 columns)."""
        context = {} if labels is None else dict(class_column=labels.class_column, name_column=labels.class_name_column,
                                                  redshift_column=labels.redshift_column)
        return parse_section(cls, section, "search", **context)

    def check(self) -> None:
        """The database and approximate index names search knows."""
        if self.database not in ("all", "test"):
            raise ConfigError(f"config error: search.database must be all or test (got {self.database!r})")
        if self.approximate_index not in ("ivf", "hnsw"):
            raise ConfigError(f"config error: search.approximate_index must be ivf or hnsw "
                              f"(got {self.approximate_index!r})")


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
