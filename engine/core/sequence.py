"""The unit of work: one prompt to complete, flowing scheduler -> runner -> scheduler."""
from __future__ import annotations

import enum
import itertools
import time
from dataclasses import dataclass, field

from engine.core.runner import SamplingParams  # the runner is the one way into bindings

_ids = itertools.count()


class Status(enum.Enum):
    WAITING = "waiting"
    PREFILL = "prefill"
    DECODE = "decode"
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class Request:
    """What a caller asks for: prompt tokens (after the shared prefix, if one is used) and how to sample."""

    prompt: tuple[int, ...]
    max_tokens: int = 256
    sampling: SamplingParams = SamplingParams()
    grammar: str | None = None
    tag: object = None  # the caller's handle, returned untouched with the result
    ignore_eos: bool = False  # run to max_tokens whatever is sampled (benches of random-weight shape models)

    def __post_init__(self):
        if not self.prompt:
            raise ValueError("a request needs at least one prompt token")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")


@dataclass(slots=True)
class Sequence:
    """A request in flight. Only the scheduler changes it; the runner reads it."""

    request: Request
    base_pos: int  # KV positions [0, base_pos) come from the shared prefix copied into this sequence
    id: int = field(default_factory=lambda: next(_ids))
    status: Status = Status.WAITING
    slot: int | None = None
    num_prompt_done: int = 0
    output: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    num_preemptions: int = 0
    t_submit: float = field(default_factory=time.perf_counter)
    t_admit: float = 0.0
    t_first_token: float = 0.0
    t_finish: float = 0.0

    @property
    def num_prompt(self) -> int:
        return len(self.request.prompt)

    @property
    def next_pos(self) -> int:
        """KV position of the next token this sequence feeds."""
        return self.base_pos + self.num_prompt_done + max(len(self.output) - 1, 0)

    def reset(self) -> None:
        """Back to waiting with nothing computed (after a preemption)."""
        self.status = Status.WAITING
        self.slot = None
        self.num_prompt_done = 0
        self.output.clear()
        self.num_preemptions += 1


@dataclass(frozen=True, slots=True)
class Step:
    """Tokens one sequence feeds into the next llama_decode, and whether its last one needs logits."""

    seq: Sequence
    tokens: tuple[int, ...]
    pos: int
    wants_logits: bool
    is_first: bool  # the sequence's first step since admission: its KV slot must be prepared


@dataclass(frozen=True, slots=True)
class Result:
    """A finished request: text tokens, why it stopped, and its timings."""

    tag: object
    tokens: list[int]
    finish_reason: str
    num_prompt_tokens: int
    num_preemptions: int
    queue_s: float
    first_token_s: float
    total_s: float
