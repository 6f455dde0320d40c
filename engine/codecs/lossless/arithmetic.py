"""The arithmetic (range) coder: token ids to bytes and back under the model's next-token distributions
(constriction), and how coders c1 and c2 turn a row of logits into those distributions.

The probability of every vocabulary entry is built from the logits row the same way on both sides and handed
unnormalised to constriction's categorical model (perfect=False: its fast quantisation to 24-bit integer
frequencies, which gives every symbol a nonzero share). The encoder and decoder agree exactly whenever they see
bit-identical logits (the regime module guarantees that) and build the probabilities with the same bits.

That second condition is the coder's own. Coder c1 (the releases before) took numpy's float32 exp, whose bits
depend on the SIMD code numpy picks for the CPU it runs on and on numpy's version: measured, numpy 2.4's X86_V2
and X86_V3 paths give other bits for the same input (bench/HISTORY.md), and an Intel Xeon runs its AVX-512 one.
Coder c2 uses only operations every IEEE-754 machine rounds the same way: d = max - logit, rounded to a 1/256-nat
grid by adding 2^15 (round to nearest), then a table of exp(-k/256) computed once in decimal arithmetic. A token
more than 20 nats below the row's best gets 0: e^-20 is 30x below the 2^-24 share the quantisation gives it anyway.
"""
from __future__ import annotations

import decimal
import functools
import hashlib

import numpy as np
import constriction

CODER_ID = "c2"  # bump when the logits -> probabilities mapping changes (it is part of every record's profile)
CODERS = ("c1", "c2")  # every coder this release decodes
_FAMILY = constriction.stream.model.Categorical(perfect=False)

_STEPS_PER_NAT = 256
_CUT_NATS = 20
_GRID = np.float32(2.0**15)  # float32 numbers in [2^15, 2^16) are 1/256 apart: adding it rounds d to the grid
_GRID_BITS = _GRID.view(np.uint32)
_CUT = np.float32(2.0**15 + _CUT_NATS)
# sha256 of the table's float32 bytes: a table computed otherwise here would code other bits, so it is refused
TABLE_SHA256 = "865c555882ce4edfcbf756c28889d805052a52edaad1bd8cde3575810cc0e99f"


@functools.cache
def exp_table() -> np.ndarray:
    """exp(-k/256) for k < 20 * 256, float32: exp(-whole nats) * exp(-k/256 of a nat), each from decimal
    arithmetic, multiplied in float64 (IEEE rounds a product the same everywhere): the same bytes on every machine."""
    ctx = decimal.Context(prec=34)
    whole = np.array([float(ctx.exp(decimal.Decimal(-i))) for i in range(_CUT_NATS)])
    part = np.array([float(ctx.exp(ctx.divide(decimal.Decimal(-j), _STEPS_PER_NAT))) for j in range(_STEPS_PER_NAT)])
    table = np.multiply.outer(whole, part).astype(np.float32).reshape(-1)
    digest = hashlib.sha256(table.tobytes()).hexdigest()
    if digest != TABLE_SHA256:
        raise RuntimeError(f"coder {CODER_ID}'s exp table computed here has sha256 {digest}, not {TABLE_SHA256}: "
                           f"records coded with it would not decode elsewhere (report this machine and Python)")
    return table


def probabilities(logits: np.ndarray, out: np.ndarray | None = None, coder: str = CODER_ID) -> np.ndarray:
    """Unnormalised next-token probabilities for each logits row, float32, under coder c2 (or c1)."""
    if out is None or out.shape != logits.shape:
        out = np.empty(logits.shape, dtype=np.float32)
    best = logits.max(axis=-1, keepdims=True)
    if not np.isfinite(best).all():
        raise ValueError("the model returned logits that are not finite numbers")
    if coder == "c1":
        np.subtract(logits, best, out=out)
        np.exp(out, out=out)
        return out
    if coder != "c2":
        raise ValueError(f"unknown coder {coder!r} (known: {', '.join(CODERS)})")
    np.subtract(best, logits, out=out)  # >= 0, exactly 0 at the best
    np.add(out, _GRID, out=out)  # round(d + 2^15): its low mantissa bits are round(256 d)
    flat = out.reshape(-1)  # worked in place: no second buffer of the rows' size on every step
    near = np.flatnonzero(flat < _CUT)
    kept = exp_table()[flat.view(np.uint32)[near] - _GRID_BITS]
    flat.fill(0)
    flat[near] = kept
    return out


def numpy_active_targets() -> list[str]:
    """The SIMD targets numpy dispatches to here (NPY_DISABLE_CPU_FEATURES with all of them: its baseline code)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]


def numpy_targets_beyond_x86_64_v3() -> list[str]:
    """numpy's SIMD targets active here that an x86-64-v3 (AVX2) machine lacks: its AVX-512 code.

    A c1 record decodes only where numpy's float32 exp gives its coder's bits: one coded on an AVX2 machine, read on
    an AVX-512 one, is decoded again in a child process with these targets off (NPY_DISABLE_CPU_FEATURES)."""
    return [t for t in numpy_active_targets() if t.startswith("AVX512") or t == "X86_V4"]


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
