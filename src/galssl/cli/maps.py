"""Verbs of the maps stage: PCA, sparse autoencoder, SAE-vs-PCA alignment figure, UMAP maps and stationarity."""

from __future__ import annotations

import argparse
import json


def _settings(args: argparse.Namespace):
    from galssl.labelspec import labels_from_cli
    from galssl.maps.settings import MapsSettings

    return MapsSettings.from_dict(json.loads(args.maps), labels_from_cli(args.labels_config))


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


def cmd_maps_pca(args: argparse.Namespace) -> None:
    from galssl.data import load_manifest
    from galssl.maps.run_features import run_pca

    _threads(args)
    settings = _settings(args)
    bands = load_manifest(args.manifest)["bands"]
    _print_metrics(run_pca(_inputs(args, settings), settings, args.seed, args.out_dir, args.shards, bands, _instrument(args)))


def cmd_maps_sae(args: argparse.Namespace) -> None:
    from galssl.data import load_manifest
    from galssl.maps.run_features import run_sae

    _threads(args)
    settings = _settings(args)
    bands = load_manifest(args.manifest)["bands"]
    _print_metrics(run_sae(_inputs(args, settings), settings, args.seed, args.out_dir, args.shards, bands, _instrument(args)))


def cmd_maps_alignment(args: argparse.Namespace) -> None:
    from galssl.maps.run_features import run_alignment_figure

    settings = _settings(args)
    run_alignment_figure(args.pca, args.sae, settings.redshift_column, args.title, args.out)
    print(f"alignment figure -> {args.out}")


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
    frame = run_umap(_inputs(args, settings), settings, args.seed, args.out_dir, args.shards, args.manifest,
                     _instrument(args), encoder, args.pixel_umap, args.pixel_paths)
    _print_metrics(frame)


def _common(p: argparse.ArgumentParser, embeddings: bool = True) -> None:
    from galssl.labelspec import add_labels_argument

    if embeddings:
        p.add_argument("--embeddings", required=True, help="results/{survey}/{embedding}/embeddings.parquet")
        p.add_argument("--name", help="embedding name in tables and titles (default: the embeddings file's folder)")
    p.add_argument("--catalog", required=True, help="catalogue with object_id and split")
    p.add_argument("--labels", help="label table joined on object_id (vote fractions, redshift); none = unlabelled")
    add_labels_argument(p)
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--maps", default="{}", help="the maps config section as JSON (default: built-in defaults)")
    p.add_argument("--survey-config", help="the surveys.<name> section as JSON (colour composite bands)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--threads", type=int, default=1)


def register(verbs: argparse._SubParsersAction) -> None:
    """Add this group's verbs to the `galssl` parser."""
    from galssl.labelspec import add_labels_argument

    p = verbs.add_parser("maps-pca", help="PCA of an embedding: variance, component extremes, Spearman heat map")
    _common(p)
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_maps_pca)

    p = verbs.add_parser("maps-sae", help="Matryoshka BatchTopK sparse autoencoder on an embedding, aligned with labels")
    _common(p)
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_maps_sae)

    p = verbs.add_parser("maps-alignment", help="headline figure: SAE vs PCA alignment with vote fractions")
    p.add_argument("--pca", required=True, help="pca_alignment.parquet")
    p.add_argument("--sae", required=True, help="sae_alignment.parquet")
    p.add_argument("--maps", default="{}")
    add_labels_argument(p)
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_maps_alignment)

    p = verbs.add_parser("maps-pixel-stationarity", help="pixel-space UMAP and stationarity paths (once per survey)")
    _common(p, embeddings=False)
    p.add_argument("--crop", type=int, required=True, help="centre crop (px) of the pixels, as the encoders see them")
    p.add_argument("--out-umap", required=True)
    p.add_argument("--out-paths", required=True)
    p.set_defaults(func=cmd_maps_pixel_stationarity)

    p = verbs.add_parser("maps-umap", help="UMAP of an embedding: thumbnail map, label scatters, stationarity")
    _common(p)
    p.add_argument("--ckpt", help="the embedding's encoder.ckpt (for the stationarity copies)")
    p.add_argument("--timm", help="timm model name, for an external embedding without a checkpoint")
    p.add_argument("--weights", help="local weights for --timm")
    p.add_argument("--crop", type=int, help="input size for --timm (default: the cutout size)")
    p.add_argument("--pixel-umap", required=True, help="results/{survey}/maps/pixel_umap.parquet")
    p.add_argument("--pixel-paths", required=True, help="results/{survey}/maps/pixel_stationarity.parquet")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_maps_umap)
