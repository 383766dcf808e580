"""The binned photo-z model, shared by the photo-z probe on frozen embeddings (``galssl.evaluate.photoz``) and
fine-tuning (``galssl.finetune``) so that their numbers compare: the ``photoz`` config section, redshift bins and
their prior, a classifier over the bins (Hayat et al. 2021: 180 bins on [0, 0.4]) trained with cross-entropy,
z_phot = E[z] of its PDF, nested training subsets and the scores (bias, σ_MAD, η, CRPS, PIT).

Galaxies whose spectroscopic redshift lies outside the binned range are trained on the edge bin and still
evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from galssl import metrics
from galssl.errors import ConfigError
from galssl.settings import parse_section, schema_defaults


@dataclass(frozen=True)
@schema_defaults("photoz", redshift_column="/labels.redshift_column")
class PhotozSettings:
    """The ``photoz`` config section (defaults = the schema's), with ``redshift_column`` from ``labels``."""

    redshift_column: str
    n_bins: int
    z_min: float
    z_max: float
    hidden_units: int
    target_smoothing_bins: float
    weight_decay: float
    lr: float
    max_epochs: int
    patience: int
    train_fractions: tuple[float, ...]
    seeds: int

    @classmethod
    def from_section(cls, section: dict | None, labels: Any = None) -> PhotozSettings:
        """Parse the config section (``galssl.settings.parse_section``) with the resolved labels
        (galssl.labelspec.ResolvedLabels; None = the ``labels`` defaults); no redshift column is a ConfigError."""
        context = {}
        if labels is not None:
            if labels.redshift_column is None:
                raise ConfigError("config error: the run has no redshift column (labels.redshift_column), so there "
                                  "is no photo-z to fit; name the spectroscopic redshift column")
            context["redshift_column"] = labels.redshift_column
        return parse_section(cls, section, "photoz", **context)

    def check(self) -> None:
        """z_min < z_max."""
        if self.z_min >= self.z_max:
            raise ConfigError(f"config error: photoz.z_min must be < photoz.z_max "
                              f"(got {self.z_min} >= {self.z_max})")

    @property
    def bin_edges(self) -> np.ndarray:
        """n_bins + 1 equally spaced edges on [z_min, z_max]."""
        return np.linspace(self.z_min, self.z_max, self.n_bins + 1)


def redshift_bin(z: np.ndarray, bin_edges: np.ndarray) -> np.ndarray:
    """Bin index of each redshift; values outside the range go to the first / last bin."""
    return np.clip(np.searchsorted(bin_edges, z, side="right") - 1, 0, len(bin_edges) - 2)


def redshift_prior(bins: np.ndarray, n_bins: int, smoothing_bins: float = 2.0) -> np.ndarray:
    """Histogram of bin indices smoothed by a Gaussian of ``smoothing_bins`` bins, floored at 10^-3 of the mean,
    normalised to sum to one."""
    counts = np.bincount(bins, minlength=n_bins).astype(float)
    offsets = np.arange(n_bins)
    kernel = np.exp(-0.5 * ((offsets[:, None] - offsets[None, :]) / smoothing_bins) ** 2)
    smoothed = kernel @ counts
    smoothed = np.maximum(smoothed, 1e-3 * smoothed.mean())
    return smoothed / smoothed.sum()


class BinnedRedshiftClassifier:
    """Softmax over redshift bins from embeddings: linear, or one hidden layer of ``hidden_units`` (ReLU).

    Full-batch AdamW on the cross-entropy against the true bin, spread over neighbouring bins by a Gaussian of
    ``target_smoothing_bins`` bins (0 = the true bin only), which lets few labels teach that nearby bins are alike;
    stopped at the lowest val cross-entropy of the true bin (patience in epochs)."""

    def __init__(self, bin_edges: np.ndarray, hidden_units: int = 128, target_smoothing_bins: float = 2.0,
                 weight_decay: float = 1e-4, lr: float = 0.003, max_epochs: int = 1000, patience: int = 50) -> None:
        self.bin_edges = np.asarray(bin_edges, dtype=float)
        self.target_smoothing_bins = target_smoothing_bins
        self.hidden_units, self.weight_decay, self.lr = hidden_units, weight_decay, lr
        self.max_epochs, self.patience = max_epochs, patience
        self.model: nn.Module | None = None
        self.best_val_loss = float("inf")

    def _build(self, n_features: int) -> nn.Module:
        n_bins = len(self.bin_edges) - 1
        if self.hidden_units > 0:
            return nn.Sequential(nn.Linear(n_features, self.hidden_units), nn.ReLU(),
                                 nn.Linear(self.hidden_units, n_bins))
        return nn.Linear(n_features, n_bins)

    def fit(self, x: np.ndarray, z: np.ndarray, x_val: np.ndarray | None = None, z_val: np.ndarray | None = None,
            seed: int = 0) -> BinnedRedshiftClassifier:
        """Train on (n, D) features and redshifts; without a val set, train for max_epochs."""
        torch.manual_seed(seed)
        model = self._build(x.shape[1])
        features = torch.as_tensor(x, dtype=torch.float32)
        target = torch.as_tensor(redshift_bin(z, self.bin_edges), dtype=torch.long)
        soft_target = torch.as_tensor(self._smoothed_targets(np.asarray(z, dtype=float)), dtype=torch.float32)
        # Start from the train redshift distribution rather than a flat PDF over [z_min, z_max]: with few labels
        # early stopping would otherwise halt near the flat PDF's mean.
        output = model[-1] if isinstance(model, nn.Sequential) else model
        with torch.no_grad():
            output.bias.copy_(torch.as_tensor(np.log(redshift_prior(target.numpy(), len(self.bin_edges) - 1)),
                                              dtype=torch.float32))
            output.weight.mul_(0.1)
        has_val = x_val is not None and z_val is not None and len(z_val) > 0
        if has_val:
            val_features = torch.as_tensor(x_val, dtype=torch.float32)
            val_target = torch.as_tensor(redshift_bin(z_val, self.bin_edges), dtype=torch.long)
        optimiser = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best_state, since_best = None, 0
        for _ in range(self.max_epochs):
            model.train()
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(features), soft_target).backward()
            optimiser.step()
            if not has_val:
                continue
            model.eval()
            with torch.no_grad():
                val_loss = float(nn.functional.cross_entropy(model(val_features), val_target))
            if val_loss < self.best_val_loss - 1e-6:
                self.best_val_loss, since_best = val_loss, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                since_best += 1
                if since_best >= self.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        self.model = model.eval()
        return self

    def _smoothed_targets(self, z: np.ndarray) -> np.ndarray:
        """(n, n_bins) training targets: one-hot true bins, or Gaussians of target_smoothing_bins bins about z."""
        n_bins = len(self.bin_edges) - 1
        if self.target_smoothing_bins <= 0:
            return np.eye(n_bins)[redshift_bin(z, self.bin_edges)]
        centres = 0.5 * (self.bin_edges[1:] + self.bin_edges[:-1])
        width = self.target_smoothing_bins * (self.bin_edges[1] - self.bin_edges[0])
        clipped = np.clip(z, centres[0], centres[-1])  # out-of-range redshifts teach the edge bin
        weights = np.exp(-0.5 * ((centres[None, :] - clipped[:, None]) / width) ** 2)
        return weights / weights.sum(axis=1, keepdims=True)

    def predict_pdf(self, x: np.ndarray) -> np.ndarray:
        """(n, n_bins) probabilities per bin."""
        if self.model is None:
            raise RuntimeError("BinnedRedshiftClassifier.predict_pdf before fit")
        with torch.no_grad():
            return torch.softmax(self.model(torch.as_tensor(x, dtype=torch.float32)), dim=1).numpy().astype(np.float64)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """z_phot = E[z] of each PDF."""
        return metrics.pdf_mean(self.predict_pdf(x), self.bin_edges)


