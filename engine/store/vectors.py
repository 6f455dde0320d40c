"""Embeddings as stored bytes: a precision scheme per store, and cosine top-k over what is stored.

Schemes (bytes for a 384-dimension vector): f32 1536, f16 768, i8 388 (a float32 scale, then one signed
byte a dimension), i4 196 (a scale, two dimensions a byte), i2 96 (four dimensions a byte, no scale), b1 48
(the signs only). The query stays float32: only the stored side is quantized. bench/bench_store.py measures
retrieval for each (bench/HISTORY.md). A store keeps the scheme it was created with (its meta table), so every
scheme here stays readable.
"""
from __future__ import annotations

import numpy as np

SCHEMES = ("f32", "f16", "i8", "i4", "i2", "b1")
# Measured on the LoCoMo dev QA and on DialogSum dev summary -> dialogue (bench/bench_store.py): retrieval@5
# within noise of float32 on both, at half of i4's bytes (a memory's row is a third embedding under i4).
DEFAULT_SCHEME = "i2"
# i2's thresholds, in units of the vector's RMS: 0 and +-I2_THRESHOLD (chosen on both dev sets together from the
# sweep in bench/HISTORY.md). Cosine ignores a vector's length, so the four levels need no stored scale: they decode
# as -1.5, -0.5, 0.5, 1.5, evenly spaced as the thresholds are. An all-zero vector (no direction) has no i2 form
# that scores 0: it is stored as 0.5 everywhere.
I2_THRESHOLD = 0.75


def size_of(scheme: str, dim: int) -> int:
    """Bytes one stored vector takes."""
    return {"f32": 4 * dim, "f16": 2 * dim, "i8": 4 + dim, "i4": 4 + (dim + 1) // 2, "i2": (dim + 3) // 4,
            "b1": (dim + 7) // 8}[scheme]


def pack(vecs: np.ndarray, scheme: str) -> list[bytes]:
    """One blob per row of vecs (rows are unit vectors or anything: cosine ignores the length)."""
    vecs = np.asarray(vecs, dtype=np.float32)
    if scheme == "f32":
        return [v.tobytes() for v in vecs]
    if scheme == "f16":
        return [v.astype("<f2").tobytes() for v in vecs]
    if scheme == "b1":
        return [np.packbits(v > 0).tobytes() for v in vecs]
    if scheme == "i2":
        return _pack_i2(vecs)
    levels = 127 if scheme == "i8" else 7
    scale = np.abs(vecs).max(axis=1, keepdims=True) / levels
    scale[scale == 0] = 1
    q = np.clip(np.rint(vecs / scale), -levels, levels).astype(np.int8)
    out = []
    for s, row in zip(scale[:, 0].astype("<f4"), q):
        if scheme == "i4":
            nib = (row + 8).astype(np.uint8)
            if len(nib) % 2:
                nib = np.append(nib, np.uint8(8))
            row = (nib[0::2] << 4) | nib[1::2]
        out.append(s.tobytes() + row.tobytes())
    return out


def _pack_i2(vecs: np.ndarray) -> list[bytes]:
    rms = np.sqrt(np.mean(vecs.astype(np.float64) ** 2, axis=1, keepdims=True))
    step = I2_THRESHOLD * np.where(rms == 0, 1, rms)
    codes = (np.clip(np.floor(vecs / step), -2, 1) + 2).astype(np.uint8)  # 0..3, the level below each value
    pad = -codes.shape[1] % 4
    codes = np.pad(codes, ((0, 0), (0, pad)), constant_values=2)
    quads = codes.reshape(len(codes), -1, 4)
    packed = (quads[:, :, 0] << 6) | (quads[:, :, 1] << 4) | (quads[:, :, 2] << 2) | quads[:, :, 3]
    return [row.tobytes() for row in packed.astype(np.uint8)]


def unpack(blobs: list[bytes], scheme: str, dim: int) -> np.ndarray:
    """The stored vectors back as a float32 matrix (one row per blob); a blob of the wrong size is a ValueError."""
    size = size_of(scheme, dim)
    if any(len(b) != size for b in blobs):
        raise ValueError(f"a stored {scheme} vector is not {size} bytes")
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    raw = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), size)
    if scheme == "f32":
        return raw.view("<f4").astype(np.float32)
    if scheme == "f16":
        return raw.view("<f2").astype(np.float32)
    if scheme == "b1":
        return np.unpackbits(raw, axis=1)[:, :dim].astype(np.float32) * 2 - 1
    if scheme == "i2":
        codes = np.stack([(raw >> shift) & 3 for shift in (6, 4, 2, 0)], axis=2).reshape(len(blobs), -1)
        return codes[:, :dim].astype(np.float32) - 1.5
    scale = raw[:, :4].copy().view("<f4").astype(np.float32)
    body = raw[:, 4:]
    if scheme == "i8":
        return body.view(np.int8).astype(np.float32) * scale
    nib = np.empty((len(blobs), body.shape[1] * 2), dtype=np.int16)
    nib[:, 0::2], nib[:, 1::2] = body >> 4, body & 15
    return (nib[:, :dim] - 8).astype(np.float32) * scale


def cosine(query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Cosine of the query against each row; a zero row scores 0."""
    q = np.asarray(query, dtype=np.float32)
    q = q / (np.linalg.norm(q) or 1)
    norms = np.linalg.norm(matrix, axis=1)
    return (matrix @ q) / np.where(norms == 0, 1, norms)
