"""Atomic file output: write to a temporary sibling, then rename, so no reader ever sees a partial file."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``, on error delete it.

    The suffix of the temporary file matches the target's so libraries that infer the format from the
    extension (matplotlib, astropy) still work.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix if suffix is not None else "".join(target.suffixes) + ".tmp",
        dir=target.parent,
    )
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600; give the final file the permissions a plain open() would (0666 minus the umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_parquet_atomic(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a DataFrame as Parquet atomically, without the pandas index."""
    with atomic_path(path, suffix=".parquet.tmp") as tmp:
        frame.to_parquet(tmp, index=False)


def save_figure_atomic(figure, path: str | os.PathLike, dpi: int = 150, tight: bool = False) -> None:
    """Save a matplotlib figure atomically with metadata (software, dates) stripped for byte reproducibility, then
    close it; ``tight`` crops the canvas to what is drawn (for layouts sized for several panels that show one)."""
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower() or "png"
    metadata = {"Software": None} if fmt == "png" else {"Creator": None, "Producer": None, "CreationDate": None}
    with atomic_path(target, suffix=f".tmp.{fmt}") as tmp:
        figure.savefig(tmp, dpi=dpi, format=fmt, metadata=metadata,
                       **({"bbox_inches": "tight", "pad_inches": 0.2} if tight else {}))
    # A saved figure is done: close it so a process that draws many (a figure rule, a test session) does not keep
    # them all open. A figure made through pyplot is registered there; pyplot is then already imported, and only the
    # plots layer imports it (tests/test_layers.py).
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(figure)
