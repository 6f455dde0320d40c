"""The batch processor: streams any corpus through the engine in fixed batches, with cache and checkpoint journal.

Batches are fixed slices of the input (item i is in batch i // batch_size) and each batch commits
in one transaction, so a resumed run recomputes exactly the unfinished batches, with the same
composition, and its output is byte-identical to an uninterrupted greedy run. Progress and the
monitor advance per item, on the codec's ItemDone events, while the batch is still running.

Where the engine runs is an executor's business: LocalExecutor computes each batch in this process;
engine.cluster's RayExecutor keeps several batches in flight on Ray actors. Planning, the journal and
the output stay here, so both give the same records, journal rows and output bytes.
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

from engine.codecs.container import write_container
from engine.codecs.record import Record
from engine.errors import InputError
from engine.jobs.batch import BatchResult, BatchWorker
from engine.jobs.cache import RecordCache
from engine.jobs.inputs import ItemSource, open_output, read_items
from engine.jobs.store import RunStore, StoreError
from engine.jobs.summary import RunSummary
from engine.jobs.window import BatchWindow


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
    container: str = "jsonl"  # or "binary" (engine/codecs/container.py)

    def __post_init__(self):
        if self.batch < 1 or self.cache_size < 0 or self.cache_ttl_s <= 0:
            raise ValueError(f"need batch >= 1, cache size >= 0 and cache TTL > 0, got {self.batch}, "
                             f"{self.cache_size}, {self.cache_ttl_s}")
        if self.container not in ("jsonl", "binary"):
            raise ValueError(f"container must be jsonl or binary, got {self.container!r}")


def container_for(choice: str, output: str) -> str:
    """--container auto: the binary container for an OUTPUT ending in .szr, JSON lines otherwise."""
    if choice != "auto":
        if choice == "binary" and output == "-":
            raise ValueError("the binary container needs an output file: stdout gets JSON lines")
        return choice
    return "binary" if output.endswith(".szr") else "jsonl"


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


def file_source(source: str, *, fmt: str = "auto", whole: bool = False) -> ItemSource:
    """A file's (or stdin's) items, identified by the file's sha256 for --resume."""
    if source != "-" and not Path(source).is_file():
        raise InputError(f"input {source} does not exist or is not a file")
    return ItemSource("stdin" if source == "-" else source, read_items(source, fmt=fmt, whole=whole),
                      file_sha256(source) if source != "-" else None, 1 if whole else count_items(source))


class LocalExecutor:
    """Computes each batch in this process, one at a time, when the processor collects it."""

    capacity = 1

    def __init__(self, engine):
        self.engine = engine
        self.worker = BatchWorker(engine)
        self._queue: list[tuple[int, list, float | None]] = []

    def identity(self) -> tuple[str, str]:
        return self.worker.identity()

    def rungs(self) -> list[tuple[str, str]]:
        """(name, record code) of each rung of the engine's fallback plan; a plain engine is one rung."""
        rungs = getattr(self.engine, "rungs", None)
        if rungs is not None:
            return [(r.name, r.code) for r in rungs]
        return [("gpu" if self.engine.runner.config.n_gpu_layers else "cpu", "")]

    @property
    def num_in_flight(self) -> int:
        return len(self._queue)

    def submit(self, number: int, items: list, group_threshold: float | None, on_done=None) -> None:
        """on_done(ItemDone) hears each item the moment its record is final, while the batch computes."""
        self._queue.append((number, items, group_threshold, on_done))

    def wait(self) -> list[BatchResult]:
        return [self.worker.compute(*self._queue.pop(0))]

    def close(self) -> None:
        pass


class BatchProcessor:
    def __init__(self, engine, options: RunOptions = RunOptions(), monitor=None, executor=None):
        self.options = options
        self.monitor = monitor
        self.executor = executor or LocalExecutor(engine)
        self.model_sha, self.settings = self.executor.identity()
        self.rungs = self.executor.rungs()

    def open_store(self, source: ItemSource, output: str) -> RunStore | None:
        path = store_path_for(self.options, output)
        if path is None:
            if self.options.resume:
                raise StoreError("--resume needs an output file or --store: stdout keeps no checkpoint")
            return None
        if self.options.resume and source.fingerprint is None:
            raise StoreError(f"--resume needs an input that can be read again: {source.name} cannot")
        existed = Path(path).exists()
        store = RunStore(path)
        fingerprint = source.fingerprint or "stdin"
        if self.options.resume and existed:
            previous = store.get_meta("input_sha256")
            if previous is not None and previous != fingerprint:
                store.close()
                raise StoreError(
                    f"input {source.name} changed since the checkpoint in {path} (sha256 {previous[:12]}… then, "
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
        store.set_meta("rungs", json.dumps([list(r) for r in self.rungs]))
        return store

    def run(self, source: str | ItemSource, output: str, *, fmt: str = "auto", whole: bool = False) -> RunSummary:
        """Compress a file (or "-", or an ItemSource) into OUTPUT: one line per input item, in input order."""
        t0 = time.perf_counter()
        if not isinstance(source, ItemSource):
            source = file_source(source, fmt=fmt, whole=whole)
        store = self.open_store(source, output)
        cache = RecordCache(self.options.cache_size, self.options.cache_ttl_s,
                            store if self.options.persistent_cache else None)
        done = store.done_indices() if store else set()
        summary = RunSummary()
        summary.checkpoint_s = time.perf_counter() - t0 if store else 0.0
        items = enumerate(source.items)
        try:
            with open_output(output if store is None else os.devnull) as direct, tqdm(
                total=source.total, unit="item", file=sys.stderr, disable=None, smoothing=0.1
            ) as bar:
                window = BatchWindow(self.executor, self.options, (self.model_sha, self.settings), cache, store,
                                     direct, summary, bar, self.monitor, self.rung_name)
                for number, chunk in enumerate(iter(lambda: list(islice(items, self.options.batch)), [])):
                    if store is not None and all(i in done for i, _ in chunk):
                        bar.update(len(chunk))
                        continue
                    window.submit(number, chunk)
                window.drain()
            if store is not None:
                t = time.perf_counter()
                self._write_output(store, output, summary)
                summary.checkpoint_s += time.perf_counter() - t
                store.set_meta("workers", json.dumps(summary.workers))
        finally:
            if store is not None:
                store.close()
        summary.wall_s = time.perf_counter() - t0
        summary.cache = cache.stats()
        if store is not None and self.options.drop_store:
            drop_store_files(store.path)
        return summary

    def rung_name(self, code: str | None) -> str:
        """Which rung of the fallback ladder made a record (its "r" code); none: the plan's first rung."""
        if code is None:
            return self.rungs[0][0]
        return next((name for name, c in self.rungs if c == code), code)

    def _write_output(self, store: RunStore, output: str, summary: RunSummary) -> None:
        """Write OUT from the journal atomically: a crash leaves the old file or the complete new one."""
        if self.options.container == "binary":
            rows = list(store.journal_rows())
            records = [Record.from_json(line) for _, line, _ in rows]
            for (_, _, size), rec, stored in zip(rows, records, write_container(output, records)):
                summary.add(size, rec, self.rung_name(rec.rung), stored)
            return
        tmp = output + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for _, line, size in store.journal_rows():
                f.write(line + "\n")
                rec = Record.from_json(line)
                summary.add(size, rec, self.rung_name(rec.rung))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, output)

