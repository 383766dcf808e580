"""Zero-shot classification by text prompts: each test galaxy gets the class whose prompt embedding is nearest
(cosine) to its image embedding; no label is used to fit anything.

Image embeddings are those of ``embeddings.parquet`` (the image tower's joint-space output, as every downstream
stage sees it); class embeddings are the checkpoint's text tower on the class prompts, averaged over the templates.
Numbers are on the whole test split: accuracy, balanced accuracy and macro F1 as tidy metric rows (task
``zero_shot``, n_labels 0), and the class × class mean image–prompt cosine similarity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from galssl import metrics
from galssl.errors import DataError
from galssl.evaluate.labelled import LabelledEmbeddings, load_labelled
from galssl.metric_table import metric_frame, metric_rows

TASK = "zero_shot"
PROBE_NAME = "zero-shot (text prompts)"


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def zero_shot_predict(image_vectors: np.ndarray, class_text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class per image, (N, K) cosine similarity of every image with every class embedding)."""
    if image_vectors.shape[1] != class_text.shape[1]:
        raise DataError(f"image embeddings have {image_vectors.shape[1]} dimensions but the text embeddings "
                        f"{class_text.shape[1]}: embed with the same checkpoint")
    similarity = unit_rows(image_vectors) @ unit_rows(class_text).T
    return similarity.argmax(axis=1), similarity


def class_similarity(similarity: np.ndarray, true_class: np.ndarray, n_classes: int) -> np.ndarray:
    """(K, K) mean cosine similarity of the images of true class i (rows) with prompt j (columns); NaN rows for
    classes without images."""
    table = np.full((n_classes, n_classes), np.nan)
    for k in range(n_classes):
        rows = true_class == k
        if rows.any():
            table[k] = similarity[rows].mean(axis=0)
    return table


@dataclass(frozen=True)
class ZeroShotResult:
    """Tidy metric rows, per-galaxy predictions, the similarity table and a JSON-able summary."""

    metrics: pd.DataFrame
    predictions: pd.DataFrame
    similarity: pd.DataFrame
    summary: dict[str, Any]


def zero_shot_tables(data: LabelledEmbeddings, class_text: np.ndarray, class_column: str, class_names: list[str],
                     seed: int, split: str = "test") -> ZeroShotResult:
    """Classify the labelled galaxies of ``split`` by their nearest class prompt."""
    labels = pd.to_numeric(pd.Series(data.column(class_column)), errors="coerce").fillna(-1).astype(int).to_numpy()
    rows = (data.split == split) & (labels >= 0)
    if not rows.any():
        raise DataError(f"no {split}-split galaxy has a class in {class_column!r}: nothing to classify")
    n_classes = len(class_names)
    if int(labels[rows].max()) >= n_classes:
        raise DataError(f"label {int(labels[rows].max())} of {class_column!r} has no prompt: the checkpoint knows "
                        f"{n_classes} classes ({', '.join(class_names)})")
    true_class = labels[rows]
    predicted, similarity = zero_shot_predict(data.vectors[rows], class_text)
    values = metrics.class_metrics(true_class, predicted)
    metric_table = metric_frame(metric_rows(data.method, TASK, 0, seed, split, values))
    predictions = pd.DataFrame({"object_id": data.object_ids[rows].astype(str), "probe": PROBE_NAME,
                                "true_class": true_class, "predicted_class": predicted,
                                "cosine": similarity[np.arange(len(predicted)), predicted]})
    matrix = class_similarity(similarity, true_class, n_classes)
    counts = np.bincount(true_class, minlength=n_classes)
    similarity_table = pd.DataFrame([{"true_class": i, "true_name": class_names[i], "prompt_class": j,
                                      "prompt_name": class_names[j], "mean_cosine": float(matrix[i, j]),
                                      "n_galaxies": int(counts[i])}
                                     for i in range(n_classes) for j in range(n_classes)])
    summary = {"method": data.method, "split": split, "n_galaxies": int(rows.sum()), **values}
    return ZeroShotResult(metric_table, predictions, similarity_table, summary)


def run_zero_shot(ckpt: str | os.PathLike[str], embeddings: str | os.PathLike[str], catalog: str | os.PathLike[str],
                  labels: str | os.PathLike[str], class_column: str, seed: int,
                  method: str | None = None) -> ZeroShotResult:
    """Zero-shot classification of the test split from a GalaxAlign ``encoder.ckpt`` and its embeddings."""
    from galssl.checkpoint import load_encoder

    model, recipe = load_encoder(ckpt)
    if not hasattr(model, "class_text_embeddings"):
        raise DataError(f"checkpoint {ckpt}: method {recipe['method']!r} has no text tower (zero-shot needs a "
                        "GalaxAlign checkpoint)")
    class_text = model.class_text_embeddings().cpu().numpy()
    data = load_labelled(embeddings, catalog, labels, method)
    result = zero_shot_tables(data, class_text, class_column, model.class_names, seed)
    pretrained = bool(recipe.get("pretrained", False))
    result.predictions["pretrained"] = pretrained
    result.summary.update({
        "pretrained": pretrained,  # false: the CLIP model started from random weights (no weights file)
        "architecture": model.config.architecture or "custom",
        "classes": list(model.config.classes), "class_names": model.class_names,
        "templates": list(model.config.templates), "final_stage": int(model.stage),
        "global_step": int(recipe.get("global_step", 0)),
    })
    return result
