"""Maps-stage throughput on synthetic embeddings (a mixture of Gaussians in D dimensions, like an encoder's clusters).

Prints and saves JSON (default benchmarks/results/maps.json):
- sparse autoencoder training samples/s (galssl.maps.sae.train_sae, the config's default groups and k) for 10^4 and
  10^5 embeddings;
- UMAP wall time (galssl.maps.umap.fit_umap, default settings, seeded so single-threaded) for 10^4 and 10^5
  embeddings: each size in a fresh process, first call (numba compiles umap-learn's and pynndescent's kernels) and a
  second, warm call in the same process.
Usage: python benchmarks/maps.py [--sizes 10000 100000] [--dim 512] [--threads 2] [--out benchmarks/results/maps.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def synthetic_embeddings(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """(n, dim) float32: 20 clusters with anisotropic spread, non-negative like pooled ReLU features."""
    rng = np.random.default_rng(seed)
    centres = rng.gamma(2.0, 0.5, size=(20, dim))
    scales = rng.uniform(0.1, 0.5, size=(20, dim))
    labels = rng.integers(0, 20, n)
    return np.maximum(centres[labels] + scales[labels] * rng.normal(size=(n, dim)), 0).astype(np.float32)


def sae_throughput(n: int, dim: int, epochs: int) -> dict:
    """Samples/s of SAE training (default maps.sae settings except epochs) on n embeddings."""
    from galssl.maps.sae import scaled_groups, train_sae
    from galssl.maps.settings import SAESettings

    settings = SAESettings(epochs=epochs)
    started = time.perf_counter()
    _, history = train_sae(synthetic_embeddings(n, dim), settings, seed=0)
    return {"n": n, "dim": dim, "latents": int(sum(scaled_groups(settings.groups, settings.reference_dim, dim))),
            "k": settings.k, "batch_size": settings.batch_size, "epochs": epochs,
            "samples_per_second": round(history.samples_per_second, 1),
            "wall_seconds": round(time.perf_counter() - started, 2)}


def umap_times(n: int, dim: int) -> dict:
    """First-call and warm wall time of a seeded UMAP fit on n embeddings (run in a fresh process)."""
    from galssl.maps.settings import UMAPSettings
    from galssl.maps.umap import fit_umap

    vectors = synthetic_embeddings(n, dim)
    times = []
    for _ in range(2):
        started = time.perf_counter()
        fit_umap(vectors, UMAPSettings(), seed=0)
        times.append(time.perf_counter() - started)
    return {"n": n, "dim": dim, "first_call_seconds": round(times[0], 2), "warm_seconds": round(times[1], 2),
            "compile_overhead_seconds": round(times[0] - times[1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--sae-epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--umap-only", type=int, help=argparse.SUPPRESS)  # child process: one UMAP size
    parser.add_argument("--out", default="benchmarks/results/maps.json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.umap_only:
        print(json.dumps(umap_times(args.umap_only, args.dim)))
        return
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads},
               "sae": [], "umap": []}
    for n in args.sizes:
        results["sae"].append(sae_throughput(n, args.dim, args.sae_epochs if n <= 20_000 else 1))
        print("sae", json.dumps(results["sae"][-1]), flush=True)
    for n in args.sizes:
        child = subprocess.run([sys.executable, __file__, "--umap-only", str(n), "--dim", str(args.dim),
                                "--threads", str(args.threads)], capture_output=True, text=True, check=True)
        results["umap"].append(json.loads(child.stdout.strip().splitlines()[-1]))
        print("umap", json.dumps(results["umap"][-1]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
