"""The UMAP stages: the pixel-space map and its stationarity paths (once per survey), and each embedding's map with
its thumbnail cells and stationarity paths (the same galaxies, the same nuisances). Tables only: the figures are
drawn from them (``galssl.maps.figure_data``, ``galssl.plots.maps_umap``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from galssl.data import load_manifest, normaliser_from_manifest
from galssl.display import noise_sky_mad
from galssl.errors import DataError
from galssl.io import write_parquet_atomic
from galssl.label_table import read_labels
from galssl.maps.inputs import MapInputs, metrics_frame
from galssl.maps.paths import path_table, read_paths
from galssl.maps.settings import MapsSettings
from galssl.maps.stationarity import (
    TRANSFORMS,
    choose_galaxies,
    embed_images,
    pixel_vectors,
    stationarity_score,
    stationarity_views,
)
from galssl.maps.umap import fit_umap, nearest_neighbour_scale, place_points, thumbnail_cells
from galssl.shards import image_shape, read_images, read_images_for, read_shard_schema

Encoder = Callable[[torch.Tensor], torch.Tensor]


def _copies(views: dict[str, np.ndarray]) -> np.ndarray:
    """Every transform's copies as one (M, C, H, W) batch, transforms in TRANSFORMS order."""
    return np.concatenate([views[name].reshape(-1, *views[name].shape[2:]) for name in TRANSFORMS])


