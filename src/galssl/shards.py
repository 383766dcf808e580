"""Parquet shards of reprojected cutouts, and the dataset manifest.

Layout of a shard (readable with plain pyarrow/pandas): one row per object with ``object_id, ra, dec, survey,
split``, ``image`` — a binary blob of (bands, size, size) little-endian float32 in C order, nanomaggies per target
pixel — and per band lists ``mask_fraction`` (share of target pixels without data — not covered by the source,
NaN/inf, or exactly 0 in flux units — set to 0), ``psf_fwhm_arcsec``, ``sky_median``, ``sky_mad``. The shape,
dtype and bands are also in the file's schema metadata, with a content hash of each row's ``object_id`` and image
(``galssl.row_sha256``), checked by every reader that decodes images. Labels never live here: they stay in their
own table, joined on ``object_id``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from galssl.errors import DataError
from galssl.io import atomic_path

IMAGE_DTYPE = np.dtype("<f4")
ROW_HASH_KEY = b"galssl.row_sha256"
"""Schema metadata: per row in file order, the first 32 hex digits of SHA-256 over the object id, a NUL byte and the
image blob. Per row, not per file, so a reader that streams part of a shard checks each image before it yields it,
and a rewrite that keeps rows, order and metadata (other compression, row groups) still matches. Shards written
before these hashes carry none and are read unchecked, like checkpoints of the older formats."""
ROW_HASH_HEX = 32


def shard_schema(bands: list[str], size: int, pixel_scale_arcsec: float, unit: str = "nanomaggy") -> pa.Schema:
    """Arrow schema of a shard, with the image layout in the metadata."""
    per_band = pa.list_(pa.float32())
    metadata = {"galssl.image_shape": json.dumps([len(bands), size, size]), "galssl.image_dtype": IMAGE_DTYPE.str,
                "galssl.bands": json.dumps(bands), "galssl.pixel_scale_arcsec": repr(float(pixel_scale_arcsec)),
                "galssl.image_unit": f"{unit} per target pixel"}
    return pa.schema([("object_id", pa.string()), ("ra", pa.float64()), ("dec", pa.float64()), ("survey", pa.string()),
                      ("split", pa.string()), ("image", pa.binary()), ("mask_fraction", per_band),
                      ("psf_fwhm_arcsec", per_band), ("sky_median", per_band), ("sky_mad", per_band)],
                     metadata=metadata)


@dataclass
class ShardRow:
    """One object's entry in a shard."""

    object_id: str
    ra: float
    dec: float
    survey: str
    split: str
    image: np.ndarray
    mask_fraction: np.ndarray
    psf_fwhm_arcsec: np.ndarray
    sky_median: np.ndarray
    sky_mad: np.ndarray
    unit: str = "nanomaggy"


def write_shard(path: str | os.PathLike, rows: list[ShardRow], schema: pa.Schema) -> None:
    """Write one shard atomically (rows sorted by object_id for byte-stable output)."""
    rows = sorted(rows, key=lambda row: row.object_id)
    columns = {
        "object_id": [r.object_id for r in rows], "ra": [r.ra for r in rows], "dec": [r.dec for r in rows],
        "survey": [r.survey for r in rows], "split": [r.split for r in rows],
        "image": [np.ascontiguousarray(r.image, dtype=IMAGE_DTYPE).tobytes() for r in rows],
        "mask_fraction": [np.asarray(r.mask_fraction, np.float32).tolist() for r in rows],
        "psf_fwhm_arcsec": [np.asarray(r.psf_fwhm_arcsec, np.float32).tolist() for r in rows],
        "sky_median": [np.asarray(r.sky_median, np.float32).tolist() for r in rows],
        "sky_mad": [np.asarray(r.sky_mad, np.float32).tolist() for r in rows],
    }
    hashes = "".join(row_hash(object_id, blob) for object_id, blob in zip(columns["object_id"], columns["image"]))
    table = pa.table(columns, schema=schema.with_metadata({**(schema.metadata or {}), ROW_HASH_KEY: hashes.encode()}))
    with atomic_path(path, suffix=".parquet.tmp") as tmp:
        pq.write_table(table, tmp, compression="zstd")


