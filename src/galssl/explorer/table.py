"""The explorer's point table: UMAP coordinates joined with the labels and the catalogue's sky positions, subsampled
deterministically, and every label column encoded compactly for the page (base64 typed arrays)."""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from galssl.errors import DataError
from galssl.explorer.settings import ExplorerSettings
from galssl.label_table import VOTE_FRACTION, labels_for, read_labels

MAX_CATEGORIES = 64
"""A text column with more distinct values than this is shown in the tooltip but cannot colour the map."""

MAX_INTEGER_CATEGORIES = 24
"""An integer column with at most this many distinct values (classes, arm counts) is coloured as categories."""

def class_columns(settings: ExplorerSettings) -> list[str]:
    """Columns the map is coloured by when ``explorer.colour_by`` is null (the first one the labels have): the
    class names, the class, the mock sky's object type."""
    return [name for name in (settings.class_name_column, settings.class_column, "object_type") if name]

TOOLTIP_VOTES = 4
"""Vote fractions shown on hover when ``explorer.tooltip_columns`` is null (the first ones of the table)."""


@dataclass(frozen=True)
class ExplorerPoints:
    """The points on the map, row-aligned: object_id, UMAP (x, y), RA/Dec (degrees) and the label columns."""

    object_ids: list[str]
    xy: np.ndarray
    ra_dec: np.ndarray
    labels: pd.DataFrame
    n_objects: int


def choose_points(n_objects: int, max_points: int, seed: int) -> np.ndarray:
    """Sorted row indices of the points shown: all of them, or ``max_points`` drawn without replacement with
    ``seed`` (the same config always shows the same galaxies)."""
    if n_objects <= max_points:
        return np.arange(n_objects)
    return np.sort(np.random.default_rng(seed).choice(n_objects, size=max_points, replace=False))


def load_points(umap_path: str | os.PathLike, catalog_path: str | os.PathLike,
                labels_path: str | os.PathLike | None, settings: ExplorerSettings, seed: int) -> ExplorerPoints:
    """Read ``umap.parquet`` (object_id, split, x, y), join the labels (None = a run without labels) and the
    catalogue's ra/dec, subsample."""
    umap = pd.read_parquet(umap_path)
    for column in ("object_id", "x", "y"):
        if column not in umap.columns:
            raise DataError(f"{umap_path}: no {column!r} column; it must be a maps-stage umap.parquet")
    if umap.empty:
        raise DataError(f"{umap_path}: the UMAP table is empty")
    n_objects = len(umap)
    umap = umap.iloc[choose_points(len(umap), settings.max_points, seed)].reset_index(drop=True)
    object_ids = umap["object_id"].astype(str).tolist()
    labels = labels_for(object_ids, read_labels(labels_path))
    catalog = pd.read_parquet(catalog_path)
    positions = catalog.drop_duplicates("object_id").set_index("object_id").reindex(object_ids)
    ra_dec = positions[["ra", "dec"]].to_numpy(float) if {"ra", "dec"} <= set(positions.columns) \
        else np.full((len(object_ids), 2), np.nan)
    shown = [column for column in labels.columns if column not in ("object_id", "ra", "dec", "split")]
    if settings.columns is not None:
        missing = [column for column in settings.columns if column not in labels.columns]
        if missing:
            raise DataError(f"explorer.columns: column {missing[0]!r} is not in the labels table {labels_path}")
        shown = [column for column in settings.columns if column not in ("object_id", "ra", "dec", "split")]
    table = labels[shown].copy()
    if "split" in umap.columns:
        table.insert(0, "split", umap["split"].astype(str).to_numpy())
    xy = umap[["x", "y"]].to_numpy(np.float32)
    if not np.all(np.isfinite(xy)):
        raise DataError(f"{umap_path}: the UMAP coordinates hold NaN or infinite values; re-run the maps stage")
    return ExplorerPoints(object_ids, xy, ra_dec, table.reset_index(drop=True), n_objects)


