"""Our own vocabulary projection (bench only: measured in bench_projection.py, not kept; bench/RESULTS.md says why).

llama.cpp hands back the final hidden state h (its graph stopped before the output matrix, bindings'
capture) and we project it onto the rows of the output matrix that the record's alphabet holds: a shortlist
shipped with the package (the tokens measured in use, shortlist.py) plus the record's own other tokens.
Every step is exact or a single IEEE operation, so the frequencies are a function of h's bits alone,
whatever the BLAS, its threads, the batch or the instruction set:

- weights: each output row quantised to int8 with its own float32 scale (from the GGUF's Q8_0 or float rows);
- h: quantised to 16 bits with one scale per row, then split into a high and a low int8 half;
- each half times the int8 rows as one float32 matrix product: every partial sum is an integer below 2^24
  (width x 128 x 127 for a width of at most 1032; wider states are summed in column blocks in float64);
- logits = (256 hi + lo) x scale_h x scale_w in float64, then each logit's distance below the row's
  largest, on a grid of 1/64 nat, indexes a table of 2^24 exp(-k/64) built in exact decimal arithmetic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np

from engine.models import gguf

GRID = 64  # table steps per nat of logit distance
BLOCK = 1032  # widest column block whose int8 x int8 products sum exactly in float32 (1032 * 128 * 127 < 2^24)


def _exp_table() -> np.ndarray:
    """round(2^24 exp(-k / GRID)) for k = 0.. until it rounds to 0, in decimal arithmetic (the same everywhere)."""
    out = []
    with localcontext() as ctx:
        ctx.prec = 40
        while True:
            v = int((Decimal(-len(out)) / GRID).exp() * (1 << 24) + Decimal("0.5"))
            out.append(v)
            if v == 0:
                return np.array(out, dtype=np.float32)  # integers below 2^24 + 1: exact in float32


TABLE = _exp_table()


def output_matrix(model_path: str | Path) -> tuple[gguf.TensorInfo, np.ndarray]:
    """The model's output projection (output.weight, or the tied token embedding) as raw GGUF rows."""
    meta = gguf.read(model_path)
    names = {t.name for t in meta.tensors}
    return gguf.tensor(model_path, meta, "output.weight" if "output.weight" in names else "token_embd.weight")


def quantize_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each float32 row as int8 values (held in float32) and its float32 scale: row ~ values * scale."""
    scale = np.abs(rows).max(axis=1) / np.float32(127)
    scale[scale == 0] = 1
    return np.rint(rows / scale[:, None]).astype(np.float32), scale.astype(np.float32)


@dataclass(slots=True)
class Alphabet:
    """The symbols of one record: the shortlist's tokens, then the record's other tokens (sorted ids)."""

    extras: np.ndarray  # int64 token ids not in the shortlist
    weights: np.ndarray  # their int8 rows (float32), (len(extras), width)
    scales: np.ndarray  # their float64 scales


class Projection:
    """Hidden states to frequencies over an alphabet; shortlist rows kept in memory, others read when needed."""

    def __init__(self, model_path: str | Path, shortlist: np.ndarray):
        self.info, self._raw = output_matrix(model_path)
        self.width, self.n_vocab = self.info.shape[0], self.info.shape[1]
        self.shortlist = np.asarray(shortlist, dtype=np.int64)
        if self.shortlist.size == 0 or self.shortlist.max() >= self.n_vocab or np.any(np.diff(self.shortlist) <= 0):
            raise ValueError("a shortlist is sorted, distinct token ids of the model's vocabulary")
        self.base_w, base_s = quantize_rows(self._rows(self.shortlist))
        self.base_s = base_s.astype(np.float64)
        self.position = np.full(self.n_vocab, -1, dtype=np.int64)  # token -> its place in the shortlist
        self.position[self.shortlist] = np.arange(self.shortlist.size)

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        if ids.size == 0:
            return np.empty((0, self.width), dtype=np.float32)
        return np.concatenate([gguf.dequantize(self.info, self._raw, slice(int(i), int(i) + 1)) for i in ids])

    def alphabet(self, extras) -> Alphabet:
        extras = np.asarray(sorted(extras), dtype=np.int64)
        w, s = quantize_rows(self._rows(extras))
        return Alphabet(extras, w, s.astype(np.float64))

    def extras_of(self, tokens) -> list[int]:
        """The tokens of a text that the shortlist lacks, sorted and distinct."""
        ids = np.unique(np.asarray(tokens, dtype=np.int64))
        return ids[self.position[ids] < 0].tolist() if ids.size else []

    def symbols(self, tokens, alphabet: Alphabet) -> np.ndarray:
        """Token ids to symbol indices of the alphabet (every token must be in it)."""
        t = np.asarray(tokens, dtype=np.int64)
        pos = self.position[t]
        out = np.where(pos >= 0, pos, self.shortlist.size + np.searchsorted(alphabet.extras, t))
        bad = (pos < 0) & ~np.isin(t, alphabet.extras)
        if bad.any():
            raise ValueError(f"token {int(t[bad][0])} is in neither the shortlist nor the record's alphabet")
        return out.astype(np.int32)

    def token(self, symbol: int, alphabet: Alphabet) -> int:
        n = self.shortlist.size
        return int(self.shortlist[symbol]) if symbol < n else int(alphabet.extras[symbol - n])

    def frequencies(self, products: np.ndarray, scale: np.ndarray, hidden_q: np.ndarray | None,
                    alphabet: Alphabet) -> np.ndarray:
        """Unnormalised float32 frequencies (table values) over the alphabet for each row."""
        logits = products * scale[:, None] * self.base_s[None, :]
        if alphabet.extras.size:
            extra = _exact_products(hidden_q, alphabet.weights) * scale[:, None] * alphabet.scales[None, :]
            logits = np.concatenate([logits, extra], axis=1)
        return table_frequencies(logits)

    def quantized(self, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _quantize_hidden(hidden)


def table_frequencies(logits: np.ndarray) -> np.ndarray:
    """TABLE[round((max - logit) * GRID)] per entry: exact float64 steps, then a lookup."""
    steps = np.floor((logits.max(axis=1, keepdims=True) - logits) * GRID + 0.5)
    np.minimum(steps, TABLE.size - 1, out=steps)
    return TABLE[steps.astype(np.int64)]


def _quantize_hidden(hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows as integers in [-32767, 32767] (float32) and their float64 scales: row ~ q * scale."""
    h = np.asarray(hidden, dtype=np.float32)
    scale = np.abs(h).max(axis=1) / np.float32(32767)
    scale[scale == 0] = 1
    return np.rint(h / scale[:, None]), scale.astype(np.float64)


def _exact_products(q: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """q @ weights.T exactly (float64), q 16-bit integers and weights int8, both held in float32."""
    hi = np.floor((q + 128) / 256)
    lo = q - 256 * hi  # q = 256 hi + lo, hi in [-128, 128], lo in [-128, 127]
    n = q.shape[0]
    halves = np.concatenate([hi, lo]).astype(np.float32)
    out = np.zeros((2 * n, weights.shape[0]), dtype=np.float64)
    for a in range(0, q.shape[1], BLOCK):  # each block's float32 sums are exact integers
        out += halves[:, a : a + BLOCK] @ weights[:, a : a + BLOCK].T
    return out[:n] * 256 + out[n:]


def subset_rank_bytes(n_choices: int, count: int) -> int:
    """Bytes that hold the rank of any count-subset of n_choices items."""
    return max(1, math.ceil(math.log2(max(math.comb(n_choices, count), 2)) / 8)) if count else 0
