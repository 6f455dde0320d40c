"""Arithmetic (range) coding of token ids under the model's next-token distributions, with constriction.

The probability of every vocabulary entry is built from the logits row the same way on both sides:
float32 exp(logit - max), handed unnormalised to constriction's categorical model (perfect=False:
its fast quantisation to 24-bit integer frequencies, which gives every symbol a nonzero share). The
encoder and decoder therefore agree exactly whenever they see bit-identical logits; the regime module
is what guarantees that.
"""
from __future__ import annotations

import numpy as np
import constriction

CODER_ID = "c1"  # constriction 0.5 range coder, float32 exp(logit - max), perfect=False: bump when the mapping changes
_FAMILY = constriction.stream.model.Categorical(perfect=False)


def probabilities(logits: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Unnormalised next-token probabilities for each logits row, float32, deterministic on one machine."""
    if out is None or out.shape != logits.shape:
        out = np.empty(logits.shape, dtype=np.float32)
    np.subtract(logits, logits.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    return out


class Encoder:
    """One memory's code: symbols go in in order, bytes come out."""

    def __init__(self):
        self._coder = constriction.stream.queue.RangeEncoder()

    def encode(self, symbols, probs: np.ndarray) -> None:
        """Encode symbols[i] under probs[i] (rows of unnormalised probabilities)."""
        self._coder.encode(np.asarray(symbols, dtype=np.int32), _FAMILY, probs)

    def finish(self) -> bytes:
        """The code, little-endian words with trailing zero bytes dropped (the decoder pads them back)."""
        return self._coder.get_compressed().astype("<u4").tobytes().rstrip(b"\0")


class Decoder:
    """Reads symbols back from a code, one row of probabilities at a time."""

    def __init__(self, code: bytes):
        padded = code + b"\0" * (-len(code) % 4)
        self._coder = constriction.stream.queue.RangeDecoder(np.frombuffer(padded, dtype="<u4").astype(np.uint32))

    def decode(self, probs_row: np.ndarray) -> int:
        return int(self._coder.decode(_FAMILY, probs_row.reshape(1, -1))[0])
