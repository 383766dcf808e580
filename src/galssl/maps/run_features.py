"""The PCA and sparse-autoencoder stages: fit on the train split, score alignment on the test split, write tables
and metrics under ``results/{survey}/{embedding}/maps/`` (the figures are drawn from them: ``galssl.maps.figure_data``,
``galssl.plots.maps_pca``, ``galssl.plots.maps_sae``).

Fitting uses the train split only (the SAE keeps the epoch with the best validation FVU); every reported number
(FVU, Spearman ρ) is on the test split; ``dead_fraction`` counts latents that fire on no object at all.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from galssl.io import atomic_path, write_parquet_atomic
from galssl.maps.align import (
    ALIGNED,
    TRUTH_PREFIX,
    alignment_table,
    best_per_feature,
    best_per_target,
    spearman_alignment,
)
from galssl.maps.inputs import MapInputs, metrics_frame
from galssl.maps.pca import component_extremes, components_for_fraction, fit_pca
from galssl.maps.sae import encode, group_of_latents, prefix_fvu, train_sae
from galssl.maps.settings import MapsSettings


def alignment_rows(family: str, rho: np.ndarray, target_names: Sequence[str], redshift_column: str | None,
                   n_labels: int) -> list[tuple[str, int, str, str, float]]:
    """Metrics rows of one feature family: max |ρ| per vote fraction (median, top) and per feature (median, share
    above 0.5), each target's best |ρ| (votes, redshift, ``truth:`` columns), and the same summaries over the truth
    columns (task ``<family>:truth``) when there are any."""
    truth = np.array([name.startswith(TRUTH_PREFIX) for name in target_names], dtype=bool)
    votes = np.array([name != redshift_column for name in target_names], dtype=bool) & ~truth
    per_target = best_per_target(rho)

    def summary(values: np.ndarray, how) -> float:
        values = values[np.isfinite(values)]
        return float(how(values)) if len(values) else float("nan")

    def per_feature(mask: np.ndarray) -> np.ndarray:
        best = best_per_feature(rho[:, mask], [n for n, m in zip(target_names, mask) if m])["max_abs_rho"].to_numpy()
        return best[np.isfinite(best)]

    scored = per_feature(votes)
    rows = [(f"{family}:median_over_votes", n_labels, "test", "spearman_max_abs",
             summary(per_target[votes], np.median)),
            (f"{family}:top", n_labels, "test", "spearman_max_abs", summary(per_target[votes], np.max)),
            (f"{family}:median_over_features", n_labels, "test", "spearman_max_abs", summary(scored, np.median)),
            (family, n_labels, "test", "fraction_features_aligned",
             float((scored > ALIGNED).mean()) if len(scored) else float("nan")),
            (family, n_labels, "test", "n_features_scored", float(len(scored)))]
    if truth.any():
        scored_truth = per_feature(truth)
        rows += [(f"{family}:truth:median_over_columns", n_labels, "test", "spearman_max_abs",
                  summary(per_target[truth], np.median)),
                 (f"{family}:truth:top", n_labels, "test", "spearman_max_abs", summary(per_target[truth], np.max)),
                 (f"{family}:truth", n_labels, "test", "fraction_features_aligned",
                  float((scored_truth > ALIGNED).mean()) if len(scored_truth) else float("nan"))]
    rows += [(f"{family}:{name}", n_labels, "test", "spearman_max_abs", float(value))
             for name, value in zip(target_names, per_target)]
    return rows


def _alignment(inputs: MapInputs, features: np.ndarray, rows: np.ndarray,
               min_shared: int) -> tuple[list[str], np.ndarray]:
    """(names, (F, T) ρ) against the vote fractions, the redshift and the truth columns, on ``rows``."""
    names = list(inputs.target_names) + list(inputs.truth_names)
    targets = np.column_stack([inputs.targets, inputs.truth]) if inputs.truth_names else inputs.targets
    return names, spearman_alignment(features[rows], targets[rows], min_shared)


def _n_labelled(inputs: MapInputs, rows: np.ndarray) -> int:
    return int(np.isfinite(inputs.targets[rows]).any(1).sum())


def run_pca(inputs: MapInputs, settings: MapsSettings, seed: int, out_dir: str | os.PathLike) -> pd.DataFrame:
    """PCA stage: pca_scores / pca_variance / pca_alignment / pca_extremes / pca_metrics tables."""
    out = Path(out_dir)
    result = fit_pca(inputs.vectors[inputs.rows("train")], inputs.vectors, settings.pca.n_components)
    test = inputs.rows("test")
    names, rho = _alignment(inputs, result.scores, test, settings.min_shared_nonzero)
    scores = pd.DataFrame(result.scores.astype(np.float32),
                          columns=[f"pc_{i + 1:02d}" for i in range(result.scores.shape[1])])
    scores.insert(0, "object_id", inputs.object_ids)
    scores.insert(1, "split", inputs.split)
    write_parquet_atomic(scores, out / "pca_scores.parquet")
    write_parquet_atomic(pd.DataFrame({"component": np.arange(1, len(result.explained_variance_ratio) + 1),
                                       "explained_variance_ratio": result.explained_variance_ratio}),
                         out / "pca_variance.parquet")
    write_parquet_atomic(alignment_table(rho, names, "pca"), out / "pca_alignment.parquet")
    shown = result.scores[:, : settings.pca.n_show]
    write_parquet_atomic(extremes_table(shown, settings.pca.n_extreme, inputs), out / "pca_extremes.parquet")
    n_labels = _n_labelled(inputs, test)
    metrics = alignment_rows("pca", rho, names, settings.redshift_column, n_labels)
    n_train = int(inputs.rows("train").sum())
    metrics += [("pca", n_train, "train", f"components_for_{int(f * 100)}pct_variance",
                 float(components_for_fraction(result.explained_variance_ratio, f))) for f in (0.5, 0.9)]
    frame = metrics_frame(inputs.embedding, seed, metrics)
    write_parquet_atomic(frame, out / "pca_metrics.parquet")
    return frame


def extremes_table(scores: np.ndarray, n: int, inputs: MapInputs) -> pd.DataFrame:
    """The ``n`` galaxies at each end of every component of ``scores`` (N, K): component (1-based), end
    (``negative``, ``positive``), rank (1 = most extreme), object_id, score."""
    negative, positive = component_extremes(scores, n, inputs.is_galaxy)
    rows = [(component + 1, end, rank + 1, inputs.object_ids[index], float(scores[index, component]))
            for end, chosen in (("negative", negative), ("positive", positive))
            for component in range(len(chosen)) for rank, index in enumerate(chosen[component])]
    return pd.DataFrame(rows, columns=["component", "end", "rank", "object_id", "score"]).sort_values(
        ["component", "end", "rank"], kind="stable").reset_index(drop=True)


def save_sae(path: str | os.PathLike, model, history) -> None:
    """The trained SAE as plain tensors and numbers (loads with ``torch.load(weights_only=True)``)."""
    payload = {"format": "galssl-sae-v1", "groups": list(model.groups), "k": model.k,
               "state_dict": {key: value.detach().cpu().clone() for key, value in model.state_dict().items()},
               "train_loss": history.train_loss, "val_fvu": history.val_fvu, "best_epoch": history.best_epoch}
    with atomic_path(path, suffix=".tmp.pt") as tmp:
        torch.save(payload, tmp)


def run_sae(inputs: MapInputs, settings: MapsSettings, seed: int, out_dir: str | os.PathLike) -> pd.DataFrame:
    """SAE stage: sae.pt, sparse activations (object_id, feature, activation; objects in the embeddings' order),
    per-feature table, alignment and metrics."""
    out = Path(out_dir)
    torch.manual_seed(seed)
    model, history = train_sae(inputs.vectors[inputs.rows("train")], settings.sae, seed,
                               val=inputs.vectors[inputs.rows("val")])
    save_sae(out / "sae.pt", model, history)
    codes = encode(model, inputs.vectors)
    test = inputs.rows("test")
    names, rho = _alignment(inputs, codes, test, settings.min_shared_nonzero)
    votes = len(inputs.target_names)
    objects, features = np.nonzero(codes)
    write_parquet_atomic(pd.DataFrame({"object_id": np.asarray(inputs.object_ids, dtype=object)[objects],
                                       "feature": features.astype(np.int32),
                                       "activation": codes[objects, features].astype(np.float32)}),
                         out / "sae_activations.parquet")
    best = best_per_feature(rho[:, :votes], inputs.target_names)
    truth = best_per_feature(rho[:, votes:], [name[len(TRUTH_PREFIX):] for name in names[votes:]])
    table = pd.DataFrame({"feature": np.arange(model.n_latents), "group": group_of_latents(model.groups),
                          "frequency": (codes > 0).mean(0),
                          "mean_activation": codes.sum(0) / np.maximum((codes > 0).sum(0), 1),
                          "max_abs_rho": best["max_abs_rho"], "best_target": best["best_target"], "rho": best["rho"],
                          "truth_max_abs_rho": truth["max_abs_rho"], "best_truth": truth["best_target"],
                          "truth_rho": truth["rho"]})
    write_parquet_atomic(table, out / "sae_features.parquet")
    write_parquet_atomic(alignment_table(rho, names, "sae"), out / "sae_alignment.parquet")
    prefixes = prefix_fvu(model, inputs.vectors[test])
    n_test = int(test.sum())
    metrics = [("sae", n_test, "test", "fvu", float(prefixes[-1])),
               ("sae", len(codes), "all", "dead_fraction", float((table["frequency"] == 0).mean())),
               ("sae", n_test, "test", "l0", float((codes[test] > 0).sum(1).mean()))]
    # Throughput is a measurement of the machine, not of the embedding: the log and benchmarks/maps.py report it,
    # the metrics table stays byte-identical between runs.
    print(f"SAE training: {history.samples_per_second:.0f} samples/s")
    metrics += [(f"sae:prefix_{m + 1}_of_{len(prefixes)}", n_test, "test", "fvu", float(v))
                for m, v in enumerate(prefixes)]
    metrics += alignment_rows("sae", rho, names, settings.redshift_column, _n_labelled(inputs, test))
    frame = metrics_frame(inputs.embedding, seed, metrics)
    write_parquet_atomic(frame, out / "sae_metrics.parquet")
    return frame
