"""Matryoshka BatchTopK sparse autoencoder on embeddings (Bussmann et al. 2024 "BatchTopK SAEs"; 2025 "Learning
multi-level features with Matryoshka SAEs"; Gao et al. 2024 for AuxK and unit-norm decoder columns).

- Encoder ``a = ReLU((x − b_dec) W_enc + b_enc)``; decoder ``x̂ = z W_dec + b_dec`` with unit-norm rows of W_dec
  (each latent's dictionary atom), kept unit-norm after every step (gradient parallel to the atom removed first).
- Training codes ``z``: the k·B largest activations over the whole batch of B (BatchTopK), so a galaxy may use more
  or fewer than k latents but the batch uses exactly k·B.
- Matryoshka: latents come in nested groups; the loss is the mean reconstruction error of every prefix (groups
  1..m, m = 1..G), so the first groups learn coarse, general features and later groups refine them.
- Optional L1 on the codes; AuxK: latents that have not fired for ``dead_after_steps`` batches reconstruct the
  residual with their own top ``aux_k`` activations, which gives dead latents a gradient and revives them.
- Inference: ``z = a · [a > θ]`` with θ the running mean of the smallest activation BatchTopK kept in training —
  sparse codes that do not depend on the batch (not the dense ReLU activations).

Embeddings are centred and scaled (by the training set's root-mean-square norm) inside the model, so losses are
fractions of the variance and :func:`fraction_variance_unexplained` needs no extra bookkeeping.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from galssl.errors import ConfigError, DataError
from galssl.maps.settings import SAESettings


def scaled_groups(groups: tuple[int, ...], reference_dim: int, dim: int) -> tuple[int, ...]:
    """Group sizes for a ``dim``-dimensional embedding: ``groups`` (sized for ``reference_dim``) times
    dim/reference_dim, rounded, each at least 1."""
    if dim < 1 or reference_dim < 1:
        raise ConfigError(f"embedding dimension and maps.sae.reference_dim must be >= 1 (got {dim}, {reference_dim})")
    return tuple(max(1, int(round(size * dim / reference_dim))) for size in groups)


class MatryoshkaBatchTopKSAE(nn.Module):
    """The autoencoder; ``groups`` are the nested group sizes, ``k`` the mean active latents per sample."""

    def __init__(self, dim: int, groups: tuple[int, ...], k: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        n_latents = int(sum(groups))
        if k < 1 or k > n_latents:
            raise ConfigError(f"maps.sae.k must be in [1, {n_latents}] for {n_latents} latents (got {k})")
        self.groups = tuple(int(size) for size in groups)
        self.k = int(k)
        atoms = torch.randn(n_latents, dim, generator=generator)
        atoms /= atoms.norm(dim=1, keepdim=True)
        self.W_dec = nn.Parameter(atoms)
        self.W_enc = nn.Parameter(atoms.T.clone())  # tied at init (Gao et al. 2024): early codes are projections
        self.b_enc = nn.Parameter(torch.zeros(n_latents))
        self.b_dec = nn.Parameter(torch.zeros(dim))
        self.register_buffer("threshold", torch.tensor(float("nan")))
        self.register_buffer("input_mean", torch.zeros(dim))
        self.register_buffer("input_scale", torch.ones(()))
        self.register_buffer("steps_since_fired", torch.zeros(n_latents, dtype=torch.long))

    @property
    def n_latents(self) -> int:
        """Dictionary size (sum of the groups)."""
        return int(sum(self.groups))

    def normalise(self, vectors: torch.Tensor) -> torch.Tensor:
        """Embeddings → the centred, scaled space the SAE works in."""
        return (vectors - self.input_mean) / self.input_scale

    def activations(self, x: torch.Tensor) -> torch.Tensor:
        """Dense non-negative pre-codes ReLU((x − b_dec) W_enc + b_enc) of normalised inputs."""
        return torch.relu((x - self.b_dec) @ self.W_enc + self.b_enc)

    def batch_topk(self, activations: torch.Tensor) -> torch.Tensor:
        """Keep the k·B largest activations of the batch, zero the rest."""
        flat = activations.flatten()
        values, index = flat.topk(min(self.k * activations.shape[0], flat.numel()), sorted=False)
        return torch.zeros_like(flat).scatter(0, index, values).view_as(activations)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Inference codes of normalised inputs: activations above the threshold estimated in training."""
        if torch.isnan(self.threshold):
            raise DataError("the sparse autoencoder has no inference threshold yet: train it first")
        activations = self.activations(x)
        return activations * (activations > self.threshold)

    def prefix_reconstructions(self, codes: torch.Tensor) -> torch.Tensor:
        """(G, B, D): reconstructions from groups 1..m for every m (the last one is the full reconstruction)."""
        parts, start = [], 0
        for size in self.groups:
            parts.append(codes[:, start:start + size] @ self.W_dec[start:start + size])
            start += size
        return torch.stack(parts).cumsum(0) + self.b_dec

    @torch.no_grad()
    def normalise_decoder(self) -> None:
        """Rescale every dictionary atom (row of W_dec) to unit norm."""
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12)

    @torch.no_grad()
    def project_decoder_gradient(self) -> None:
        """Remove the part of each atom's gradient along the atom (it would only change the norm)."""
        if self.W_dec.grad is not None:
            along = (self.W_dec.grad * self.W_dec).sum(dim=1, keepdim=True)
            self.W_dec.grad -= along * self.W_dec


