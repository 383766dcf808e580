"""The stationarity paths table (``pixel_stationarity.parquet``, ``stationarity.parquet``): where each chosen galaxy
and its rotated, shifted and noisier copies land in a map, one row per place; written by the UMAP compute rules,
read back by them (the pixel map's paths) and by the stationarity figure."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from galssl.maps.stationarity import TRANSFORMS, path_parameters


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
