"""Sparse-autoencoder figures: top-activating galaxies of chosen features, and SAE vs PCA alignment with labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from galssl.plots.maps_pca import short_target
from galssl.plots.maps_thumbnails import ThumbnailRow, composites, thumbnail_grid


def latent_rows(latents: pd.DataFrame, top: Mapping[int, Sequence[tuple[str, float]]],
                rgb: Mapping[str, np.ndarray]) -> list[ThumbnailRow]:
    """One row per latent (rows of sae_features: feature, group, frequency, max_abs_rho, rho, best_target): its
    label, then its top galaxies (``top``: (object_id, activation), most active first; ``rgb``: composite by
    object_id) captioned with their activation."""
    rows = []
    for latent in latents.itertuples(index=False):
        label = f"latent {latent.feature} (group {latent.group + 1})\nfires on {latent.frequency:.1%}"
        if np.isfinite(latent.max_abs_rho):
            label += f"\nρ={latent.rho:+.2f} with\n" + short_target(latent.best_target).replace(": ", ":\n")
        shown = top[int(latent.feature)]
        rows.append(ThumbnailRow(label, [rgb[object_id] for object_id, _ in shown],
                                 [f"{activation:.2g}" for _, activation in shown]))
    return rows or [ThumbnailRow("no latent qualifies", [], [])]


def top_activating_figure(latents: pd.DataFrame, top: Mapping[int, Sequence[tuple[str, float]]],
                          images: Mapping[str, np.ndarray], bands: Sequence[str], survey: str, title: str,
                          display: bool = False) -> plt.Figure:
    """One row per latent, its top-activating galaxies left to right (``images``: (bands, H, W) cutout by
    object_id; ``display``: display images, shown as they are)."""
    shown = list(dict.fromkeys(object_id for galaxies in top.values() for object_id, _ in galaxies))
    rgb = dict(zip(shown, composites([images[object_id] for object_id in shown], bands, survey, display)))
    return thumbnail_grid(latent_rows(latents, top, rgb), title)


def alignment_figure(pca_feature_best: np.ndarray, sae_feature_best: np.ndarray, pca_vote_best: np.ndarray,
                     sae_vote_best: np.ndarray, vote_names: Sequence[str], title: str,
                     threshold: float = 0.5, truth_names: Sequence[str] = (),
                     pca_truth_best: np.ndarray | None = None, sae_truth_best: np.ndarray | None = None) -> plt.Figure:
    """Left: distribution of each feature's max |ρ| over vote fractions, SAE latents vs principal components.
    Middle: per vote fraction, the best |ρ| any SAE latent reaches against the best any component reaches.
    Right (when ``truth_names``): the same per known-truth column (mock sky), as paired bars."""
    n_panels = 3 if len(truth_names) else 2
    figure, axes = plt.subplots(1, n_panels, figsize=(5.5 * n_panels, 4.8))
    left, right = axes[0], axes[1]
    bins = np.linspace(0, 1, 26)
    for values, label, colour in ((sae_feature_best, "SAE latents", "tab:red"),
                                  (pca_feature_best, "principal components", "tab:blue")):
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        above = float((values > threshold).mean())
        left.hist(values, bins=bins, density=True, histtype="step", lw=1.8, color=colour,
                  label=f"{label}: n={len(values)}, median {np.median(values):.2f}, {above:.0%} > {threshold}")
    left.axvline(threshold, color="0.4", ls=":", lw=1)
    left.set_xlabel("max |Spearman ρ| over vote fractions (per feature)")
    left.set_ylabel("density")
    left.legend(fontsize=7, loc="upper left")
    left.set_xlim(0, 1)
    pca_vote_best = np.asarray(pca_vote_best, dtype=float)
    sae_vote_best = np.asarray(sae_vote_best, dtype=float)
    both = np.isfinite(pca_vote_best) & np.isfinite(sae_vote_best)
    right.plot([0, 1], [0, 1], color="0.5", lw=0.8, ls="--")
    right.scatter(pca_vote_best[both], sae_vote_best[both], s=14, color="k", zorder=3)
    gain = np.where(both, sae_vote_best - pca_vote_best, 0.0)
    labelled = [i for i in np.argsort(-np.abs(gain), kind="stable")[:4] if both[i] and abs(gain[i]) >= 0.03]
    for rank, index in enumerate(sorted(labelled, key=lambda i: -sae_vote_best[i])):  # labels stacked, no overlap
        right.annotate(short_target(vote_names[index]), (pca_vote_best[index], sae_vote_best[index]), fontsize=6,
                       xytext=(0.03, 0.97 - 0.06 * rank), textcoords="axes fraction", va="top",
                       arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5})
    wins = int((sae_vote_best[both] > pca_vote_best[both]).sum())
    right.set_title(f"SAE better for {wins} of {int(both.sum())} vote fractions", fontsize=9)
    right.set_xlabel("best |ρ| of any principal component")
    right.set_ylabel("best |ρ| of any SAE latent")
    right.set_xlim(0, 1)
    right.set_ylim(0, 1)
    right.set_aspect("equal")
    right.grid(alpha=0.3)
    if len(truth_names):
        _truth_bars(axes[2], list(truth_names), np.asarray(pca_truth_best, dtype=float),
                    np.asarray(sae_truth_best, dtype=float), threshold)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def _truth_bars(axis: plt.Axes, names: list[str], pca_best: np.ndarray, sae_best: np.ndarray, threshold: float) -> None:
    """Paired horizontal bars: best |ρ| of any SAE latent and of any component with each known-truth column."""
    y = np.arange(len(names))
    axis.barh(y - 0.2, np.nan_to_num(sae_best), height=0.4, color="tab:red", label="SAE latent")
    axis.barh(y + 0.2, np.nan_to_num(pca_best), height=0.4, color="tab:blue", label="principal component")
    axis.axvline(threshold, color="0.4", ls=":", lw=1)
    axis.set_yticks(y)
    axis.set_yticklabels(names, fontsize=7)
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("best |Spearman ρ| with the known truth")
    both = np.isfinite(pca_best) & np.isfinite(sae_best)
    wins = int((sae_best[both] > pca_best[both]).sum())
    axis.set_title(f"mock-sky truth: SAE better for {wins} of {int(both.sum())}", fontsize=9)
    axis.legend(fontsize=7, loc="lower right")
