"""`semzip demo`'s store part: the bundled memories, and each line of them as a short memory, put into a memory
store, searched, compacted with the lossless default model, read back, and the store's files set against the
texts' bytes and against zstd -19 of each memory alone."""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from engine.codecs.container import record_size
from engine.codecs.item import Item
from engine.codecs.zstd import zstd_record

QUERY = "when is the moving day?"


@dataclass(slots=True)
class StoreDemo:
    memories: int
    text_bytes: int
    zstd_bytes: int  # each memory zstd -19 alone, as a .szr record
    hot_file_bytes: int  # the store's files after the puts
    cold_file_bytes: int  # after compaction and a vacuum (its WAL written back)
    put_s: float
    search_s: float
    compact_s: float
    cold_get_s: float
    hits: list[str]  # the search's keys, best first
    exact: int  # memories read back exactly after compaction

    def lines(self) -> list[str]:
        """What the demo prints."""
        return [f"{self.memories} memories ({self.text_bytes:,} bytes of text) in a memory store (SQLite):",
                f"  put hot {self.put_s * 1000:.0f} ms; search {QUERY!r} {self.search_s * 1000:.0f} ms -> "
                + ", ".join(self.hits),
                f"  compacted with the lossless model in {self.compact_s:.1f} s; every memory read back "
                f"({self.exact}/{self.memories} exact), the first cold read {self.cold_get_s:.1f} s",
                f"  the store's files: {self.hot_file_bytes:,} bytes hot, {self.cold_file_bytes:,} bytes compacted "
                f"({self.text_bytes / self.cold_file_bytes:.2f}x the texts; each memory zstd -19 alone: "
                f"{self.zstd_bytes:,} bytes, {self.text_bytes / self.zstd_bytes:.2f}x)"]


def memories_of(items: list[Item]) -> list[tuple[tuple[str, ...], str, str]]:
    """(namespace, key, text): each bundled memory whole, and each of its lines as a memory of its own."""
    whole = [(("demo", "whole"), it.id, it.text) for it in items]
    lines = [(("demo", "lines", it.id), f"line-{n}", line) for it in items
             for n, line in enumerate(it.text.split("\n")) if line]
    return whole + lines


def run_store_demo(items: list[Item], runner_config=None, engine=None) -> StoreDemo:
    """Put, search, compact and read back the memories of items in a fresh store; its figures. engine: a lossless
    Engine to use (its decoded-text cache off, so reads after compaction decode with the model), else one opened."""
    from engine.api import Engine
    from engine.core.runner import RunnerConfig

    if engine is not None:
        return _run(items, engine)
    with Engine(None, runner_config or RunnerConfig(), mode="lossless", read_cache_bytes=0) as engine:
        return _run(items, engine)


def _run(items: list[Item], engine) -> StoreDemo:
    from engine.store import MemoryStore, Put

    memories = memories_of(items)
    text_bytes = sum(len(text.encode()) for *_, text in memories)
    zstd_bytes = sum(record_size(zstd_record(Item(key, text))) for _, key, text in memories)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.db"
        with MemoryStore(path, engine=engine, compaction=False) as store:
            store.search(("demo",), "warm up", decode=False)  # the embedder loads outside the timing
            t0 = time.perf_counter()
            store.put_many([Put(ns, key, text) for ns, key, text in memories])
            put_s = time.perf_counter() - t0
            hot_file_bytes = store.file_bytes()
            t0 = time.perf_counter()
            hits = [m.key for m in store.search(("demo", "whole"), QUERY, limit=2, decode=False)]
            search_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            store.compact(everything=True)
            compact_s = time.perf_counter() - t0
            store.vacuum()
            cold_file_bytes = store.file_bytes()
        with MemoryStore(path, engine=engine, compaction=False) as store:
            t0 = time.perf_counter()
            first = store.get(*memories[0][:2])
            cold_get_s = time.perf_counter() - t0
            back = [first] + store.get_many([(ns, key) for ns, key, _ in memories[1:]])
    exact = sum(m is not None and m.value == text for m, (*_, text) in zip(back, memories))
    return StoreDemo(len(memories), text_bytes, zstd_bytes, hot_file_bytes, cold_file_bytes, put_s, search_s,
                     compact_s, cold_get_s, hits, exact)
