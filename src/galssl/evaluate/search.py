"""Similarity search on embeddings: queries by object_id or sky position, retrieval mAP. The index itself (the
``search`` settings, building, saving, loading) is ``galssl.search_index``.

Retrieval metrics follow GalaxAlign's protocol: a neighbour is relevant when its class equals the query's, and a
query is never its own neighbour. Queries are the labelled objects of the test split; the database is every
labelled object (``search.database: all``, the default) or only the labelled test objects (``test``). For a ranked
list, AP@k = (1/R_k) Σ_{i≤k} P@i · rel_i with R_k the number of relevant neighbours in the top k (AP@k = 0 when
there is none); mAP@k averages AP@k over the queries; mAP uses the whole ranked database (k = database size - 1).
Metrics rank by exact cosine similarity, so they measure the embedding, not the index approximation.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from galssl.errors import ConfigError, DataError
from galssl.evaluate.labelled import LabelledEmbeddings
from galssl.label_table import known_classes
from galssl.metric_table import metric_frame, metric_rows
from galssl.search_index import SearchIndex, SearchSettings, build_index, normalise, save_index

RANKING_CELLS = 1 << 25
"""Similarity-matrix cells ranked at once by ``retrieval_scores`` (bounds memory at ~0.4 GB)."""


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
        from galssl.tables import NO_POSITIONS

        raise DataError(f"{NO_POSITIONS}, so it cannot be searched by --ra/--dec; query by --id")
    return nearest_object(ra_deg, dec_deg, indexed, radius_arcsec)


def index_embeddings(embeddings: str | os.PathLike, out: str | os.PathLike, settings: SearchSettings,
                     seed: int) -> SearchIndex:
    """Build the index of an embeddings table and save it to ``out`` (plus its object_id table)."""
    from galssl.embeddings import read_embeddings

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
