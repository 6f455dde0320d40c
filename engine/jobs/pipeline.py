"""The batch processor: streams any corpus through the engine in fixed batches, with cache and checkpoint journal.

Batches are fixed slices of the input (item i is in batch i // batch_size) and each batch commits
in one transaction, so a resumed run recomputes exactly the unfinished batches, with the same
composition, and its output is byte-identical to an uninterrupted greedy run. Progress and the
monitor advance per item, on the codec's ItemDone events, while the batch is still running.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from tqdm import tqdm

from engine.codecs.events import ItemDone
from engine.codecs.item import Item
from engine.codecs.record import Record
from engine.jobs.cache import RecordCache, cache_key, settings_fingerprint
from engine.jobs.inputs import LineError, open_output, read_items
from engine.jobs.store import RunStore, StoreError
from engine.jobs.summary import RunSummary


@dataclass(frozen=True, slots=True)
class RunOptions:
    batch: int = 64
    resume: bool = False
    store_path: str | None = None  # default: OUTPUT + ".semzip.db"; none when writing to stdout
    drop_store: bool = False  # delete the store after a successful run (default: keep it for report/cache)
    cache_size: int = 10_000
    cache_ttl_s: float = 24 * 3600
    persistent_cache: bool = True  # keep records in the run store too, so a re-run does no model work
    group_threshold: float | None = None  # cosine for similarity grouping within a batch; None: input order

    def __post_init__(self):
        if self.batch < 1 or self.cache_size < 0 or self.cache_ttl_s <= 0:
            raise ValueError(f"need batch >= 1, cache size >= 0 and cache TTL > 0, got {self.batch}, "
                             f"{self.cache_size}, {self.cache_ttl_s}")


def store_path_for(options: RunOptions, output: str) -> str | None:
    """--store, else OUTPUT.semzip.db; none when writing to stdout."""
    return options.store_path or (None if output == "-" else output + ".semzip.db")


def drop_store_files(path) -> None:
    """Delete a run store with its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def count_items(source: str) -> int | None:
    if source == "-":
        return None
    with open(source, "rb") as f:
        return sum(1 for line in f if line.strip())


