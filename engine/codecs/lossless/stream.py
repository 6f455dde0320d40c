"""Batched coding: many memories' token streams encoded or decoded together, every decode in the regime.

The encoder knows every token, so each step feeds a chunk of each memory (a prefill); the decoder
learns each token from the code, so each step feeds one token of each memory. Both go through the
same canonical batches (lanes.plan_batch), so row i of either sees the same logits, bit for bit.
"""
from __future__ import annotations

import math
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from engine.codecs.lossless.arithmetic import Decoder, Encoder
from engine.codecs.lossless.lanes import plan_batch
from engine.codecs.lossless.regime import Regime


@dataclass(slots=True)
class CodingStats:
    """Where a coding run spent its time: the model (llama_decode) or building distributions and coding."""

    num_decodes: int = 0
    num_rows: int = 0  # rows decoded, padding included
    num_tokens: int = 0  # tokens coded
    model_s: float = 0.0
    coding_s: float = 0.0


class PrimedRunner:
    """A runner whose extra stream holds the priming text's KV; each memory starts from a copy of it."""

    def __init__(self, runner, regime: Regime, prime_tokens: list[int]):
        self.runner = runner
        self.regime = regime
        self.num_slots = runner.config.num_slots
        if self.num_slots < 2:
            raise ValueError("lossless coding needs at least 2 slots (a lone token is padded with a second stream)")
        self.prime_slot = self.num_slots
        self.prime_tokens = tuple(prime_tokens)
        self.prime_len = len(prime_tokens)
        self.stats = CodingStats()
        self.captures = bool(runner.config.capture)  # the runner keeps final hidden states too (coder s1)
        runner.drop_seq(self.prime_slot)
        # The priming text's KV and last row's outputs (logits, and the hidden state where the runner captures it)
        # are kept as bytes (runner.keep_sequence): a later engine or process on the same build, CPU, model file
        # and settings puts them back instead of decoding the text.
        n_vocab, width = runner.model.n_vocab, runner.model.n_embd
        size = n_vocab + (width if self.captures else 0)
        name = ("lossless-prime-outputs", regime, self.prime_tokens)
        kept = runner.restore_sequence(name, self.prime_slot)
        self.prime_decoded = kept is None or kept.size != 4 * size
        if not self.prime_decoded:
            last = kept.view(np.float32).copy()
        else:
            runner.drop_seq(self.prime_slot)
            pieces = math.ceil(len(prime_tokens) / regime.max_rows_per_stream)
            bounds = np.linspace(0, len(prime_tokens), pieces + 1).round().astype(int)  # balanced: no lone token
            for a, b in zip(bounds[:-1], bounds[1:]):
                out = self.step({self.prime_slot: (prime_tokens[a:b], int(a))}, int(b - a), slots=self.num_slots + 1,
                                last_only=True)
            parts = [out[-1]] + ([runner.captured(1)[-1]] if self.captures else [])
            last = np.concatenate(parts).astype(np.float32)
            runner.keep_sequence(name, self.prime_slot, last)
        self.first_logits = last[:n_vocab]  # every memory's first token is coded under these
        self.first_hidden = last[n_vocab:] if self.captures else None

    def start(self, slot: int) -> None:
        self.runner.copy_seq(self.prime_slot, slot)

    def release(self, slot: int) -> None:
        self.runner.drop_seq(slot)

    def step(self, feeds: dict[int, tuple[list[int], int]], chunk: int, slots: int | None = None,
             last_only: bool = False, hidden: bool = False) -> np.ndarray:
        """Decode one canonical batch; returns the fed rows' logits (hidden: their final hidden states instead),
        valid until the next step (see plan.rows via last_plan)."""
        plan = plan_batch(feeds, chunk, self.regime.min_rows, slots or self.num_slots, last_only)
        t0 = time.perf_counter()
        out = self.runner.forward(plan.tokens, plan.positions, plan.seq_ids, plan.wants, hidden=hidden)
        for slot in plan.pad_slots:
            self.runner.drop_seq(slot)
        self.stats.num_decodes += 1
        self.stats.num_rows += len(plan.tokens)
        self.stats.model_s += time.perf_counter() - t0
        self.last_plan = plan
        return out


@dataclass(slots=True)
class _Lane:
    index: int
    tokens: list[int]
    coder: object
    state: object = None  # the coding's per-segment state (coder s1: the segment's list)
    fed: int = 0  # encoder: tokens fed to the model so far (all but the last need feeding)
    total: int = 0  # decoder: tokens in this memory, from the record
    bits: list[float] = field(default_factory=list)


def encode_all(primed: PrimedRunner, streams: list[list[int]], coding, with_bits: bool = False, on_stream=None):
    """Code each token list with coding (step_coding.py); returns the codes (and, with_bits, each token's surprisal in
    bits).

    on_stream(index, code, bits) hears each stream the moment its code is complete (streams finish in any order).
    """
    codes: list[bytes] = [b""] * len(streams)
    bits: list[list[float]] = [[] for _ in streams]
    waiting = deque(range(len(streams)))
    lanes: dict[int, _Lane] = {}
    # A few lanes fill a ubatch (up to 63 rows each) as well as many do: memories are coded a few at a time,
    # so each one is finished (and reported) early instead of all of them at the end.
    limit = primed.regime.rows_per_decode // primed.regime.max_rows_per_stream + 1
    with _released_on_error(primed, lanes):
        _encode_lanes(primed, streams, coding, with_bits, on_stream, codes, bits, waiting, lanes, limit)
    return (codes, bits) if with_bits else codes


