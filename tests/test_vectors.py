"""Stored embeddings: every scheme's bytes, what they decode to, and a store keeping the scheme it was made with."""
from __future__ import annotations

import numpy as np
import pytest

from engine.store import MemoryStore, vectors


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("scheme", vectors.SCHEMES)
@pytest.mark.parametrize("dim", [384, 381])
def test_each_scheme_stores_its_size_and_keeps_the_nearest_neighbour(scheme, dim):
    docs = unit_rows(200, dim, 1)
    queries = docs[:50] + 0.35 * unit_rows(50, dim, 2)  # each query near its own document
    blobs = vectors.pack(docs, scheme)
    assert {len(b) for b in blobs} == {vectors.size_of(scheme, dim)}
    stored = vectors.unpack(blobs, scheme, dim)
    assert stored.shape == (200, dim) and stored.dtype == np.float32
    found = [int(np.argmax(vectors.cosine(q, stored))) for q in queries]
    assert found == list(range(50))


def test_i2_codes_four_levels_around_the_vectors_rms_and_four_dimensions_a_byte():
    row = np.array([[-2.0, -0.5, 0.3, 1.2, 0.0, 0.74, 0.76, -0.76]], dtype=np.float32)
    t = vectors.I2_THRESHOLD * np.sqrt(np.mean(row**2))
    expected = np.where(row < -t, -1.5, np.where(row < 0, -0.5, np.where(row < t, 0.5, 1.5)))
    (blob,) = vectors.pack(row, "i2")
    assert len(blob) == 2
    assert np.array_equal(vectors.unpack([blob], "i2", 8), expected.astype(np.float32))
    # scale-free: the thresholds follow the vector's own RMS
    assert np.array_equal(vectors.unpack(vectors.pack(row * 1000, "i2"), "i2", 8), expected.astype(np.float32))


def test_a_blob_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="not 96 bytes"):
        vectors.unpack([b"\0" * 95], "i2", 384)


def letters(texts: list[str]) -> np.ndarray:
    """A caller's own embedding: letter counts (the store takes any function of texts to vectors)."""
    out = np.zeros((len(texts), 26), dtype=np.float32)
    for i, t in enumerate(texts):
        for ch in t.lower():
            if "a" <= ch <= "z":
                out[i, ord(ch) - 97] += 1
    return out


def test_a_store_keeps_the_scheme_it_was_created_with(tmp_path):
    path = tmp_path / "old.db"
    with MemoryStore(path, mode="raw", embed=letters, dims=26, scheme="i4") as old:
        old.put(("n",), "zz", "zzzz buzz fizz")
        old.put(("n",), "aa", "banana salad")
    with MemoryStore(path, mode="raw", embed=letters, dims=26) as reopened:  # today's default is another scheme
        assert reopened.scheme == "i4"
        hits = reopened.search(("n",), "a banana", limit=2)
        assert [h.key for h in hits] == ["aa", "zz"] and hits[0].value == "banana salad"