class BatchProcessor:
    def __init__(self, engine, options: RunOptions = RunOptions(), monitor=None):
        self.engine = engine
        self.options = options
        self.monitor = monitor
        self.settings = settings_fingerprint(engine.compressor.config, engine.runner.config)
        self.model_sha = engine.model_sha

    def open_store(self, source: str, output: str) -> RunStore | None:
        path = store_path_for(self.options, output)
        if path is None:
            if self.options.resume:
                raise StoreError("--resume needs an output file or --store: stdout keeps no checkpoint")
            return None
        if self.options.resume and source == "-":
            raise StoreError("--resume needs an input file: stdin cannot be read again")
        existed = Path(path).exists()
        store = RunStore(path)
        fingerprint = file_sha256(source) if source != "-" else "stdin"
        if self.options.resume and existed:
            previous = store.get_meta("input_sha256")
            if previous is not None and previous != fingerprint:
                store.close()
                raise StoreError(
                    f"input {source} changed since the checkpoint in {path} (sha256 {previous[:12]}… then, "
                    f"{fingerprint[:12]}… now); rerun without --resume to start over"
                )
            if store.get_meta("settings") not in (None, self.settings):
                store.close()
                raise StoreError(f"settings differ from the checkpoint in {path}; rerun without --resume")
        else:
            store.clear_journal()
        store.set_meta("input_sha256", fingerprint)
        store.set_meta("settings", self.settings)
        store.set_meta("model_sha256", self.model_sha)
        # For `semzip report`: the rung each record's "r" code names; the first one makes records without it.
        rungs = getattr(self.engine, "rungs", None)
        plan = [[r.name, r.code] for r in rungs] if rungs is not None else [[self.rung_name(None), ""]]
        store.set_meta("rungs", json.dumps(plan))
        return store

    def run(self, source: str, output: str, *, fmt: str = "auto", whole: bool = False) -> RunSummary:
        t0 = time.perf_counter()
        before = self._token_totals()
        store = self.open_store(source, output)
        cache = RecordCache(self.options.cache_size, self.options.cache_ttl_s,
                            store if self.options.persistent_cache else None)
        done = store.done_indices() if store else set()
        summary = RunSummary()
        summary.checkpoint_s = time.perf_counter() - t0 if store else 0.0
        items = enumerate(read_items(source, fmt=fmt, whole=whole))
        total = 1 if whole else count_items(source)
        try:
            with open_output(output if store is None else os.devnull) as direct, tqdm(
                total=total, unit="item", file=sys.stderr, disable=None, smoothing=0.1
            ) as bar:
                while chunk := list(islice(items, self.options.batch)):
                    if store is not None and all(i in done for i, _ in chunk):
                        bar.update(len(chunk))
                        continue
                    rows, new_cache = self._process(chunk, cache, bar)
                    if store is not None:
                        t = time.perf_counter()
                        store.commit_lines(rows, new_cache if self.options.persistent_cache else {})
                        summary.checkpoint_s += time.perf_counter() - t
                    else:
                        direct.writelines(line + "\n" for _, line, _ in rows)
                        for _, line, size in rows:
                            rec = Record.from_json(line)
                            summary.add(size, rec, self.rung_name(rec.rung))
            if store is not None:
                t = time.perf_counter()
                self._write_output(store, output, summary)
                summary.checkpoint_s += time.perf_counter() - t
        finally:
            if store is not None:
                store.close()
        summary.wall_s = time.perf_counter() - t0
        summary.cache = cache.stats()
        after = self._token_totals()
        # A fallback mid-run brings a fresh generator whose totals start at zero: then count from there.
        summary.prompt_tokens, summary.generated_tokens = (a - b if a >= b else a for a, b in zip(after, before))
        summary.fallbacks = [(rung, cause) for rung, cause, _ in getattr(self.engine, "steps", [])]
        if store is not None and self.options.drop_store:
            drop_store_files(store.path)
        return summary

    def _token_totals(self) -> tuple[int, int]:
        """(prompt, generated) tokens the engine's generator has decoded so far; the extractive rung has none."""
        stats = getattr(getattr(self.engine.compressor, "generator", None), "stats", None)
        return (stats.num_prompt_tokens, stats.num_generated_tokens) if stats is not None else (0, 0)

    def rung_name(self, code: str | None) -> str:
        """Which rung of the fallback ladder made a record (its "r" code); without a ladder, cpu or gpu."""
        name = getattr(self.engine, "rung_name", None)
        if name is not None:
            return name(code)
        return "gpu" if self.engine.runner.config.n_gpu_layers else "cpu"

    def _process(self, chunk, cache: RecordCache, bar) -> tuple[list[tuple[int, str, int]], dict[str, str]]:
        """Records for one batch: errors as they are, cache hits re-labelled, each distinct text computed once.

        Every item advances the progress bar and the monitor the moment its record is final.
        """
        out: dict[int, Record] = {}
        keyed: dict[str, list[tuple[int, Item]]] = {}
        sizes = {i: (0 if isinstance(x, LineError) else len(x.text.encode("utf-8"))) for i, x in chunk}
        for i, x in chunk:
            if isinstance(x, LineError):
                out[i] = Record(x.id, "error", error=x.problem, line=x.line)
                self._item_done(bar, cache, sizes[i], out[i])
                continue
            key = cache_key(x.text, self.model_sha, self.settings)
            hit = cache.get(key, x.id, x.meta)
            if hit is not None:
                out[i] = hit
                self._item_done(bar, cache, sizes[i], hit)
            else:
                keyed.setdefault(key, []).append((i, x))
        keys = list(keyed)
        if self.options.group_threshold is not None and len(keys) > 1:
            keys = self._grouped(keys, keyed)

        def on_done(event: ItemDone) -> None:
            # Repeats of one text in a batch are one model call: its cost is counted once, its records each.
            for n, (i, _) in enumerate(keyed[keys[event.index]]):
                self._item_done(bar, cache, sizes[i], event.record, event if n == 0 else None)

        fresh = self.engine.compress_direct([keyed[k][0][1] for k in keys], on_done) if keys else []
        new_cache = {}
        for key, rec in zip(keys, fresh):  # what compress returns is what is stored; the events only report it
            new_cache[key] = cache.put_record(key, rec)
            for i, x in keyed[key]:
                same = Record.from_json(rec.to_json())
                same.id, same.meta = x.id, x.meta
                out[i] = same
        return [(i, out[i].to_json(), sizes[i]) for i, _ in chunk], new_cache

    def _item_done(self, bar, cache: RecordCache, size: int, rec: Record, event: ItemDone | None = None) -> None:
        bar.update(1)
        if self.monitor is not None:
            self.monitor.on_item(size, rec, event)
            self.monitor.on_cache(cache.stats())
            generator = getattr(self.engine.compressor, "generator", None)
            if generator is not None:
                self.monitor.on_generation(generator.stats)

    def _grouped(self, keys: list[str], keyed: dict) -> list[str]:
        """Keys reordered so similar texts are admitted together (the output order does not change)."""
        from engine.codecs.quality import Embedder
        from engine.jobs.grouping import group_order

        if getattr(self, "_embedder", None) is None:  # the scorer's, when scoring is on: one model, shared vectors
            scorer = getattr(self.engine.compressor, "scorer", None)
            self._embedder = scorer.embedder if scorer is not None else Embedder()
        vectors = self._embedder.embed([keyed[k][0][1].text for k in keys])
        return [keys[i] for i in group_order(vectors, self.options.group_threshold)]

    def _write_output(self, store: RunStore, output: str, summary: RunSummary) -> None:
        """Write OUT from the journal atomically: a crash leaves the old file or the complete new one."""
        tmp = output + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for _, line, size in store.journal_rows():
                f.write(line + "\n")
                rec = Record.from_json(line)
                summary.add(size, rec, self.rung_name(rec.rung))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, output)
