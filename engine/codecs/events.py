"""Per-item events: a codec tells its caller the moment one item's record is final, before the batch returns.

Every codec fires them the same way, so whatever runs a batch (the batch processor, the monitor, a
progress bar) advances per memory while checkpoints can still commit per batch.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.codecs.record import Record

if TYPE_CHECKING:  # only read here: importing it would load llama.cpp for every listener of events
    from engine.core.sequence import Result


@dataclass(frozen=True, slots=True)
class ItemDone:
    """One item's record is final. Fired once per item of a compress() call, in the order items finish."""

    index: int  # position in the list handed to compress()
    record: Record  # the very object compress() returns for that position
    latency_s: float | None = None  # first model request submitted -> record final; None when no model ran
    num_prompt_tokens: int = 0
    num_generated_tokens: int = 0


OnItemDone = Callable[[ItemDone], None]


def ignore(event: ItemDone) -> None:
    """The listener when the caller passes none."""


@dataclass(slots=True)
class ItemWork:
    """What one item cost while its record was being made: model time and tokens, summed over its requests."""

    t_start: float | None = None  # perf_counter time its first model request was submitted
    num_prompt_tokens: int = 0
    num_generated_tokens: int = 0

    def add_result(self, result: Result, received: float) -> None:
        """Count one finished generator Result, received at perf_counter time `received`."""
        start = received - result.total_s  # the Result's timings are relative to its submission
        self.t_start = start if self.t_start is None else min(self.t_start, start)
        self.num_prompt_tokens += result.num_prompt_tokens
        self.num_generated_tokens += len(result.tokens)

    def event(self, index: int, record: Record) -> ItemDone:
        latency = None if self.t_start is None else time.perf_counter() - self.t_start
        return ItemDone(index, record, latency, self.num_prompt_tokens, self.num_generated_tokens)
