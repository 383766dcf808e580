"""Photometric-redshift figures: z_phot vs z_spec with the metrics inlaid and the PIT histogram; metrics vs the
number of train redshifts for every embedding."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from galssl import metrics
from galssl.errors import DataError
from galssl.plots.probes import method_style, ordered_methods

_METRIC_LABELS = {"sigma_mad": "σ_MAD", "eta": "η [%] (|Δz| > 0.05)", "bias": "bias ⟨Δz⟩", "crps": "mean CRPS"}


def photoz_figure(predictions: pd.DataFrame, z_range: tuple[float, float] = (0.0, 0.4), title: str = "") -> plt.Figure:
    """Left: density of z_phot vs z_spec (test split) with the 1:1 line, the |Δz| = 0.05 outlier bounds and
    bias, σ_MAD, η, CRPS inlaid. Right: PIT histogram against the uniform expectation of calibrated PDFs."""
    if predictions.empty:
        raise DataError("photo-z predictions are empty: no test galaxy with a redshift")
    z_spec, z_phot = predictions["z_spec"].to_numpy(), predictions["z_phot"].to_numpy()
    values = metrics.photoz_metrics(z_phot, z_spec)
    fig, (ax, ax_pit) = plt.subplots(1, 2, figsize=(10.5, 4.8), gridspec_kw={"width_ratios": [1.15, 1]})
    low, high = z_range
    counts, xedges, yedges = np.histogram2d(z_spec, z_phot, bins=60, range=[[low, high], [low, high]])
    image = ax.imshow(np.ma.masked_equal(counts.T, 0), origin="lower", extent=(low, high, low, high),
                      cmap="viridis", aspect="equal", norm=matplotlib.colors.LogNorm())
    fig.colorbar(image, ax=ax, label="galaxies per cell", shrink=0.85)
    line = np.linspace(low, high, 50)
    ax.plot(line, line, color="red", lw=1.0, label="z_phot = z_spec")
    for sign in (-1, 1):
        ax.plot(line, line + sign * metrics.CATASTROPHIC_DZ * (1 + line), color="red", lw=0.8, ls="--",
                label="|Δz| = 0.05" if sign > 0 else None)
    ax.set(xlim=(low, high), ylim=(low, high), xlabel="z_spec", ylabel="z_phot = E[z]")
    text = (f"N = {len(z_spec)}\nbias = {values['bias']:+.4f}\nσ_MAD = {values['sigma_mad']:.4f}\n"
            f"η = {values['eta']:.2f} %\nCRPS = {predictions['crps'].mean():.4f}")
    ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=9,
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"})
    ax.legend(loc="lower right", fontsize=8)
    n_bins = 20
    heights, _, _ = ax_pit.hist(predictions["pit"], bins=n_bins, range=(0, 1), color="C0", alpha=0.8,
                                edgecolor="white")
    ax_pit.set_ylim(0, 1.25 * max(heights.max(), len(predictions) / n_bins))  # room for the legend
    ax_pit.axhline(len(predictions) / n_bins, color="black", ls="--", lw=1, label="calibrated (uniform)")
    ax_pit.set(xlim=(0, 1), xlabel="PIT = CDF(z_spec)", ylabel="galaxies", title="PDF calibration")
    ax_pit.legend(fontsize=8)
    fig.suptitle(title or "photometric redshifts (test split)")
    fig.tight_layout()
    return fig


def photoz_fraction_figure(table: pd.DataFrame, title: str = "",
                           metric_names: tuple[str, ...] = ("sigma_mad", "eta", "bias", "crps")) -> plt.Figure:
    """Test metrics vs number of train redshifts (log axis), mean ± std over seeds, one line per embedding; the
    supervised baseline in black, the pixel-PCA floor grey."""
    rows = table[table["task"] == "photoz"] if "task" in table.columns else table
    if rows.empty:
        raise DataError("photo-z metrics table has no task=photoz rows")
    metric_names = tuple(m for m in metric_names if m in set(rows["metric"]))
    fig, axes = plt.subplots(1, len(metric_names), figsize=(4.1 * len(metric_names), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metric_names):
        for index, method in enumerate(ordered_methods(rows["method"].unique())):
            part = rows[(rows["method"] == method) & (rows["metric"] == metric)]
            if part.empty:
                continue
            stats = part.groupby("n_labels")["value"].agg(["mean", "std"]).fillna(0.0)
            ax.errorbar(stats.index, stats["mean"], yerr=stats["std"], capsize=2.5, markersize=4, label=method,
                        **method_style(method, index))
        if metric == "bias":
            ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.set(xlabel="train galaxies with z_spec", ylabel=_METRIC_LABELS.get(metric, metric))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), frameon=False)
    fig.suptitle(title or "photo-z test metrics vs training-set size")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
