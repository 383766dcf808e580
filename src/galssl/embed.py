"""Batched inference: embeddings of every object (all splits, none dropped) → ``embeddings.parquet``.

Encoders come from a galssl ``encoder.ckpt`` or from any timm model (optionally with a local weights file), so
external encoders can be compared on the same shards. Table: ``object_id`` (string), ``ra``, ``dec`` (ICRS degrees,
NaN for a catalogue without positions), ``split`` (string), ``method`` (string), ``vector`` (fixed-size list of
float32), one row per object, sorted by object_id. The file's metadata key ``galssl`` holds the provenance as JSON:
method, encoder file and its SHA-256, the recipe's config hash, survey, bands, galssl version.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn
from torch.utils.data import DataLoader

from galssl.data import ShardDataset, centre_crop, collate, load_manifest, normaliser_from_manifest
from galssl.errors import DataError
from galssl.io import atomic_path


@torch.no_grad()
def embed_shards(encode, shards: list[str], manifest: dict, crop: int, batch_size: int = 256,
                 workers: int = 0, device: str | None = None) -> tuple[list[str], np.ndarray]:
    """Run ``encode`` (images → (B, D)) over every object of the shards, centre-cropped and asinh-normalised."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    normalise = normaliser_from_manifest(manifest)
    # The loader only reads raw cutouts; crop and normalisation run batch-wise on the device.
    loader = DataLoader(ShardDataset(shards), batch_size=batch_size, collate_fn=collate, num_workers=workers)
    ids: list[str] = []
    vectors: list[np.ndarray] = []
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else torch.autocast("cpu", enabled=False)
    for batch in loader:
        with autocast:
            out = encode(normalise(centre_crop(batch["image"].to(device), crop)))
        vectors.append(out.float().cpu().numpy())
        ids.extend(batch["object_id"])
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    return [ids[i] for i in order], matrix[order].astype(np.float32)


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


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_embeddings(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """(object_ids, (N, D) float32) of an embeddings table."""
    table = pq.read_table(path, columns=["object_id", "vector"])
    vectors = table.column("vector").combine_chunks()
    dim = vectors.type.list_size
    return table.column("object_id").to_pylist(), vectors.flatten().to_numpy().reshape(len(table), dim)


def timm_encoder(name: str, in_chans: int, img_size: int, weights: str | None = None) -> nn.Module:
    """Any timm model as a feature extractor (``num_classes=0``), randomly initialised unless ``weights`` is a local
    file (safetensors or a torch state dict, loaded without pickle execution). Never downloads."""
    import timm

    kwargs = {"img_size": img_size} if "vit" in name or "deit" in name else {}
    try:
        model = timm.create_model(name, pretrained=False, num_classes=0, in_chans=in_chans, **kwargs)
    except RuntimeError as error:
        raise DataError(f"timm model {name!r}: {error}") from None
    if weights:
        if str(weights).endswith(".safetensors"):
            from safetensors.torch import load_file

            try:
                state = load_file(weights)
            except Exception as error:  # SafetensorError, OSError: any unreadable file means the same to the user
                detail = " ".join(str(error).split())[:80]
                raise DataError(f"weights {weights}: not a readable safetensors file ({type(error).__name__}: "
                                f"{detail}); give a file saved with safetensors, or a torch state dict named .pt "
                                f"(a pickle must not be named .safetensors)") from None
        else:
            try:
                state = torch.load(weights, map_location="cpu", weights_only=True)
            except Exception as error:  # any unreadable file means the same to the user
                raise DataError(f"weights {weights}: not a readable torch/safetensors state dict ({type(error).__name__})") from None
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        missing, unexpected = model.load_state_dict(state, strict=False)
        if len(missing) > len(model.state_dict()) // 2:
            raise DataError(f"weights {weights} do not fit timm model {name!r} ({len(missing)} tensors missing)")
    return model.eval()


def embed_with_manifest(manifest_path: str, shards: list[str], encode, crop: int, method: str, out: str,
                        batch_size: int = 256, workers: int = 0, catalog: str | os.PathLike | None = None,
                        provenance: dict | None = None) -> int:
    """Embed all shards with ``encode`` and write the table (with positions and splits from ``catalog``, a
    catalogue Parquet with object_id, ra, dec, split); returns the number of objects."""
    manifest = load_manifest(manifest_path)
    ids, vectors = embed_shards(encode, shards, manifest, crop, batch_size=batch_size, workers=workers)
    frame = pd.read_parquet(catalog) if catalog else None
    where = {"survey": manifest.get("survey"), "bands": manifest.get("bands"), "crop": crop}
    write_embeddings(out, ids, vectors, method, catalog=frame, provenance={**where, **(provenance or {})})
    return len(ids)
