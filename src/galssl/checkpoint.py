"""Encoder checkpoints: the trained method's tensors plus the JSON-able recipe to rebuild it.

Loaded with ``torch.load(weights_only=True)``: a checkpoint can carry tensors and plain data only, never code.
Each checkpoint carries a SHA-256 of its recipe and tensors, verified on load: flipped bytes inside the tensor data
still unpickle cleanly and would silently change every embedding, so a mismatch is a clear error instead.
``timm_encoder`` builds an external encoder (any timm model, local weights only) for the stages that embed images.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from galssl.errors import DataError
from galssl.io import atomic_path

FORMAT = "galssl-encoder-v2"
LEGACY_FORMATS = ("galssl-encoder-v1",)
"""Older formats without a content hash: still loaded (nothing to verify), so existing runs keep working."""
REQUIRED_RECIPE_KEYS = ("method", "in_chans", "img_size", "config")


def content_hash(recipe: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over the canonical JSON of ``recipe`` and every tensor's name, dtype, shape and bytes (sorted)."""
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode())
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        # A flat byte view works for every dtype (bfloat16 has no numpy equivalent).
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def save_encoder(path: str | os.PathLike, method: nn.Module, recipe: dict[str, Any]) -> None:
    """Write ``{format, recipe, state_dict, sha256}`` atomically; ``recipe`` holds what ``create_method`` needs
    (method name, in_chans, img_size, config) plus provenance (survey, bands, steps, seed)."""
    state = {key: value.detach().cpu().clone() for key, value in method.state_dict().items()}
    payload = {"format": FORMAT, "recipe": recipe, "state_dict": state, "sha256": content_hash(recipe, state)}
    with atomic_path(path, suffix=".tmp.ckpt") as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The verified payload of a galssl encoder checkpoint; every fault is one DataError naming the file and fix."""
    rerun = f"delete it and rerun the rule that wrote it (snakemake {path})"
    if not os.path.isfile(path):
        raise DataError(f"checkpoint {path}: file not found (train it first: snakemake {path})")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 — torch raises many types for a damaged file; all mean the same here
        first = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
        raise DataError(f"checkpoint {path}: not a readable galssl encoder checkpoint ({first}); {rerun}") from None
    if not isinstance(payload, dict) or payload.get("format") not in (FORMAT, *LEGACY_FORMATS):
        raise DataError(f"checkpoint {path}: not a galssl encoder checkpoint (expected format {FORMAT!r}); "
                        "for a plain timm or torch weights file use `galssl embed --timm NAME --weights FILE`")
    recipe, state = payload.get("recipe"), payload.get("state_dict")
    if not isinstance(recipe, dict) or not isinstance(state, dict):
        raise DataError(f"checkpoint {path}: has no recipe or no weights; {rerun}")
    missing = [key for key in REQUIRED_RECIPE_KEYS if key not in recipe]
    if missing:
        raise DataError(f"checkpoint {path}: its recipe lacks {', '.join(missing)}; {rerun}")
    if payload["format"] == FORMAT and payload.get("sha256") != content_hash(recipe, state):
        raise DataError(f"checkpoint {path}: content hash mismatch, the file is corrupt; {rerun}")
    return payload


def load_encoder(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the method from a verified checkpoint; corrupt or foreign files give one clear DataError."""
    return build_encoder(read_checkpoint(path), path)


def build_encoder(payload: Mapping[str, Any], path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """The method of a verified checkpoint payload (``read_checkpoint``), in eval mode, with its recipe."""
    from galssl.methods import create_method

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


def timm_encoder(name: str, in_chans: int, img_size: int, weights: str | None = None) -> nn.Module:
    """Any timm model as a feature extractor (``num_classes=0``), randomly initialised unless ``weights`` is a local
    file (safetensors or a torch state dict, loaded without pickle execution). Never downloads."""
    import timm

    kwargs = {"img_size": img_size} if "vit" in name or "deit" in name else {}
    try:
        model = timm.create_model(name, pretrained=False, num_classes=0, in_chans=in_chans, **kwargs)
    except RuntimeError as error:
        raise DataError(f"timm model {name!r}: {error}") from None
    if weights:
        if str(weights).endswith(".safetensors"):
            from safetensors.torch import load_file

            try:
                state = load_file(weights)
            except Exception as error:  # noqa: BLE001 — SafetensorError, OSError: any unreadable file means the same
                detail = " ".join(str(error).split())[:80]
                raise DataError(f"weights {weights}: not a readable safetensors file ({type(error).__name__}: "
                                f"{detail}); give a file saved with safetensors, or a torch state dict named .pt "
                                f"(a pickle must not be named .safetensors)") from None
        else:
            try:
                state = torch.load(weights, map_location="cpu", weights_only=True)
            except Exception as error:  # noqa: BLE001 — any unreadable file means the same to the user
                raise DataError(f"weights {weights}: not a readable torch/safetensors state dict "
                                f"({type(error).__name__})") from None
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        missing, unexpected = model.load_state_dict(state, strict=False)
        if len(missing) > len(model.state_dict()) // 2:
            raise DataError(f"weights {weights} do not fit timm model {name!r} ({len(missing)} tensors missing)")
    return model.eval()
