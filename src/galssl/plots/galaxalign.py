"""GalaxAlign figures: the class symbols, the class × class image–text similarity, the zero-shot confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from galssl.errors import DataError
from galssl.methods.prompts import prompt
from galssl.plots.probes import confusion_figure
from galssl.symbols import draw_symbol


def symbol_overview_figure(names: Sequence[str], size: int = 128,
                           template: str = "A picture of {a} {name}.") -> plt.Figure:
    """Every class symbol in label order, titled with its class index, name and prompt."""
    n_cols = min(5, len(names))
    n_rows = -(-len(names) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.6 * n_cols, 3.1 * n_rows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for index, (ax, name) in enumerate(zip(axes.flat, names)):
        ax.imshow(draw_symbol(name, size), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{index}: {name}\n\u201c{prompt(template, name)}\u201d", fontsize=7)
    fig.suptitle("GalaxAlign class symbols (drawn by galssl.symbols) and their text prompts")
    fig.tight_layout()
    return fig


def similarity_figure(table: pd.DataFrame, title: str = "") -> plt.Figure:
    """Heat map of the mean cosine similarity between the test images of each true class (rows) and each class
    prompt (columns)."""
    if table.empty:
        raise DataError("the similarity table is empty: no test galaxy with a class")
    n_classes = int(table["true_class"].max()) + 1
    matrix = np.full((n_classes, n_classes), np.nan)
    matrix[table["true_class"].to_numpy(), table["prompt_class"].to_numpy()] = table["mean_cosine"].to_numpy()
    names = (table.drop_duplicates("true_class").sort_values("true_class")["true_name"].tolist())
    counts = table.drop_duplicates("true_class").sort_values("true_class")["n_galaxies"].tolist()
    finite = matrix[np.isfinite(matrix)]
    # Colours span the values present: an untrained model's similarities differ only in the second decimal.
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    digits = 2 if high - low > 0.1 else 3
    size = 0.55 * n_classes + 3.0
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(matrix, cmap="viridis", vmin=low, vmax=max(high, low + 1e-6))
    for i in range(n_classes):
        best = int(np.nanargmax(matrix[i])) if np.isfinite(matrix[i]).any() else -1
        for j in range(n_classes):
            if np.isfinite(matrix[i, j]):
                light = (matrix[i, j] - low) < 0.6 * (high - low)
                ax.text(j, i, f"{matrix[i, j]:.{digits}f}", ha="center", va="center", fontsize=6,
                        color="white" if light else "black", fontweight="bold" if j == best else "normal")
    ax.set_xticks(range(n_classes), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n_classes), [f"{name} (n={count})" for name, count in zip(names, counts)], fontsize=7)
    ax.set(xlabel="class prompt", ylabel="true class of the test images")
    fig.colorbar(image, ax=ax, shrink=0.8, label="mean cosine similarity (bold: row maximum)")
    ax.set_title(title or "image–text similarity (test split)", fontsize=10)
    fig.tight_layout()
    return fig


def zero_shot_confusion_figure(predictions: pd.DataFrame, class_names: Sequence[str], title: str = "") -> plt.Figure:
    """Row-normalised confusion matrix of the zero-shot classification (the probes' figure, one panel: save it with
    ``save_figure_atomic(..., tight=True)``, the canvas is sized for several panels)."""
    fig = confusion_figure(predictions, dict(enumerate(class_names)),
                           title or "zero-shot classification by text prompts (test split)")
    return fig