def shard_error(path: str | os.PathLike, problem: str) -> DataError:
    """The one-line error of a damaged shard: what is wrong, and how to rebuild that shard alone."""
    return DataError(f"shard {os.fspath(path)}: {problem}; the file is truncated or corrupt: delete it and rerun "
                     f"snakemake (it rebuilds the missing shard), or run `snakemake --forcerun {os.fspath(path)}`")


def row_hash(object_id: str, blob: bytes) -> str:
    """The content hash of one shard row: SHA-256 over the id, a NUL byte and the image blob (32 hex digits)."""
    digest = hashlib.sha256(object_id.encode("utf-8"))
    digest.update(b"\0")
    digest.update(blob)
    return digest.hexdigest()[:ROW_HASH_HEX]


def hash_mismatch(path: str | os.PathLike, what: str) -> DataError:
    """The one-line error of a shard whose rows are not the ones ingest wrote (edited, or corrupt but parseable)."""
    return DataError(f"shard {os.fspath(path)}: content hash mismatch ({what}): the file changed after "
                     f"`galssl ingest-shard` wrote it; rerun its rule ingest_shard: `snakemake --forcerun "
                     f"{os.fspath(path)}`")


def row_hashes(schema: pa.Schema, num_rows: int, path: str | os.PathLike) -> list[str] | None:
    """The per-row content hashes of a shard (None for a shard written before they existed); a DataError when they
    do not cover its ``num_rows`` rows."""
    raw = (schema.metadata or {}).get(ROW_HASH_KEY)
    if raw is None:
        return None
    text = raw.decode("ascii", "replace")
    if len(text) != ROW_HASH_HEX * num_rows:
        raise hash_mismatch(path, f"the hashes cover {len(text) / ROW_HASH_HEX:g} rows, the file holds {num_rows}")
    return [text[start:start + ROW_HASH_HEX] for start in range(0, len(text), ROW_HASH_HEX)]


def image_shape(schema: pa.Schema, path: str | os.PathLike = "?") -> tuple[int, int, int]:
    """(bands, size, size) from a shard's metadata; a DataError naming the shard when missing or malformed."""
    raw = (schema.metadata or {}).get(b"galssl.image_shape")
    if raw is None:
        raise DataError(f"shard {os.fspath(path)}: not a galssl shard: its schema has no galssl.image_shape "
                        f"metadata (re-saving a shard with pandas drops it); give the shards written by `galssl "
                        f"ingest-shard`, e.g. rebuild this one: `snakemake --forcerun {os.fspath(path)}`")
    try:
        shape = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        shape = None
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(n) is int and n > 0 for n in shape)):
        raise shard_error(path, f"galssl.image_shape metadata is {raw[:40].decode('utf-8', 'replace')!r}, not "
                                f"[bands, size, size]")
    return tuple(shape)


def decode_image(blob: bytes | None, shape: tuple[int, int, int], path: str | os.PathLike, object_id: str,
                 hashes: list[str] | None = None, row: int = 0) -> np.ndarray:
    """One object's image blob as a (bands, size, size) float32 array; a DataError naming the shard when its
    length does not match the shape, or when it and the id do not match ``hashes[row]`` (see ``row_hashes``)."""
    expected = int(np.prod(shape)) * IMAGE_DTYPE.itemsize
    if blob is None or len(blob) != expected:
        got = "no" if blob is None else f"{len(blob)}"
        raise shard_error(path, f"the image of {object_id!r} has {got} bytes, not {expected} ({list(shape)} float32)")
    if hashes is not None and row_hash(object_id, blob) != hashes[row]:
        raise hash_mismatch(path, f"row {row}, object {object_id!r}")
    return np.frombuffer(blob, dtype=IMAGE_DTYPE).reshape(shape)


