"""Fit ``pixels_pca`` (PCA of asinh-normalised, centre-cropped pixels) on the train split; save it as an encoder.

Streaming: sklearn's ``IncrementalPCA`` sees one batch of images at a time, so memory stays flat in the number of
objects (a few batches of C·crop² floats), as for the rest of the pipeline.
"""

from __future__ import annotations

import os

import torch
from sklearn.decomposition import IncrementalPCA
from torch.utils.data import DataLoader

from galssl.checkpoint import save_encoder
from galssl.data import ShardDataset, centre_crop, collate, load_manifest, normaliser_from_manifest
from galssl.errors import DataError
from galssl.methods import create_method


def fit_pixel_pca(shards: list[str], manifest_path: str | os.PathLike, crop: int, n_components: int, seed: int,
                  out: str | os.PathLike, survey: str = "", batch_size: int = 512) -> int:
    """Fit the PCA on the train split, write ``out`` (a galssl encoder checkpoint); returns objects used."""
    manifest = load_manifest(manifest_path)
    bands = list(manifest["bands"])
    dataset = ShardDataset(shards, splits=["train"], seed=seed,
                           transform=lambda image, generator: centre_crop(image, crop),
                           normalise=normaliser_from_manifest(manifest))
    if len(dataset) < n_components:
        raise DataError(f"embed.pixels_pca.n_components={n_components} needs at least as many train objects "
                        f"(got {len(dataset)}); lower n_components")
    # IncrementalPCA needs every batch to hold at least n_components rows: fit batch_size rows whenever twice that
    # is buffered, so the final fit gets between batch_size and 2·batch_size rows (or all, for a small dataset).
    batch_size = max(batch_size, n_components)
    pca = IncrementalPCA(n_components=n_components)
    buffered: list[torch.Tensor] = []
    for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate):
        buffered.append(batch["image"].reshape(batch["image"].shape[0], -1))
        rows = torch.cat(buffered)
        if len(rows) >= 2 * batch_size:
            pca.partial_fit(rows[:batch_size].numpy())
            buffered = [rows[batch_size:]]
    pca.partial_fit(torch.cat(buffered).numpy())
    method = create_method("pixels_pca", in_chans=len(bands), img_size=crop, config={"n_components": n_components})
    method.set_components(pca.mean_, pca.components_)
    recipe = {"method": "pixels_pca", "in_chans": len(bands), "img_size": crop,
              "config": {"n_components": n_components}, "bands": bands, "survey": survey, "seed": seed,
              "global_step": 0, "epochs_run": 0, "image_size": list(manifest["image_shape"]),
              "explained_variance_ratio": [float(v) for v in pca.explained_variance_ratio_]}
    save_encoder(out, method, recipe)
    return len(dataset)
