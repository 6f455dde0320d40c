"""Coder s1's vocabulary projection: a final hidden state to integer token frequencies, the same bits everywhere.

llama.cpp hands back the final hidden state h of each row (bindings' capture; the graph stops before its own
output projection) and this module projects it onto rows of the model's output matrix. Every step is exact in
integers or one correctly rounded IEEE operation applied elementwise, so the frequencies are a function of h's
bits alone, whatever the BLAS, its threads, the rows beside it or the instruction set (docs/FORMAT.md, s1):

- rows: each output row dequantized from the GGUF (F32, F16 or Q8_0: one IEEE product per value) and stored as
  int8 values w with its own float32 scale sw = max|row| / 127 (w = rint(row / sw));
- h: m = max|h| (float32), q = rint(float64(h) / m * 511) in float64 (10 bits: measured to code the same bytes
  as 16), sh = m / 511;
- products: p = q.w exactly: computed in float32 over column blocks of at most 256 (256 * 511 * 127 < 2^24:
  every partial sum is an exact integer, whatever order the BLAS adds in), the blocks' sums added in float64;
- logits l = p * sw (float64); k = floor((max(l) - l) * sh * 256 + 0.5) over the entries in play; the frequency
  is TABLE[k] = round(2^24 exp(-k / 256)) (0 past the table's end), an integer computed once in decimal.
"""
from __future__ import annotations

import functools
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import psutil

from engine.models import gguf

GRID = 256  # table steps per nat of logit distance
HIDDEN_MAX = 511  # q's range: 10 bits
BLOCK = 256  # widest column block whose products sum exactly in float32 (256 * 511 * 127 < 2^24)
CHUNK_ROWS = 1024  # rows turned to float32 at once (160-224 KB a block: they stay in a core's cache)
# sha256 of TABLE's int64 little-endian bytes: a table computed otherwise here would code other bits
TABLE_SHA256 = "cf52c16fa4778fbfdb379ee1d364e81d4e292eaf16c16d159129ec9e1a01df68"


@functools.cache
def table() -> np.ndarray:
    """round(2^24 exp(-k / GRID)) for k = 0.. up to the first 0, exact integers (int64), from decimal arithmetic."""
    out = []
    with localcontext() as ctx:
        ctx.prec = 40
        while True:
            v = int((Decimal(-len(out)) / GRID).exp() * (1 << 24) + Decimal("0.5"))
            out.append(v)
            if v == 0:
                break
    values = np.array(out, dtype="<i8")
    digest = hashlib.sha256(values.tobytes()).hexdigest()
    if digest != TABLE_SHA256:
        raise RuntimeError(f"coder s1's frequency table computed here has sha256 {digest}, not {TABLE_SHA256}: "
                           f"records coded with it would not decode elsewhere (report this machine and Python)")
    return values


