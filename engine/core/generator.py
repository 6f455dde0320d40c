"""The engine loop: schedule, run, postprocess, collect the finished; many prompts decoded together."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from engine.core.runner import KVCacheFull, ModelRunner
from engine.core.scheduler import Scheduler
from engine.core.sequence import Request, Result, Sequence


@dataclass(slots=True)
class GenerationStats:
    """Running totals over every generate() call of one generator."""

    num_decode_calls: int = 0
    num_prompt_tokens: int = 0  # prompt tokens actually decoded (a copied prefix counts once)
    num_generated_tokens: int = 0
    num_preemptions: int = 0
    wall_s: float = 0.0


class BatchedGenerator:
    """Continuous batching over one ModelRunner: up to num_slots sequences share every llama_decode."""

    def __init__(self, runner: ModelRunner):
        self.runner = runner
        self.stats = GenerationStats()

    def generate(
        self, requests: Iterable[Request], prefix: tuple[int, ...] = (), copy_prefix: bool = True
    ) -> Iterator[Result]:
        """Yield each request's Result as it finishes (not in input order; match them by tag).

        prefix: tokens common to every prompt, placed before each request's own prompt. With copy_prefix
        it is decoded once and its KV copied into each sequence; without, every sequence decodes it.
        Requests are pulled lazily, so an endless iterator runs in bounded memory.
        """
        t0 = time.perf_counter()
        prefix = tuple(prefix)
        base_pos = 0
        if copy_prefix and prefix:
            if self.runner.prefix != prefix:
                self.stats.num_prompt_tokens += len(prefix)
            self.runner.set_prefix(prefix)
            base_pos = len(prefix)
        # Every run warms up, not just the first: a resumed run must admit each batch as the original did.
        cfg = self.runner.config
        sched = Scheduler(cfg.num_slots, self.runner.token_budget, self.runner.max_seq_len, cfg.warm_up)
        pending = iter(requests)
        while True:
            for rejected in self._refill(sched, pending, prefix, base_pos):
                yield rejected
            if sched.is_idle():
                break
            steps = sched.schedule()
            try:
                sampled = self.runner.run(steps)
            except KVCacheFull:
                self.runner.release(sched.preempt())
                self.stats.num_preemptions += 1
                continue
            self.stats.num_decode_calls += 1
            self.stats.num_prompt_tokens += sum(len(s.tokens) for s in steps if not s.seq.output)  # prefill steps
            for seq in sched.postprocess(steps, sampled, self.runner.is_eog):
                self.runner.release(seq.slot)
                sched.release(seq)
                self.stats.num_generated_tokens += len(seq.output) + (seq.finish_reason == "stop")
                yield _result(seq)
        self.stats.wall_s += time.perf_counter() - t0

    def _refill(self, sched: Scheduler, pending: Iterator[Request], prefix: tuple[int, ...], base_pos: int):
        """Keep a slot's worth of requests waiting; a prompt that cannot fit the context is answered at once."""
        while len(sched.waiting) < sched.num_slots:
            request = next(pending, None)
            if request is None:
                return
            if not base_pos and prefix:
                request = dataclasses.replace(request, prompt=prefix + tuple(request.prompt))
            seq = Sequence(request, base_pos)
            if base_pos + seq.num_prompt + 1 >= sched.max_seq_len:
                seq.finish_reason = "prompt_too_long"
                seq.t_finish = seq.t_admit = seq.t_first_token = time.perf_counter()
                yield _result(seq)
                continue
            sched.add(seq)

    def generate_all(self, requests: Iterable[Request], prefix: tuple[int, ...] = (), copy_prefix: bool = True) -> list[Result]:
        """Run every request and return the results in input order."""
        indexed = [dataclasses.replace(r, tag=(i, r.tag)) for i, r in enumerate(requests)]
        out: list[Result | None] = [None] * len(indexed)
        for res in self.generate(indexed, prefix, copy_prefix):
            i, tag = res.tag
            out[i] = dataclasses.replace(res, tag=tag)
        return out  # type: ignore[return-value]


def _result(seq: Sequence) -> Result:
    return Result(
        tag=seq.request.tag,
        tokens=list(seq.output),
        finish_reason=seq.finish_reason or "unknown",
        num_prompt_tokens=seq.base_pos + seq.num_prompt,
        num_preemptions=seq.num_preemptions,
        queue_s=seq.t_admit - seq.t_submit,
        first_token_s=seq.t_first_token - seq.t_submit,
        total_s=seq.t_finish - seq.t_submit,
    )
