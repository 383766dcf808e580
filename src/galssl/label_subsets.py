"""Which labelled galaxies a run learns from: nested, stratified subsets of N labels, one ordering per seed over the
labelled objects sorted by object_id. The label-efficiency probes (``galssl.evaluate.label_efficiency``), the
from-scratch baseline (``galssl.evaluate.baseline``) and fine-tuning (``galssl.finetune``) draw the same subsets, so
their curves compare at every N.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from galssl.errors import DataError
from galssl.tables import read_table


def nested_stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A permutation of ``range(len(labels))`` whose every prefix is stratified by class.

    Each class is shuffled; its j-th member gets the key (j + 0.5) / n_class, and all members are sorted by key
    (random tie-break). A prefix of length N then holds round(t · n_class) of each class for a common t ≈ N / n.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keys = np.empty(len(labels))
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        members = members[rng.permutation(len(members))]
        keys[members] = (np.arange(len(members)) + 0.5) / len(members)
    tie_break = rng.random(len(labels))
    return np.lexsort((tie_break, keys))


def labelled_train_objects(shards: list[str], labels_path: str | os.PathLike, class_column: str,
                           split: str = "train") -> pd.DataFrame:
    """object_id and class of every ingested ``split`` object (train by default) with a known class, sorted by
    object_id."""
    ids = pd.concat([pq.read_table(path, columns=["object_id", "split"]).to_pandas() for path in shards])
    labels = read_table(labels_path, "labels table")
    if class_column not in labels.columns:
        raise DataError(f"labels table {labels_path}: no class column {class_column!r}; set labels.class_column")
    table = ids[ids["split"] == split].merge(labels[["object_id", class_column]], on="object_id", how="inner")
    table["label"] = pd.to_numeric(table[class_column], errors="coerce").fillna(-1).astype(np.int64)
    return table.loc[table["label"] >= 0, ["object_id", "label"]].sort_values("object_id").reset_index(drop=True)


def label_subset(shards: list[str], labels_path: str | os.PathLike, class_column: str, n_labels: int,
                 seed: int) -> pd.DataFrame:
    """The first ``n_labels`` objects (all of them when fewer) of the seed's stratified ordering."""
    table = labelled_train_objects(shards, labels_path, class_column)
    if len(table) == 0:
        raise DataError(f"no labelled train objects in {labels_path} (column {class_column!r})")
    order = nested_stratified_order(table["label"].to_numpy(), seed)
    return table.iloc[np.sort(order[:n_labels])].reset_index(drop=True)
