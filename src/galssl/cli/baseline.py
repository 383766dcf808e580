"""Verbs of the supervised-from-scratch baseline of the label-efficiency curves, and of the metrics table."""

from __future__ import annotations

import argparse


def cmd_label_subset(args: argparse.Namespace) -> None:
    from galssl.evaluate.baseline import run_subset
    from galssl.io import write_parquet_atomic

    subset = run_subset(args.shards, args.labels, args.class_column, args.n_labels, args.seed)
    write_parquet_atomic(subset, args.out)
    train = subset[subset["split"] == "train"]
    print(f"{len(train)} labelled train objects ({train['label'].nunique()} classes, seed {args.seed}) and "
          f"{len(subset) - len(train)} val objects to select the epoch on -> {args.out}")


def cmd_score_supervised(args: argparse.Namespace) -> None:
    import pandas as pd
    import torch

    from galssl.evaluate.baseline import scratch_scores
    from galssl.io import write_parquet_atomic

    torch.set_num_threads(max(1, args.threads))
    if args.train_ids:
        subset = pd.read_parquet(args.train_ids)
        n_labels = int((subset["split"] == "train").sum()) if "split" in subset.columns else len(subset)
    else:  # trained on every labelled train object (the pretraining run of `supervised`)
        from galssl.label_subsets import labelled_train_objects

        n_labels = len(labelled_train_objects(args.shards, args.labels, args.class_column))
    table = scratch_scores(args.ckpt, args.shards, args.manifest, args.labels, args.class_column, n_labels, args.seed,
                           args.split)
    write_parquet_atomic(table, args.out)
    scores = ", ".join(f"{m} {v:.3f}" for m, v in zip(table["metric"], table["value"]))
    print(f"supervised from scratch on {n_labels} labels (seed {args.seed}): test {scores} -> {args.out}")


def cmd_concat_metrics(args: argparse.Namespace) -> None:
    from galssl.metric_table import concat_metric_tables, write_metric_table

    table = concat_metric_tables(args.tables)
    write_metric_table(table, args.out, args.csv)
    print(f"{len(table)} metric rows from {len(args.tables)} tables -> {args.out}")


def cmd_metrics_page(args: argparse.Namespace) -> None:
    from galssl.evaluate.summary import write_metrics_page

    summary = write_metrics_page(args.table, args.out, args.title)
    print(summary.to_string(float_format=lambda v: f"{v:.4g}"))
    print(f"-> {args.out}")


def register(verbs: argparse._SubParsersAction) -> None:
    """Add this group's verbs to the `galssl` parser."""
    p = verbs.add_parser("label-subset", help="the N labelled train objects of one label-efficiency seed, and at "
                                            "most N val objects to select the epoch on")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--class-column", default="galaxy10_class")
    p.add_argument("--n-labels", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_label_subset)

    p = verbs.add_parser("score-supervised", help="test accuracy and macro F1 of a supervised checkpoint's head")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--train-ids", help="the label subset it was trained on (default: every labelled train object)")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--class-column", default="galaxy10_class")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--split", default="test", help="split scored (model selection never sees test)")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_score_supervised)

    p = verbs.add_parser("concat-metrics", help="gather tidy metrics tables into one (Parquet, optional CSV)")
    p.add_argument("--tables", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--csv", help="also write this CSV copy")
    p.set_defaults(func=cmd_concat_metrics)

    p = verbs.add_parser("metrics-page", help="the survey's metrics table as an HTML page (headline + tidy rows)")
    p.add_argument("--table", required=True, help="results/{survey}/metrics.parquet")
    p.add_argument("--title", default="galssl metrics")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_metrics_page)
