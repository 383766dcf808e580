"""The embeddings table every encoder writes and every later stage reads: ``embeddings.parquet``.

Columns: ``object_id`` (string), ``ra``, ``dec`` (ICRS degrees, NaN for a catalogue without positions), ``split``
(string), ``method`` (string), ``vector`` (fixed-size list of float32), one row per object, sorted by object_id. The
file's metadata key ``galssl`` holds the provenance as JSON: method, encoder file and its SHA-256, the recipe's config
hash, survey, bands, galssl version. ``galssl.embed`` writes it; probes, search, maps and the explorer read it.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from galssl.errors import DataError
from galssl.io import atomic_path


def write_embeddings(path: str | os.PathLike, object_ids: list[str], vectors: np.ndarray, method: str,
                     catalog: pd.DataFrame | None = None, provenance: dict | None = None) -> None:
    """Write the embeddings table atomically; ``catalog`` (object_id, ra, dec, split) adds the position and split
    of each object, ``provenance`` goes into the file's ``galssl`` metadata (with the method and galssl version)."""
    from galssl import __version__

    check_finite(object_ids, vectors, method)
    dim = int(vectors.shape[1]) if vectors.ndim == 2 else 0
    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), type=pa.float32()), dim)
    columns: dict[str, pa.Array] = {"object_id": pa.array(object_ids, pa.string())}
    if catalog is not None:
        rows = catalog.assign(object_id=catalog["object_id"].astype(str)).set_index("object_id")
        missing = sorted(set(object_ids) - set(rows.index))
        if missing:
            raise DataError(f"{len(missing)} embedded object(s) are not in the catalogue, e.g. {missing[0]!r}; "
                            "rerun the workflow from the catalogue")
        rows = rows.reindex(object_ids)
        for name in ("ra", "dec"):
            values = pd.to_numeric(rows[name], errors="coerce") if name in rows else pd.Series(np.nan, rows.index)
            columns[name] = pa.array(values.to_numpy(np.float64), pa.float64())
        columns["split"] = pa.array(rows["split"].astype(str).tolist(), pa.string())
    columns.update(method=pa.array([method] * len(object_ids), pa.string()), vector=column)
    table = pa.table(columns)
    meta = {"method": method, "galssl_version": __version__, "n_objects": len(object_ids), "dim": dim,
            **(provenance or {})}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"galssl": json.dumps(meta, sort_keys=True).encode()})
    with atomic_path(path, suffix=".parquet.tmp") as tmp:
        pq.write_table(table, tmp)


def check_finite(object_ids: list[str], vectors: np.ndarray, method: str) -> None:
    """DataError naming the first objects whose vector holds NaN or inf (a search index would give them no
    neighbours, probes and maps would fail later); an encoder giving NaN for every object is said to be broken."""
    if vectors.size == 0:
        return
    bad = np.flatnonzero(~np.isfinite(vectors.reshape(len(vectors), -1)).all(axis=1))
    if not len(bad):
        return
    shown = ", ".join(repr(object_ids[i]) for i in bad[:3]) + (", ..." if len(bad) > 3 else "")
    if len(bad) == len(vectors):
        raise DataError(f"embeddings of {method}: every vector holds NaN/inf (first: {shown}); the encoder itself "
                        f"gives NaN (diverged training or broken weights): retrain it or check its weights")
    raise DataError(f"embeddings of {method}: {len(bad)} object(s) with NaN/inf vectors (first: {shown}); their "
                    f"cutouts likely hold NaN/inf pixels (shards of an older or damaged ingest): rerun ingest with "
                    f"`snakemake --forcerun ingest_shard`, then embed again")


def embeddings_provenance(path: str | os.PathLike) -> dict:
    """The ``galssl`` metadata of an embeddings table ({} for a table written before it existed)."""
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata[b"galssl"]) if b"galssl" in metadata else {}


def read_embeddings(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """(object_ids, (N, D) float32) of an embeddings table."""
    table = pq.read_table(path, columns=["object_id", "vector"])
    vectors = table.column("vector").combine_chunks()
    dim = vectors.type.list_size
    return table.column("object_id").to_pylist(), vectors.flatten().to_numpy().reshape(len(table), dim)
