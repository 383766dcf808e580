"""What the maps figures are drawn from: the stage's tables read back and shaped for ``galssl.plots.maps_*``.

The compute rules (maps_pca, maps_sae, maps_umap) fit and write tables; the figure rules read those tables, the
label table and the galaxies' cutouts from the shards, so a figure is redrawn without refitting anything. Every
function here reads files and returns plain arrays and tables; none draws.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from galssl.errors import DataError
from galssl.figure_panels import StationarityPanel
from galssl.label_table import labels_for, read_labels
from galssl.maps.align import TRUTH_PREFIX, alignment_targets, best_per_feature, best_per_target, rho_matrix
from galssl.maps.paths import read_paths
from galssl.maps.pca import components_for_fraction
from galssl.maps.settings import MapsSettings
from galssl.maps.stationarity import TRANSFORMS
from galssl.shards import read_images_for

VARIANCE_MARKS = (0.5, 0.9, 0.99)
"""Cumulative explained-variance fractions marked on the PCA variance figure."""


def embedding_name(metrics_path: str | os.PathLike) -> str:
    """The embedding a maps folder describes: the ``method`` of its metrics table (the compute rule wrote it)."""
    methods = pd.read_parquet(metrics_path, columns=["method"])["method"].unique()
    if len(methods) != 1:
        raise DataError(f"{metrics_path}: expected the metrics of one embedding (got {len(methods)} methods)")
    return str(methods[0])


def target_names(labels: str | os.PathLike | None, settings: MapsSettings) -> list[str]:
    """The alignment targets the compute rules used (vote fractions, then the redshift), from the label table's
    columns; empty without labels or when it has neither."""
    return alignment_targets(read_labels(labels).head(0), settings.vote_columns, settings.redshift_column)[0]


def images_by_id(shards: Sequence[str], object_ids: Sequence[str]) -> dict[str, np.ndarray]:
    """(bands, H, W) cutout of each object, keyed by object_id."""
    wanted = list(dict.fromkeys(object_ids))
    return dict(zip(wanted, read_images_for(list(shards), wanted))) if wanted else {}


@dataclass(frozen=True)
class PCAFigureData:
    """The PCA figures' inputs: explained variance (all components), the fractions marked and the components each
    needs, the heat map (components × targets ρ, test split), and the extreme galaxies per shown component."""

    embedding: str
    explained_variance_ratio: np.ndarray
    variance_marks: dict[float, int]
    target_names: list[str]
    rho: np.ndarray
    extremes: pd.DataFrame
    images: dict[str, np.ndarray]


def pca_figure_data(maps_dir: str | os.PathLike, labels: str | os.PathLike | None, settings: MapsSettings,
                    shards: Sequence[str]) -> PCAFigureData:
    """Read pca_variance, pca_scores (its columns: how many components were kept), pca_alignment, pca_extremes and
    pca_metrics from ``maps_dir``, and the extreme galaxies' cutouts."""
    out = Path(maps_dir)
    ratio = pd.read_parquet(out / "pca_variance.parquet")["explained_variance_ratio"].to_numpy()
    n_components = sum(name.startswith("pc_") for name in pq.read_schema(out / "pca_scores.parquet").names)
    names = target_names(labels, settings)
    rho = rho_matrix(pd.read_parquet(out / "pca_alignment.parquet"), n_components, names)
    extremes = pd.read_parquet(out / "pca_extremes.parquet")
    return PCAFigureData(embedding_name(out / "pca_metrics.parquet"), ratio,
                         {fraction: components_for_fraction(ratio, fraction) for fraction in VARIANCE_MARKS},
                         names, rho, extremes, images_by_id(shards, extremes["object_id"].tolist()))


@dataclass(frozen=True)
class LatentFigure:
    """One top-activating-galaxies figure: its file name, heading, the latents shown (rows of sae_features) and
    each latent's top galaxies ((object_id, activation), most active first)."""

    name: str
    heading: str
    latents: pd.DataFrame
    top: dict[int, list[tuple[str, float]]]


def top_galaxies(activations: pd.DataFrame, features: Sequence[int], n_top: int) -> dict[int, list[tuple[str, float]]]:
    """The ``n_top`` galaxies with the highest positive activation of each latent; ties keep the table's object
    order (the embeddings' order, as the sparse activation table is written)."""
    top = {}
    for feature in features:
        rows = activations[(activations["feature"] == feature) & (activations["activation"] > 0)]
        rows = rows.iloc[np.argsort(-rows["activation"].to_numpy(), kind="stable")[:n_top]]
        top[int(feature)] = list(zip(rows["object_id"].astype(str), rows["activation"]))
    return top


def sae_figure_data(maps_dir: str | os.PathLike, labels: str | os.PathLike | None, settings: MapsSettings,
                    shards: Sequence[str]) -> tuple[str, list[LatentFigure], dict[str, np.ndarray]]:
    """(embedding, figures, cutouts by object_id): the most frequent latents, and, when there is anything to align
    with, the best latent of each of the most strongly aligned labels (not six latents of the same label)."""
    out = Path(maps_dir)
    table = pd.read_parquet(out / "sae_features.parquet")
    n_show = settings.sae.n_show
    frequent = table.sort_values(["frequency", "feature"], ascending=[False, True]).head(n_show)
    aligned = (table[np.isfinite(table["max_abs_rho"])].sort_values(["max_abs_rho", "feature"], ascending=[False, True])
               .drop_duplicates("best_target").head(n_show))
    top = top_galaxies(pd.read_parquet(out / "sae_activations.parquet"),
                       pd.concat([frequent["feature"], aligned["feature"]]).unique(), settings.sae.n_top_galaxies)
    figures = [LatentFigure("sae_frequent.png", "most frequent", frequent, top)]
    if target_names(labels, settings):
        figures.append(LatentFigure("sae_aligned.png", "most label-aligned", aligned, top))
    wanted = [object_id for galaxies in top.values() for object_id, _ in galaxies]
    return embedding_name(out / "sae_metrics.parquet"), figures, images_by_id(shards, wanted)


