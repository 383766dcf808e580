"""Verbs of the maps stage. Compute (tables only): PCA, sparse autoencoder, pixel-space UMAP, UMAP of an embedding.
Draw (figures from those tables): PCA figures, SAE figures, SAE-vs-PCA alignment, UMAP figures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _settings(args: argparse.Namespace):
    from galssl.labelspec import labels_from_cli
    from galssl.maps.settings import MapsSettings

    return MapsSettings.from_section(json.loads(args.maps), labels_from_cli(args.labels_config))


def _instrument(args: argparse.Namespace) -> str:
    from galssl.cli.training import _instrument as instrument_of

    return instrument_of(json.loads(args.survey_config)) if args.survey_config else ""


def _inputs(args: argparse.Namespace, settings):
    from galssl.maps.inputs import load_inputs

    return load_inputs(args.embeddings, args.catalog, args.labels, settings, args.name)


def _threads(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(max(1, args.threads))


def _print_metrics(frame) -> None:
    for row in frame.itertuples(index=False):
        if ":" not in row.task or row.task.endswith(("median_over_votes", ":top")):
            print(f"{row.method} {row.task} {row.split} {row.metric} = {row.value:.4g}")


def _look(args: argparse.Namespace) -> tuple[list[str], str, bool]:
    """(bands, instrument, display) of the survey: how its cutouts become colour composites."""
    from galssl.data import load_manifest
    from galssl.display import shards_are_display

    return list(load_manifest(args.manifest)["bands"]), _instrument(args), shards_are_display(args.shards)


def cmd_maps_pca(args: argparse.Namespace) -> None:
    from galssl.maps.run_features import run_pca

    _threads(args)
    settings = _settings(args)
    _print_metrics(run_pca(_inputs(args, settings), settings, args.seed, args.out_dir))


def cmd_maps_sae(args: argparse.Namespace) -> None:
    from galssl.maps.run_features import run_sae

    _threads(args)
    settings = _settings(args)
    _print_metrics(run_sae(_inputs(args, settings), settings, args.seed, args.out_dir))


def cmd_maps_pixel_stationarity(args: argparse.Namespace) -> None:
    from galssl.maps.run_umap import run_pixel_stationarity

    _threads(args)
    score = run_pixel_stationarity(args.shards, args.manifest, args.catalog, args.labels, _settings(args), args.crop,
                                   args.seed, args.out_umap, args.out_paths)
    print(f"pixel UMAP stationarity = {score:.4g}")


def cmd_maps_umap(args: argparse.Namespace) -> None:
    from galssl.data import load_manifest
    from galssl.maps.run_umap import load_encoder_for_maps, run_umap

    _threads(args)
    settings = _settings(args)
    manifest = load_manifest(args.manifest)
    encoder = load_encoder_for_maps(args.ckpt, args.timm, args.weights, args.crop, len(manifest["bands"]),
                                    int(manifest["image_shape"][-1]))
    _print_metrics(run_umap(_inputs(args, settings), settings, args.seed, args.out_dir, args.shards, args.manifest,
                            encoder, args.pixel_paths))


def cmd_maps_pca_figures(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.maps.figure_data import pca_figure_data
    from galssl.plots.maps_pca import extremes_figure, spearman_heatmap, variance_figure

    out = Path(args.maps_dir)
    data = pca_figure_data(out, args.labels, _settings(args), args.shards)
    bands, instrument, display = _look(args)
    save_figure_atomic(variance_figure(data.explained_variance_ratio, data.variance_marks,
                                       f"{data.embedding}: PCA explained variance (train split)"),
                       out / "pca_variance.png")
    if data.target_names:  # nothing to correlate with (no votes, no redshift): no heat map
        save_figure_atomic(spearman_heatmap(data.rho, data.target_names, f"{data.embedding}: Spearman ρ of principal "
                                            "components with vote fractions and redshift (test split)"),
                           out / "pca_spearman.png")
    save_figure_atomic(extremes_figure(data.extremes, data.images, data.explained_variance_ratio, bands, instrument,
                                       f"{data.embedding}: galaxies at the ends of the top principal components",
                                       display), out / "pca_extremes.png", dpi=110)
    print(f"PCA figures -> {out}")


def cmd_maps_sae_figures(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.maps.figure_data import sae_figure_data
    from galssl.plots.maps_sae import top_activating_figure

    out = Path(args.maps_dir)
    embedding, figures, images = sae_figure_data(out, args.labels, _settings(args), args.shards)
    bands, instrument, display = _look(args)
    for figure in figures:
        title = f"{embedding}: top-activating galaxies of the {figure.heading} SAE latents (activation under each)"
        save_figure_atomic(top_activating_figure(figure.latents, figure.top, images, bands, instrument, title, display),
                           out / figure.name, dpi=110)
    print(f"SAE figures -> {out}")


def cmd_maps_alignment(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.maps.align import ALIGNED
    from galssl.maps.figure_data import alignment_summary
    from galssl.plots.maps_sae import alignment_figure

    summary = alignment_summary(args.pca, args.sae, _settings(args).redshift_column)
    save_figure_atomic(alignment_figure(summary.per_feature["pca"], summary.per_feature["sae"], summary.per_vote["pca"],
                                        summary.per_vote["sae"], summary.vote_names, args.title, ALIGNED,
                                        truth_names=summary.truth_names, pca_truth_best=summary.per_truth["pca"],
                                        sae_truth_best=summary.per_truth["sae"]), args.out)
    print(f"alignment figure -> {args.out}")


def cmd_maps_umap_figures(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.maps.figure_data import umap_figure_data
    from galssl.plots.maps_thumbnails import composites
    from galssl.plots.maps_umap import object_classes, scatter_figure, stationarity_figure, thumbnail_map_figure

    out = Path(args.maps_dir)
    settings = _settings(args)
    data = umap_figure_data(out, args.pixel_umap, args.labels, settings, args.shards)
    bands, instrument, display = _look(args)
    save_figure_atomic(thumbnail_map_figure(data.cells, composites(data.thumbnails, bands, instrument, display),
                                            f"{data.embedding}: UMAP thumbnail map ({len(data.cells)} cells, one "
                                            f"random object each, its {data.crop}-px centre crop)"),
                       out / "umap_map.png", dpi=140)
    save_figure_atomic(scatter_figure(data.coords, object_classes(data.labels, settings.class_name_column),
                                      data.scatter_values, data.scatter_names,
                                      f"{data.embedding}: UMAP coloured by {data.coloured_by}"),
                       out / "umap_scatter.png", dpi=110)
    save_figure_atomic(stationarity_figure(data.spaces, f"{data.embedding}: {len(data.galaxies)} test galaxies under "
                                           "rotation, jitter and noise"), out / "stationarity.png")
    print(f"UMAP figures -> {out}")


def _labels(p: argparse.ArgumentParser) -> None:
    from galssl.labelspec import add_labels_argument

    p.add_argument("--labels", help="label table joined on object_id (vote fractions, redshift); none = unlabelled")
    add_labels_argument(p)
    p.add_argument("--maps", default="{}", help="the maps config section as JSON (default: built-in defaults)")


def _compute(p: argparse.ArgumentParser, embeddings: bool = True) -> None:
    if embeddings:
        p.add_argument("--embeddings", required=True, help="results/{survey}/{embedding}/embeddings.parquet")
        p.add_argument("--name", help="embedding name in tables and titles (default: the embeddings file's folder)")
    p.add_argument("--catalog", required=True, help="catalogue with object_id and split")
    _labels(p)
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--threads", type=int, default=1)


def _draw(p: argparse.ArgumentParser) -> None:
    _labels(p)
    p.add_argument("--shards", nargs="+", required=True, help="the shards the thumbnails' cutouts come from")
    p.add_argument("--manifest", required=True)
    p.add_argument("--survey-config", help="the surveys.<name> section as JSON (colour composite bands)")
    p.add_argument("--maps-dir", required=True,
                   help="results/{survey}/{embedding}/maps: the compute rule's tables; the figures are written there")


def register(verbs: argparse._SubParsersAction) -> None:
    """Add this group's verbs to the `galssl` parser."""
    from galssl.labelspec import add_labels_argument

    p = verbs.add_parser("maps-pca", help="PCA of an embedding: scores, variance, alignment and extremes tables")
    _compute(p)
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_maps_pca)

    p = verbs.add_parser("maps-sae", help="Matryoshka BatchTopK sparse autoencoder on an embedding, aligned with "
                                          "labels")
    _compute(p)
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_maps_sae)

    p = verbs.add_parser("maps-pixel-stationarity", help="pixel-space UMAP and stationarity paths (once per survey)")
    _compute(p, embeddings=False)
    p.add_argument("--crop", type=int, required=True, help="centre crop (px) of the pixels, as the encoders see them")
    p.add_argument("--out-umap", required=True)
    p.add_argument("--out-paths", required=True)
    p.set_defaults(func=cmd_maps_pixel_stationarity)

    p = verbs.add_parser("maps-umap", help="UMAP of an embedding: map, thumbnail cells, stationarity paths")
    _compute(p)
    p.add_argument("--ckpt", help="the embedding's encoder.ckpt (for the stationarity copies)")
    p.add_argument("--timm", help="timm model name, for an external embedding without a checkpoint")
    p.add_argument("--weights", help="local weights for --timm")
    p.add_argument("--crop", type=int, help="input size for --timm (default: the cutout size)")
    p.add_argument("--pixel-paths", required=True, help="results/{survey}/maps/pixel_stationarity.parquet")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_maps_umap)

    p = verbs.add_parser("maps-pca-figures", help="PCA figures from maps-pca's tables: variance, Spearman, extremes")
    _draw(p)
    p.set_defaults(func=cmd_maps_pca_figures)

    p = verbs.add_parser("maps-sae-figures", help="top-activating galaxies of SAE latents, from maps-sae's tables")
    _draw(p)
    p.set_defaults(func=cmd_maps_sae_figures)

    p = verbs.add_parser("maps-alignment", help="headline figure: SAE vs PCA alignment with vote fractions")
    p.add_argument("--pca", required=True, help="pca_alignment.parquet")
    p.add_argument("--sae", required=True, help="sae_alignment.parquet")
    p.add_argument("--maps", default="{}")
    add_labels_argument(p)
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_maps_alignment)

    p = verbs.add_parser("maps-umap-figures", help="UMAP figures from maps-umap's tables: thumbnail map, label "
                                                   "scatters, stationarity")
    _draw(p)
    p.add_argument("--pixel-umap", required=True, help="results/{survey}/maps/pixel_umap.parquet (the background)")
    p.set_defaults(func=cmd_maps_umap_figures)
