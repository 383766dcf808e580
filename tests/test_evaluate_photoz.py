"""Photo-z classifier over redshift bins on a planted signal; settings and errors; the photo-z CLI and figures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from galssl.binned_redshift import (
    BinnedRedshiftClassifier,
    PhotozSettings,
    redshift_bin,
    redshift_prior,
    training_subsets,
)
from galssl.errors import ConfigError, DataError
from galssl.evaluate.labelled import LabelledEmbeddings
from galssl.evaluate.photoz import run_photoz
from galssl.metric_table import METRIC_COLUMNS

torch.set_num_threads(1)

SMALL = PhotozSettings(n_bins=40, hidden_units=16, train_fractions=(0.1, 1.0), max_epochs=600)


def planted_redshifts(n: int = 900, noise: float = 0.1, seed: int = 0) -> LabelledEmbeddings:
    """Embeddings whose first two features are smooth functions of z (plus noise), then pure-noise features."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.35, n)
    signal = np.stack([z / 0.1, np.sqrt(z) / 0.3], axis=1) + noise * rng.standard_normal((n, 2))
    vectors = np.concatenate([signal, rng.standard_normal((n, 6))], axis=1).astype(np.float32)
    split = rng.choice(["train", "val", "test"], size=n, p=[0.6, 0.2, 0.2])
    redshift = np.where(rng.random(n) < 0.05, np.nan, z)  # a few objects without a spectrum (stars)
    ids = np.array([f"o{i:05d}" for i in range(n)])
    return LabelledEmbeddings("toy", ids, vectors, split, pd.DataFrame({"redshift": redshift}))


def test_redshift_bins_and_prior():
    edges = np.linspace(0.0, 0.4, 5)
    assert redshift_bin(np.array([-0.1, 0.0, 0.05, 0.1, 0.39, 0.4, 0.7]), edges).tolist() == [0, 0, 0, 1, 3, 3, 3]
    prior = redshift_prior(np.array([0, 0, 1]), 4, smoothing_bins=0.01)
    assert prior.sum() == pytest.approx(1.0)
    assert prior[0] == pytest.approx(2 / 3, rel=1e-2) and prior[3] > 0  # floored, never exactly zero


def test_training_subsets_are_nested_and_seeded():
    subsets = training_subsets(200, (0.05, 0.5, 1.0), seed=1)
    assert [len(subsets[f]) for f in (0.05, 0.5, 1.0)] == [10, 100, 200]
    assert set(subsets[0.05]) <= set(subsets[0.5]) <= set(subsets[1.0])
    assert np.array_equal(subsets[0.5], training_subsets(200, (0.5,), seed=1)[0.5])


def test_classifier_on_a_planted_signal_has_small_sigma_mad():
    data = planted_redshifts()
    table, predictions = run_photoz(data, SMALL, seed=0, log=lambda *_: None)
    assert list(table.columns) == METRIC_COLUMNS and set(table["task"]) == {"photoz"}
    full = table[table["n_labels"] == table["n_labels"].max()].set_index("metric")["value"]
    assert full["sigma_mad"] < 0.012 and full["eta"] < 2.0 and abs(full["bias"]) < 0.005
    assert 0 < full["crps"] < 0.02
    # Every test galaxy with a redshift is scored, none without.
    has_z = (data.split == "test") & np.isfinite(data.labels["redshift"].to_numpy())
    assert len(predictions) == has_z.sum() and list(predictions.columns) == ["object_id", "z_spec", "z_phot", "pit",
                                                                              "crps"]
    assert predictions["pit"].between(0, 1).all()
    # Fewer train redshifts: more scatter.
    small = table[table["n_labels"] == table["n_labels"].min()].set_index("metric")["value"]
    assert small["sigma_mad"] > full["sigma_mad"]


