"""Verbs summarising the label-efficiency curves: how many labels each method needs to reach the supervised
baseline's full-data score."""

from __future__ import annotations

import argparse


def cmd_labels_needed(args: argparse.Namespace) -> None:
    from galssl.evaluate.labels_needed import labels_needed_from_tables
    from galssl.metric_table import write_metric_table

    table = labels_needed_from_tables(args.tables, args.reference)
    write_metric_table(table, args.out, args.csv)
    shown = table[["metric", "method", "classifier", "target", "n_labels_needed", "reached", "saw_labels"]]
    print(shown.to_string(index=False, float_format=lambda value: f"{value:.4g}"))
    print(f"{len(table)} rows -> {args.out}")


def register(verbs: argparse._SubParsersAction) -> None:
    """Add this group's verbs to the `galssl` parser."""
    p = verbs.add_parser("labels-needed", help="labels each method needs to reach the supervised full-data score")
    p.add_argument("--tables", nargs="+", required=True,
                   help="label_efficiency.parquet of every embedding and of supervised_from_scratch")
    p.add_argument("--reference", default="supervised_from_scratch", help="method whose largest-N score is the target")
    p.add_argument("--out", required=True, help="Parquet table")
    p.add_argument("--csv", help="also write this CSV copy")
    p.set_defaults(func=cmd_labels_needed)