class OutputMatrix:
    """A model's output rows as int8 values and float32 scales (see the module's rules), all of the vocabulary.

    Values are kept block-major, (blocks, n_vocab, block width), each block at most BLOCK columns (the last ones
    zero-padded): a block of rows is then contiguous, turned to float32 and multiplied in cache."""

    def __init__(self, values: np.ndarray, scales: np.ndarray, width: int):
        self.values, self.scales, self.width = values, scales, width
        self.blocks, self.n_vocab, self.block_width = values.shape
        self.scales64 = scales.astype(np.float64)

    @classmethod
    def from_gguf(cls, model_path: str | Path) -> "OutputMatrix":
        """Built from the model file's output matrix (about 2 s for gemma-3-270m on 2 cores)."""
        meta = gguf.read(model_path)
        names = {t.name for t in meta.tensors}
        name = "output.weight" if "output.weight" in names else "token_embd.weight"  # tied embeddings
        info, raw = gguf.tensor(model_path, meta, name)
        if info.type not in (gguf.F32, gguf.F16, gguf.Q8_0):
            raise ValueError(f"{model_path}: its output matrix is {gguf.TYPE_NAMES.get(info.type, info.type)}; "
                             f"coder s1 reads F32, F16 or Q8_0 rows")
        width, n_vocab = int(info.shape[0]), int(info.shape[1])
        blocks = -(-width // BLOCK)
        matrix = cls(np.zeros((blocks, n_vocab, -(-width // blocks)), dtype=np.int8),
                     np.empty(n_vocab, dtype=np.float32), width)
        for a in range(0, n_vocab, 16 * CHUNK_ROWS):
            b = min(a + 16 * CHUNK_ROWS, n_vocab)
            values, matrix.scales[a:b] = quantize_rows(gguf.dequantize(info, raw, slice(a, b)))
            matrix.values[:, a:b] = matrix.blocked(values)
        matrix.scales64 = matrix.scales.astype(np.float64)
        return matrix

    def blocked(self, x: np.ndarray) -> np.ndarray:
        """(n, width) to (blocks, n, block width), zero-padded."""
        padded = np.zeros((x.shape[0], self.blocks * self.block_width), dtype=x.dtype)
        padded[:, : self.width] = x
        return padded.reshape(x.shape[0], self.blocks, self.block_width).transpose(1, 0, 2)

    def rows(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """These rows' int8 values, block-major (what products takes), and their float64 scales."""
        ids = np.asarray(ids, dtype=np.int64)
        return np.ascontiguousarray(self.values[:, ids]), self.scales64[ids]


def quantize_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 rows to int8 values and float32 scales: scale = max|row| / 127, values = rint(row / scale)."""
    scale = np.abs(rows).max(axis=1) / np.float32(127)
    scale[scale == 0] = 1
    return np.rint(rows / scale[:, None]).astype(np.int8), scale.astype(np.float32)


def hidden_ints(hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """k hidden rows to (k, width) float32 integers q and their float64 scales sh (see the module's rules)."""
    h = np.asarray(hidden, dtype=np.float32)
    if not np.isfinite(h).all():
        raise ValueError("the model returned a hidden state that is not finite")
    m = np.abs(h).max(axis=1).astype(np.float64)
    m[m == 0] = 1
    return np.rint(h.astype(np.float64) / m[:, None] * HIDDEN_MAX).astype(np.float32), m / HIDDEN_MAX


def blocked_ints(matrix: OutputMatrix, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """hidden_ints, laid out as products takes them: (k, blocks, block width), zero-padded."""
    q, scale = hidden_ints(hidden)
    return np.ascontiguousarray(matrix.blocked(q).transpose(1, 0, 2)), scale


def products(q: np.ndarray, values: np.ndarray, workers: int = 1) -> np.ndarray:
    """q.w for each hidden row and output row: exact integers, (k, n) float64. q: (k, blocks, block width)
    (blocked_ints); values: int8, block-major (OutputMatrix.rows). A thousand rows at a time are turned to
    float32 in cache and multiplied there (measured: 3x faster than float32 rows read from memory after a model
    step). workers > 1 splits the rows between threads (numpy lets go of the GIL): it pays for the whole
    vocabulary, not for a shortlist right after a model step (measured 1.9 against 1.6 ms a step)."""
    n = values.shape[1]
    out = np.zeros((n, q.shape[0]), dtype=np.float64)
    bounds = list(range(0, n, CHUNK_ROWS)) + [n]
    share = -(-(len(bounds) - 1) // max(1, workers))

    def part(first: int) -> None:
        for a, b in zip(bounds[first : first + share], bounds[first + 1 : first + share + 1]):
            _products_into(q, np.asarray(values[:, a:b], dtype=np.float32), out[a:b])  # int8 rows: a copy in cache

    if workers > 1:
        list(_pool().map(part, range(0, len(bounds) - 1, share)))
    else:
        part(0)
    return out.T


def _products_into(q: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """out += each block's float32 products (exact: under 2^24), block by block in float64 (exact)."""
    for j in range(rows.shape[0]):
        if q.shape[0] <= 4:  # the BLAS's matrix-vector product: several times faster here than a thin matrix product
            for i in range(q.shape[0]):
                out[:, i] += rows[j] @ q[i, j]
        else:
            out += rows[j] @ q[:, j].T


@functools.cache
def _workers() -> int:
    return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_workers(), thread_name_prefix="semzip-projection")


def frequencies(logits: np.ndarray, hidden_scale: np.ndarray) -> np.ndarray:
    """TABLE[floor((max - l) * sh * GRID + 0.5)] per entry, 0 past the table's end: (k, n) int64."""
    steps = np.floor((logits.max(axis=1, keepdims=True) - logits) * hidden_scale[:, None] * GRID + 0.5)
    t = table()
    np.minimum(steps, t.size - 1, out=steps)  # the table's last entry is 0
    return t[steps.astype(np.int64)]


def full_frequencies(matrix: OutputMatrix, q: np.ndarray, hidden_scale: np.ndarray) -> np.ndarray:
    """Frequencies over the whole vocabulary for each hidden row, (k, n_vocab) int64."""
    return frequencies(products(q, matrix.values, _workers()) * matrix.scales64, hidden_scale)