def b64(array: np.ndarray, dtype: str) -> str:
    """Little-endian bytes of ``array`` as ``dtype`` ('<f4', '<f8', '<i4', '<i2'), base64 (a JS typed array)."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.dtype(dtype)).tobytes()).decode("ascii")


def column_kind(series: pd.Series) -> str:
    """'category' (text, booleans, few integers), 'number' or 'text' (too many distinct strings to colour by)."""
    values = series.dropna()
    if pd.api.types.is_bool_dtype(series) or (len(values) and values.map(type).eq(bool).all()):
        return "category"
    if pd.api.types.is_numeric_dtype(series):
        integral = pd.api.types.is_integer_dtype(series) or (len(values) and np.all(np.mod(values, 1) == 0))
        few = values.nunique() <= MAX_INTEGER_CATEGORIES
        return "category" if integral and few and not VOTE_FRACTION.match(str(series.name)) else "number"
    return "category" if values.astype(str).nunique() <= MAX_CATEGORIES else "text"


def _category_text(value: object) -> str:
    if isinstance(value, str) and not value.strip():
        return "(none)"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _group(name: str) -> str:
    if VOTE_FRACTION.match(name):
        return "Galaxy Zoo vote fractions"
    return "Galaxy Zoo vote counts" if "__" in name else "Labels"


def encode_column(series: pd.Series) -> dict:
    """One column for the page: name, kind, group, and codes + categories (category), values + a robust
    1-99 percentile range (number, NaN = missing) or the strings (text)."""
    name, kind = str(series.name), column_kind(series)
    entry: dict = {"name": name, "kind": kind, "group": _group(name)}
    if kind == "category":
        present = series.dropna().unique()
        try:
            distinct = sorted(present)
        except TypeError:  # mixed types: order by their text
            distinct = sorted(present, key=str)
        position = {value: code for code, value in enumerate(distinct)}
        codes = np.array([position.get(value, -1) if pd.notna(value) else -1 for value in series], dtype=np.int16)
        entry.update(categories=[_category_text(value) for value in distinct], codes=b64(codes, "<i2"))
    elif kind == "number":
        values = pd.to_numeric(series, errors="coerce").to_numpy(float)
        finite = values[np.isfinite(values)]
        low, high = (np.percentile(finite, [1, 99]) if len(finite) else (0.0, 1.0))
        if high <= low:
            low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        entry.update(values=b64(values, "<f4"), range=[float(low), float(high) if high > low else float(low) + 1.0])
    else:
        entry["text"] = ["" if pd.isna(value) else str(value) for value in series]
    return entry


def default_colour_by(points: ExplorerPoints, settings: ExplorerSettings) -> str:
    """``explorer.colour_by``, checked to be a column that can colour the map, or the class column when null."""
    columns = list(points.labels.columns)
    colourable = [column for column in columns if column_kind(points.labels[column]) != "text"]
    if settings.colour_by is not None:
        if settings.colour_by not in colourable:
            raise DataError(f"explorer.colour_by: {settings.colour_by!r} is not a label column that can colour the "
                            f"map (choose one of: {', '.join(colourable[:8])}{', ...' if len(colourable) > 8 else ''})")
        return settings.colour_by
    for column in class_columns(settings):
        if column in colourable:
            return column
    return colourable[0] if colourable else ""


def default_tooltip(points: ExplorerPoints, settings: ExplorerSettings) -> list[str]:
    """Columns shown on hover: ``explorer.tooltip_columns``, or the class name, redshift and a few vote fractions."""
    columns = list(points.labels.columns)
    if settings.tooltip_columns is not None:
        missing = [column for column in settings.tooltip_columns if column not in columns]
        if missing:
            raise DataError(f"explorer.tooltip_columns: {missing[0]!r} is not a label column of the explorer "
                            f"(it has {len(columns)} columns, e.g. {', '.join(columns[:5])})")
        return list(settings.tooltip_columns)
    names, classes = settings.class_name_column, settings.class_column
    chosen = [column for column in (names, "object_type", settings.redshift_column) if column and column in columns]
    if names not in chosen and classes and classes in columns:
        chosen.insert(0, classes)
    return chosen + [column for column in columns if VOTE_FRACTION.match(column)][:TOOLTIP_VOTES]


def encode_points(points: ExplorerPoints, columns: Sequence[str] | None = None) -> dict:
    """The per-point arrays of the page's data: object ids, x, y, ra, dec and every label column."""
    names = list(points.labels.columns) if columns is None else list(columns)
    return {"object_id": points.object_ids, "x": b64(points.xy[:, 0], "<f4"), "y": b64(points.xy[:, 1], "<f4"),
            "ra": b64(points.ra_dec[:, 0], "<f8"), "dec": b64(points.ra_dec[:, 1], "<f8"),
            "columns": [encode_column(points.labels[name]) for name in names]}