def test_pure_noise_embeddings_give_a_large_sigma_mad():
    data = planted_redshifts(noise=1000.0)
    table, _ = run_photoz(data, PhotozSettings(n_bins=40, hidden_units=0, train_fractions=(1.0,)), seed=0,
                          log=lambda *_: None)
    assert table.query("metric == 'sigma_mad'")["value"].item() > 0.05


def test_fit_is_deterministic_and_pdfs_are_normalised():
    data = planted_redshifts(n=300)
    train = data.split == "train"
    z = data.labels["redshift"].to_numpy()
    ok = train & np.isfinite(z)
    model = BinnedRedshiftClassifier(np.linspace(0, 0.4, 21), hidden_units=8, max_epochs=50)
    first = model.fit(data.vectors[ok], z[ok], seed=4).predict_pdf(data.vectors[:5])
    second = BinnedRedshiftClassifier(np.linspace(0, 0.4, 21), hidden_units=8, max_epochs=50).fit(
        data.vectors[ok], z[ok], seed=4).predict_pdf(data.vectors[:5])
    assert np.array_equal(first, second)
    assert first.sum(axis=1) == pytest.approx(np.ones(5))
    assert first.shape == (5, 20)


def test_settings_and_data_errors():
    with pytest.raises(ConfigError, match="photoz.z_min must be < photoz.z_max"):
        PhotozSettings.from_section({"z_min": 0.5, "z_max": 0.4})
    with pytest.raises(ConfigError, match="unknown key 'bins' in photoz"):
        PhotozSettings.from_section({"bins": 10})
    assert PhotozSettings.from_section({"n_bins": 20}).bin_edges.size == 21
    data = planted_redshifts(n=60)
    with pytest.raises(DataError, match="label column 'z_spec'") as error:
        run_photoz(data, PhotozSettings(redshift_column="z_spec"), seed=0)
    assert "\n" not in str(error.value)
    no_z = LabelledEmbeddings("toy", data.object_ids, data.vectors, data.split,
                              pd.DataFrame({"redshift": np.full(60, np.nan)}))
    with pytest.raises(DataError, match="need train and test galaxies with a redshift"):
        run_photoz(no_z, PhotozSettings(), seed=0)


def test_photoz_cli_writes_tables_and_figures(tmp_path):
    from PIL import Image

    from galssl.cli import main
    from galssl.embeddings import write_embeddings

    data = planted_redshifts(n=400)
    write_embeddings(tmp_path / "emb.parquet", list(data.object_ids), data.vectors, "toy")
    pd.DataFrame({"object_id": data.object_ids, "split": data.split}).to_parquet(tmp_path / "catalog.parquet")
    data.labels.assign(object_id=data.object_ids).to_parquet(tmp_path / "labels.parquet")
    section = json.dumps({"n_bins": 40, "hidden_units": 16, "train_fractions": [0.25, 1.0]})
    tables = []
    for method in ("simclr", "supervised"):
        out = tmp_path / method
        main(["photoz", "--embeddings", str(tmp_path / "emb.parquet"), "--catalog", str(tmp_path / "catalog.parquet"),
              "--labels", str(tmp_path / "labels.parquet"), "--method", method, "--seed", "2", "--photoz", section,
              "--metrics-out", str(out / "metrics.parquet"), "--predictions-out", str(out / "predictions.parquet")])
        tables.append(str(out / "metrics.parquet"))
    table = pd.read_parquet(tables[0])
    assert set(table["method"]) == {"simclr"} and table["n_labels"].nunique() == 2
    assert {"bias", "sigma_mad", "eta", "crps", "pit_ks"} == set(table["metric"])
    main(["plot-photoz", "--predictions", str(tmp_path / "simclr/predictions.parquet"), "--photoz", section,
          "--out", str(tmp_path / "photoz.png")])
    main(["plot-photoz-fraction", "--tables", *tables, "--out", str(tmp_path / "fraction.png")])
    for name in ("photoz.png", "fraction.png"):
        width, height = Image.open(tmp_path / name).size
        assert width > 800 and height > 400
