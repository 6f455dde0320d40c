"""A coder's per-step arithmetic: how one decode step's model outputs become code (arithmetic.py's Encoder) and
back, one object per coder, shared by the batched encoder and decoder.

LogitsCoding (coders c1, c2) builds every vocabulary entry's probability from llama.cpp's logits;
ShortlistCoding (coder s1, shortlist.py) takes the final hidden states and codes over a shortlist with an
escape. Both see a step's rows for many lanes at once, so work shared by the rows (a projection) is one
matrix product per step, not one per lane.
"""
from __future__ import annotations

import functools

import numpy as np
from threadpoolctl import ThreadpoolController

from engine.codecs.lossless import projection as P
from engine.codecs.lossless.arithmetic import probabilities
from engine.codecs.lossless.shortlist import SegmentList, ShortlistModel


def surprisal(probs: np.ndarray, symbols) -> list[float]:
    """-log2 p of each symbol under its row (float estimate of what the coder spends)."""
    rows = np.arange(len(symbols))
    p = probs[rows, symbols].astype(np.float64) / probs.sum(axis=1, dtype=np.float64)
    return list(-np.log2(p))


class LogitsCoding:
    """Coders c1 and c2: probabilities of the whole vocabulary from each row of logits."""

    hidden = False  # the step returns logits

    def __init__(self, primed, coder: str):
        self.coder = coder
        self.first = probabilities(primed.first_logits.reshape(1, -1), coder=coder)
        self._buf: np.ndarray | None = None

    def new_state(self):
        return None

    def _probs(self, logits: np.ndarray) -> np.ndarray:
        if self._buf is None or self._buf.shape[0] < logits.shape[0]:
            self._buf = np.empty((max(logits.shape[0], 128), logits.shape[1]), dtype=np.float32)
        return probabilities(logits, self._buf[: logits.shape[0]], self.coder)

    def encode_first(self, lane, token: int, with_bits: bool) -> None:
        lane.coder.encode([token], self.first)
        if with_bits:
            lane.bits += surprisal(self.first, [token])

    def decode_first(self, lane) -> int:
        return lane.coder.decode(self.first[0])

    def encode(self, outputs: np.ndarray, jobs, with_bits: bool) -> None:
        """jobs: (lane, its rows among outputs (a slice), the symbols they code)."""
        probs = self._probs(outputs)
        for lane, rows, symbols in jobs:
            lane.coder.encode(symbols, probs[rows])
            if with_bits:
                lane.bits += surprisal(probs[rows], symbols)

    def decode(self, outputs: np.ndarray, jobs) -> list[int]:
        """jobs: (lane, its row among outputs); returns each lane's next token."""
        probs = self._probs(outputs)
        return [lane.coder.decode(probs[row]) for lane, row in jobs]


class ShortlistCoding:
    """Coder s1: each row's hidden state projected onto the segment's list; escapes coded over the vocabulary."""

    hidden = True  # the step returns final hidden states

    def __init__(self, primed, model: ShortlistModel):
        self.model = model
        self.first_hidden = primed.first_hidden.reshape(1, -1)

    def new_state(self) -> SegmentList:
        return SegmentList(self.model)

    def encode_first(self, lane, token: int, with_bits: bool) -> None:
        self.encode(self.first_hidden, [(lane, slice(0, 1), [token])], with_bits)

    def decode_first(self, lane) -> int:
        return self.decode(self.first_hidden, [(lane, 0)])[0]

    def encode(self, outputs: np.ndarray, jobs, with_bits: bool) -> None:
        with _one_blas_thread():
            self._encode(outputs, jobs, with_bits)

    def decode(self, outputs: np.ndarray, jobs) -> list[int]:
        with _one_blas_thread():
            return self._decode(outputs, jobs)

    def _encode(self, outputs: np.ndarray, jobs, with_bits: bool) -> None:
        q, scale = P.blocked_ints(self.model.matrix, outputs)
        base = self.model.base_logits(q)
        # Which rows escape is known from the tokens alone (a token joins its lane's list once it escaped): their
        # full projections are made first, all in one pass over the output matrix.
        escaped = []
        for lane, rows, symbols in jobs:
            seen = set()
            for r, token in enumerate(symbols):
                if lane.state.symbol(token) is None and token not in seen:
                    seen.add(token)
                    escaped.append(rows.start + r)
        full = dict(zip(escaped, self._full(q, scale, escaped)))
        for lane, rows, symbols in jobs:
            state, r, k = lane.state, 0, len(symbols)
            while r < k:
                end = r
                while end < k and state.symbol(symbols[end]) is not None:
                    end += 1
                escape = end < k
                end += escape  # a group of rows coded with the same list; its last row may escape
                idx = np.arange(rows.start + r, rows.start + end)
                freq = state.frequencies(base[idx], q[idx], scale[idx])
                syms = [state.symbol(t) for t in symbols[r : end - escape]] + [state.escape_symbol] * escape
                lane.coder.encode(syms, freq)
                if with_bits:
                    lane.bits += surprisal(freq, syms)
                state.advance(end - r)
                if escape:
                    token = symbols[end - 1]
                    wide = state.escape_frequencies(full[idx[-1]]).reshape(1, -1)
                    lane.coder.encode([token], wide)
                    if with_bits:
                        lane.bits[-1] += surprisal(wide, [token])[0]
                    state.join(token)
                r = end

    def _decode(self, outputs: np.ndarray, jobs) -> list[int]:
        q, scale = P.blocked_ints(self.model.matrix, outputs)
        base = self.model.base_logits(q)
        tokens: list[int | None] = []
        escaped = []
        for j, (lane, row) in enumerate(jobs):
            state = lane.state
            idx = np.array([row])
            symbol = lane.coder.decode(state.frequencies(base[idx], q[idx], scale[idx])[0])
            state.advance(1)
            if symbol == state.escape_symbol:
                escaped.append(j)
                tokens.append(None)
            else:
                tokens.append(state.token(symbol))
        if escaped:
            rows = [jobs[j][1] for j in escaped]
            for j, full in zip(escaped, self._full(q, scale, rows)):
                lane = jobs[j][0]
                tokens[j] = int(lane.coder.decode(lane.state.escape_frequencies(full)))
                lane.state.join(tokens[j])
        return tokens  # type: ignore[return-value]

    def _full(self, q: np.ndarray, scale: np.ndarray, rows: list[int]) -> np.ndarray:
        if not rows:
            return np.empty((0, self.model.matrix.n_vocab), dtype=np.int64)
        idx = np.asarray(rows)
        return P.full_frequencies(self.model.matrix, q[idx], scale[idx])


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def _one_blas_thread():
    """The BLAS on one thread while s1 projects: its products are memory-bound matrix-vector products, and an idle
    OpenBLAS thread spins on the cores llama.cpp's threads need next (measured: a lone step 13.5 -> 40 ms)."""
    return _controller().limit(limits=1, user_api="blas")
