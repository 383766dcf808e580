"""The supervised baseline trained from scratch on N labelled galaxies, for the label-efficiency comparison.

It trains on exactly the labelled subsets the frozen-embedding probes use (``galssl.label_subsets``: nested,
stratified, one ordering per seed over the labelled train objects sorted by object_id), and is scored with
its own classification head on the whole labelled test split.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from galssl import metrics
from galssl.data import ShardDataset, centre_crop, collate, load_manifest, normaliser_from_manifest
from galssl.errors import DataError
from galssl.label_subsets import label_subset, labelled_train_objects, nested_stratified_order
from galssl.metric_table import metric_frame, metric_rows
from galssl.tables import read_table

METHOD = "supervised_from_scratch"


def validation_subset(shards: list[str], labels_path: str | os.PathLike, class_column: str, n_labels: int,
                      seed: int) -> pd.DataFrame:
    """At most ``n_labels`` labelled val-split objects (object_id, label): the first of the seed's stratified
    ordering of them, sorted by object_id. A run on N labels picks its epoch on these, as the probes at N pick their
    hyper-parameters (``galssl.evaluate.label_efficiency.validation_positions``): model selection never sees more
    labels than N. Empty when the val split has no labelled objects."""
    table = labelled_train_objects(shards, labels_path, class_column, split="val")
    if len(table) == 0:
        return table
    order = nested_stratified_order(table["label"].to_numpy(), seed)
    return table.iloc[np.sort(order[:n_labels])].reset_index(drop=True)


def run_subset(shards: list[str], labels_path: str | os.PathLike, class_column: str, n_labels: int,
               seed: int) -> pd.DataFrame:
    """The labelled objects of one from-scratch run (object_id, label, split): its ``n_labels`` train objects
    (:func:`label_subset`) and at most as many val objects to select its epoch on (:func:`validation_subset`)."""
    train = label_subset(shards, labels_path, class_column, n_labels, seed).assign(split="train")
    val = validation_subset(shards, labels_path, class_column, n_labels, seed).assign(split="val")
    return pd.concat([train, val], ignore_index=True)[["object_id", "label", "split"]]


@torch.no_grad()
def classify_split(method: torch.nn.Module, crop: int, shards: list[str], manifest_path: str | os.PathLike,
                   labels_path: str | os.PathLike, class_column: str, split: str = "test",
                   batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(true, predicted) classes of every labelled object of ``split`` from a supervised method's head."""
    labels = read_table(labels_path, "labels table")
    if class_column not in labels.columns:
        raise DataError(f"labels table {labels_path}: no class column {class_column!r}; set labels.class_column")
    labels = labels[["object_id", class_column]].set_index("object_id")
    dataset = ShardDataset(shards, splits=(split,), labels=labels, label_column=class_column,
                           transform=lambda image, generator: centre_crop(image, crop),
                           normalise=normaliser_from_manifest(load_manifest(manifest_path)))
    method.eval()
    truth, guess = [], []
    for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate):
        known = batch["label"] >= 0
        if known.any():
            logits = method.head(method.encoder(batch["image"][known]))
            truth.append(batch["label"][known].numpy())
            guess.append(logits.argmax(1).numpy())
    if not truth:
        raise DataError(f"no labelled {split}-split objects to score (column {class_column!r})")
    return np.concatenate(truth), np.concatenate(guess)


def scratch_scores(ckpt: str | os.PathLike, shards: list[str], manifest_path: str | os.PathLike,
                   labels_path: str | os.PathLike, class_column: str, n_labels: int, seed: int,
                   split: str = "test") -> pd.DataFrame:
    """Tidy accuracy, balanced accuracy and macro F1 on ``split`` of a supervised checkpoint trained on ``n_labels``
    labels."""
    from galssl.checkpoint import load_encoder

    method, recipe = load_encoder(ckpt)
    if recipe["method"] != "supervised" or not hasattr(method, "head"):
        raise DataError(f"{ckpt} is a {recipe['method']} encoder; scoring needs a supervised checkpoint")
    truth, guess = classify_split(method, int(recipe["img_size"]), shards, manifest_path, labels_path, class_column,
                                  split)
    return metric_frame(metric_rows(METHOD, "classes_head", n_labels, seed, split,
                                    metrics.class_metrics(truth, guess)))
