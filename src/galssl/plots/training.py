"""Training curves from a Lightning CSV log: loss, learning rate, online linear-probe accuracy."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from galssl.errors import DataError

# Per-epoch validation scores drawn in the third panel, the first one logged: pretraining's online probe, then
# fine-tuning's val accuracy (classes) or val sigma_mad (photo-z).
_SCORES = (("probe/balanced_accuracy", "online probe: balanced accuracy (val)"),
           ("probe/accuracy", "online linear probe (val split)"), ("val/accuracy", "fine-tuned head (val split)"),
           ("val/sigma_mad", "fine-tuned photo-z (val split)"))


def training_curves_figure(metrics_csv: str, title: str = "") -> plt.Figure:
    """Three panels against optimisation step: losses, learning rate(s), a validation score (the online probe's
    accuracy, or a fine-tuning run's val accuracy / σ_MAD) when logged."""
    try:
        log = pd.read_csv(metrics_csv)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"metrics {metrics_csv}: not a readable CSV log ({error})") from None
    if "step" not in log.columns or "train/loss" not in log.columns:
        raise DataError(f"metrics {metrics_csv}: no step/train/loss columns — not a galssl training log")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    train = log.dropna(subset=["train/loss"])
    axes[0].plot(train["step"], train["train/loss"], lw=0.8, alpha=0.5, color="C0", label="train (per step)")
    if len(train) >= 5:
        axes[0].plot(train["step"], train["train/loss"].rolling(5, min_periods=1).mean(), color="C0", lw=1.6,
                     label="train (5-step mean)")
    if "val/loss" in log.columns:
        val = log.dropna(subset=["val/loss"])
        axes[0].plot(val["step"], val["val/loss"], "o-", color="C3", label="validation (per epoch)")
    axes[0].set(xlabel="step", ylabel="loss", title="loss")
    axes[0].legend(fontsize=8)
    if "train/lr" in log.columns:
        lr = log.dropna(subset=["train/lr"])
        axes[1].plot(lr["step"], lr["train/lr"], color="C2", label="head")
    if "train/lr_encoder" in log.columns:  # fine-tuning: the encoder's rate, a fixed fraction of the head's
        lr = log.dropna(subset=["train/lr_encoder"])
        axes[1].plot(lr["step"], lr["train/lr_encoder"], color="C4", label="encoder")
        axes[1].legend(fontsize=8)
    axes[1].set(xlabel="step", ylabel="learning rate", title="schedule (warm-up + cosine)")
    axes[1].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    score = next(((column, name) for column, name in _SCORES if column in log.columns and log[column].notna().any()),
                 None)
    if score is not None:
        probe = log.dropna(subset=[score[0]])
        axes[2].plot(probe["step"], probe[score[0]], "o-", color="C1")
        if score[0].endswith("accuracy"):
            axes[2].set_ylim(0, 1)
        axes[2].set(xlabel="step", ylabel=score[0].split("/")[-1], title=score[1])
    else:
        axes[2].text(0.5, 0.5, "no labels: probe not run", ha="center", va="center", transform=axes[2].transAxes)
        axes[2].set_axis_off()
    for ax in axes:
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
