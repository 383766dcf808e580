"""The augmentation figure: each astronomy augmentation applied to the same galaxies, as colour composites."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from galssl.augment import Compose
from galssl.composite import composite_bands, image_rgb

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

_PARAMETER_LABELS: dict[str, Callable[..., str]] = {
    "RandomRotation": lambda angle, mirror: f"{np.degrees(angle):.0f}°" + (" mirrored" if mirror else ""),
    "SizeRescale": lambda zoom: f"zoom {zoom:.2f}",
    "JitterCrop": lambda rows, cols: f"shift ({rows:+d}, {cols:+d})",
    "SkyNoise": lambda scale: f"{scale:.1f}× MAD",
    "PSFBlur": lambda sigma: f"σ_ref {sigma:.2f} px",
    "Reddening": lambda ebv: f"E(B-V) {ebv:.2f}",
}
"""Per-panel captions of the parameters each augmentation drew, by class name."""


def _captions(transform: Transform, n: int, seed: int) -> list[str]:
    """What ``transform`` drew for each image with this seed (the same draws its call makes first), or blanks."""
    label = _PARAMETER_LABELS.get(type(transform).__name__)
    if label is None or not hasattr(transform, "draw"):
        return [""] * n
    parameters = [p.tolist() for p in transform.draw(n, torch.Generator().manual_seed(seed))]
    return [label(*values) for values in zip(*parameters)]


def augmentation_figure(images: np.ndarray, bands: Sequence[str], augmentations: Mapping[str, Transform],
                        survey: str, seed: int = 0, display: bool = False) -> plt.Figure:
    """Rows: galaxies; columns: the original, each augmentation alone, and all of them composed (in the given order).

    ``images``: (n_galaxies, bands, H, W) in nanomaggies per pixel (sky-subtracted). Every panel uses the same
    asinh stretch, so brightness and colour changes are real; panels are drawn at the same pixel scale and centred,
    so a crop shows as a smaller image. Column k draws from a generator seeded with ``seed + k``; captions
    give what each panel drew. ``display``: the images are display values (PNG/JPEG), shown as they are.
    """
    batch = torch.as_tensor(np.asarray(images, dtype=np.float32))
    rgb_bands = composite_bands(survey, list(bands))
    n_rows = batch.shape[0]
    columns: list[tuple[str, np.ndarray, list[str]]] = [("original", batch.numpy(), [""] * n_rows)]
    # One seed per column: a shared seed would give every column the same quantiles (galaxy 1 always least changed).
    for column, (name, transform) in enumerate(augmentations.items(), start=1):
        views = transform(batch, torch.Generator().manual_seed(seed + column)).numpy()
        columns.append((name, views, _captions(transform, n_rows, seed + column)))
    if len(augmentations) > 1:
        composed = Compose(list(augmentations.values()))(batch, torch.Generator().manual_seed(seed + len(columns)))
        columns.append(("all composed", composed.numpy(), [""] * n_rows))
    n_cols = len(columns)
    half_height, half_width = batch.shape[-2] / 2, batch.shape[-1] / 2
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.75 * n_cols, 1.8 * n_rows + 0.4), squeeze=False)
    for col, (name, views, captions) in enumerate(columns):
        for row in range(n_rows):
            ax = axes[row][col]
            height, width = views.shape[-2:]
            ax.imshow(image_rgb(views[row], bands, survey, display), origin="lower", interpolation="nearest",
                      extent=(-width / 2, width / 2, -height / 2, height / 2))
            ax.set_xlim(-half_width, half_width)
            ax.set_ylim(-half_height, half_height)
            ax.set_facecolor("0.35")  # grey: where a crop has no pixels, unlike black empty sky
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(name, fontsize=8.5)
            if col == 0:
                ax.set_ylabel(f"galaxy {row + 1}", fontsize=8)
            ax.text(0.97, 0.03, f"{width}px", transform=ax.transAxes, ha="right", va="bottom", color="white",
                    fontsize=6.5)
            if captions[row]:
                ax.text(0.03, 0.97, captions[row], transform=ax.transAxes, ha="left", va="top", color="white",
                        fontsize=6.5, bbox=dict(facecolor="black", alpha=0.45, pad=1.2, edgecolor="none"))
    if display:  # the instrument only names the filters here: the images are the user's own
        title = f"galssl augmentations on display-image cutouts (shown as stored, no stretch, seed {seed})"
    else:
        title = (f"galssl augmentations on {survey} cutouts ({'/'.join(rgb_bands)} composite, same stretch in "
                 f"every panel, seed {seed})")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97), h_pad=0.2, w_pad=0.2)
    return fig


def pick_showcase(images: np.ndarray, n: int = 4) -> np.ndarray:
    """Indices of n extended, bright but not extreme objects: high central flux (80th-97th percentile) and a
    light profile broader than a point source (ratio of flux within 3 px to within 12 px below the median)."""
    size = images.shape[-1]
    yy, xx = np.mgrid[0:size, 0:size]
    radius = np.hypot(yy - (size - 1) / 2, xx - (size - 1) / 2)
    light = images.sum(axis=1)
    inner = (light * (radius < 3)).sum(axis=(1, 2))
    outer = (light * (radius < 12)).sum(axis=(1, 2))
    concentration = inner / np.maximum(outer, 1e-9)
    low, high = np.percentile(outer, [80, 97])
    candidates = np.flatnonzero((outer >= low) & (outer <= high) & (concentration < np.median(concentration)))
    if len(candidates) < n:
        candidates = np.argsort(outer)[::-1]
    return candidates[np.linspace(0, len(candidates) - 1, n).astype(int)]


def augmentation_figure_from_shards(shards: Sequence[str], manifest_path: str, section: Mapping, instrument: str,
                                    seed: int = 0) -> plt.Figure:
    """The augmentation figure for a survey: four showcase galaxies of its first shard, the configured
    augmentations one by one, then composed in training order."""
    from galssl.augment import build_augmentations
    from galssl.augment.settings import augment_config
    from galssl.data import load_manifest
    from galssl.display import manifest_is_display
    from galssl.shards import read_images

    manifest = load_manifest(manifest_path)
    _, images = read_images(shards[0])
    display = manifest_is_display(manifest)
    # Display images keep their sky level: measure the galaxies above each image's per-channel median.
    light = images - np.median(images, axis=(2, 3), keepdims=True) if display else images
    chosen = images[pick_showcase(light)]
    composed = build_augmentations(augment_config(dict(section)), manifest["bands"], manifest, instrument)
    steps: dict[str, Transform] = {type(t).__name__: t for t in composed.transforms}
    return augmentation_figure(chosen, manifest["bands"], steps, instrument, seed=seed,  # adds the composed column
                               display=display)
