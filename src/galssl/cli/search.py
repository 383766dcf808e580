"""Verbs of the similarity-search stage: build an index, query it, score retrieval, draw the neighbours figure."""

from __future__ import annotations

import argparse
import json


def _settings(text: str | None, labels_config: str | None = None):
    from galssl.labelspec import labels_from_cli
    from galssl.search_index import SearchSettings

    return SearchSettings.from_section(json.loads(text) if text else {}, labels_from_cli(labels_config))


def _instrument(section: dict) -> str:
    """Which composite bands to use: the mock instrument, else the provider (sdss, legacy and euclid have their own)."""
    return section.get("instrument") or section.get("provider", "")


def cmd_search_index(args: argparse.Namespace) -> None:
    import faiss

    from galssl.evaluate.search import index_embeddings
    from galssl.search_index import index_kind

    faiss.omp_set_num_threads(max(1, args.threads))
    index = index_embeddings(args.embeddings, args.out, _settings(args.search), args.seed)
    print(f"{index_kind(index.index)} index of {index.index.ntotal} objects (d={index.index.d}) -> {args.out}")


def cmd_search(args: argparse.Namespace) -> None:
    from galssl.evaluate.search import format_search_table, resolve_query, search_table
    from galssl.search_index import load_index
    from galssl.tables import read_table

    settings = _settings(args.search, args.labels_config)
    index = load_index(args.index)
    catalog = read_table(args.catalog, "catalogue") if args.catalog else None
    labels = read_table(args.labels, "labels table") if args.labels else None
    radius = args.radius_arcsec if args.radius_arcsec is not None else settings.match_radius_arcsec
    object_id, separation = resolve_query(index, args.id, args.ra, args.dec, catalog, radius)
    if separation is not None:
        print(f"nearest indexed object to RA={args.ra:g}, Dec={args.dec:g}: {object_id} at {separation:.2f}\"")
    print(format_search_table(search_table(index, object_id, args.k or settings.k, catalog, labels, settings)))


def cmd_search_eval(args: argparse.Namespace) -> None:
    from galssl.evaluate.labelled import load_labelled
    from galssl.evaluate.search import search_metrics
    from galssl.io import write_parquet_atomic

    data = load_labelled(args.embeddings, args.catalog, args.labels, args.method)
    table = search_metrics(data, _settings(args.search, args.labels_config), args.seed)
    write_parquet_atomic(table, args.out)
    print(table.to_string(index=False))


def cmd_plot_search(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.plots.search import similarity_figure_from_files

    figure = similarity_figure_from_files(args.index, args.catalog, args.labels, args.shards, args.manifest,
                                          _instrument(json.loads(args.survey_config)),
                                          _settings(args.search, args.labels_config),
                                          args.seed, args.title)
    save_figure_atomic(figure, args.out)


def register(verbs: argparse._SubParsersAction) -> None:
    """Add this group's verbs to the `galssl` parser."""
    from galssl.labelspec import add_labels_argument

    p = verbs.add_parser("search-index", help="faiss index of L2-normalised embeddings (exact, or IVF/HNSW when large)")
    p.add_argument("--embeddings", required=True, help="embeddings.parquet (object_id, method, vector)")
    p.add_argument("--out", required=True, help="index file (.faiss); its object_ids go to <name>.ids.parquet")
    p.add_argument("--search", help="the search config section as JSON (default: schema defaults)")
    p.add_argument("--seed", type=int, default=0, help="seed of the IVF k-means training")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_search_index)

    p = verbs.add_parser("search", help="the most similar objects to one object (--id) or sky position (--ra --dec)")
    p.add_argument("--index", required=True, help="index.faiss written by `galssl search-index`")
    p.add_argument("--id", help="object_id of the query")
    p.add_argument("--ra", type=float, help="query right ascension (degrees, ICRS); the nearest indexed object is used")
    p.add_argument("--dec", type=float, help="query declination (degrees, ICRS)")
    p.add_argument("--k", type=int, help="neighbours to list (default: search.k)")
    p.add_argument("--catalog", help="catalogue with object_id, ra, dec (needed for --ra/--dec; adds ra/dec columns)")
    p.add_argument("--labels", help="label table (adds class and redshift columns)")
    p.add_argument("--radius-arcsec", type=float,
                   help="largest RA/Dec match distance (default: search.match_radius_arcsec)")
    p.add_argument("--search", help="the search config section as JSON")
    add_labels_argument(p)
    p.set_defaults(func=cmd_search)

    p = verbs.add_parser("search-eval", help="retrieval mAP@k and mAP on the test split (relevant = same class)")
    p.add_argument("--embeddings", required=True)
    p.add_argument("--catalog", required=True, help="results/catalog/catalog.parquet (object_id, split)")
    p.add_argument("--labels", required=True, help="label table holding labels.class_column")
    p.add_argument("--method", help="name written in the method column (default: the embeddings table's)")
    p.add_argument("--search", help="the search config section as JSON")
    add_labels_argument(p)
    p.add_argument("--seed", type=int, default=0, help="written in the seed column")
    p.add_argument("--out", required=True, help="tidy metrics Parquet")
    p.set_defaults(func=cmd_search_eval)

    p = verbs.add_parser("plot-search", help="query galaxies and their nearest neighbours as colour composites")
    p.add_argument("--index", required=True)
    p.add_argument("--catalog", required=True, help="catalogue with object_id and split (queries: test split)")
    p.add_argument("--labels", help="label table: one query per class, frames by class match")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--survey-config", required=True, help="the surveys.<name> section as JSON (composite bands)")
    p.add_argument("--search", help="the search config section as JSON")
    add_labels_argument(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the query choice")
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_search)
