"""The UMAP stages: the pixel-space map and its stationarity paths (once per survey), and each embedding's map with
its thumbnail map, label scatters and stationarity paths (the same galaxies, the same nuisances)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from galssl.data import load_manifest, normaliser_from_manifest
from galssl.display import noise_sky_mad, shards_are_display
from galssl.errors import DataError
from galssl.io import save_figure_atomic, write_parquet_atomic
from galssl.maps.inputs import MapInputs, metrics_frame, read_labels
from galssl.maps.settings import MapsSettings
from galssl.maps.stationarity import (TRANSFORMS, choose_galaxies, embed_images, path_parameters, pixel_vectors,
                                      stationarity_score, stationarity_views)
from galssl.maps.umap import fit_umap, nearest_neighbour_scale, place_points, thumbnail_cells
from galssl.shards import image_shape, read_images, read_images_for, read_shard_schema

Encoder = Callable[[torch.Tensor], torch.Tensor]


def _parameter_labels(settings) -> dict[str, list[str]]:
    parameters = path_parameters(settings)
    return {"rotation": [f"{angle:.0f} deg" for angle in parameters["rotation"]],
            "jitter": [f"({row:+d}, {col:+d}) px" for row, col in parameters["jitter"]],
            "noise": [f"{scale:.2f} x sky MAD" for scale in parameters["noise"]]}


def path_table(object_ids: Sequence[str], reference: np.ndarray, paths: dict[str, np.ndarray], settings,
               neighbour_scale: float) -> pd.DataFrame:
    """Long table: object_id, transform ('original' or one of TRANSFORMS), step, parameter, x, y, neighbour_scale."""
    labels = _parameter_labels(settings)
    frames = [pd.DataFrame({"object_id": list(object_ids), "transform": "original", "step": 0, "parameter": "",
                            "x": reference[:, 0], "y": reference[:, 1]})]
    for name in TRANSFORMS:
        n, steps = paths[name].shape[:2]
        frames.append(pd.DataFrame({"object_id": np.repeat(list(object_ids), steps), "transform": name,
                                    "step": np.tile(np.arange(1, steps + 1), n),
                                    "parameter": np.tile(labels[name], n),
                                    "x": paths[name][..., 0].ravel(), "y": paths[name][..., 1].ravel()}))
    table = pd.concat(frames, ignore_index=True)
    table["neighbour_scale"] = float(neighbour_scale)
    return table


def read_paths(table: pd.DataFrame) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """Inverse of :func:`path_table`: (object_ids, reference (n, 2), {transform: (n, steps, 2)})."""
    original = table[table["transform"] == "original"]
    object_ids = original["object_id"].tolist()
    position = {object_id: index for index, object_id in enumerate(object_ids)}
    paths = {}
    for name in TRANSFORMS:
        rows = table[table["transform"] == name]
        steps = int(rows["step"].max())
        grid = np.full((len(object_ids), steps, 2), np.nan)
        grid[rows["object_id"].map(position).to_numpy(), rows["step"].to_numpy() - 1] = rows[["x", "y"]].to_numpy()
        paths[name] = grid
    return object_ids, original[["x", "y"]].to_numpy(), paths


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
        from galssl.embed import timm_encoder

        side = int(crop or cutout_size)
        model = timm_encoder(timm_name, in_chans, side, weights)
        return (lambda images: model(images)), side
    raise DataError("the embedding's stationarity needs its encoder: give --ckpt (encoder.ckpt) or --timm NAME")


def run_umap(inputs: MapInputs, settings: MapsSettings, seed: int, out_dir: str | os.PathLike, shards: list[str],
             manifest_path: str | os.PathLike, instrument: str, encoder: tuple[Encoder, int],
             pixel_umap: str | os.PathLike, pixel_paths: str | os.PathLike) -> pd.DataFrame:
    """UMAP stage of one embedding: umap.parquet, stationarity.parquet, umap_metrics.parquet and three figures."""
    from galssl.plots.maps_thumbnails import composites
    from galssl.plots.maps_umap import (StationarityPanel, object_classes, scatter_figure, stationarity_figure,
                                        thumbnail_map_figure)

    out = Path(out_dir)
    manifest = load_manifest(manifest_path)
    bands = list(manifest["bands"])
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
    cutouts = read_images_for(shards, [inputs.object_ids[i] for i in cells["index"]])
    top = max(0, (cutouts.shape[-1] - crop) // 2) if cutouts.ndim == 4 else 0
    thumbnails = composites(cutouts[..., top:top + crop, top:top + crop], bands, instrument, shards_are_display(shards))
    save_figure_atomic(thumbnail_map_figure(cells, thumbnails, f"{inputs.embedding}: UMAP thumbnail map "
                                            f"({len(cells)} cells, one random object each, its {crop}-px centre "
                                            "crop)"), out / "umap_map.png", dpi=140)
    names, values = scatter_targets(inputs, settings.extra_columns)
    coloured_by = "class" + (", " + ", ".join(_kinds(inputs, settings)) if names else "")
    save_figure_atomic(scatter_figure(coords, object_classes(inputs.labels, settings.class_name_column), values, names,
                                      f"{inputs.embedding}: UMAP coloured by {coloured_by}"),
                       out / "umap_scatter.png", dpi=110)

    scale = nearest_neighbour_scale(coords)
    table = pd.concat([path_table(chosen, reference, paths, settings.stationarity, scale).assign(space="embedding"),
                       pixel_table.assign(space="pixel")], ignore_index=True)
    write_parquet_atomic(table, out / "stationarity.parquet")
    pixel_coords = pd.read_parquet(pixel_umap)[["x", "y"]].to_numpy()
    panels, metrics = [], []
    for space, (ref, path, neighbour, background) in {
            "pixel": (pixel_reference, pixel_path, float(pixel_table["neighbour_scale"].iloc[0]), pixel_coords),
            "embedding": (reference, paths, scale, coords)}.items():
        per_transform = {name: stationarity_score(ref, path[name], neighbour) for name in TRANSFORMS}
        overall = stationarity_score(ref, np.concatenate([path[name] for name in TRANSFORMS], 1), neighbour)
        panels.append(StationarityPanel(f"{space} UMAP", background, ref, path, overall, per_transform))
        metrics.append((space, len(chosen), "test", "umap_stationarity", overall))
        metrics += [(f"{space}:{name}", len(chosen), "test", "umap_stationarity", value)
                    for name, value in per_transform.items()]
    save_figure_atomic(stationarity_figure(panels, f"{inputs.embedding}: {len(chosen)} test galaxies under rotation, "
                                           "jitter and noise"), out / "stationarity.png")
    frame = metrics_frame(inputs.embedding, seed, metrics)
    write_parquet_atomic(frame, out / "umap_metrics.parquet")
    return frame


def scatter_targets(inputs: MapInputs, extra_columns: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The scatter panels after the class panel: the alignment targets (votes, redshift), then every numeric
    ``labels.extra_columns`` column (a text column is coloured in the explorer, not here)."""
    names, columns = list(inputs.target_names), [inputs.targets]
    for name in extra_columns:
        if name in inputs.labels.columns and name not in names and pd.api.types.is_numeric_dtype(inputs.labels[name]):
            names.append(name)
            columns.append(inputs.labels[name].to_numpy(dtype=float)[:, None])
    return names, np.concatenate(columns, axis=1) if names else np.zeros((len(inputs.object_ids), 0))


def _kinds(inputs: MapInputs, settings: MapsSettings) -> list[str]:
    """What the scatter panels after the class panel show, for the title."""
    kinds = []
    if any(name != settings.redshift_column for name in inputs.target_names):
        kinds.append("vote fractions")
    if settings.redshift_column in inputs.target_names:
        kinds.append("redshift")
    if any(name in inputs.labels.columns for name in settings.extra_columns):
        kinds.append("extra labels")
    return kinds