def read_shard_table(path: str | os.PathLike, columns: list[str]) -> pa.Table:
    """These columns of a shard; a DataError naming the shard (and how to rebuild it) when Parquet cannot read it."""
    try:
        return pq.read_table(path, columns=columns)
    except FileNotFoundError:
        raise DataError(f"shard {os.fspath(path)}: file not found; run the ingest step (snakemake)") from None
    except (OSError, pa.ArrowException) as error:
        raise shard_error(path, f"cannot read it as Parquet ({type(error).__name__}: "
                                f"{' '.join(str(error).split())[:120]})") from None


def read_shard_schema(path: str | os.PathLike) -> pa.Schema:
    """A shard's Arrow schema, with the same one-line error as ``read_shard_table``."""
    try:
        return pq.read_schema(path)
    except FileNotFoundError:
        raise DataError(f"shard {os.fspath(path)}: file not found; run the ingest step (snakemake)") from None
    except (OSError, pa.ArrowException) as error:
        raise shard_error(path, f"cannot read it as Parquet ({type(error).__name__}: "
                                f"{' '.join(str(error).split())[:120]})") from None


def read_images(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """(object_ids, images as (n, bands, size, size) float32) of one shard."""
    schema = read_shard_schema(path)
    shape = image_shape(schema, path)
    table = read_shard_table(path, ["object_id", "image"])
    hashes = row_hashes(schema, table.num_rows, path)
    object_ids = table.column("object_id").to_pylist()
    images = np.empty((table.num_rows, *shape), dtype=np.float32)
    for index, (object_id, blob) in enumerate(zip(object_ids, table.column("image").to_pylist())):
        images[index] = decode_image(blob, shape, path, object_id, hashes, index)
    return object_ids, images


def read_images_for(paths: list[str], object_ids: list[str]) -> np.ndarray:
    """Images (len(object_ids), bands, size, size) float32 of the given objects, in that order, streamed from shards."""
    wanted = {object_id: index for index, object_id in enumerate(object_ids)}
    out: np.ndarray | None = None
    found = 0
    for path in paths:
        schema = read_shard_schema(path)
        shape = image_shape(schema, path)
        parquet = pq.ParquetFile(path)
        hashes = row_hashes(schema, parquet.metadata.num_rows, path)
        first = 0  # file row of the batch's first row
        for batch in parquet.iter_batches(batch_size=256, columns=["object_id", "image"]):
            for row, (object_id, blob) in enumerate(zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()),
                                                    start=first):
                index = wanted.get(object_id)
                if index is None:
                    continue
                if out is None:
                    out = np.zeros((len(object_ids), *shape), dtype=np.float32)
                out[index] = decode_image(blob, shape, path, object_id, hashes, row)
                found += 1
            first += batch.num_rows
    if found < len(wanted):
        missing = sorted(set(wanted) - _ids_in(paths))[:3]
        raise DataError(f"{len(wanted) - found} object_ids are in no shard (e.g. {missing}); check the survey and ids")
    return out if out is not None else np.zeros((0, 0, 0, 0), dtype=np.float32)


def _ids_in(paths: list[str]) -> set[str]:
    return {oid for path in paths for oid in pq.read_table(path, columns=["object_id"]).column(0).to_pylist()}


def iter_batches(paths: list[str], batch_size: int = 256, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Stream record batches over shards without loading a whole shard (memory flat in dataset size)."""
    for path in paths:
        yield from pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=columns)


def shard_of(object_id: str, seed: int) -> int:
    """A stable 64-bit key used to order objects before cutting them into shards."""
    digest = hashlib.blake2b(f"{seed}:{object_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def assign_shards(object_ids: list[str], shard_size: int, seed: int) -> dict[str, int]:
    """Deterministic object → shard index: order by a hash of (seed, id), cut into runs of ``shard_size``."""
    ordered = sorted(object_ids, key=lambda oid: (shard_of(oid, seed), oid))
    return {object_id: rank // shard_size for rank, object_id in enumerate(ordered)}
