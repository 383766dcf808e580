"""Frozen embeddings joined with the fixed splits of the catalogue and a label table, and a few shared helpers.

Tables are read with ``galssl.tables.read_table``; metric rows go into the tidy table of ``galssl.metric_table``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from galssl.errors import DataError
from galssl.tables import read_table

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class LabelledEmbeddings:
    """Embedding vectors (N, D) float32 of objects with a split, and their label rows in the same order."""

    method: str
    object_ids: np.ndarray
    vectors: np.ndarray
    split: np.ndarray
    labels: pd.DataFrame

    def column(self, name: str, source: str = "the label table") -> np.ndarray:
        """One label column as an array, or a DataError naming the column and the columns there are."""
        if name not in self.labels.columns:
            shown = ", ".join(map(str, self.labels.columns[:15]))
            raise DataError(f"label column {name!r} is not in {source} (columns include: {shown}); set the config "
                            f"key that names it to an existing column")
        return self.labels[name].to_numpy()

    def subset(self, mask: np.ndarray) -> LabelledEmbeddings:
        """The rows where ``mask`` is true."""
        return LabelledEmbeddings(self.method, self.object_ids[mask], self.vectors[mask], self.split[mask],
                                  self.labels.loc[mask].reset_index(drop=True))


def load_labelled(embeddings: str | os.PathLike[str], catalog: str | os.PathLike[str],
                  labels: str | os.PathLike[str] | None, method: str | None = None) -> LabelledEmbeddings:
    """Join an embeddings table with the catalogue's split and the label table on object_id.

    Objects without a split are an error (splits are fixed at ingest); objects missing from the label table get
    NaN labels. ``method`` defaults to the method written in the embeddings table.
    """
    from galssl.embeddings import read_embeddings

    if not Path(embeddings).is_file():
        raise DataError(f"embeddings {embeddings}: file not found")
    object_ids, vectors = read_embeddings(embeddings)
    if method is None:
        method = str(pd.read_parquet(embeddings, columns=["method"])["method"].iloc[0]) if object_ids else "unknown"
    frame = pd.DataFrame({"object_id": np.asarray(object_ids, dtype=str)})
    splits = read_table(catalog, "catalogue")
    if "split" not in splits.columns:
        raise DataError(f"catalogue {catalog}: no split column; give the validated results/catalog/catalog.parquet")
    frame = frame.merge(splits[["object_id", "split"]], on="object_id", how="left")
    if frame["split"].isna().any():
        missing = frame.loc[frame["split"].isna(), "object_id"].iloc[0]
        raise DataError(f"embeddings {embeddings}: object {missing} is not in catalogue {catalog}; embed the "
                        "catalogue's objects")
    if labels is not None:
        table = read_table(labels, "labels table").drop(columns=["split"], errors="ignore")
        repeated = table.loc[table["object_id"].duplicated(), "object_id"]
        if len(repeated):
            raise DataError(f"labels table {labels}: object_id {repeated.iloc[0]} appears more than once")
        frame = frame.merge(table, on="object_id", how="left")
    return LabelledEmbeddings(method, frame["object_id"].to_numpy(), np.asarray(vectors, dtype=np.float32),
                              frame["split"].to_numpy(dtype=str), frame.drop(columns=["object_id", "split"]))


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale every array by the train split's per-feature mean and standard deviation (constant features kept at 0)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [((array - mean) / std).astype(np.float32) for array in (train, *others)]
