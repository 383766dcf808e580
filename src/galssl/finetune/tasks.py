"""The two fine-tuning tasks: which galaxies and labels they train on, their head, loss and scores.

* ``classes``: integer classes of ``labels.class_column`` (-1 or missing = not a galaxy, left out); a linear head,
  cross-entropy (``galssl.methods.supervised.masked_class_loss``); accuracy, balanced accuracy and macro F1.
* ``photoz``: redshifts of ``labels.redshift_column`` (NaN = none); the photo-z stage's head over ``photoz.n_bins``
  bins (``BinnedRedshiftClassifier``: same layers, prior-initialised output bias, Gaussian-smoothed targets);
  z_phot = E[z]; bias, σ_MAD, η, CRPS (and the PIT's KS distance) from ``galssl.binned_redshift.photoz_scores``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
from torch import nn

from galssl import metrics
from galssl.binned_redshift import (
    BinnedRedshiftClassifier,
    PhotozSettings,
    photoz_scores,
    redshift_bin,
    redshift_prior,
    training_subsets,
)
from galssl.errors import DataError
from galssl.label_subsets import label_subset
from galssl.methods.supervised import masked_class_loss
from galssl.tables import read_table


def split_object_ids(shards: list[str], split: str) -> np.ndarray:
    """Sorted object_ids of every ingested object of ``split``."""
    ids = pd.concat([pq.read_table(path, columns=["object_id", "split"]).to_pandas() for path in shards])
    return np.sort(ids.loc[ids["split"] == split, "object_id"].astype(str).to_numpy())


def _label_column(labels_path: str | os.PathLike, column: str, key: str) -> pd.Series:
    """One label column indexed by object_id, or a DataError naming the config key that chose it."""
    table = read_table(labels_path, "labels table")
    if column not in table.columns:
        raise DataError(f"labels table {labels_path}: no column {column!r}; set {key} to one of its columns "
                        f"(columns include: {', '.join(map(str, table.columns[:12]))})")
    return pd.to_numeric(table.set_index("object_id")[column], errors="coerce")


@dataclass
class ClassTask:
    """Galaxy classes: linear head, cross-entropy, accuracy, balanced accuracy and macro F1."""

    name: ClassVar[str] = "classes"
    labels_path: str
    column: str
    classes: pd.Series  # object_id -> class, -1 unknown

    @classmethod
    def load(cls, labels_path: str | os.PathLike, column: str) -> ClassTask:
        """Read ``column`` of the label table (config key ``labels.class_column``)."""
        classes = _label_column(labels_path, column, "labels.class_column").fillna(-1).astype(np.int64)
        if int(classes.max()) < 1:
            raise DataError(f"labels table {labels_path}: column {column!r} has fewer than two classes >= 0")
        return cls(str(labels_path), column, classes)

    @property
    def n_outputs(self) -> int:
        return int(self.classes.max()) + 1

    def dataset_labels(self) -> dict[str, Any]:
        """Keyword arguments of ``ShardDataset`` that attach ``batch['label']``."""
        return {"labels": self.classes.rename(self.column).to_frame(), "label_column": self.column}

    def train_ids(self, shards: list[str], n_labels: int | None, seed: int) -> list[str]:
        """Every labelled train galaxy, or the first ``n_labels`` of the label-efficiency ordering of ``seed``."""
        subset = label_subset(shards, self.labels_path, self.column, n_labels or 2**62, seed)
        return subset["object_id"].astype(str).tolist()

    def known_ids(self, shards: list[str], split: str) -> list[str]:
        """Labelled galaxies of ``split``."""
        ids = split_object_ids(shards, split)
        return [i for i in ids if self.classes.get(i, -1) >= 0]

    def head(self, n_features: int, train_ids: list[str]) -> nn.Module:
        return nn.Linear(n_features, self.n_outputs)

    def truth(self, batch: dict[str, Any]) -> torch.Tensor:
        return batch["label"]

    def loss(self, logits: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        return masked_class_loss(logits, batch["label"].long())[0]

    def val_score(self, logits: np.ndarray, truth: np.ndarray) -> tuple[str, float]:
        """Name and value of the number drawn per validation epoch (accuracy)."""
        known = truth >= 0
        return "accuracy", metrics.accuracy(truth[known], logits[known].argmax(1))

    def scores(self, logits: np.ndarray, truth: np.ndarray, object_ids: list[str]) -> tuple[dict, pd.DataFrame]:
        """(accuracy, balanced accuracy and macro F1; predictions object_id/probe/true_class/predicted_class for the
        confusion plot)."""
        guess = logits.argmax(1)
        values = metrics.class_metrics(truth, guess)
        return values, pd.DataFrame({"object_id": object_ids, "probe": "finetune", "true_class": truth.astype(int),
                                     "predicted_class": guess.astype(int)})


@dataclass
class PhotozTask:
    """Photometric redshifts: the photo-z stage's binned classifier as the head, z_phot = E[z]."""

    name: ClassVar[str] = "photoz"
    settings: PhotozSettings
    redshifts: pd.Series  # object_id -> z_spec, NaN unknown

    def __post_init__(self) -> None:
        s = self.settings
        self.binned = BinnedRedshiftClassifier(s.bin_edges, s.hidden_units, s.target_smoothing_bins)

    @classmethod
    def load(cls, labels_path: str | os.PathLike, settings: PhotozSettings) -> PhotozTask:
        """Read ``labels.redshift_column`` of the label table."""
        return cls(settings, _label_column(labels_path, settings.redshift_column, "labels.redshift_column"))

    @property
    def column(self) -> str:
        return self.settings.redshift_column

    def dataset_labels(self) -> dict[str, Any]:
        """Keyword arguments of ``ShardDataset`` that attach ``batch['target']`` = (z,)."""
        return {"labels": self.redshifts.rename(self.column).to_frame(), "target_columns": [self.column]}

    def known_ids(self, shards: list[str], split: str) -> list[str]:
        """Galaxies of ``split`` with a redshift."""
        ids = split_object_ids(shards, split)
        return [i for i in ids if np.isfinite(self.redshifts.get(i, np.nan))]

    def train_ids(self, shards: list[str], n_labels: int | None, seed: int) -> list[str]:
        """Every train galaxy with a redshift, or a random ``n_labels`` of them (the photo-z stage's subsets)."""
        ids = self.known_ids(shards, "train")
        if len(ids) < 2:
            raise DataError(f"labels.redshift_column {self.column!r}: fewer than two train galaxies with a redshift")
        if n_labels is None or n_labels >= len(ids):
            return ids
        chosen = training_subsets(len(ids), (n_labels / len(ids),), seed)[n_labels / len(ids)]
        return [ids[i] for i in chosen]

    def head(self, n_features: int, train_ids: list[str]) -> nn.Module:
        """The photo-z classifier's layers; output bias = log of the smoothed train redshift histogram."""
        model = self.binned._build(n_features)
        bins = redshift_bin(self.redshifts.loc[train_ids].to_numpy(dtype=float), self.binned.bin_edges)
        output = model[-1] if isinstance(model, nn.Sequential) else model
        with torch.no_grad():  # as BinnedRedshiftClassifier.fit: start from the train redshift distribution
            prior = redshift_prior(bins, self.settings.n_bins)
            output.bias.copy_(torch.as_tensor(np.log(prior), dtype=torch.float32))
            output.weight.mul_(0.1)
        return model

    def truth(self, batch: dict[str, Any]) -> torch.Tensor:
        return batch["target"][:, 0]

    def loss(self, logits: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        """Cross-entropy against the Gaussian-smoothed bins of the known redshifts (0 with a graph when none)."""
        z = batch["target"][:, 0]
        known = torch.isfinite(z)
        if not bool(known.any()):
            return logits.sum() * 0.0
        soft = self.binned._smoothed_targets(z[known].double().cpu().numpy())
        target = torch.as_tensor(soft, dtype=torch.float32, device=logits.device)
        return nn.functional.cross_entropy(logits.float()[known], target)

    def pdf(self, logits: np.ndarray) -> np.ndarray:
        return torch.softmax(torch.as_tensor(logits, dtype=torch.float64), dim=1).numpy()

    def val_score(self, logits: np.ndarray, truth: np.ndarray) -> tuple[str, float]:
        """Name and value of the number drawn per validation epoch (σ_MAD)."""
        known = np.isfinite(truth)
        z_phot = metrics.pdf_mean(self.pdf(logits[known]), self.binned.bin_edges)
        return "sigma_mad", metrics.sigma_mad(z_phot, truth[known])

    def scores(self, logits: np.ndarray, truth: np.ndarray, object_ids: list[str]) -> tuple[dict, pd.DataFrame]:
        """(bias, sigma_mad, eta, crps, pit_ks; predictions object_id/z_spec/z_phot/pit/crps for the figure)."""
        pdf = self.pdf(logits)
        values, frame = photoz_scores(SimpleNamespace(predict_pdf=lambda _: pdf, bin_edges=self.binned.bin_edges),
                                      None, truth.astype(float))
        frame.insert(0, "object_id", object_ids)
        return values, frame


def load_task(name: str, labels_path: str | os.PathLike, class_column: str,
              photoz: PhotozSettings) -> ClassTask | PhotozTask:
    """The task ``name`` (classes or photoz) with its labels read."""
    if name == "classes":
        return ClassTask.load(labels_path, class_column)
    if name == "photoz":
        return PhotozTask.load(labels_path, photoz)
    raise DataError(f"unknown fine-tuning task {name!r} (allowed: classes, photoz)")
