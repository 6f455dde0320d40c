"""Coder s1: each token coded over a shortlist of the vocabulary plus an escape symbol (docs/FORMAT.md, s1).

The model's output projection is half of a small model's step on a CPU, and the coder then touches every
vocabulary entry. Coder s1 projects the final hidden state (projection.py) onto a shortlist shipped with
the package instead: the tokens the dev sets use, a few thousand of the vocabulary's 150,000-260,000. A
coding distribution only has to be computed the same way on both sides, so it need not be the model's:

- a segment's list is the shortlist, then each token that escaped it so far in that segment (in order of
  escape): a name that escaped once is in the list for the rest of the segment;
- the escape symbol comes last; with e escapes in the t tokens coded before in the segment, its weight is
  floor(Z * (2e + 1) / (2t + 16 - (2e + 1))) (at least 1) against the list's frequencies summing to Z: an
  escape probability of (e + 1/2) / (t + 8), the segment's own count (chosen on held-out halves of the dev
  sets as a whole: bench/bench_escape.py);
- an escaped token is then coded over the whole vocabulary under the same hidden state's full projection,
  the list's tokens given 0.

Every frequency is an integer, handed to constriction as float32 (exact below 2^24; the escape weight is
rounded to float32 the same way everywhere).
"""
from __future__ import annotations

import functools
import hashlib
from importlib import resources
from pathlib import Path

import numpy as np

from engine.codecs.lossless import projection as P
from engine.codecs.lossless.matrix_cache import output_matrix

CODER_ID = "s1"
# The shortlist shipped for each model this release codes with s1: sha256 (first 16 hex) of the model file ->
# (file in engine/codecs/lossless/data, sha256 of its bytes). A model without one codes with c2.
SHORTLISTS = {
    # gemma-3-270m Q4_K_M
    "a5fd3b62230aa5ec": ("shortlist-gemma3.u32", "c74f546577464d69689674ca603ba0c5ee2aceffdf3d924add4476291129a161"),
    # Qwen2.5-Coder-0.5B-Instruct Q4_K_M
    "1d9614638d18024d": ("shortlist-qwen25.u32", "86208b8deead6c530c35a264f4a61357b491746c975db7cbf5f9ee2d86c6e59a"),
}
# The escape probability (e + ESCAPE_NUM / ESCAPE_DEN) / (t + ESCAPE_BASE / ESCAPE_DEN) = (e + 1/2) / (t + 8)
ESCAPE_NUM = 1
ESCAPE_DEN = 2
ESCAPE_BASE = 16


def has_shortlist(model_sha: str) -> bool:
    return model_sha[:16] in SHORTLISTS


def shortlist_ids(model_sha: str) -> np.ndarray:
    """The shipped shortlist of that model: sorted, distinct token ids (int64); checked against its sha256."""
    name, digest = SHORTLISTS[model_sha[:16]]
    data = resources.files("engine.codecs.lossless").joinpath(f"data/{name}").read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != digest:
        raise RuntimeError(f"the shortlist {name} in this installation has sha256 {got}, not {digest}: it is "
                           f"damaged (reinstall semzip); records coded with it would not decode elsewhere")
    return np.frombuffer(data, dtype="<u4").astype(np.int64)


class ShortlistModel:
    """What every segment of one model shares: the output matrix, the shortlist's rows and where each token is."""

    def __init__(self, model_path: str | Path, model_sha: str, ids: np.ndarray | None = None):
        """ids: another shortlist than the shipped one (benches measure held-out bytes with one)."""
        self.matrix = _matrix(str(model_path))
        self.ids = shortlist_ids(model_sha) if ids is None else np.asarray(ids, dtype=np.int64)
        if self.ids.size == 0 or self.ids.max() >= self.matrix.n_vocab or np.any(np.diff(self.ids) <= 0):
            raise RuntimeError(f"the shortlist of model {model_sha[:16]} does not fit its vocabulary")
        self.values, self.scales = self.matrix.rows(self.ids)
        self.index = np.full(self.matrix.n_vocab, -1, dtype=np.int64)  # token -> its place in the shortlist
        self.index[self.ids] = np.arange(self.ids.size)

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def base_logits(self, q: np.ndarray) -> np.ndarray:
        """(k, size) logits of the shortlist for k hidden rows (P.blocked_ints)."""
        return P.products(q, self.values) * self.scales


@functools.lru_cache(maxsize=2)
def _matrix(model_path: str) -> P.OutputMatrix:
    return output_matrix(model_path)


class SegmentList:
    """One segment's list: the shortlist, its escaped tokens so far, and the escape count behind the escape weight."""

    def __init__(self, model: ShortlistModel):
        self.model = model
        self.extras: list[int] = []
        self._where: dict[int, int] = {}
        m = model.matrix
        self._rows = np.empty((m.blocks, 0, m.block_width), dtype=np.int8)  # the extras' rows, block-major
        self._scales = np.empty(0, dtype=np.float64)
        self.escapes = 0
        self.steps = 0  # tokens coded in this segment so far

    @property
    def escape_symbol(self) -> int:
        return self.model.size + len(self.extras)

    def symbol(self, token: int) -> int | None:
        """The token's symbol in the list, None if it must escape."""
        i = int(self.model.index[token])
        if i >= 0:
            return i
        j = self._where.get(token)
        return None if j is None else self.model.size + j

    def token(self, symbol: int) -> int:
        n = self.model.size
        return int(self.model.ids[symbol]) if symbol < n else self.extras[symbol - n]

    def frequencies(self, base_logits: np.ndarray, q: np.ndarray, hidden_scale: np.ndarray) -> np.ndarray:
        """float32 frequencies of k rows coded with the list as it is now: the list's entries, then the escape.
        base_logits (k, size); q and hidden_scale of the same rows (P.blocked_ints)."""
        logits = base_logits
        if self.extras:
            logits = np.concatenate([base_logits, P.products(q, self._rows) * self._scales], axis=1)
        freq = P.frequencies(logits, hidden_scale)
        out = np.empty((freq.shape[0], freq.shape[1] + 1), dtype=np.float32)
        out[:, :-1] = freq
        for r, z in enumerate(freq.sum(axis=1).tolist()):  # the rows' steps are self.steps, +1, ...
            out[r, -1] = self._escape_weight(int(z), self.steps + r)
        return out

    def _escape_weight(self, z: int, steps: int) -> int:
        num = ESCAPE_DEN * self.escapes + ESCAPE_NUM
        den = ESCAPE_DEN * steps + ESCAPE_BASE - num
        return max(1, z * num // den)

    def escape_frequencies(self, full: np.ndarray) -> np.ndarray:
        """float32 frequencies over the whole vocabulary for an escaped token: the list's tokens get 0."""
        out = full.astype(np.float32)
        out[self.model.ids] = 0
        if self.extras:
            out[self.extras] = 0
        return out

    def advance(self, rows: int) -> None:
        self.steps += rows

    def join(self, token: int) -> None:
        """An escaped token joins the list for the rest of the segment."""
        self._where[token] = len(self.extras)
        self.extras.append(token)
        rows, scales = self.model.matrix.rows([token])
        self._rows = np.concatenate([self._rows, rows], axis=1)
        self._scales = np.concatenate([self._scales, scales])
        self.escapes += 1
