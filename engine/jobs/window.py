"""The batches of one run between planning and their journal commit.

A batch is planned in input order (against the cache), computed by the executor, and finished once
its records are back and every earlier batch it waits for (one that computes a text both contain)
has finished; then its rows are committed to the journal, or written to stdout in input order. With
LocalExecutor that is one batch at a time; on Ray several are in flight and finish in any order.
"""
from __future__ import annotations

import time
from types import SimpleNamespace

from engine.codecs.events import ItemDone
from engine.codecs.record import Record
from engine.jobs.batch import BatchPlan, BatchResult, finish_batch, original_bytes, plan_batch
from engine.jobs.cache import RecordCache
from engine.jobs.summary import RunSummary


class BatchWindow:
    def __init__(self, executor, options, identity: tuple[str, str], cache: RecordCache, store, direct,
                 summary: RunSummary, bar, monitor=None, rung_name=lambda code: code or "cpu"):
        self.executor, self.options, self.monitor = executor, options, monitor
        self.model_sha, self.settings = identity
        self.cache, self.store, self.direct, self.summary, self.bar = cache, store, direct, summary, bar
        self.rung_name = rung_name
        self.plans: dict[int, BatchPlan] = {}
        self.results: dict[int, BatchResult] = {}
        self.owners: dict[str, int] = {}  # key -> the batch in flight computing it
        self.landed: dict[str, str] = {}  # key -> stored record, while a waiting plan still needs it
        self.unwritten: dict[int, list] = {}  # stdout only: finished rows waiting for an earlier batch
        self.next_written: int | None = None
        self.dedupe = cache.can_hold()  # one process would find an earlier batch's record in the cache
        self.preemptions: dict[str, int] = {}

    def submit(self, number: int, chunk) -> None:
        """Plan a batch now and hand its distinct texts to the executor; block while the executor is full."""
        plan = plan_batch(number, chunk, self.cache, self.model_sha, self.settings, self.owners if self.dedupe else ())
        if self.next_written is None:
            self.next_written = number
        self.plans[number] = plan
        todo = plan.items_to_compute()
        if todo:
            self.owners.update((key, number) for key in plan.keyed)
            self.executor.submit(number, todo, self.options.group_threshold, self._live(plan))
        else:
            self.results[number] = BatchResult(number, [])
            self._finish_ready()
        while self.executor.num_in_flight >= self.executor.capacity:
            self._collect()

    def _live(self, plan: BatchPlan):
        """The listener for a batch computed here: each item is reported the moment its record is final."""
        keys = list(plan.keyed)

        def on_done(event: ItemDone) -> None:
            # Repeats of one text in a batch are one model call: its cost is counted once, its records each.
            for n, (i, x) in enumerate(plan.keyed[keys[event.index]]):
                plan.reported.add(i)
                self._report(original_bytes(x), event.record, event if n == 0 else None)

        return on_done

    def _report(self, size: int, rec: Record, event: ItemDone | None) -> None:
        self.bar.update(1)
        if self.monitor is not None:
            self.monitor.on_item(size, rec, event)
            self.monitor.on_cache(self.cache.stats())

    def drain(self) -> None:
        while self.executor.num_in_flight:
            self._collect()
        self._finish_ready()
        assert not self.plans, f"batches never finished: {sorted(self.plans)}"

    def _collect(self) -> None:
        for res in self.executor.wait():
            self.results[res.number] = res
        self._finish_ready()

    def _finish_ready(self) -> None:
        for n in sorted(self.results):  # earlier first: a batch waits only for earlier ones
            if all(key in self.landed for key in self.plans[n].waiting.values()):
                self._finish(self.plans.pop(n), self.results.pop(n))

    def _finish(self, plan: BatchPlan, res: BatchResult) -> None:
        rows, new_cache = finish_batch(plan, res, self.cache, self.landed)
        for key, line in new_cache.items():
            if self.owners.get(key) == plan.number:
                del self.owners[key]
            self.landed[key] = line
        needed = {key for other in self.plans.values() for key in other.waiting.values()}
        for key in [k for k in self.landed if k not in needed]:
            del self.landed[key]
        if self.store is not None:
            t = time.perf_counter()
            self.store.commit_lines(rows, new_cache if self.options.persistent_cache else {})
            self.summary.checkpoint_s += time.perf_counter() - t
        else:  # no store, no skipped batches: numbers run on one by one
            self.unwritten[plan.number] = rows
            while self.next_written in self.unwritten:
                for _, line, size in self.unwritten.pop(self.next_written):
                    self.direct.write(line + "\n")
                    rec = Record.from_json(line)
                    self.summary.add(size, rec, self.rung_name(rec.rung))
                self.next_written += 1
        self._account(res)
        # What was not reported live: errors, cache hits, and batches computed elsewhere (Ray actors).
        events = {group[0][0]: event for group, event in zip(plan.keyed.values(), res.events)}
        for i, _, size in rows:
            if i not in plan.reported:
                self._report(size, plan.out[i], events.get(i))
        if self.monitor is not None:
            self.monitor.on_generation(SimpleNamespace(num_preemptions=sum(self.preemptions.values())))

    def _account(self, res: BatchResult) -> None:
        """Fold one batch's counters into the run: tokens, its worker's line, fallbacks for the monitor."""
        s = self.summary
        s.prompt_tokens += res.num_prompt_tokens
        s.generated_tokens += res.num_generated_tokens
        if not res.records:
            return  # nothing computed: cache hits and errors only
        w = s.workers.setdefault(res.worker, {"batches": 0, "items": 0, "prompt_tokens": 0, "generated_tokens": 0,
                                              "compute_s": 0.0, "pids": [], "peak_rss_bytes": 0})
        w["batches"] += 1
        w["items"] += len(res.records)
        w["prompt_tokens"] += res.num_prompt_tokens
        w["generated_tokens"] += res.num_generated_tokens
        w["compute_s"] += res.compute_s
        w["peak_rss_bytes"] = max(w["peak_rss_bytes"], res.rss_bytes)
        if res.pid not in w["pids"]:
            w["pids"].append(res.pid)  # more than one: the worker's process died and Ray restarted it
        self.preemptions[res.worker] = res.num_preemptions
        for rung, cause, detail in res.fallbacks:
            s.fallbacks.append((rung, cause))
            if self.monitor is not None:
                self.monitor.on_fallback(rung, cause, detail)
