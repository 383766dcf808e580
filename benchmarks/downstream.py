"""Downstream benchmarks: faiss similarity search and probe fit time, in one run on one thread count.

Prints and saves JSON (default benchmarks/results/downstream.json):
- search: for N = 10^5 and 10^6 unit vectors of dimension 512 (ResNet-18 features) and 192 (ViT-Tiny), the time to
  build galssl's exact index (IndexFlatIP) and its approximate one (IVF-Flat with the config's nlist/nprobe, seeded
  k-means), queries/s batched (all threads) and the latency of one query (one thread), and recall@10 of the
  approximate index against the exact one.
  Vectors are clustered (1,000 Gaussian clusters with scatter as large as the spread of their centres, like
  embeddings of galaxy types) and queries are held-out draws from the same clusters; one extra run at the smallest
  N and dimension uses unstructured (isotropic Gaussian) vectors, the worst case of any approximate index.
  Recall@10 at N = 10^6 is scored on the 200 queries that were also run through the exact index.
- probes: fit time vs number of labels N = 2^k of galssl.evaluate.probes' classifiers (logistic regression, kNN,
  MLP; one grid value each, as one step of the val-split grid search) and of the soft-label vote-fraction probe,
  on 10 planted classes in 512 dimensions; kNN's time includes predicting 1,000 objects (its fit only stores).
Usage: python benchmarks/downstream.py [--sizes 100000 1000000] [--dims 512 192] [--threads 2] [--hnsw]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import time
from pathlib import Path

import faiss
import numpy as np
import torch

from galssl.evaluate.probes import ProbeSettings, SoftLabelProbe, make_classifier
from galssl.search_index import SearchSettings, build_index, index_kind

N_CLUSTERS = 1000
CHUNK = 100_000


def clustered_unit_vectors(n: int, dim: int, seed: int, centres: np.ndarray, scatter: float) -> np.ndarray:
    """(n, dim) float32 unit vectors: a random cluster centre plus Gaussian scatter, built in chunks (flat memory)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        block = centres[rng.integers(len(centres), size=stop - start)]
        block += scatter * rng.standard_normal((stop - start, dim), dtype=np.float32)
        faiss.normalize_L2(block)
        out[start:stop] = block
    return out


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def query_rates(index: faiss.Index, queries: np.ndarray, k: int, n_single: int) -> tuple[np.ndarray, float, float]:
    """(neighbour rows, batched queries/s on all threads, mean single-query latency in ms on one thread)."""
    index.search(queries[:8], k)  # warm-up
    (_, rows), seconds = timed(index.search, queries, k)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # one query has nothing to share; idle OpenMP threads only add waiting
    start = time.perf_counter()
    for row in range(n_single):
        index.search(queries[row: row + 1], k)
    latency = (time.perf_counter() - start) / n_single * 1000
    faiss.omp_set_num_threads(threads)
    return rows, len(queries) / seconds, latency


