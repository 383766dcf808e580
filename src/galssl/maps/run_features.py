"""The PCA and sparse-autoencoder stages: fit on the train split, score alignment on the test split, write tables,
figures and metrics under ``results/{survey}/{embedding}/maps/``.

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

from galssl.display import shards_are_display
from galssl.io import atomic_path, save_figure_atomic, write_parquet_atomic
from galssl.maps.align import (TRUTH_PREFIX, alignment_table, best_per_feature, best_per_target, rho_matrix,
                               spearman_alignment)
from galssl.maps.inputs import MapInputs, metrics_frame
from galssl.maps.pca import component_extremes, components_for_fraction, fit_pca
from galssl.maps.sae import encode, group_of_latents, prefix_fvu, train_sae
from galssl.maps.settings import MapsSettings
from galssl.shards import read_images_for

ALIGNED = 0.5
"""|ρ| above which a feature counts as aligned with a label (the acceptance threshold)."""


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
    rows = [(f"{family}:median_over_votes", n_labels, "test", "spearman_max_abs", summary(per_target[votes], np.median)),
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


def _alignment(inputs: MapInputs, features: np.ndarray, rows: np.ndarray, min_shared: int) -> tuple[list[str], np.ndarray]:
    """(names, (F, T) ρ) against the vote fractions, the redshift and the truth columns, on ``rows``."""
    names = list(inputs.target_names) + list(inputs.truth_names)
    targets = np.column_stack([inputs.targets, inputs.truth]) if inputs.truth_names else inputs.targets
    return names, spearman_alignment(features[rows], targets[rows], min_shared)


def _n_labelled(inputs: MapInputs, rows: np.ndarray) -> int:
    return int(np.isfinite(inputs.targets[rows]).any(1).sum())


def run_pca(inputs: MapInputs, settings: MapsSettings, seed: int, out_dir: str | os.PathLike, shards: list[str],
            bands: Sequence[str], instrument: str) -> pd.DataFrame:
    """PCA stage: pca_scores / pca_variance / pca_alignment / pca_metrics tables and three figures (two when there is
    no vote fraction or redshift to draw the Spearman heat map of)."""
    from galssl.plots.maps_pca import extremes_figure, spearman_heatmap, variance_figure

    out = Path(out_dir)
    title = f"{inputs.embedding}"
    result = fit_pca(inputs.vectors[inputs.rows("train")], inputs.vectors, settings.pca.n_components)
    test = inputs.rows("test")
    names, rho = _alignment(inputs, result.scores, test, settings.min_shared_nonzero)
    votes = len(inputs.target_names)  # the heat map shows votes and redshift; the truth columns go to the tables
    scores = pd.DataFrame(result.scores.astype(np.float32), columns=[f"pc_{i + 1:02d}" for i in range(result.scores.shape[1])])
    scores.insert(0, "object_id", inputs.object_ids)
    scores.insert(1, "split", inputs.split)
    write_parquet_atomic(scores, out / "pca_scores.parquet")
    write_parquet_atomic(pd.DataFrame({"component": np.arange(1, len(result.explained_variance_ratio) + 1),
                                       "explained_variance_ratio": result.explained_variance_ratio}),
                         out / "pca_variance.parquet")
    write_parquet_atomic(alignment_table(rho, names, "pca"), out / "pca_alignment.parquet")
    save_figure_atomic(variance_figure(result.explained_variance_ratio, f"{title}: PCA explained variance (train split)"),
                       out / "pca_variance.png")
    if inputs.target_names:  # nothing to correlate with (no votes, no redshift): no heat map
        save_figure_atomic(spearman_heatmap(rho[:, :votes], inputs.target_names, f"{title}: Spearman ρ of principal "
                                            "components with vote fractions and redshift (test split)"),
                           out / "pca_spearman.png")
    shown = result.scores[:, : settings.pca.n_show]
    negative, positive = component_extremes(shown, settings.pca.n_extreme, inputs.is_galaxy)
    rows = np.unique(np.concatenate([negative.ravel(), positive.ravel()]))
    images = read_images_for(shards, [inputs.object_ids[i] for i in rows])
    save_figure_atomic(extremes_figure(images, negative, positive, shown, result.explained_variance_ratio, bands,
                                       instrument, f"{title}: galaxies at the ends of the top principal components",
                                       shards_are_display(shards)),
                       out / "pca_extremes.png", dpi=110)
    n_labels = _n_labelled(inputs, test)
    metrics = alignment_rows("pca", rho, names, settings.redshift_column, n_labels)
    n_train = int(inputs.rows("train").sum())
    metrics += [("pca", n_train, "train", f"components_for_{int(f * 100)}pct_variance",
                 float(components_for_fraction(result.explained_variance_ratio, f))) for f in (0.5, 0.9)]
    frame = metrics_frame(inputs.embedding, seed, metrics)
    write_parquet_atomic(frame, out / "pca_metrics.parquet")
    return frame


def save_sae(path: str | os.PathLike, model, history) -> None:
    """The trained SAE as plain tensors and numbers (loads with ``torch.load(weights_only=True)``)."""
    payload = {"format": "galssl-sae-v1", "groups": list(model.groups), "k": model.k,
               "state_dict": {key: value.detach().cpu().clone() for key, value in model.state_dict().items()},
               "train_loss": history.train_loss, "val_fvu": history.val_fvu, "best_epoch": history.best_epoch}
    with atomic_path(path, suffix=".tmp.pt") as tmp:
        torch.save(payload, tmp)


def run_sae(inputs: MapInputs, settings: MapsSettings, seed: int, out_dir: str | os.PathLike, shards: list[str],
            bands: Sequence[str], instrument: str) -> pd.DataFrame:
    """SAE stage: sae.pt, sparse activations, per-feature table, alignment, metrics and two galaxy-grid figures (the
    label-aligned one only when there are votes or a redshift to align with)."""
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
    _sae_figures(inputs, settings, codes, table, out, shards, bands, instrument)
    prefixes = prefix_fvu(model, inputs.vectors[test])
    n_test = int(test.sum())
    metrics = [("sae", n_test, "test", "fvu", float(prefixes[-1])),
               ("sae", len(codes), "all", "dead_fraction", float((table["frequency"] == 0).mean())),
               ("sae", n_test, "test", "l0", float((codes[test] > 0).sum(1).mean()))]
    # Throughput is a measurement of the machine, not of the embedding: the log and benchmarks/maps.py report it,
    # the metrics table stays byte-identical between runs.
    print(f"SAE training: {history.samples_per_second:.0f} samples/s")
    metrics += [(f"sae:prefix_{m + 1}_of_{len(prefixes)}", n_test, "test", "fvu", float(v)) for m, v in enumerate(prefixes)]
    metrics += alignment_rows("sae", rho, names, settings.redshift_column, _n_labelled(inputs, test))
    frame = metrics_frame(inputs.embedding, seed, metrics)
    write_parquet_atomic(frame, out / "sae_metrics.parquet")
    return frame


def _sae_figures(inputs: MapInputs, settings: MapsSettings, codes: np.ndarray, table: pd.DataFrame, out: Path,
                 shards: list[str], bands: Sequence[str], instrument: str) -> None:
    """Top-activating galaxies of the most frequent features and of the most label-aligned ones."""
    from galssl.plots.maps_pca import short_target
    from galssl.plots.maps_sae import top_activating_figure
    from galssl.plots.maps_thumbnails import ThumbnailRow, composites

    n_show, n_top = settings.sae.n_show, settings.sae.n_top_galaxies
    frequent = table.sort_values(["frequency", "feature"], ascending=[False, True]).head(n_show)
    # The best latent of each of the most strongly aligned labels (not six latents of the same label).
    aligned = (table[np.isfinite(table["max_abs_rho"])].sort_values(["max_abs_rho", "feature"], ascending=[False, True])
               .drop_duplicates("best_target").head(n_show))
    top = {int(f): [i for i in np.argsort(-codes[:, int(f)], kind="stable")[:n_top] if codes[i, int(f)] > 0]
           for f in pd.concat([frequent["feature"], aligned["feature"]])}
    wanted = sorted({i for rows in top.values() for i in rows})
    rgb = dict(zip(wanted, composites(read_images_for(shards, [inputs.object_ids[i] for i in wanted]), bands, instrument,
                                            shards_are_display(shards))
                   if wanted else []))
    figures = [("sae_frequent.png", frequent, "most frequent")]
    if inputs.target_names:
        figures.append(("sae_aligned.png", aligned, "most label-aligned"))
    for name, chosen, heading in figures:
        rows = []
        for feature in chosen.itertuples(index=False):
            label = f"latent {feature.feature} (group {feature.group + 1})\nfires on {feature.frequency:.1%}"
            if np.isfinite(feature.max_abs_rho):
                label += f"\nρ={feature.rho:+.2f} with\n" + short_target(feature.best_target).replace(": ", ":\n")
            shown = top[int(feature.feature)]
            rows.append(ThumbnailRow(label, [rgb[i] for i in shown], [f"{codes[i, int(feature.feature)]:.2g}" for i in shown]))
        if not rows:
            rows = [ThumbnailRow("no latent qualifies", [], [])]
        save_figure_atomic(top_activating_figure(rows, f"{inputs.embedding}: top-activating galaxies of the {heading} "
                                                 "SAE latents (activation under each)"), out / name, dpi=110)


def run_alignment_figure(pca_alignment: str | os.PathLike, sae_alignment: str | os.PathLike,
                         redshift_column: str | None, title: str, out: str | os.PathLike) -> None:
    """The headline figure: SAE vs PCA alignment with the vote fractions (and the truth columns, when the tables have
    them), from the two alignment tables."""
    from galssl.plots.maps_sae import alignment_figure

    tables = {family: pd.read_parquet(path) for family, path in (("pca", pca_alignment), ("sae", sae_alignment))}
    targets = {t for table in tables.values() for t in table["target"]} - {redshift_column}
    truth = sorted(t for t in targets if t.startswith(TRUTH_PREFIX))
    votes = sorted(targets - set(truth))
    per_feature, per_vote, per_truth = {}, {}, {}
    for family, table in tables.items():
        n_features = int(table["feature"].max()) + 1 if len(table) else 0
        rho = rho_matrix(table, n_features, votes)
        per_feature[family] = best_per_feature(rho, votes)["max_abs_rho"].to_numpy()
        per_vote[family] = best_per_target(rho) if n_features else np.full(len(votes), np.nan)
        per_truth[family] = best_per_target(rho_matrix(table, n_features, truth)) if n_features \
            else np.full(len(truth), np.nan)
    save_figure_atomic(alignment_figure(per_feature["pca"], per_feature["sae"], per_vote["pca"], per_vote["sae"], votes,
                                        title, ALIGNED, truth_names=[t[len(TRUTH_PREFIX):] for t in truth],
                                        pca_truth_best=per_truth["pca"], sae_truth_best=per_truth["sae"]), out)
