"""Spearman alignment of features with vote fractions, PCA helpers and the maps settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galssl.config import validate_config
from galssl.errors import ConfigError, DataError
from galssl.label_table import labels_for, vote_fraction_columns
from galssl.maps.align import (
    alignment_table,
    alignment_targets,
    best_per_feature,
    best_per_target,
    rho_matrix,
    spearman_alignment,
)
from galssl.maps.inputs import METRIC_COLUMNS, metrics_frame
from galssl.maps.pca import component_extremes, components_for_fraction, fit_pca
from galssl.maps.settings import MapsSettings


def test_spearman_alignment_finds_the_planted_feature():
    rng = np.random.default_rng(0)
    n = 400
    vote = rng.uniform(0, 1, n)
    features = rng.normal(size=(n, 6))
    features[:, 4] = np.exp(3 * vote)  # monotone in the vote: Spearman 1 whatever the non-linearity
    targets = np.c_[rng.uniform(0, 1, n), vote]
    rho = spearman_alignment(features, targets)
    best = best_per_feature(rho, ["noise", "bar__yes_fraction"])
    assert best["max_abs_rho"].idxmax() == 4
    assert rho[4, 1] == pytest.approx(1.0)
    assert best.loc[4, "best_target"] == "bar__yes_fraction"
    assert np.nanargmax(np.abs(rho[:, 1])) == 4
    assert best_per_target(rho)[1] == pytest.approx(1.0)


def test_spearman_matches_hand_computed_ranks():
    feature = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    target = np.array([[5.0], [6.0], [7.0], [9.0], [8.0]])
    # ranks 1..5 vs 1,2,3,5,4: rho = 1 - 6 * (0+0+0+1+1) / (5 * 24) = 0.9
    assert spearman_alignment(feature, target, min_shared=3)[0, 0] == pytest.approx(0.9)


def test_pairs_need_enough_shared_nonzero_samples():
    n = 100
    vote = np.linspace(0.01, 1, n)
    rare = np.zeros(n)
    rare[-9:] = 1.0  # fires on 9 galaxies only
    common = vote.copy()
    sparse_vote = np.where(np.arange(n) < 95, 0.0, vote)  # non-zero for 5 galaxies only
    rho = spearman_alignment(np.c_[rare, common], np.c_[vote, sparse_vote], min_shared=10)
    assert np.isnan(rho[0, 0]) and np.isfinite(rho[1, 0])
    assert np.isnan(rho[1, 1])
    rare[-10:] = 1.0
    assert np.isfinite(spearman_alignment(rare[:, None], vote[:, None], min_shared=10)[0, 0])


def test_undefined_votes_are_left_out_not_zeroed():
    vote = np.array([0.1, 0.2, np.nan, 0.4, 0.5, 0.6, np.nan, 0.8, 0.9, 1.0, 0.7, 0.3])
    feature = np.array([1, 2, -50, 4, 5, 6, 99, 8, 9, 10, 7, 3], dtype=float)
    assert spearman_alignment(feature[:, None], vote[:, None], min_shared=5)[0, 0] == pytest.approx(1.0)


def test_alignment_table_round_trip():
    rho = np.array([[0.5, np.nan], [np.nan, -0.7], [0.1, 0.2]])
    table = alignment_table(rho, ["a", "b"], "sae")
    assert len(table) == 4 and set(table["family"]) == {"sae"}
    back = rho_matrix(table, 3, ["a", "b"])
    assert np.array_equal(np.isnan(back), np.isnan(rho)) and np.allclose(np.nan_to_num(back), np.nan_to_num(rho))
    best = best_per_feature(rho, ["a", "b"])
    assert best["best_target"].tolist() == ["a", "b", "b"] and best["rho"].tolist() == [0.5, -0.7, 0.2]


def test_vote_columns_and_their_errors():
    labels = pd.DataFrame({"object_id": ["a", "b"], "bar__yes_fraction": [0.1, 0.2], "bar__yes_count": [1, 2],
                           "bulge_fraction": [0.3, 0.4], "redshift": [0.1, 0.2]})
    assert vote_fraction_columns(labels) == ["bar__yes_fraction"]  # bulge_fraction is not a vote
    names, matrix = alignment_targets(labels)
    assert names == ["bar__yes_fraction", "redshift"] and matrix.shape == (2, 2)
    with pytest.raises(DataError, match="labels.votes: column 'merger__yes_fraction'"):
        vote_fraction_columns(labels, ["merger__yes_fraction"])
    assert vote_fraction_columns(labels[["object_id", "redshift"]]) == []  # no votes: nothing to align with
    assert vote_fraction_columns(labels, ()) == []
    names, matrix = alignment_targets(labels, (), None)
    assert names == [] and matrix.shape == (2, 0)
    with pytest.raises(DataError, match="no object_id"):
        labels_for(["a"], labels.drop(columns="object_id"))
    with pytest.raises(DataError, match="no object_id of the embeddings"):
        labels_for(["x", "y"], labels)
    aligned = labels_for(["b", "zz", "a"], labels)
    assert aligned["object_id"].tolist() == ["b", "zz", "a"] and np.isnan(aligned.loc[1, "redshift"])


def test_pca_on_planted_low_rank_data():
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(10, 10)))[0][:3]
    data = rng.normal(size=(500, 3)) * np.array([5.0, 2.0, 1.0]) @ basis + 1e-3 * rng.normal(size=(500, 10))
    result = fit_pca(data[:400], data, n_components=4)
    assert result.scores.shape == (500, 4) and len(result.explained_variance_ratio) == 10
    assert result.explained_variance_ratio[:3].sum() > 0.999
    assert abs(abs(result.components[0] @ basis[0]) - 1) < 1e-3
    assert components_for_fraction(result.explained_variance_ratio, 0.5) == 1
    assert components_for_fraction(np.array([0.5, 0.3, 0.2]), 0.8) == 2
    with pytest.raises(DataError):
        fit_pca(data[:1], data, 2)


def test_component_extremes_by_hand():
    scores = np.array([[0.0, 5.0], [3.0, -1.0], [-2.0, 0.0], [1.0, 2.0]])
    negative, positive = component_extremes(scores, 2)
    assert negative.tolist() == [[2, 0], [1, 2]] and positive.tolist() == [[1, 3], [0, 3]]
    negative, positive = component_extremes(scores, 1, candidates=np.array([True, False, False, True]))
    assert negative.tolist() == [[0], [3]] and positive.tolist() == [[3], [0]]
    with pytest.raises(DataError):
        component_extremes(scores, 5)


def test_metrics_frame_is_tidy():
    frame = metrics_frame("simclr", 42, [("sae", 10, "test", "fvu", 0.25)])
    assert tuple(frame.columns) == METRIC_COLUMNS
    assert frame.iloc[0].tolist() == ["simclr", "sae", 10, 42, "test", "fvu", 0.25]


def test_settings_defaults_match_the_schema_and_cross_checks():
    config = validate_config({"seed": 1, "surveys": {"sdss": {"provider": "mock", "instrument": "sdss",
                                                              "bands": ["g", "r", "i"], "pixel_scale_arcsec": 0.4}}})
    assert MapsSettings.from_section(config["maps"]) == MapsSettings()
    with pytest.raises(ConfigError, match="maps.sae.k must be <="):
        MapsSettings.from_section({"sae": {"groups": [2, 2], "k": 5}})
    with pytest.raises(ConfigError, match="unknown key 'kk' in maps.sae"):
        MapsSettings.from_section({"sae": {"kk": 5}})
    with pytest.raises(ConfigError, match="maps.pca.n_show"):
        MapsSettings.from_section({"pca": {"n_components": 2, "n_show": 3}})
    bad = dict(config, maps={"stationarity": {"noise_scale": [3.0, 1.0]}})
    with pytest.raises(ConfigError, match="maps.stationarity.noise_scale"):
        validate_config(bad)
