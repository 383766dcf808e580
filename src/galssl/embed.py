"""Batched inference: embeddings of every object (all splits, none dropped) → ``embeddings.parquet``.

Encoders come from a galssl ``encoder.ckpt`` or from any timm model (optionally with a local weights file), so
external encoders can be compared on the same shards. Table: ``object_id`` (string), ``method`` (string),
``vector`` (fixed-size list of float32), one row per object, sorted by object_id.
"""

from __future__ import annotations

import os

import numpy as np
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


def write_embeddings(path: str | os.PathLike, object_ids: list[str], vectors: np.ndarray, method: str) -> None:
    """Write the embeddings table atomically."""
    dim = int(vectors.shape[1]) if vectors.ndim == 2 else 0
    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), type=pa.float32()), dim)
    table = pa.table({"object_id": pa.array(object_ids, pa.string()), "method": pa.array([method] * len(object_ids)),
                      "vector": column})
    with atomic_path(path, suffix=".parquet.tmp") as tmp:
        pq.write_table(table, tmp)


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

            state = load_file(weights)
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
                        batch_size: int = 256, workers: int = 0) -> int:
    """Embed all shards with ``encode`` and write the table; returns the number of objects."""
    manifest = load_manifest(manifest_path)
    ids, vectors = embed_shards(encode, shards, manifest, crop, batch_size=batch_size, workers=workers)
    write_embeddings(out, ids, vectors, method)
    return len(ids)
