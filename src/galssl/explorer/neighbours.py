"""Each shown galaxy's k nearest neighbours among the shown galaxies, by cosine similarity of the embedding, from
the same faiss index the similarity-search stage builds (galssl.search_index.build_index)."""

from __future__ import annotations

import numpy as np

from galssl.search_index import SearchSettings, build_index, normalise

QUERY_CHUNK = 8192
"""Queries per faiss search call (bounds the result arrays' memory)."""


def nearest_neighbours(vectors: np.ndarray, k: int, seed: int,
                       settings: SearchSettings | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows (n, k) int32, cosine similarity (n, k) float32): the k most similar other rows of each row, most
    similar first; k is capped at n - 1. Exact up to ``search.approximate_above`` rows, approximate above."""
    unit = normalise(vectors)
    n = len(unit)
    k = max(0, min(k, n - 1))
    index = build_index(unit, settings or SearchSettings(), seed)
    rows = np.zeros((n, k), dtype=np.int32)
    similarity = np.zeros((n, k), dtype=np.float32)
    if k == 0:
        return rows, similarity
    for start in range(0, n, QUERY_CHUNK):
        stop = min(n, start + QUERY_CHUNK)
        found_similarity, found = index.search(unit[start:stop], k + 1)
        for line, own in enumerate(range(start, stop)):
            keep = (found[line] >= 0) & (found[line] != own)
            picked, scores = found[line][keep][:k], found_similarity[line][keep][:k]
            if len(picked) < k:  # an approximate index can return fewer: pad with the best found
                picked = np.resize(picked if len(picked) else np.array([own]), k)
                scores = np.resize(scores if len(scores) else np.array([1.0]), k)
            rows[own], similarity[own] = picked, scores
    return rows, similarity