def recall_at(approximate: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of the exact top-k found by the approximate search."""
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approximate, exact)]))


def bench_search(n: int, dim: int, settings: SearchSettings, n_queries: int, seed: int, hnsw: bool,
                 structure: str = "clustered") -> dict:
    """Build and query the exact and the approximate index of n unit vectors; ``structure`` is ``clustered``
    (1,000 clusters) or ``isotropic`` (one Gaussian: no structure, the worst case of an approximate index)."""
    if structure == "clustered":
        centres, scatter = np.random.default_rng(seed).standard_normal((N_CLUSTERS, dim), dtype=np.float32), 1.0
    else:
        centres, scatter = np.zeros((1, dim), dtype=np.float32), 1.0
    database, generation = timed(clustered_unit_vectors, n, dim, seed + 1, centres, scatter)
    queries = clustered_unit_vectors(n_queries, dim, seed + 2, centres, scatter)
    result = {"n": n, "dim": dim, "structure": structure, "data_generation_s": round(generation, 2),
              "n_queries": n_queries}

    index, build_s = timed(build_index, database, SearchSettings(approximate_above=n), seed)
    # a full scan of 10^6 vectors per query is slow: fewer exact queries there, and recall@10 is scored on them
    n_exact = n_queries if n <= 200_000 else n_queries // 5
    exact_rows, qps, latency = query_rates(index, queries[:n_exact], 10, 10)
    result["exact"] = {"index": index_kind(index), "build_s": round(build_s, 2), "queries_per_s": round(qps, 1),
                       "single_query_ms": round(latency, 3), "n_queries": n_exact}
    del index
    gc.collect()

    kinds = [("ivf", settings)] + ([("hnsw", settings)] if hnsw else [])
    for kind, base in kinds:
        approximate = dataclasses.replace(base, approximate_above=0, approximate_index=kind)
        index, build_s = timed(build_index, database, approximate, seed)
        rows, qps, latency = query_rates(index, queries, 10, 50)
        result[kind] = {"index": index_kind(index), "build_s": round(build_s, 2), "queries_per_s": round(qps, 1),
                        "single_query_ms": round(latency, 3),
                        "recall_at_10": round(recall_at(rows[:n_exact], exact_rows), 4), "recall_queries": n_exact,
                        "speedup_vs_exact": round(qps / result["exact"]["queries_per_s"], 1)}
        del index
        gc.collect()
    del database
    gc.collect()
    return result


def planted_classes(n: int, dim: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, classes, 3-answer vote fractions) with class-dependent means."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((n_classes, dim)).astype(np.float32) * 0.3
    classes = rng.integers(n_classes, size=n)
    features = means[classes] + rng.standard_normal((n, dim)).astype(np.float32)
    logits = features[:, :3] * 2.0
    fractions = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return features, classes, fractions


def bench_probes(sizes: list[int], dim: int, seed: int) -> list[dict]:
    settings = ProbeSettings()
    parameters = {"logistic": settings.logistic_c[1], "knn": settings.knn_k[1], "mlp": settings.mlp_alpha[0]}
    x_all, y_all, f_all = planted_classes(max(sizes) + 1000, dim, 10, seed)
    x_test = x_all[-1000:]
    rows = []
    for n in sizes:
        x, y, f = x_all[:n], y_all[:n], f_all[:n]
        row = {"n_labels": n, "dim": dim}
        for kind, parameter in parameters.items():
            model = make_classifier(kind, parameter, settings, seed)
            start = time.perf_counter()
            model.fit(x, y)
            if kind == "knn":
                model.predict(x_test)
            row[f"{kind}_fit_s"] = round(time.perf_counter() - start, 3)
        _, seconds = timed(SoftLabelProbe(settings.soft_l2[1]).fit, x, f, seed)
        row["soft_label_fit_s"] = round(seconds, 3)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dims", type=int, nargs="+", default=[512, 192])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--probe-sizes", type=int, nargs="+", default=[64, 256, 1024, 4096, 8192])
    parser.add_argument("--no-isotropic", action="store_true", help="skip the unstructured worst-case run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hnsw", action="store_true", help="also time HNSW (built single-threaded: deterministic)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/downstream.json")
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    settings = SearchSettings()
    started, load_start = time.perf_counter(), os.getloadavg()[0]  # other work on the machine slows every number
    search = []
    for dim in args.dims:
        for n in args.sizes:
            result = bench_search(n, dim, settings, args.queries, args.seed, args.hnsw)
            print(json.dumps(result), flush=True)
            search.append(result)
    if not args.no_isotropic:  # worst case for reference, at the smallest size and dimension only
        result = bench_search(min(args.sizes), min(args.dims), settings, args.queries, args.seed, args.hnsw,
                              "isotropic")
        print(json.dumps(result), flush=True)
        search.append(result)
    probes = bench_probes(args.probe_sizes, 512, args.seed)
    report = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "threads": args.threads,
                    "cpu_count": os.cpu_count(), "load_average_1min_start_end": [load_start, os.getloadavg()[0]],
                    "faiss": faiss.__version__, "torch": torch.__version__},
        "search_settings": {"nlist": settings.nlist, "nprobe": settings.nprobe, "hnsw_m": settings.hnsw_m,
                            "hnsw_ef_search": settings.hnsw_ef_search, "k": 10, "clusters": N_CLUSTERS},
        "search": search,
        "probes": probes,
        "total_s": round(time.perf_counter() - started, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"total {report['total_s']} s -> {args.out}")


if __name__ == "__main__":
    main()