def _paths(coords: np.ndarray, views: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of :func:`_copies` for the copies' (M, 2) map coordinates: {transform: (n, steps, 2)}."""
    paths, start = {}, 0
    for name in TRANSFORMS:
        n, steps = views[name].shape[:2]
        paths[name] = coords[start:start + n * steps].reshape(n, steps, 2)
        start += n * steps
    return paths


def place_paths(reducer, originals: np.ndarray, copies: np.ndarray, views: dict[str, np.ndarray]):
    """(reference (n, 2), {transform: (n, steps, 2)}): places of the originals' and the copies' representations in
    the fitted map (:func:`galssl.maps.umap.place_points`)."""
    placed = place_points(reducer, np.concatenate([originals, copies]))
    return placed[: len(originals)], _paths(placed[len(originals):], views)


def run_pixel_stationarity(shards: list[str], manifest_path: str | os.PathLike, catalog: str | os.PathLike,
                           labels: str | os.PathLike | None, settings: MapsSettings, crop: int, seed: int,
                           out_umap: str | os.PathLike, out_paths: str | os.PathLike) -> float:
    """Pixel-space UMAP of every object's normalised, centre-cropped pixels, and the stationarity paths of
    ``n_galaxies`` test-split galaxies in it. Returns the pixel map's stationarity score."""
    manifest = load_manifest(manifest_path)
    normalise = normaliser_from_manifest(manifest)
    object_ids, rows = [], []
    for path in shards:
        shape = image_shape(read_shard_schema(path), path)
        size = shape[-1]
        if crop > size:
            raise DataError(f"stationarity crop {crop} px is larger than the {size}-px cutouts of {path}")
        top = (size - crop) // 2
        object_ids_here, images = read_images(path)
        rows.append(pixel_vectors(images[..., top:top + crop, top:top + crop], normalise))
        object_ids += object_ids_here
    vectors = np.concatenate(rows)
    split = pd.read_parquet(catalog, columns=["object_id", "split"]).set_index("object_id")["split"]
    label_table = read_labels(labels)
    eligible = split.reindex(object_ids).eq("test").to_numpy().copy()
    if "object_type" in label_table.columns:
        kinds = label_table.drop_duplicates("object_id").set_index("object_id")["object_type"].reindex(object_ids)
        eligible &= kinds.eq("galaxy").to_numpy()
    chosen = choose_galaxies(object_ids, eligible, settings.stationarity.n_galaxies, seed)
    images = read_images_for(shards, chosen)
    sky_mad = noise_sky_mad(manifest)  # display images: in display levels, at least one
    originals, views = stationarity_views(images, crop, settings.stationarity, sky_mad, seed)
    reducer = fit_umap(vectors, settings.umap, seed)
    coords = reducer.embedding_
    write_parquet_atomic(pd.DataFrame({"object_id": object_ids, "x": coords[:, 0], "y": coords[:, 1]}), out_umap)
    reference, paths = place_paths(reducer, pixel_vectors(originals, normalise),
                                   pixel_vectors(_copies(views), normalise), views)
    scale = nearest_neighbour_scale(coords)
    write_parquet_atomic(path_table(chosen, reference, paths, settings.stationarity, scale), out_paths)
    return stationarity_score(reference, np.concatenate([paths[name] for name in TRANSFORMS], 1), scale)


def load_encoder_for_maps(ckpt: str | None, timm_name: str | None, weights: str | None, crop: int | None,
                          in_chans: int, cutout_size: int) -> tuple[Encoder, int]:
    """(encode, crop side) from a galssl encoder.ckpt, or from a timm model (``crop`` default: the cutout size)."""
    if ckpt:
        from galssl.checkpoint import load_encoder

        method, recipe = load_encoder(ckpt)
        return method.embed, int(recipe["img_size"])
    if timm_name:
        from galssl.checkpoint import timm_encoder

        side = int(crop or cutout_size)
        model = timm_encoder(timm_name, in_chans, side, weights)
        return (lambda images: model(images)), side
    raise DataError("the embedding's stationarity needs its encoder: give --ckpt (encoder.ckpt) or --timm NAME")


def run_umap(inputs: MapInputs, settings: MapsSettings, seed: int, out_dir: str | os.PathLike, shards: list[str],
             manifest_path: str | os.PathLike, encoder: tuple[Encoder, int],
             pixel_paths: str | os.PathLike) -> pd.DataFrame:
    """UMAP stage of one embedding: umap.parquet (the map), umap_cells.parquet (the thumbnail map's cells and the
    galaxy each shows), stationarity.parquet (pixel and embedding paths) and umap_metrics.parquet."""
    out = Path(out_dir)
    manifest = load_manifest(manifest_path)
    pixel_table = pd.read_parquet(pixel_paths)
    chosen, pixel_reference, pixel_path = read_paths(pixel_table)
    encode, crop = encoder
    sky_mad = noise_sky_mad(manifest)  # display images: in display levels, at least one
    originals, views = stationarity_views(read_images_for(shards, chosen), crop, settings.stationarity, sky_mad, seed)
    normalise = normaliser_from_manifest(manifest)
    reducer = fit_umap(inputs.vectors, settings.umap, seed)
    coords = reducer.embedding_
    reference, paths = place_paths(reducer, embed_images(encode, originals, normalise),
                                   embed_images(encode, _copies(views), normalise), views)
    write_parquet_atomic(pd.DataFrame({"object_id": inputs.object_ids, "split": inputs.split, "x": coords[:, 0],
                                       "y": coords[:, 1]}), out / "umap.parquet")
    cells = thumbnail_cells(coords, settings.umap.grid_cells, seed)
    # Thumbnails show the centre crop the encoder saw: galaxies that fill little of a wide cutout stay visible.
    cells["object_id"] = [inputs.object_ids[i] for i in cells["index"]]
    cells["crop_px"] = int(crop)
    write_parquet_atomic(cells, out / "umap_cells.parquet")
    scale = nearest_neighbour_scale(coords)
    table = pd.concat([path_table(chosen, reference, paths, settings.stationarity, scale).assign(space="embedding"),
                       pixel_table.assign(space="pixel")], ignore_index=True)
    write_parquet_atomic(table, out / "stationarity.parquet")
    metrics = []
    for space, (ref, path, neighbour) in {
            "pixel": (pixel_reference, pixel_path, float(pixel_table["neighbour_scale"].iloc[0])),
            "embedding": (reference, paths, scale)}.items():
        per_transform = {name: stationarity_score(ref, path[name], neighbour) for name in TRANSFORMS}
        overall = stationarity_score(ref, np.concatenate([path[name] for name in TRANSFORMS], 1), neighbour)
        metrics.append((space, len(chosen), "test", "umap_stationarity", overall))
        metrics += [(f"{space}:{name}", len(chosen), "test", "umap_stationarity", value)
                    for name, value in per_transform.items()]
    frame = metrics_frame(inputs.embedding, seed, metrics)
    write_parquet_atomic(frame, out / "umap_metrics.parquet")
    return frame