@dataclass
class SAELosses:
    """One training step's losses: mean over prefixes, per prefix, L1, AuxK (0 when no latent is dead)."""

    total: torch.Tensor
    prefix: torch.Tensor
    l1: torch.Tensor
    aux: torch.Tensor
    codes: torch.Tensor


def training_step_losses(model: MatryoshkaBatchTopKSAE, x: torch.Tensor, settings: SAESettings) -> SAELosses:
    """Losses of one batch of normalised inputs (also updates the dead-latent counters and the threshold)."""
    activations = model.activations(x)
    codes = model.batch_topk(activations)
    reconstructions = model.prefix_reconstructions(codes)
    prefix = ((x - reconstructions) ** 2).sum(-1).mean(-1)  # (G,) mean squared error of each prefix
    l1 = codes.sum(-1).mean()  # codes are >= 0 and atoms unit-norm: the L1 of the decoded contributions
    aux = torch.zeros((), dtype=x.dtype)
    with torch.no_grad():
        fired = (codes > 0).any(0)
        model.steps_since_fired += 1
        model.steps_since_fired[fired] = 0
        selected = codes[codes > 0]
        if selected.numel():
            smallest = selected.min()
            model.threshold.copy_(smallest if torch.isnan(model.threshold) else
                                  (1 - settings.threshold_momentum) * model.threshold
                                  + settings.threshold_momentum * smallest)
    dead = model.steps_since_fired >= settings.dead_after_steps
    if settings.aux_coefficient > 0 and bool(dead.any()):
        residual = (x - reconstructions[-1]).detach()
        aux_k = min(settings.aux_k or max(1, x.shape[1] // 2), int(dead.sum()))
        dead_activations = activations[:, dead]
        values, index = dead_activations.topk(aux_k, dim=1)
        aux_codes = torch.zeros_like(dead_activations).scatter(1, index, values)
        aux = ((residual - aux_codes @ model.W_dec[dead]) ** 2).sum(-1).mean()
    total = prefix.mean() + settings.l1_coefficient * l1 + settings.aux_coefficient * aux
    return SAELosses(total=total, prefix=prefix.detach(), l1=l1.detach(), aux=aux.detach(), codes=codes.detach())


@dataclass
class TrainingHistory:
    """Per-epoch numbers: training loss (mean over prefixes), validation FVU, dead fraction, and the best epoch."""

    train_loss: list[float] = field(default_factory=list)
    val_fvu: list[float] = field(default_factory=list)
    dead_fraction: list[float] = field(default_factory=list)
    best_epoch: int = -1
    samples_per_second: float = float("nan")


def train_sae(train: np.ndarray, settings: SAESettings, seed: int, val: np.ndarray | None = None,
              groups: tuple[int, ...] | None = None) -> tuple[MatryoshkaBatchTopKSAE, TrainingHistory]:
    """Train on ``train`` (N, D) embeddings; keep the epoch with the lowest validation FVU when ``val`` is given.

    ``groups`` defaults to ``settings.groups`` scaled to D (:func:`scaled_groups`). Deterministic for a seed on CPU.
    """
    import time

    train = _as_matrix(train, "training embeddings")
    if len(train) < 2:
        raise DataError(f"the sparse autoencoder needs at least 2 training embeddings (got {len(train)})")
    generator = torch.Generator().manual_seed(seed)
    dim = train.shape[1]
    model = MatryoshkaBatchTopKSAE(dim, groups or scaled_groups(settings.groups, settings.reference_dim, dim),
                                   settings.k, generator)
    data = torch.as_tensor(train)
    model.input_mean.copy_(data.mean(0))
    model.input_scale.copy_(((data - model.input_mean) ** 2).sum(1).mean().sqrt().clamp_min(1e-12))
    x_all = model.normalise(data)
    has_val = val is not None and len(val)
    val_x = model.normalise(torch.as_tensor(_as_matrix(val, "validation embeddings"))) if has_val else None
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    history, best_state, best_fvu = TrainingHistory(), None, float("inf")
    batch_size = min(settings.batch_size, len(train))
    seen, started = 0, time.perf_counter()
    for epoch in range(settings.epochs):
        order = torch.randperm(len(x_all), generator=generator)
        losses = []
        for start in range(0, len(order) - batch_size + 1, batch_size):  # full batches: k·B is the same every step
            batch = x_all[order[start:start + batch_size]]
            step = training_step_losses(model, batch, settings)
            optimiser.zero_grad(set_to_none=True)
            step.total.backward()
            model.project_decoder_gradient()
            optimiser.step()
            model.normalise_decoder()
            losses.append(float(step.total.detach()))
            seen += len(batch)
        history.train_loss.append(float(np.mean(losses)))
        history.dead_fraction.append(float((model.steps_since_fired >= settings.dead_after_steps).float().mean()))
        if val_x is not None:
            with torch.no_grad():
                fvu = _fvu(val_x, model.prefix_reconstructions(model.encode(val_x))[-1])
            history.val_fvu.append(fvu)
            if fvu < best_fvu:
                best_fvu, best_state, history.best_epoch = fvu, copy.deepcopy(model.state_dict()), epoch
    history.samples_per_second = seen / max(time.perf_counter() - started, 1e-9)
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        history.best_epoch = settings.epochs - 1
    return model.eval(), history


def _as_matrix(vectors: np.ndarray | None, what: str) -> np.ndarray:
    array = np.array(vectors, dtype=np.float32)  # a writable copy: torch.as_tensor shares it
    if array.ndim != 2 or not np.all(np.isfinite(array)):
        raise DataError(f"{what} must be a finite (N, D) matrix (got shape {array.shape})")
    return array


def _fvu(x: torch.Tensor, reconstruction: torch.Tensor) -> float:
    """Σ‖x − x̂‖² / Σ‖x − mean(x)‖²."""
    return float(((x - reconstruction) ** 2).sum() / ((x - x.mean(0)) ** 2).sum().clamp_min(1e-30))


@torch.no_grad()
def encode(model: MatryoshkaBatchTopKSAE, vectors: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Sparse inference codes (N, n_latents) float32 of raw embeddings."""
    vectors = _as_matrix(vectors, "embeddings")
    chunks = [model.encode(model.normalise(torch.as_tensor(vectors[start:start + batch_size]))).numpy()
              for start in range(0, len(vectors), batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros((0, model.n_latents), np.float32)


@torch.no_grad()
def prefix_fvu(model: MatryoshkaBatchTopKSAE, vectors: np.ndarray) -> np.ndarray:
    """Fraction of variance unexplained by each nested prefix (groups 1..m) at inference; the last is the SAE's FVU."""
    x = model.normalise(torch.as_tensor(_as_matrix(vectors, "embeddings")))
    reconstructions = model.prefix_reconstructions(model.encode(x))
    return np.array([_fvu(x, reconstruction) for reconstruction in reconstructions])


def fraction_variance_unexplained(model: MatryoshkaBatchTopKSAE, vectors: np.ndarray) -> float:
    """FVU of the full reconstruction of ``vectors`` with inference codes."""
    return float(prefix_fvu(model, vectors)[-1])


def group_of_latents(groups: tuple[int, ...]) -> np.ndarray:
    """Index of the nested group (0-based) each latent belongs to."""
    return np.repeat(np.arange(len(groups)), groups)
