"""Verbs of GalaxAlign: the class symbols, zero-shot classification by text prompts, and their figures."""

from __future__ import annotations

import argparse
import json


def cmd_draw_symbols(args: argparse.Namespace) -> None:
    from pathlib import Path

    from galssl.io import save_figure_atomic
    from galssl.plots.galaxalign import symbol_overview_figure
    from galssl.symbols import SYMBOLS, check_symbol_names, write_symbol_png

    names = args.classes or list(SYMBOLS)
    check_symbol_names(names, "--classes")
    for name in names:
        write_symbol_png(name, Path(args.out_dir) / f"{name}.png", args.size)
    save_figure_atomic(symbol_overview_figure(names, args.size), args.overview)
    print(f"{len(names)} symbols of {args.size} px -> {args.out_dir}; overview -> {args.overview}")


def cmd_zero_shot(args: argparse.Namespace) -> None:
    import torch

    from galssl.evaluate.zero_shot import run_zero_shot
    from galssl.io import write_parquet_atomic, write_text_atomic

    torch.set_num_threads(max(1, args.threads))
    result = run_zero_shot(args.ckpt, args.embeddings, args.catalog, args.labels, args.class_column, args.seed,
                           args.method)
    write_parquet_atomic(result.metrics, args.metrics_out)
    write_parquet_atomic(result.predictions, args.predictions_out)
    write_parquet_atomic(result.similarity, args.similarity_out)
    write_text_atomic(args.summary_out, json.dumps(result.summary, indent=2, sort_keys=True) + "\n")
    flag = "" if result.summary["pretrained"] else " (random init: no CLIP weights file)"
    print(f"{result.summary['method']}: zero-shot accuracy {result.summary['accuracy']:.3f}, balanced accuracy "
          f"{result.summary['balanced_accuracy']:.3f}, macro F1 {result.summary['macro_f1']:.3f} on "
          f"{result.summary['n_galaxies']} test galaxies{flag}")


def cmd_plot_zero_shot(args: argparse.Namespace) -> None:
    import pandas as pd

    from galssl.io import save_figure_atomic
    from galssl.plots.galaxalign import similarity_figure, zero_shot_confusion_figure

    summary = json.loads(open(args.summary, encoding="utf-8").read())
    init = "" if summary.get("pretrained") else ", random init"
    title = f"{args.title}{init}" if args.title else ""
    save_figure_atomic(zero_shot_confusion_figure(pd.read_parquet(args.predictions), summary["class_names"],
                                                  f"{title}: zero-shot by text prompts (test split)" if title else ""),
                       args.confusion_out, tight=True)
    save_figure_atomic(similarity_figure(pd.read_parquet(args.similarity),
                                         f"{title}: image–text similarity (test split)" if title else ""),
                       args.similarity_out)


def register(verbs: argparse._SubParsersAction) -> None:
    """Add this group's verbs to the `galssl` parser."""
    p = verbs.add_parser("draw-symbols", help="GalaxAlign class symbols as PNGs and an overview figure")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--overview", required=True, help="figure of every symbol")
    p.add_argument("--classes", nargs="+", help="class names (default: the ten Galaxy10 classes)")
    p.add_argument("--size", type=int, default=128, help="symbol side in pixels")
    p.set_defaults(func=cmd_draw_symbols)

    p = verbs.add_parser("zero-shot", help="zero-shot classification of the test split by text prompts (GalaxAlign)")
    p.add_argument("--ckpt", required=True, help="a GalaxAlign encoder.ckpt (its text tower makes the prompts)")
    p.add_argument("--embeddings", required=True, help="that encoder's embeddings.parquet")
    p.add_argument("--catalog", required=True, help="validated catalogue with the split column")
    p.add_argument("--labels", required=True)
    p.add_argument("--class-column", default="galaxy10_class")
    p.add_argument("--method", help="method name in the metric rows (default: the embeddings table's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--metrics-out", required=True)
    p.add_argument("--predictions-out", required=True)
    p.add_argument("--similarity-out", required=True)
    p.add_argument("--summary-out", required=True)
    p.set_defaults(func=cmd_zero_shot)

    p = verbs.add_parser("plot-zero-shot", help="zero-shot confusion matrix and image–text similarity matrix")
    p.add_argument("--predictions", required=True)
    p.add_argument("--similarity", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--title", default="")
    p.add_argument("--confusion-out", required=True)
    p.add_argument("--similarity-out", required=True)
    p.set_defaults(func=cmd_plot_zero_shot)
