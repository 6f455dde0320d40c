"""One batch in three steps that every way of running shares: plan, compute, finish.

plan (errors and cache hits) and finish (the journal rows) run where the run store is: this process,
or the Ray driver. compute (one engine call over the batch's distinct texts) runs where the engine
is: this process, or a Ray actor. Both paths call these same functions, so the records, cache keys
and journal rows are the same whichever runs them.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Container
from dataclasses import dataclass, field

from engine.codecs.events import ItemDone
from engine.codecs.item import Item
from engine.codecs.record import Record
from engine.jobs.cache import RecordCache, cache_key, settings_fingerprint
from engine.jobs.inputs import LineError


@dataclass(slots=True)
class BatchPlan:
    """A fixed batch after the cache: what is already known, and what the engine must compute."""

    number: int
    chunk: list[tuple[int, Item | LineError]]
    out: dict[int, Record] = field(default_factory=dict)  # errors and cache hits, final
    keyed: dict[str, list[tuple[int, Item]]] = field(default_factory=dict)  # distinct texts to compute
    waiting: dict[int, str] = field(default_factory=dict)  # item -> key an earlier batch in flight computes
    reported: set[int] = field(default_factory=set)  # items already reported to the monitor and progress bar

    def items_to_compute(self) -> list[Item]:
        """One item per distinct text, in first-seen order: the engine call's batch."""
        return [group[0][1] for group in self.keyed.values()]


@dataclass(slots=True)
class BatchResult:
    """What computing a batch gave: records aligned with the plan's items, and the counters behind them."""

    number: int
    records: list[Record]
    events: list[ItemDone] = field(default_factory=list)  # per computed item, aligned with records: cost, latency
    num_prompt_tokens: int = 0
    num_generated_tokens: int = 0
    num_preemptions: int = 0  # the worker's running total
    worker: str = "local"
    pid: int = 0
    compute_s: float = 0.0
    rss_bytes: int = 0
    fallbacks: list[tuple[str, str, str]] = field(default_factory=list)  # (rung, cause, detail): ladder steps the
    # worker took since its last batch, its load included


def plan_batch(number: int, chunk, cache: RecordCache, model_sha: str, settings: str,
               in_flight: Container[str] = ()) -> BatchPlan:
    """Errors as they are, cache hits re-labelled, each distinct text computed once.

    in_flight: keys an earlier batch is computing right now (several batches run at once on Ray). Run
    one batch at a time, that earlier batch would have filled the cache first: so such an item is a
    hit, resolved when the earlier batch finishes, and the engine call has the same composition.
    """
    plan = BatchPlan(number, chunk)
    for i, x in chunk:
        if isinstance(x, LineError):
            plan.out[i] = Record(x.id, "error", error=x.problem, line=x.line)
            continue
        key = cache_key(x.text, model_sha, settings)
        if key in in_flight:
            cache.count_hit()
            plan.waiting[i] = key
            continue
        hit = cache.get(key, x.id, x.meta)
        if hit is not None:
            plan.out[i] = hit
        else:
            plan.keyed.setdefault(key, []).append((i, x))
    return plan


def finish_batch(plan: BatchPlan, result: BatchResult, cache: RecordCache,
                 landed: dict[str, str]) -> tuple[list[tuple[int, str, int]], dict[str, str]]:
    """The batch's journal rows (index, line, original bytes) and its new cache entries (key -> stored record).

    landed: stored records of earlier batches that this plan waits for (see plan_batch).
    """
    new_cache = {}
    for key, rec in zip(plan.keyed, result.records):
        new_cache[key] = cache.put_record(key, rec)
        for i, x in plan.keyed[key]:
            same = Record.from_json(rec.to_json())
            same.id, same.meta = x.id, x.meta
            plan.out[i] = same
    items = dict(plan.chunk)
    for i, key in plan.waiting.items():
        same = Record.from_json(landed[key])  # as RecordCache.get re-labels a hit
        same.id, same.meta = items[i].id, items[i].meta
        plan.out[i] = same
    return [(i, plan.out[i].to_json(), original_bytes(x)) for i, x in plan.chunk], new_cache


def original_bytes(x: Item | LineError) -> int:
    return 0 if isinstance(x, LineError) else len(x.text.encode("utf-8"))


class BatchWorker:
    """compute for one engine: this process's, or a Ray actor's. Keeps the embedder for --group between batches."""

    def __init__(self, engine, name: str = "local"):
        self.engine = engine
        self.name = name
        self._embedder = None
        self._steps_reported = 0

    def identity(self) -> tuple[str, str]:
        """(model sha256, settings fingerprint): what cache keys and the store's checkpoint are made of."""
        runner = self.engine.runner
        threads = getattr(getattr(runner, "ctx", None), "n_threads", None)  # the extractive rung has no context
        return self.engine.model_sha, settings_fingerprint(self.engine.compressor.config, runner.config, threads)

    def compute(self, number: int, items: list[Item], group_threshold: float | None = None,
                on_done=None) -> BatchResult:
        """Records for items, in their order, from one engine call (similar texts admitted together with --group).

        on_done(ItemDone), indexed into items, fires as each record is final; the events come back in the result too.
        """
        import psutil

        order = list(range(len(items)))
        if group_threshold is not None and len(items) > 1:
            order = self._grouped(items, group_threshold)
        events: list[ItemDone | None] = [None] * len(items)

        def relay(event: ItemDone) -> None:
            event = dataclasses.replace(event, index=order[event.index])
            events[event.index] = event
            if on_done is not None:
                on_done(event)

        before = self._generation()
        t0 = time.perf_counter()
        fresh = self.engine.compress_direct([items[k] for k in order], relay) if items else []
        compute_s = time.perf_counter() - t0
        records: list[Record] = [None] * len(items)  # type: ignore[list-item]
        for k, rec in zip(order, fresh):
            records[k] = rec
        after = self._generation()
        # A fallback mid-batch brings a fresh generator whose totals start at zero: then count from there.
        prompt, generated = (a - b if a >= b else a for a, b in zip(after[:2], before[:2]))
        steps = getattr(self.engine, "steps", [])  # a LadderEngine's (rung, cause, detail), load time included
        fallbacks, self._steps_reported = list(steps[self._steps_reported:]), len(steps)
        return BatchResult(number, records, events, prompt, generated, after[2], self.name, os.getpid(), compute_s,
                           psutil.Process().memory_info().rss, fallbacks)

    def _generation(self) -> tuple[int, int, int]:
        """(prompt, generated, preemptions) so far on the engine's generator; the extractive rung has none."""
        stats = getattr(getattr(self.engine.compressor, "generator", None), "stats", None)
        return (stats.num_prompt_tokens, stats.num_generated_tokens, stats.num_preemptions) if stats else (0, 0, 0)

    def _grouped(self, items: list[Item], threshold: float) -> list[int]:
        from engine.codecs.quality import Embedder
        from engine.jobs.grouping import group_order

        if self._embedder is None:  # the scorer's, when scoring is on: one model, shared vectors
            scorer = getattr(self.engine.compressor, "scorer", None)
            self._embedder = scorer.embedder if scorer is not None else Embedder()
        return group_order(self._embedder.embed([x.text for x in items]), threshold)
