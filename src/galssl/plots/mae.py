"""MAE reconstructions: original / masked input / reconstruction for a few held-out galaxies."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from galssl.checkpoint import load_encoder
from galssl.composite import composite_bands
from galssl.data import ShardDataset, centre_crop, load_manifest, normaliser_from_manifest
from galssl.errors import DataError


def stretched_rgb(images: list[np.ndarray], channels: list[int]) -> list[np.ndarray]:
    """RGB arrays from asinh-normalised (C, H, W) images with one shared linear scale (the first image's
    0.5-99.7 percentiles per channel), so an original and its reconstruction are shown alike."""
    reference = images[0][channels]
    low = np.percentile(reference, 0.5, axis=(1, 2))[:, None, None]
    high = np.percentile(reference, 99.7, axis=(1, 2))[:, None, None]
    return [np.clip((img[channels] - low) / np.maximum(high - low, 1e-6), 0, 1).transpose(1, 2, 0) for img in images]


def reconstruction_figure(ckpt: str, shards: list[str], manifest_path: str, n: int = 6, seed: int = 0) -> plt.Figure:
    """Rows of held-out galaxies (test split): original, masked input (hidden patches grey), reconstruction."""
    method, recipe = load_encoder(ckpt)
    if not hasattr(method, "reconstruct"):
        raise DataError(f"checkpoint {ckpt} holds a {recipe['method']} encoder, not an MAE")
    manifest = load_manifest(manifest_path)
    size = int(recipe["img_size"])
    dataset = ShardDataset(shards, splits=("test",), transform=lambda image, generator: centre_crop(image, size),
                           normalise=normaliser_from_manifest(manifest))
    samples = []
    for sample in dataset:
        samples.append(sample)
        if len(samples) == n:
            break
    if not samples:
        raise DataError(f"no test-split galaxies in {shards}")
    images = torch.stack([s["image"] for s in samples])
    masked, reconstruction, mask = method.reconstruct(images, torch.Generator().manual_seed(seed))
    bands = list(manifest["bands"])
    rgb_bands = composite_bands(str(recipe.get("survey", "")), bands)
    channels = [bands.index(b) for b in rgb_bands]
    fig, axes = plt.subplots(len(samples), 3, figsize=(6.6, 2.2 * len(samples)), squeeze=False)
    for row, sample in enumerate(samples):
        original, rebuilt = images[row].numpy(), reconstruction[row].detach().numpy()
        shown = stretched_rgb([original, original, rebuilt], channels)
        hidden = mask[row, 0].numpy()
        shown[1][hidden] = 0.35
        for col, (image, label) in enumerate(zip(shown, ("original", f"masked input ({hidden.mean():.0%} hidden)",
                                                         "reconstruction"))):
            axes[row][col].imshow(image, origin="lower", interpolation="nearest")
            axes[row][col].set_xticks([])
            axes[row][col].set_yticks([])
            if row == 0:
                axes[row][col].set_title(label, fontsize=9)
        axes[row][0].set_ylabel(sample["object_id"], fontsize=7)
    fig.suptitle(f"MAE on {recipe.get('survey', '')}: {'/'.join(rgb_bands)} of asinh-normalised images, "
                 f"step {recipe.get('global_step', '?')}", fontsize=9)
    fig.tight_layout()
    return fig
