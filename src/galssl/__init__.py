"""galssl: self-supervised galaxy representations from sky catalogues, as a reproducible Snakemake pipeline.

The Python API (``galssl.api``) is importable from here; it loads torch, faiss and friends only when first used,
so ``import galssl`` and the ``galssl`` command stay light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Encoder", "build_index", "load_embeddings", "load_encoder", "load_index", "open_shards", "read_shards",
           "search"]


def __getattr__(name: str) -> Any:
    """``galssl.load_encoder`` and the rest of ``__all__``, imported from ``galssl.api`` on first use."""
    if name in __all__:
        from galssl import api

        return getattr(api, name)
    raise AttributeError(f"module 'galssl' has no attribute {name!r}")
