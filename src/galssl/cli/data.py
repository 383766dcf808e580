"""Verbs of the data stages: mock sky, catalogue, ingest, config validation."""

from __future__ import annotations

import argparse
import json

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
    return MockSky(MockSettings.from_section(section), int(seed))


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
    from galssl.mocksky.gallery import gallery_cutouts
    from galssl.plots.gallery import gallery_figure

    gallery = gallery_cutouts(_mock_sky(args))
    rows = [[(cell.images, cell.class_name, cell.redshift) for cell in row] for row in gallery.rows]
    figure = gallery_figure(rows, gallery.bands, gallery.instrument, gallery.pixel_scale_arcsec, gallery.seed)
    save_figure_atomic(figure, args.out, dpi=args.dpi)
    print(f"gallery -> {args.out}")


def cmd_mock_cutout(args: argparse.Namespace) -> None:
    from galssl.instruments import load_instrument
    from galssl.mocksky.fits import write_cutouts

    sky = _mock_sky(args)
    if args.id not in sky.object_ids:
        raise GalsslError(f"--id {args.id!r} is not in the mock catalogue (ids run mock000000..{sky.object_ids[-1]})")
    bands = args.bands.split(",") if args.bands else list(load_instrument(args.instrument).bands)
    cutouts = sky.object_cutouts(args.id, args.instrument, bands, args.size_arcsec)
    write_cutouts(args.out, cutouts, args.instrument, args.id, sky.seed)
    print(f"{args.id}: {', '.join(f'{c.band} {c.image.shape[1]}x{c.image.shape[0]}' for c in cutouts)} -> {args.out}")


def cmd_mock_server(args: argparse.Namespace) -> None:
    from galssl.config import load_config
    from galssl.testing.server import serve_from_config

    config = load_config(args.config)
    kinds = tuple(k for k in args.fault_kinds.split(",") if k)
    serve_from_config(config, args.port, fault_rate=args.fault_rate, fault_kinds=kinds)


def cmd_catalog(args: argparse.Namespace) -> None:
    from galssl.catalog import normalise_catalog
    from galssl.settings import fill_defaults

    section = fill_defaults(json.loads(args.catalog), "catalog")
    table = normalise_catalog(
        args.input, args.out, id_column=section["id_column"], ra_column=section["ra_column"],
        dec_column=section["dec_column"], split_fractions=section["split"], seed=args.seed,
        labels_path=section["labels"], match_radius_arcsec=float(section["match_radius_arcsec"]),
        positions_optional=args.positions_optional)
    print(f"catalogue: {len(table)} objects {table['split'].value_counts().to_dict()} -> {args.out}")


def cmd_ingest_shard(args: argparse.Namespace) -> None:
    import pandas as pd

    from galssl.ingest import SurveySpec, ingest_shard
    from galssl.providers import ProviderContext, create_provider

    section = json.loads(args.survey_config)
    section.setdefault("reproject", args.reproject)
    spec = SurveySpec.from_section(args.survey, section)
    context = ProviderContext(args.survey, args.seed, args.cache, json.loads(args.mock) if args.mock else {})
    provider = create_provider(section, context)
    catalog = pd.read_parquet(args.catalog, columns=["object_id", "ra", "dec", "split"])
    ok, failed = ingest_shard(catalog, spec, provider, args.shard, args.shard_size, args.seed, args.out,
                              args.failures, threads=args.threads, max_mask_fraction=args.max_mask_fraction)
    print(f"{args.survey} shard {args.shard}: {ok} objects written, {failed} failed -> {args.out}")


def cmd_ingest_manifest(args: argparse.Namespace) -> None:
    from galssl.ingest import SurveySpec, config_hash, write_manifest

    section = json.loads(args.survey_config)
    section.setdefault("reproject", args.reproject)
    spec = SurveySpec.from_section(args.survey, section)
    dataset_hash = config_hash({"seed": args.seed, "survey": section, "catalog": json.loads(args.catalog_config),
                                "max_mask_fraction": args.max_mask_fraction})
    manifest = write_manifest(spec, args.shards, args.failures, args.manifest_out, args.failures_out, dataset_hash,
                              args.max_mask_fraction)
    print(f"{args.survey}: {manifest['counts']} -> {args.manifest_out}")


def cmd_validate_config(args: argparse.Namespace) -> None:
    from galssl.config import load_config

    load_config(args.config)
    print(f"{args.config}: valid")


def register(verbs: argparse._SubParsersAction) -> None:
    """Add this group's verbs to the `galssl` parser."""
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
    p.add_argument("--positions-optional", action="store_true",
                   help="a table without ra/dec gets NaN positions (every survey matches images by object_id)")
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
    p.add_argument("--max-mask-fraction", type=float, default=0.2,
                   help="largest share of no-data pixels in a band before an object fails (ingest.max_mask_fraction)")
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
    p.add_argument("--max-mask-fraction", type=float, default=0.2, help="the ingest threshold, for the manifest")
    p.set_defaults(func=cmd_ingest_manifest)

    p = verbs.add_parser("validate-config", help="check a config file against the schema")
    p.add_argument("config")
    p.set_defaults(func=cmd_validate_config)