@contextmanager
def _released_on_error(primed: PrimedRunner, lanes: dict):
    """A batch abandoned midway (a pace hook's Interrupted, a failed decode) leaves no lane's KV cells behind: a
    slot holding them would be fed later as a padding stream at positions its cells already hold, which llama.cpp
    refuses (llama_decode -1)."""
    try:
        yield
    except BaseException:
        for slot in list(lanes):
            primed.release(slot)
        lanes.clear()
        raise


def _encode_lanes(primed, streams, coding, with_bits, on_stream, codes, bits, waiting, lanes, limit) -> None:
    stats = primed.stats
    while waiting or lanes:
        _admit(primed, lanes, waiting, lambda i: _start_encoder(primed, coding, streams[i], i, with_bits), limit)
        for slot in [s for s, lane in lanes.items() if lane.fed >= len(lane.tokens) - 1]:
            lane = lanes.pop(slot)  # every token but the last has been fed: its code is complete
            codes[lane.index], bits[lane.index] = lane.coder.finish(), lane.bits
            primed.release(slot)
            if on_stream is not None:
                on_stream(lane.index, codes[lane.index], lane.bits)
        if not lanes:
            continue
        chunk = primed.regime.chunk_for(max(lanes) - min(lanes) + 1)
        feeds = {s: (lane.tokens[lane.fed : min(lane.fed + chunk, len(lane.tokens) - 1)],
                     primed.prime_len + lane.fed) for s, lane in lanes.items()}
        outputs = primed.step(feeds, chunk, hidden=coding.hidden)
        t = time.perf_counter()
        jobs = []
        for slot, lane in lanes.items():
            rows = primed.last_plan.rows[slot]
            n = rows.stop - rows.start
            jobs.append((lane, rows, lane.tokens[lane.fed + 1 : lane.fed + 1 + n]))
            lane.fed += n
            stats.num_tokens += n
        coding.encode(outputs, jobs, with_bits)
        stats.coding_s += time.perf_counter() - t


def _start_encoder(primed: PrimedRunner, coding, tokens: list[int], index: int, with_bits: bool) -> _Lane:
    lane = _Lane(index, tokens, Encoder(), coding.new_state())
    if tokens:
        coding.encode_first(lane, tokens[0], with_bits)
        primed.stats.num_tokens += 1
    return lane


def decode_all(primed: PrimedRunner, segments: list[tuple[int, bytes]], coding) -> list[list[int]]:
    """segments: (number of tokens, code) each, all coded by that coding; returns the token lists."""
    out: list[list[int]] = [[] for _ in segments]
    waiting = deque(range(len(segments)))
    lanes: dict[int, _Lane] = {}
    with _released_on_error(primed, lanes):
        _decode_lanes(primed, segments, coding, out, waiting, lanes)
    return out


def _decode_lanes(primed, segments, coding, out, waiting, lanes) -> None:
    stats = primed.stats
    while waiting or lanes:
        _admit(primed, lanes, waiting, lambda i: _start_decoder(primed, coding, segments[i], i))
        for slot in [s for s, lane in lanes.items() if len(lane.tokens) >= lane.total]:
            lane = lanes.pop(slot)
            out[lane.index] = lane.tokens
            primed.release(slot)
        if not lanes:
            continue
        feeds = {s: (lane.tokens[-1:], primed.prime_len + len(lane.tokens) - 1) for s, lane in lanes.items()}
        outputs = primed.step(feeds, 1, hidden=coding.hidden)
        t = time.perf_counter()
        jobs = [(lane, primed.last_plan.rows[slot].start) for slot, lane in lanes.items()]
        for (lane, _), token in zip(jobs, coding.decode(outputs, jobs)):
            lane.tokens.append(token)
            stats.num_tokens += 1
        stats.coding_s += time.perf_counter() - t


def _start_decoder(primed: PrimedRunner, coding, segment: tuple[int, bytes], index: int) -> _Lane:
    total, code = segment
    lane = _Lane(index, [], Decoder(code), coding.new_state(), total=total)
    if total:
        lane.tokens.append(coding.decode_first(lane))
        primed.stats.num_tokens += 1
    return lane


def _admit(primed: PrimedRunner, lanes: dict, waiting: deque, make, limit: int | None = None) -> None:
    """Fill free slots, lowest first, so running lanes stay on consecutive stream ids; at most limit lanes."""
    free = (s for s in range(primed.num_slots) if s not in lanes)
    for slot in free:
        if not waiting or len(lanes) >= (limit or primed.num_slots):
            return
        i = waiting.popleft()
        primed.start(slot)
        lanes[slot] = make(i)