def training_subsets(n_train: int, fractions: tuple[float, ...], seed: int) -> dict[float, np.ndarray]:
    """Nested random subsets of train indices, one per fraction (at least one galaxy each)."""
    order = np.random.default_rng(seed).permutation(n_train)
    return {fraction: np.sort(order[:max(1, int(round(fraction * n_train)))]) for fraction in fractions}


def photoz_scores(model: BinnedRedshiftClassifier, x: np.ndarray, z_spec: np.ndarray) -> tuple[dict, pd.DataFrame]:
    """Metrics (bias, sigma_mad, eta, crps, pit_ks) and per-object z_phot, PIT and CRPS."""
    pdf = model.predict_pdf(x)
    z_phot = metrics.pdf_mean(pdf, model.bin_edges)
    pit = metrics.pit(pdf, model.bin_edges, z_spec)
    crps = metrics.crps(pdf, model.bin_edges, z_spec)
    values = metrics.photoz_metrics(z_phot, z_spec)
    values["crps"] = float(np.mean(crps))
    # Kolmogorov-Smirnov distance of the PIT values from uniform: 0 for perfectly calibrated PDFs.
    ranked = np.sort(pit)
    n = len(ranked)
    values["pit_ks"] = float(max(np.max(np.arange(1, n + 1) / n - ranked), np.max(ranked - np.arange(n) / n)))
    return values, pd.DataFrame({"z_spec": z_spec, "z_phot": z_phot, "pit": pit, "crps": crps})
