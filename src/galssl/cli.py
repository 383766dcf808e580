"""``galssl <verb>``: the command line the Snakemake rules call. Argument parsing only; logic lives in modules."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from galssl.errors import GalsslError


def _add_mock_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="config YAML (takes seed and the mock section from it)")
    parser.add_argument("--seed", type=int, help="mock sky seed (overrides --config)")
    parser.add_argument("--mock", help="the mock config section as JSON (overrides --config)")


def _mock_sky(args: argparse.Namespace):
    from galssl.config import load_config
    from galssl.mocksky.settings import MockSettings
    from galssl.mocksky.sky import MockSky

    config = load_config(args.config) if args.config else {}
    section = json.loads(args.mock) if args.mock else config.get("mock", {})
    seed = args.seed if args.seed is not None else config.get("seed")
    if seed is None:
        raise GalsslError("give --seed or --config (the mock sky needs a seed)")
    return MockSky(MockSettings.from_dict(section), int(seed))


def cmd_mock_catalog(args: argparse.Namespace) -> None:
    from galssl.io import write_parquet_atomic
    from galssl.mocksky.catalog import labels_table

    sky = _mock_sky(args)
    labels = labels_table(sky)
    catalog = sky.catalog()
    write_parquet_atomic(labels, args.labels_out)
    write_parquet_atomic(catalog, args.catalog_out)
    counts = labels["object_type"].value_counts().to_dict()
    print(f"mock catalogue: {len(catalog)} objects {counts} -> {args.catalog_out}, {args.labels_out}")


def cmd_mock_gallery(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.plots.gallery import gallery_figure

    figure = gallery_figure(_mock_sky(args))
    save_figure_atomic(figure, args.out, dpi=args.dpi)
    print(f"gallery -> {args.out}")


def cmd_mock_cutout(args: argparse.Namespace) -> None:
    from galssl.mocksky.fits import write_cutouts
    from galssl.mocksky.instruments import load_instrument

    sky = _mock_sky(args)
    if args.id not in sky.object_ids:
        raise GalsslError(f"--id {args.id!r} is not in the mock catalogue (ids run mock000000..{sky.object_ids[-1]})")
    bands = args.bands.split(",") if args.bands else list(load_instrument(args.instrument).bands)
    cutouts = sky.object_cutouts(args.id, args.instrument, bands, args.size_arcsec)
    write_cutouts(args.out, cutouts, args.instrument, args.id, sky.seed)
    print(f"{args.id}: {', '.join(f'{c.band} {c.image.shape[1]}x{c.image.shape[0]}' for c in cutouts)} -> {args.out}")


def cmd_mock_server(args: argparse.Namespace) -> None:
    from galssl.config import load_config
    from galssl.mocksky.server import serve_from_config

    config = load_config(args.config)
    kinds = tuple(k for k in args.fault_kinds.split(",") if k)
    serve_from_config(config, args.port, fault_rate=args.fault_rate, fault_kinds=kinds)


def cmd_catalog(args: argparse.Namespace) -> None:
    from galssl.catalog import normalise_catalog

    section = json.loads(args.catalog)
    table = normalise_catalog(
        args.input, args.out, id_column=section.get("id_column", "object_id"), ra_column=section.get("ra_column", "ra"),
        dec_column=section.get("dec_column", "dec"), split_fractions=section.get("split", {}), seed=args.seed,
        labels_path=section.get("labels"), match_radius_arcsec=float(section.get("match_radius_arcsec", 1.0)))
    print(f"catalogue: {len(table)} objects {table['split'].value_counts().to_dict()} -> {args.out}")


def cmd_ingest_shard(args: argparse.Namespace) -> None:
    import pandas as pd

    from galssl.ingest import SurveySpec, ingest_shard
    from galssl.providers import ProviderContext, create_provider

    section = json.loads(args.survey_config)
    section.setdefault("reproject", args.reproject)
    spec = SurveySpec.from_config(args.survey, section)
    context = ProviderContext(args.survey, args.seed, args.cache, json.loads(args.mock) if args.mock else {})
    provider = create_provider(section, context)
    catalog = pd.read_parquet(args.catalog, columns=["object_id", "ra", "dec", "split"])
    ok, failed = ingest_shard(catalog, spec, provider, args.shard, args.shard_size, args.seed, args.out,
                              args.failures, threads=args.threads)
    print(f"{args.survey} shard {args.shard}: {ok} objects written, {failed} failed -> {args.out}")


def cmd_ingest_manifest(args: argparse.Namespace) -> None:
    from galssl.ingest import SurveySpec, config_hash, write_manifest

    section = json.loads(args.survey_config)
    section.setdefault("reproject", args.reproject)
    spec = SurveySpec.from_config(args.survey, section)
    dataset_hash = config_hash({"seed": args.seed, "survey": section, "catalog": json.loads(args.catalog_config)})
    manifest = write_manifest(spec, args.shards, args.failures, args.manifest_out, args.failures_out, dataset_hash)
    print(f"{args.survey}: {manifest['counts']} -> {args.manifest_out}")


def _instrument(section: dict) -> str:
    """The filter family of a survey section: the mock instrument, else the provider (legacy = DECam)."""
    return section.get("instrument") or {"legacy": "legacy", "sdss": "sdss", "euclid": "euclid"}.get(section["provider"], "sdss")


def cmd_pretrain(args: argparse.Namespace) -> None:
    from pathlib import Path

    from galssl.pretrain import PretrainInputs, run_pretraining

    section = json.loads(args.pretrain)
    inputs = PretrainInputs(survey=args.survey, method=args.method, shards=args.shards, manifest=args.manifest,
                            labels=args.labels, section=section, seed=args.seed, out_dir=Path(args.out_dir),
                            instrument=_instrument(json.loads(args.survey_config)), workers=args.workers)
    import torch

    torch.set_num_threads(max(1, args.threads))
    path = run_pretraining(inputs)
    print(f"{args.survey}/{args.method}: encoder -> {path}")


def cmd_embed(args: argparse.Namespace) -> None:
    import torch

    from galssl.data import load_manifest
    from galssl.embed import embed_with_manifest, timm_encoder

    torch.set_num_threads(max(1, args.threads))
    manifest = load_manifest(args.manifest)
    if args.ckpt:
        from galssl.checkpoint import load_encoder

        method, recipe = load_encoder(args.ckpt)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        method.to(device)
        n = embed_with_manifest(args.manifest, args.shards, method.embed, int(recipe["img_size"]), args.name or recipe["method"],
                                args.out, batch_size=args.batch_size)
    else:
        if not args.timm:
            raise GalsslError("give --ckpt (a galssl encoder.ckpt) or --timm NAME [--weights FILE]")
        crop = args.crop or int(manifest["image_shape"][-1])
        model = timm_encoder(args.timm, len(manifest["bands"]), crop, args.weights)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        model.to(device)
        n = embed_with_manifest(args.manifest, args.shards, model, crop, args.name or f"timm:{args.timm}", args.out,
                                batch_size=args.batch_size)
    print(f"embeddings of {n} objects -> {args.out}")


def cmd_plot_training(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.plots.training import training_curves_figure

    save_figure_atomic(training_curves_figure(args.metrics, args.title), args.out)


def cmd_plot_mae(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.plots.mae import reconstruction_figure

    save_figure_atomic(reconstruction_figure(args.ckpt, args.shards, args.manifest, args.n, args.seed), args.out)


def cmd_plot_augmentations(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.plots.augment import augmentation_figure_from_shards

    section = json.loads(args.pretrain)
    save_figure_atomic(augmentation_figure_from_shards(args.shards, args.manifest, section,
                                                       _instrument(json.loads(args.survey_config)), args.seed), args.out)


def cmd_validate_config(args: argparse.Namespace) -> None:
    from galssl.config import load_config

    load_config(args.config)
    print(f"{args.config}: valid")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every verb."""
    parser = argparse.ArgumentParser(prog="galssl", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser("mock-catalog", help="write the mock catalogue and its labels table (Parquet)")
    _add_mock_args(p)
    p.add_argument("--catalog-out", required=True)
    p.add_argument("--labels-out", required=True)
    p.set_defaults(func=cmd_mock_catalog)

    p = verbs.add_parser("mock-gallery", help="draw every Galaxy10 class of the mock sky at several redshifts")
    _add_mock_args(p)
    p.add_argument("--out", required=True)
    p.add_argument("--dpi", type=int, default=130)
    p.set_defaults(func=cmd_mock_gallery)

    p = verbs.add_parser("mock-cutout", help="write one mock object's native cutouts (FITS, one extension per band)")
    _add_mock_args(p)
    p.add_argument("--id", required=True, help="object_id, e.g. mock000042")
    p.add_argument("--instrument", default="sdss", help="sdss | legacy | euclid")
    p.add_argument("--bands", help="comma-separated bands (default: all of the instrument)")
    p.add_argument("--size-arcsec", type=float, default=36.0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_mock_cutout)

    p = verbs.add_parser("mock-server", help="serve the mock sky over HTTP on 127.0.0.1 (Legacy, hips2fits, SDSS)")
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--fault-rate", type=float, default=0.0, help="fraction of requests answered with a fault")
    p.add_argument("--fault-kinds", default="error500,error503,rate429,slow,truncated,corrupt,reset")
    p.set_defaults(func=cmd_mock_server)

    p = verbs.add_parser("catalog", help="validate a catalogue, add splits, write catalog.parquet")
    p.add_argument("--input", required=True, help="CSV, Parquet or FITS table")
    p.add_argument("--out", required=True)
    p.add_argument("--catalog", default="{}", help="the catalog config section as JSON")
    p.add_argument("--seed", type=int, required=True)
    p.set_defaults(func=cmd_catalog)

    p = verbs.add_parser("ingest-shard", help="fetch, reproject and write one Parquet shard of a survey")
    p.add_argument("--survey", required=True)
    p.add_argument("--survey-config", required=True, help="the surveys.<name> config section as JSON")
    p.add_argument("--mock", help="the mock config section as JSON (provider mock)")
    p.add_argument("--catalog", required=True, help="normalised catalog.parquet")
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--shard-size", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--reproject", default="interp")
    p.add_argument("--cache", required=True, help="per-object download cache folder")
    p.add_argument("--out", required=True)
    p.add_argument("--failures", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_ingest_shard)

    p = verbs.add_parser("ingest-manifest", help="gather shards into the dataset manifest and failures table")
    p.add_argument("--survey", required=True)
    p.add_argument("--survey-config", required=True)
    p.add_argument("--catalog-config", default="{}")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--reproject", default="interp")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--failures", nargs="+", required=True)
    p.add_argument("--manifest-out", required=True)
    p.add_argument("--failures-out", required=True)
    p.set_defaults(func=cmd_ingest_manifest)

    p = verbs.add_parser("pretrain", help="train one method on a survey's shards -> encoder.ckpt, metrics.csv")
    p.add_argument("--survey", required=True)
    p.add_argument("--survey-config", required=True, help="the surveys.<name> section as JSON")
    p.add_argument("--method", required=True)
    p.add_argument("--pretrain", required=True, help="the pretrain config section as JSON")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--labels", help="label table joined on object_id (supervised baseline, online probe)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.set_defaults(func=cmd_pretrain)

    p = verbs.add_parser("embed", help="embeddings of every object from an encoder.ckpt or a timm model")
    p.add_argument("--ckpt", help="galssl encoder.ckpt")
    p.add_argument("--timm", help="timm model name (random init unless --weights)")
    p.add_argument("--weights", help="local safetensors/torch weights for --timm")
    p.add_argument("--crop", type=int, help="input size for --timm (default: the cutout size)")
    p.add_argument("--name", help="method name written in the table")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_embed)

    p = verbs.add_parser("plot-training", help="training curves (loss, learning rate, online probe) from metrics.csv")
    p.add_argument("--metrics", required=True)
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_training)

    p = verbs.add_parser("plot-mae", help="MAE reconstructions: original / masked input / reconstruction")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--n", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_mae)

    p = verbs.add_parser("plot-augmentations", help="every augmentation applied to the same four galaxies")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--pretrain", required=True)
    p.add_argument("--survey-config", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_augmentations)

    p = verbs.add_parser("validate-config", help="check a config file against the schema")
    p.add_argument("config")
    p.set_defaults(func=cmd_validate_config)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: user errors print one line to stderr and exit 1."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except GalsslError as error:
        print(f"galssl: error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
