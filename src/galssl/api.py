"""galssl from Python: the encoders, shards, embeddings and search index of a finished run, in a notebook.

    import galssl

    encoder = galssl.load_encoder("results/sdss/simclr/encoder.ckpt")  # finds results/sdss/manifest.json
    vectors = encoder.embed(images)                      # (N, C, H, W) cutouts in the survey's units -> (N, D)
    ids, images = galssl.read_shards("results/sdss/shards")
    table = galssl.load_embeddings("results/sdss/simclr/embeddings.parquet", labels="results/mock/labels.parquet")
    index = galssl.load_index("results/sdss/simclr/search/index.faiss")
    galssl.search(index, "mock000012", k=5)              # by object_id
    galssl.search(index, (150.1, 2.2), k=5, catalog="results/catalog/catalog.parquet")  # by RA/Dec (degrees)
    galssl.search(index, images[0], k=5, encoder=encoder)  # by image

Everything here calls the same functions as the workflow's rules, so an image embedded from Python gets the vector
``galssl embed`` wrote for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from galssl.errors import DataError

PathLike = str | os.PathLike


@dataclass
class Encoder:
    """A trained encoder with the normalisation of the survey it was trained on (from that survey's manifest)."""

    method: Any  # the galssl method (torch.nn.Module) rebuilt from the checkpoint
    recipe: dict
    manifest: dict
    device: str = "cpu"

    @property
    def bands(self) -> list[str]:
        """The bands (channels) the encoder reads, in order."""
        return list(self.manifest["bands"])

    @property
    def crop(self) -> int:
        """The centre crop (pixels) the encoder sees."""
        return int(self.recipe["img_size"])

    def embed(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(N, D) float32 embeddings of cutouts (N, C, H, W) or one cutout (C, H, W), in the units of the shards.

        The cutouts are centre-cropped to ``crop`` and normalised as in ``galssl embed``.
        """
        import torch

        from galssl.data import centre_crop, normaliser_from_manifest

        array = np.asarray(images, dtype=np.float32)
        array = array[None] if array.ndim == 3 else array
        if array.ndim != 4 or array.shape[1] != len(self.bands):
            raise DataError(f"images must be (N, {len(self.bands)}, H, W) for bands {self.bands} (got shape "
                            f"{np.shape(images)})")
        if min(array.shape[2:]) < self.crop:
            raise DataError(f"images of {array.shape[2]}x{array.shape[3]} px are smaller than the encoder's "
                            f"{self.crop}-px crop")
        normalise = normaliser_from_manifest(self.manifest)
        out = []
        with torch.no_grad():
            for start in range(0, len(array), batch_size):
                batch = torch.from_numpy(array[start:start + batch_size]).to(self.device)
                out.append(self.method.embed(normalise(centre_crop(batch, self.crop))).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def embed_shards(self, shards: PathLike | list[PathLike], batch_size: int = 256) -> tuple[list[str], np.ndarray]:
        """(object_ids, (N, D) embeddings) of every object of the shards, sorted by object_id."""
        from galssl.embed import embed_shards

        return embed_shards(self.method.embed, shard_files(shards), self.manifest, self.crop, batch_size=batch_size,
                            device=self.device)


def load_encoder(checkpoint: PathLike, manifest: PathLike | None = None, device: str | None = None) -> Encoder:
    """The encoder of a galssl ``encoder.ckpt`` (verified by its content hash), on CUDA when present.

    ``manifest`` defaults to the survey's ``manifest.json`` two levels up (``results/<survey>/``).
    """
    import torch

    from galssl.checkpoint import load_encoder as load_checkpoint
    from galssl.data import load_manifest

    manifest_path = Path(manifest) if manifest else Path(checkpoint).resolve().parents[1] / "manifest.json"
    method, recipe = load_checkpoint(checkpoint)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return Encoder(method.to(device), recipe, load_manifest(manifest_path), device)


def shard_files(shards: PathLike | list[PathLike]) -> list[str]:
    """Shard paths from a folder of ``shard-*.parquet`` files, one file, or a list of files."""
    if isinstance(shards, (str, os.PathLike)):
        path = Path(shards)
        files = sorted(str(file) for file in path.glob("shard-*.parquet")) if path.is_dir() else [str(path)]
    else:
        files = [str(file) for file in shards]
    missing = [file for file in files if not Path(file).is_file()]
    if not files or missing:
        raise DataError(f"no shard at {missing[0] if missing else shards}: give results/<survey>/shards or its files")
    return files


def read_shards(shards: PathLike | list[PathLike]) -> tuple[list[str], np.ndarray]:
    """(object_ids, (N, C, H, W) float32 cutouts) of every object in the shards, in file order."""
    from galssl.shards import read_images

    ids: list[str] = []
    images = []
    for path in shard_files(shards):
        shard_ids, shard_images = read_images(path)
        ids.extend(shard_ids)
        images.append(shard_images)
    return ids, np.concatenate(images)


def open_shards(shards: PathLike | list[PathLike], splits: list[str] | None = None, labels: PathLike | None = None,
                label_column: str | None = None, target_columns: tuple[str, ...] = ()):
    """The shards as a PyTorch ``IterableDataset`` (``galssl.data.ShardDataset``) for a ``DataLoader``: dicts with
    object_id, the raw image tensor and, from the label table, the class column and target columns."""
    from galssl.data import ShardDataset

    frame = pd.read_parquet(labels) if labels is not None else None
    return ShardDataset(shard_files(shards), splits=splits, labels=frame, label_column=label_column,
                        target_columns=target_columns)


def load_embeddings(path: PathLike, labels: PathLike | pd.DataFrame | None = None,
                    catalog: PathLike | pd.DataFrame | None = None) -> pd.DataFrame:
    """An embeddings table as a DataFrame: object_id, method, vector (one numpy array per row), joined on object_id
    with the catalogue's and the label table's columns when given (objects without labels keep NaN)."""
    from galssl.embeddings import read_embeddings

    if not Path(path).is_file():
        raise DataError(f"embeddings {path}: file not found (run: snakemake {path})")
    ids, vectors = read_embeddings(path)
    method = pd.read_parquet(path, columns=["method"])["method"]
    frame = pd.DataFrame({"object_id": ids, "method": method.to_numpy(), "vector": list(vectors)})
    for extra in (catalog, labels):
        if extra is None:
            continue
        table = extra if isinstance(extra, pd.DataFrame) else pd.read_parquet(extra)
        table = table.assign(object_id=table["object_id"].astype(str))
        frame = frame.merge(table[[c for c in table.columns if c not in frame.columns or c == "object_id"]],
                            on="object_id", how="left")
    return frame


def build_index(embeddings: PathLike, out: PathLike, seed: int = 0, **settings: Any):
    """Build and save a search index of an embeddings table (``galssl search-index``); returns the SearchIndex.
    ``settings`` are those of the config's ``search`` section (e.g. ``approximate_above``)."""
    from galssl.evaluate.search import index_embeddings
    from galssl.search_index import SearchSettings

    return index_embeddings(embeddings, out, SearchSettings.from_section(settings), seed)


def load_index(path: PathLike):
    """A saved search index (``results/<survey>/<embedding>/search/index.faiss``) with its object ids."""
    from galssl.search_index import load_index as load

    return load(path)


def search(index, query: str | tuple[float, float] | np.ndarray, k: int = 10,
           catalog: PathLike | pd.DataFrame | None = None, encoder: Encoder | None = None,
           radius_arcsec: float = 3.0) -> pd.DataFrame:
    """The k objects most similar to a query: an indexed object_id, an (RA, Dec) in degrees (matched to the nearest
    indexed catalogue object within ``radius_arcsec``, which needs ``catalog``), or a cutout (C, H, W) embedded by
    ``encoder``. Columns: rank, object_id, similarity (cosine), most similar first; the query object left out."""
    from galssl.evaluate.search import nearest_object
    from galssl.search_index import normalise

    if isinstance(query, np.ndarray):
        if encoder is None:
            raise DataError("a search by image needs the encoder of the index: search(index, image, encoder=...)")
        vector = normalise(encoder.embed(query))
        similarity, rows = index.index.search(vector, min(k, index.index.ntotal))
        found = [(row, value) for row, value in zip(rows[0], similarity[0]) if row >= 0]
        return pd.DataFrame({"rank": np.arange(1, len(found) + 1, dtype=int),
                             "object_id": [index.object_ids[row] for row, _ in found],
                             "similarity": [float(value) for _, value in found]})
    if isinstance(query, tuple):
        if catalog is None:
            raise DataError("a search by (RA, Dec) needs catalog= (results/catalog/catalog.parquet)")
        table = catalog if isinstance(catalog, pd.DataFrame) else pd.read_parquet(catalog)
        indexed = table[table["object_id"].astype(str).isin(set(index.object_ids))]
        query, _ = nearest_object(float(query[0]), float(query[1]), indexed, radius_arcsec)
    found = index.neighbours(str(query), k)
    return pd.DataFrame({"rank": [n.rank for n in found], "object_id": [n.object_id for n in found],
                         "similarity": [n.similarity for n in found]})
