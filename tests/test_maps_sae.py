"""The Matryoshka BatchTopK sparse autoencoder on synthetic data built from a planted sparse dictionary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galssl.errors import ConfigError, DataError
from galssl.maps.sae import (
    MatryoshkaBatchTopKSAE,
    encode,
    fraction_variance_unexplained,
    group_of_latents,
    prefix_fvu,
    scaled_groups,
    train_sae,
    training_step_losses,
)
from galssl.maps.settings import SAESettings

torch.set_num_threads(1)

DIM, N_ATOMS, ACTIVE = 32, 48, 3


def planted(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(data (n, DIM), atoms (N_ATOMS, DIM)): each sample is ACTIVE random unit atoms with weights in [0.5, 1.5]."""
    rng = np.random.default_rng(seed)
    atoms = rng.normal(size=(N_ATOMS, DIM))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    codes = np.zeros((n, N_ATOMS))
    for row in codes:
        row[rng.choice(N_ATOMS, ACTIVE, replace=False)] = rng.uniform(0.5, 1.5, ACTIVE)
    return (codes @ atoms).astype(np.float32), atoms


@pytest.fixture(scope="module")
def trained():
    data, atoms = planted(6000)
    settings = SAESettings(groups=(16, 16, 32, 32), k=ACTIVE, epochs=60, batch_size=256, lr=3e-3)
    model, history = train_sae(data[:5000], settings, seed=0, val=data[5000:], groups=settings.groups)
    return model, history, data[5000:], atoms


def test_recovers_most_planted_atoms(trained):
    model, _, _, atoms = trained
    best_cosine = (atoms @ model.W_dec.detach().numpy().T).max(1)
    assert (best_cosine > 0.9).mean() >= 0.8


def test_decoder_atoms_stay_unit_norm(trained):
    model = trained[0]
    assert np.allclose(model.W_dec.detach().norm(dim=1).numpy(), 1.0, atol=1e-5)


def test_matryoshka_prefixes_reconstruct_progressively_better(trained):
    model, _, held_out, _ = trained
    prefixes = prefix_fvu(model, held_out)
    assert len(prefixes) == 4
    assert np.all(np.diff(prefixes) < 0)
    assert prefixes[-1] == pytest.approx(fraction_variance_unexplained(model, held_out))
    assert prefixes[-1] < 0.15


def test_inference_codes_are_sparse_with_the_trained_threshold(trained):
    model, _, held_out, _ = trained
    codes = encode(model, held_out)
    assert np.isfinite(float(model.threshold)) and float(model.threshold) > 0
    assert codes.min() >= 0
    active = (codes > 0).sum(1)
    assert 1.5 < active.mean() < 2 * ACTIVE  # about k per sample, far from the dense ReLU's
    dense = torch.relu((model.normalise(torch.as_tensor(held_out)) - model.b_dec) @ model.W_enc + model.b_enc)
    assert (dense > 0).sum(1).float().mean() > 3 * active.mean()
    nonzero = codes[codes > 0]
    assert nonzero.min() > float(model.threshold)


def test_the_best_validation_epoch_is_kept(trained):
    _, history, _, _ = trained
    assert history.best_epoch == int(np.argmin(history.val_fvu))
    assert history.samples_per_second > 0


def test_batch_topk_keeps_exactly_k_times_batch_nonzeros():
    generator = torch.Generator().manual_seed(1)
    model = MatryoshkaBatchTopKSAE(DIM, (8, 8, 16), k=4, generator=generator)
    x = torch.randn(64, DIM, generator=generator)
    codes = model.batch_topk(model.activations(x))
    assert int((codes > 0).sum()) == 4 * 64
    per_sample = (codes > 0).sum(1)
    assert per_sample.max() != per_sample.min()  # across the batch, not per sample
    step = training_step_losses(model, x, SAESettings(groups=(8, 8, 16), k=4))
    assert int((step.codes > 0).sum()) == 4 * 64
    kept = model.activations(x).flatten().topk(4 * 64).values
    assert torch.allclose(codes.flatten()[codes.flatten() > 0].sort().values, kept.sort().values)


def test_auxiliary_loss_revives_dead_latents():
    data, _ = planted(2048, seed=3)

    def train_with(aux_coefficient: float) -> int:
        settings = SAESettings(groups=(32, 32), k=ACTIVE, epochs=15, batch_size=128, lr=3e-3,
                               aux_coefficient=aux_coefficient, dead_after_steps=5)
        generator = torch.Generator().manual_seed(0)
        model = MatryoshkaBatchTopKSAE(DIM, settings.groups, settings.k, generator)
        x_all = torch.as_tensor(data)
        killed = torch.arange(32, 64)
        with torch.no_grad():  # the second group starts dead: tiny encoder weights never reach the batch top-k
            model.W_enc[:, killed] *= 1e-3
        optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
        for _ in range(settings.epochs):
            for start in range(0, len(x_all), settings.batch_size):
                step = training_step_losses(model, x_all[start:start + settings.batch_size], settings)
                optimiser.zero_grad()
                step.total.backward()
                model.project_decoder_gradient()
                optimiser.step()
                model.normalise_decoder()
        codes = encode(model.eval(), data)
        return int(((codes[:, 32:] > 0).sum(0) > 0).sum())

    revived_without, revived_with = train_with(0.0), train_with(1.0)
    assert revived_without == 0
    assert revived_with >= 16


def test_training_is_deterministic_for_a_seed():
    data, _ = planted(600, seed=5)
    settings = SAESettings(groups=(8, 8), k=2, epochs=2, batch_size=100)
    first, _ = train_sae(data, settings, seed=7, groups=settings.groups)
    second, _ = train_sae(data, settings, seed=7, groups=settings.groups)
    assert torch.equal(first.W_dec, second.W_dec) and torch.equal(first.threshold, second.threshold)


def test_scaled_groups_and_group_index():
    assert scaled_groups((64, 64, 128, 256, 512, 1024), 512, 512) == (64, 64, 128, 256, 512, 1024)
    assert scaled_groups((64, 64, 128), 512, 192) == (24, 24, 48)
    assert scaled_groups((1, 2), 512, 64) == (1, 1)  # never below one latent
    assert group_of_latents((2, 3)).tolist() == [0, 0, 1, 1, 1]
    with pytest.raises(ConfigError):
        scaled_groups((8,), 512, 0)


def test_errors():
    with pytest.raises(ConfigError, match="maps.sae.k"):
        MatryoshkaBatchTopKSAE(4, (2, 2), k=5)
    with pytest.raises(DataError, match="threshold"):
        MatryoshkaBatchTopKSAE(4, (2, 2), k=1).encode(torch.zeros(3, 4))
    with pytest.raises(DataError, match="finite"):
        train_sae(np.full((10, 4), np.nan, np.float32), SAESettings(groups=(2, 2), k=1), seed=0)
    with pytest.raises(DataError, match="at least 2"):
        train_sae(np.zeros((1, 4), np.float32), SAESettings(groups=(2, 2), k=1), seed=0)
