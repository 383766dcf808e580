"""What every map stage reads: an embedding table joined with the catalogue's split and the label table, and the
tidy metrics rows every stage writes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from galssl.embeddings import read_embeddings
from galssl.errors import DataError
from galssl.label_table import labels_for, read_labels
from galssl.maps.align import alignment_targets, truth_targets
from galssl.maps.settings import MapsSettings

METRIC_COLUMNS: tuple[str, ...] = ("method", "task", "n_labels", "seed", "split", "metric", "value")
"""Columns of every metrics table (one row per number)."""


@dataclass(frozen=True)
class MapInputs:
    """One embedding, row-aligned: ids, (N, D) vectors, split per object, labels, galaxy mask, alignment targets
    (vote fractions and redshift) and the known-truth columns (``truth:<column>``, mock sky only; may be empty)."""

    embedding: str
    object_ids: list[str]
    vectors: np.ndarray
    split: np.ndarray
    labels: pd.DataFrame
    is_galaxy: np.ndarray
    target_names: list[str]
    targets: np.ndarray
    truth_names: list[str]
    truth: np.ndarray

    def rows(self, split: str) -> np.ndarray:
        """Boolean mask of the objects in ``split`` (train, val, test)."""
        return self.split == split


def load_inputs(embeddings: str | os.PathLike, catalog: str | os.PathLike, labels: str | os.PathLike | None,
                settings: MapsSettings, embedding: str | None = None) -> MapInputs:
    """Read and join; the embedding name defaults to the embeddings file's folder (results/<survey>/<name>/...).
    ``labels`` None = a run without labels: no alignment targets, every object taken as a galaxy."""
    object_ids, vectors = read_embeddings(embeddings)
    if not len(object_ids):
        raise DataError(f"{embeddings}: the embeddings table is empty")
    if not np.all(np.isfinite(vectors)):
        raise DataError(f"{embeddings}: the embeddings hold NaN or infinite values; re-run the embed rule")
    split = _splits(object_ids, pd.read_parquet(catalog, columns=None), catalog)
    table = labels_for(object_ids, read_labels(labels))
    names, targets = alignment_targets(table, settings.vote_columns, settings.redshift_column)
    truth_names, truth = truth_targets(table, settings.truth_columns)
    is_galaxy = (table["object_type"] == "galaxy").to_numpy() if "object_type" in table.columns \
        else np.ones(len(object_ids), bool)
    name = embedding or os.path.basename(os.path.dirname(os.path.abspath(embeddings)))
    return MapInputs(embedding=name, object_ids=list(object_ids), vectors=vectors, split=split, labels=table,
                     is_galaxy=is_galaxy, target_names=names, targets=targets,
                     truth_names=truth_names, truth=truth)


def _splits(object_ids: Sequence[str], catalog: pd.DataFrame, path: str | os.PathLike) -> np.ndarray:
    for column in ("object_id", "split"):
        if column not in catalog.columns:
            raise DataError(f"{path}: the catalogue has no {column!r} column (run the ingest stage's catalogue rule)")
    split = catalog.drop_duplicates("object_id").set_index("object_id")["split"].reindex(list(object_ids))
    if split.isna().any():
        missing = split.index[split.isna()][:3].tolist()
        raise DataError(f"{path}: {int(split.isna().sum())} embedded objects are not in the catalogue (e.g. {missing})")
    return split.astype(str).to_numpy()


def metrics_frame(method: str, seed: int, rows: Sequence[tuple[str, int, str, str, float]]) -> pd.DataFrame:
    """Tidy metrics table from (task, n_labels, split, metric, value) rows."""
    frame = pd.DataFrame(list(rows), columns=["task", "n_labels", "split", "metric", "value"])
    frame.insert(0, "method", method)
    frame.insert(3, "seed", int(seed))
    frame["n_labels"] = frame["n_labels"].astype("int64")
    frame["value"] = frame["value"].astype(float)
    return frame[list(METRIC_COLUMNS)]