@dataclass(frozen=True)
class AlignmentSummary:
    """The SAE-vs-PCA figure's inputs: per family, each feature's best |ρ| over the vote fractions, each vote
    fraction's and each truth column's best |ρ| over the features."""

    vote_names: list[str]
    truth_names: list[str]
    per_feature: dict[str, np.ndarray]
    per_vote: dict[str, np.ndarray]
    per_truth: dict[str, np.ndarray]


def alignment_summary(pca_alignment: str | os.PathLike, sae_alignment: str | os.PathLike,
                      redshift_column: str | None) -> AlignmentSummary:
    """Reduce the two alignment tables (the vote fractions and the truth columns either of them scored)."""
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
    return AlignmentSummary(votes, [t[len(TRUTH_PREFIX):] for t in truth], per_feature, per_vote, per_truth)


@dataclass(frozen=True)
class UMAPFigureData:
    """The UMAP figures' inputs: the map's coordinates, its thumbnail cells with their centre-cropped cutouts, the
    label table in map order with the scatter panels' values, and the pixel and embedding stationarity."""

    embedding: str
    coords: np.ndarray
    cells: pd.DataFrame
    crop: int
    thumbnails: np.ndarray
    labels: pd.DataFrame
    scatter_names: list[str]
    scatter_values: np.ndarray
    coloured_by: str
    galaxies: list[str]
    spaces: list[StationarityPanel]


def umap_figure_data(maps_dir: str | os.PathLike, pixel_umap: str | os.PathLike, labels: str | os.PathLike | None,
                     settings: MapsSettings, shards: Sequence[str]) -> UMAPFigureData:
    """Read umap, umap_cells, stationarity and umap_metrics from ``maps_dir``, the pixel map, the label table and
    the thumbnail galaxies' cutouts (cropped to the centre the encoder saw)."""
    out = Path(maps_dir)
    umap = pd.read_parquet(out / "umap.parquet")
    coords = umap[["x", "y"]].to_numpy()
    cells = pd.read_parquet(out / "umap_cells.parquet")
    crop = int(cells["crop_px"].iloc[0]) if len(cells) else 0
    cutouts = read_images_for(list(shards), cells["object_id"].astype(str).tolist())
    top = max(0, (cutouts.shape[-1] - crop) // 2) if cutouts.ndim == 4 else 0
    table = labels_for(umap["object_id"].astype(str).tolist(), read_labels(labels))
    names, values = scatter_targets(table, settings)
    metrics = pd.read_parquet(out / "umap_metrics.parquet")
    score = dict(zip(metrics.loc[metrics["metric"] == "umap_stationarity", "task"],
                     metrics.loc[metrics["metric"] == "umap_stationarity", "value"]))
    paths = pd.read_parquet(out / "stationarity.parquet")
    pixel = paths[paths["space"] == "pixel"].drop(columns="space")
    galaxies, pixel_reference, pixel_paths = read_paths(pixel)
    _, reference, embedding_paths = read_paths(paths[paths["space"] == "embedding"].drop(columns="space"))
    backgrounds = {"pixel": pd.read_parquet(pixel_umap)[["x", "y"]].to_numpy(), "embedding": coords}
    spaces = [StationarityPanel(f"{space} UMAP", backgrounds[space], ref, path, float(score[space]),
                                {name: float(score[f"{space}:{name}"]) for name in TRANSFORMS})
              for space, ref, path in (("pixel", pixel_reference, pixel_paths),
                                       ("embedding", reference, embedding_paths))]
    coloured_by = "class" + (", " + ", ".join(scatter_kinds(table, settings)) if names else "")
    return UMAPFigureData(embedding_name(out / "umap_metrics.parquet"), coords, cells, crop,
                          cutouts[..., top:top + crop, top:top + crop], table, names, values, coloured_by, galaxies,
                          spaces)


def scatter_targets(labels: pd.DataFrame, settings: MapsSettings) -> tuple[list[str], np.ndarray]:
    """The scatter panels after the class panel: the alignment targets (votes, redshift), then every numeric
    ``labels.extra_columns`` column (a text column is coloured in the explorer, not here)."""
    names, targets = alignment_targets(labels, settings.vote_columns, settings.redshift_column)
    names, columns = list(names), [targets]
    for name in settings.extra_columns:
        if name in labels.columns and name not in names and pd.api.types.is_numeric_dtype(labels[name]):
            names.append(name)
            columns.append(labels[name].to_numpy(dtype=float)[:, None])
    return names, np.concatenate(columns, axis=1) if names else np.zeros((len(labels), 0))


def scatter_kinds(labels: pd.DataFrame, settings: MapsSettings) -> list[str]:
    """What the scatter panels after the class panel show, for the title."""
    targets = alignment_targets(labels.head(0), settings.vote_columns, settings.redshift_column)[0]
    kinds = []
    if any(name != settings.redshift_column for name in targets):
        kinds.append("vote fractions")
    if settings.redshift_column in targets:
        kinds.append("redshift")
    if any(name in labels.columns for name in settings.extra_columns):
        kinds.append("extra labels")
    return kinds
