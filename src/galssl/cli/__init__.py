"""``galssl <verb>``: the command line the Snakemake rules call. Argument parsing only; logic lives in modules.

Each stage's verbs live in one module of this package with a ``register(verbs)`` function.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from galssl.errors import GalsslError

# Command groups, in the order `galssl --help` lists them (one module per pipeline stage).
GROUPS = ("data", "training", "search", "maps", "evaluate", "baseline", "efficiency", "finetune", "explorer",
          "galaxalign")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every verb."""
    parser = argparse.ArgumentParser(prog="galssl", description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    for group in GROUPS:
        importlib.import_module(f"galssl.cli.{group}").register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: user errors print one line to stderr and exit 1."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except GalsslError as error:
        print(f"galssl: error: {error}", file=sys.stderr)
        sys.exit(1)
