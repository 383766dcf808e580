"""Batched inference: embeddings of every object (all splits, none dropped) → ``embeddings.parquet``.

Encoders come from a galssl ``encoder.ckpt`` or from any timm model (optionally with a local weights file;
``galssl.checkpoint``), so external encoders can be compared on the same shards. The table and its provenance
metadata are described in ``galssl.embeddings``.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from galssl.data import ShardDataset, centre_crop, collate, load_manifest, normaliser_from_manifest
from galssl.embeddings import write_embeddings


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
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda"
                else torch.autocast("cpu", enabled=False))
    for batch in loader:
        with autocast:
            out = encode(normalise(centre_crop(batch["image"].to(device), crop)))
        vectors.append(out.float().cpu().numpy())
        ids.extend(batch["object_id"])
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    return [ids[i] for i in order], matrix[order].astype(np.float32)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
