"""Training and embedding throughput through galssl's pipeline vs the raw model, in one run on one thread count.

Prints and saves JSON (default benchmarks/results/train.json):
- training images/s through ShardDataset + batch-wise augmentation (galssl.augment.views.BatchViews, as in
  training) + the method step, ÷ the raw forward+backward+step on random tensors of the same shape (goal >= 0.85);
- loader images/s (shards → batches of raw cutouts, what the DataLoader does in training) ÷ training images/s
  (goal >= 10); and, for the record, batch-wise augmentation alone (raw batch → normalised views);
- embedding images/s through galssl.embed ÷ raw inference on random tensors (goal >= 0.9).
Images counted are augmented views processed (2 per galaxy for SimCLR/MoCo).
Usage: python benchmarks/train.py [--shards 'results/sdss/shards/*.parquet'] [--manifest results/sdss/manifest.json]
"""

from __future__ import annotations

import argparse
import glob
import json
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from galssl.augment import build_augmentations
from galssl.augment.views import BatchViews
from galssl.data import AsinhNormalise, ShardDataset, collate, load_manifest
from galssl.embed import embed_shards
from galssl.methods import create_method
from galssl.pretrain import DEFAULT_AUGMENT


def timed_steps(method, optimizer, batches, n_steps: int) -> float:
    """Images (views) per second over ``n_steps`` optimisation steps drawn from ``batches``."""
    images, start = 0, None
    for step, batch in enumerate(batches):
        if step == 2:  # warm-up steps excluded
            start, images = time.perf_counter(), 0
        loss, _ = method.training_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        method.on_train_batch_end(step, 1000)
        images += sum(v.shape[0] for v in batch["views"]) if "views" in batch else batch["image"].shape[0]
        if step == n_steps + 1:
            break
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shards", default="results/sdss/shards/*.parquet")
    parser.add_argument("--manifest", default="results/sdss/manifest.json")
    parser.add_argument("--method", default="simclr")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/train.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shards = sorted(glob.glob(args.shards))
    manifest = load_manifest(args.manifest)
    bands = manifest["bands"]
    crop = DEFAULT_AUGMENT["jitter_crop"]["crop_size"]
    method = create_method(args.method, in_chans=len(bands), img_size=crop, config={})
    optimizer = torch.optim.AdamW(method.parameters(), lr=1e-4)
    n_views = max(1, method.n_views)
    shape = (args.batch_size, len(bands), crop, crop)

    def random_batches():
        while True:
            yield {"image": torch.randn(shape), "views": [torch.randn(shape) for _ in range(n_views)]}

    raw_train = timed_steps(method, optimizer, random_batches(), args.steps)
    augment = build_augmentations(DEFAULT_AUGMENT, bands, manifest, "sdss")
    views = BatchViews(augment, n_views, crop, AsinhNormalise.from_manifest(manifest), seed=0)
    dataset = ShardDataset(shards, splits=("train",), seed=0, shuffle=True)
    loader = DataLoader(dataset, batch_size=args.batch_size, collate_fn=collate, num_workers=args.workers)
    pipeline_train = timed_steps(method, optimizer, (views(batch, 0) for batch in loader), args.steps)
    start, images, raw_batches = time.perf_counter(), 0, []
    for step, batch in enumerate(loader):
        images += n_views * batch["image"].shape[0]
        raw_batches.append(batch)
        if step == args.steps:
            break
    loader_rate = images / (time.perf_counter() - start)
    start = time.perf_counter()
    augmented = sum(n_views * views(batch, 1)["image"].shape[0] for batch in raw_batches)
    augment_rate = augmented / (time.perf_counter() - start)
    method.eval()
    with torch.no_grad():
        x = torch.randn(256, len(bands), crop, crop)
        method.embed(x)
        start = time.perf_counter()
        for _ in range(4):
            method.embed(x)
        raw_embed = 4 * 256 / (time.perf_counter() - start)
    start = time.perf_counter()
    ids, _ = embed_shards(method.embed, shards[:2], manifest, crop, batch_size=256, workers=args.workers)
    pipeline_embed = len(ids) / (time.perf_counter() - start)
    result = {
        "method": args.method, "batch_size": args.batch_size, "crop": crop, "bands": len(bands),
        "threads": args.threads, "loader_workers": args.workers,
        "raw_train_images_per_s": round(raw_train, 1), "pipeline_train_images_per_s": round(pipeline_train, 1),
        "ratio_pipeline_over_raw_train": round(pipeline_train / raw_train, 3), "goal_train_ratio": 0.85,
        "loader_images_per_s": round(loader_rate, 1), "ratio_loader_over_train": round(loader_rate / pipeline_train, 2),
        "goal_loader_ratio": 10, "batch_augment_images_per_s": round(augment_rate, 1),
        "raw_embed_images_per_s": round(raw_embed, 1), "pipeline_embed_images_per_s": round(pipeline_embed, 1),
        "ratio_pipeline_over_raw_embed": round(pipeline_embed / raw_embed, 3), "goal_embed_ratio": 0.9,
    }
    print(json.dumps(result, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
