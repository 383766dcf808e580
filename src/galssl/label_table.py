"""The label table, lined up with a stage's objects: read it (or stand in an empty one for a run without labels),
take its rows in the order of the objects, find its Galaxy Zoo vote-fraction columns, and tell known classes from
missing ones. Shared by the maps, the explorer, the search figure and the search metrics.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from galssl.errors import DataError
from galssl.tables import read_table

VOTE_FRACTION = re.compile(r"^.+__.+_fraction$")
"""Galaxy Zoo vote-fraction column names, ``<question>__<answer>_fraction`` (galssl.gztree.fraction_column)."""


def read_labels(path: str | os.PathLike | None) -> pd.DataFrame:
    """The label table (object_id as text), or an empty one with only object_id when the run has no labels."""
    if path is None:
        return pd.DataFrame({"object_id": pd.Series([], dtype=object)})
    return read_table(path, "labels table")


def vote_fraction_columns(labels: pd.DataFrame, requested: Sequence[str] | None = None) -> list[str]:
    """The vote-fraction columns to align with: ``requested`` (each must exist; empty = none), else every column
    named ``<question>__<answer>_fraction`` (possibly none)."""
    if requested is not None:
        missing = [column for column in requested if column not in labels.columns]
        if missing:
            raise DataError(f"labels.votes: column {missing[0]!r} is not in the labels table "
                            f"(it has {len(labels.columns)} columns; vote fractions are named "
                            f"<question>__<answer>_fraction)")
        return list(requested)
    return [column for column in labels.columns if VOTE_FRACTION.match(str(column))]


def labels_for(object_ids: Sequence[str], labels: pd.DataFrame) -> pd.DataFrame:
    """Label rows in the order of ``object_ids`` (NaN rows for objects without labels); DataError if none match."""
    if "object_id" not in labels.columns:
        raise DataError("the labels table has no object_id column")
    table = labels.drop_duplicates("object_id").set_index("object_id")
    aligned = table.reindex(pd.Index(list(object_ids), name="object_id"))
    if len(object_ids) and len(table) and not table.index.isin(list(object_ids)).any():
        raise DataError("no object_id of the embeddings is in the labels table: are they from the same catalogue?")
    return aligned.reset_index()


def known_classes(classes: np.ndarray) -> np.ndarray:
    """Mask of known classes: not missing and, for numbers, not negative (-1 marks stars and artifacts)."""
    series = pd.Series(classes)
    known = series.notna()
    if pd.api.types.is_numeric_dtype(series):
        known &= series >= 0
    return known.to_numpy()
