"""Similarity grouping: order a batch so that texts whose embeddings are close run next to each other."""
from __future__ import annotations

import numpy as np


def group_order(vectors: np.ndarray, threshold: float = 0.85) -> list[int]:
    """Indices in group order: each group is a seed (first unplaced text) and every unplaced text with
    cosine >= threshold to it, in input order. Rows of vectors must be unit length."""
    n = len(vectors)
    placed = np.zeros(n, dtype=bool)
    order: list[int] = []
    sims = vectors @ vectors.T if n else np.zeros((0, 0))
    for seed in range(n):
        if placed[seed]:
            continue
        members = [j for j in range(seed, n) if not placed[j] and (j == seed or sims[seed, j] >= threshold)]
        placed[members] = True
        order += members
    return order
