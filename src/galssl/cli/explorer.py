"""Verb of the explorer stage: build the static galaxy explorer (results/{survey}/explorer/index.html)."""

from __future__ import annotations

import argparse
import json


def cmd_explorer(args: argparse.Namespace) -> None:
    import faiss

    from galssl.cli.training import _instrument
    from galssl.data import load_manifest
    from galssl.explorer.build import ExplorerInputs, build_explorer
    from galssl.explorer.settings import ExplorerSettings
    from galssl.labelspec import labels_from_cli
    from galssl.search_index import SearchSettings

    faiss.omp_set_num_threads(max(1, args.threads))
    labels = labels_from_cli(args.labels_config)
    settings = ExplorerSettings.from_section(json.loads(args.explorer), labels=labels)
    survey_config = json.loads(args.survey_config) if args.survey_config else {}
    manifest = load_manifest(args.manifest)
    survey = args.survey or manifest.get("survey", "")
    inputs = ExplorerInputs(umap=args.umap, embeddings=args.embeddings, catalog=args.catalog, labels=args.labels,
                            shards=args.shards, bands=list(manifest["bands"]), survey=survey,
                            instrument=_instrument(survey_config) if survey_config else survey,
                            embedding=args.embedding or settings.embedding or "")
    search = SearchSettings.from_section(json.loads(args.search), labels) if args.search else None
    summary = build_explorer(inputs, settings, args.seed, args.out_dir, args.title, search)
    print(f"explorer: {summary['points']} of {summary['objects']} galaxies, {summary['k']} neighbours each, "
          f"{summary['sheets']} sprite sheets, coloured by {summary['colour_by']!r} -> {args.out_dir}/index.html")


def register(verbs: argparse._SubParsersAction) -> None:
    """Add this group's verbs to the `galssl` parser."""
    from galssl.labelspec import add_labels_argument

    p = verbs.add_parser("explorer", help="static galaxy explorer of one embedding's UMAP (opens from file://)")
    p.add_argument("--umap", required=True, help="results/{survey}/{embedding}/maps/umap.parquet")
    p.add_argument("--embeddings", required=True, help="results/{survey}/{embedding}/embeddings.parquet")
    p.add_argument("--catalog", required=True, help="catalogue with object_id, ra, dec")
    p.add_argument("--labels", help="label table joined on object_id (none: a run without labels)")
    add_labels_argument(p)
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--explorer", default="{}", help="the explorer config section as JSON (default: built-in defaults)")
    p.add_argument("--search", help="the search config section as JSON (exact or approximate faiss index)")
    p.add_argument("--survey-config", help="the surveys.<name> section as JSON (colour composite bands)")
    p.add_argument("--survey", help="survey name shown on the page (default: the manifest's)")
    p.add_argument("--embedding", help="embedding name shown on the page (default: explorer.embedding)")
    p.add_argument("--title", default="", help="page title (default: '<survey> / <embedding>')")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out-dir", required=True, help="the explorer folder, e.g. results/sdss/explorer")
    p.set_defaults(func=cmd_explorer)
