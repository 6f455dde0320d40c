"""Record cache: an in-memory LRU with TTL (cachetools), backed by the run store's table when one is open.

Keyed by the text, the model's sha256 and every setting that changes the record, so a hit returns
exactly what a fresh run would have produced.
"""
from __future__ import annotations

import hashlib
import json
import threading

from cachetools import TTLCache

from engine.codecs.record import Record
from engine.jobs.store import RunStore


def cache_key(text: str, model_sha: str, settings: object) -> str:
    h = hashlib.sha256()
    for part in (model_sha, repr(settings), text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


class RecordCache:
    def __init__(self, maxsize: int = 10_000, ttl_s: float = 24 * 3600, store: RunStore | None = None):
        self._mem: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl_s)
        self._store = store
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str, ident: str, meta: dict) -> Record | None:
        """The cached record re-labelled with this item's id and metadata, or None."""
        with self._lock:
            line = self._mem.get(key)
        if line is None and self._store is not None:
            line = self._store.cache_get(key)
            if line is not None:
                with self._lock:
                    self._mem[key] = line
        with self._lock:
            if line is None:
                self.misses += 1
                return None
            self.hits += 1
        rec = Record.from_json(line)
        rec.id, rec.meta = ident, meta
        return rec

    def put(self, key: str, rec: Record) -> str:
        """Remember rec without its id and metadata; returns the stored form (for the store's transaction)."""
        anon = Record.from_json(rec.to_json())
        anon.id, anon.meta = "", {}
        line = anon.to_json()
        if self._mem.maxsize:  # a zero-size TTLCache raises on every insert
            with self._lock:
                self._mem[key] = line
        return line

    def count_hit(self) -> None:
        """A hit served from outside the cache: a record an earlier batch in flight is computing."""
        with self._lock:
            self.hits += 1

    def can_hold(self) -> bool:
        """Whether a record put now is found by a later get (in memory or in the run store)."""
        return self._mem.maxsize > 0 or self._store is not None

    def stats(self) -> dict:
        return {"hits": self.hits, "misses": self.misses, "size": len(self._mem)}


def settings_fingerprint(compress_config, runner_config, threads: int | None = None) -> str:
    """The settings a record depends on: batch shape and CPU threads too, greedy output can differ with them.

    threads: the llama.cpp context's actual thread count (None without a model). On CPU, 1 and 2 threads
    gave different greedy text for 3 of 8 short dialogues (tests/test_cluster.py's corpus).
    """
    shape = {"slots": runner_config.num_slots, "token_budget": runner_config.n_batch, "ubatch": runner_config.n_ubatch}
    if threads is not None:
        shape["threads"] = threads
    return json.dumps({"compress": repr(compress_config), **shape}, sort_keys=True)
