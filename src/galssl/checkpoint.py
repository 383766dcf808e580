"""Encoder checkpoints: the trained method's tensors plus the JSON-able recipe to rebuild it.

Loaded with ``torch.load(weights_only=True)``: a checkpoint can carry tensors and plain data only, never code.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from galssl.errors import DataError
from galssl.io import atomic_path

FORMAT = "galssl-encoder-v1"


def save_encoder(path: str | os.PathLike, method: nn.Module, recipe: dict[str, Any]) -> None:
    """Write ``{format, recipe, state_dict}`` atomically; ``recipe`` holds what ``create_method`` needs
    (method name, in_chans, img_size, config) plus provenance (survey, bands, steps, seed)."""
    state = {key: value.detach().cpu().clone() for key, value in method.state_dict().items()}
    with atomic_path(path, suffix=".tmp.ckpt") as tmp:
        torch.save({"format": FORMAT, "recipe": recipe, "state_dict": state}, tmp)


def load_encoder(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the method from a checkpoint; corrupt or foreign files give one clear DataError."""
    from galssl.methods import create_method

    if not os.path.isfile(path):
        raise DataError(f"checkpoint {path}: file not found (train it first: snakemake {path})")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 — torch raises many types for a damaged file; all mean the same here
        first = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
        raise DataError(f"checkpoint {path}: not a readable galssl encoder checkpoint ({first}); delete it and "
                        "rerun the pretraining rule") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(f"checkpoint {path}: not a galssl encoder checkpoint (expected format {FORMAT!r}); "
                        "for a plain timm or torch weights file use `galssl embed --timm NAME --weights FILE`")
    recipe = payload["recipe"]
    method = create_method(recipe["method"], in_chans=recipe["in_chans"], img_size=recipe["img_size"],
                           config=recipe["config"])
    try:
        method.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise DataError(f"checkpoint {path}: weights do not fit method {recipe['method']!r} "
                        f"({str(error).splitlines()[0][:160]})") from None
    method.eval()
    return method, recipe
