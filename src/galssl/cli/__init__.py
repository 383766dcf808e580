"""``galssl <verb>``: the command line the Snakemake rules call. Argument parsing only; logic lives in modules.

Each stage's verbs live in one module of this package with a ``register(verbs)`` function.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence

from galssl import __version__
from galssl.errors import GalsslError

# Command groups, in the order `galssl --help` lists them (one module per pipeline stage).
GROUPS = ("data", "training", "search", "maps", "evaluate", "baseline", "efficiency", "finetune", "explorer",
          "galaxalign")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every verb."""
    parser = argparse.ArgumentParser(prog="galssl", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"galssl {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True)
    for group in GROUPS:
        importlib.import_module(f"galssl.cli.{group}").register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: user errors print one line to stderr and exit 1; a bug says so and keeps its traceback."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except GalsslError as error:
        print(f"galssl: error: {error}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:  # noqa: BLE001 — anything else is a bug: never hide it, never dump it on a terminal
        print(f"galssl: internal error ({type(error).__name__}: {_first_line(error)}); please report it with "
              f"the traceback {_keep_traceback()}", file=sys.stderr)
        sys.exit(2)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else "no message"


def _keep_traceback() -> str:
    """Write the current traceback where it is kept: stderr when that is a log file (Snakemake rules redirect it),
    else a file in the temporary directory; return the words saying where."""
    text = traceback.format_exc()
    if not sys.stderr.isatty():
        print(text, file=sys.stderr, end="")
        return "above"
    fd, path = tempfile.mkstemp(prefix="galssl-traceback-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return f"in {path}"
