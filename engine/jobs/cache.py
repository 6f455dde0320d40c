"""Record cache: an in-memory LRU with TTL (cachetools), backed by the run store's table when one is open.

Keyed by the text, the model's sha256 and every setting that changes the record, so a hit returns
exactly what a fresh run would have produced.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Hashable

from cachetools import TTLCache

from engine.codecs.record import Record
from engine.jobs.store import RunStore


def cache_key(text: str, model_sha: str, settings: object) -> str:
    h = hashlib.sha256()
    for part in (model_sha, repr(settings), text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


class LruTtlCache:
    """In-memory LRU whose entries also expire after ttl_s (cachetools' TTLCache); thread-safe; counts hits and misses.

    The engine's record cache is one; host functions under @semzip_cached get their own.
    """

    def __init__(self, maxsize: int = 10_000, ttl_s: float = 24 * 3600):
        self._mem: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl_s)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def lookup(self, key: Hashable, load: Callable[[Hashable], object | None] | None = None) -> tuple[bool, object]:
        """(found, value): memory first, then load(key), a slower tier returning None when it has nothing.

        One lookup counts as one hit or one miss, whichever tier answered.
        """
        with self._lock:
            try:
                found, value = True, self._mem[key]
            except KeyError:  # absent or expired
                found, value = False, None
        if not found and load is not None:
            value = load(key)
            found = value is not None
            if found:
                self.put(key, value)
        with self._lock:
            if found:
                self.hits += 1
            else:
                self.misses += 1
        return found, value

    def put(self, key: Hashable, value: object) -> None:
        if self._mem.maxsize:  # size 0 turns the memory tier off (TTLCache itself refuses every entry then)
            with self._lock:
                self._mem[key] = value

    def stats(self) -> dict:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "size": len(self._mem)}


class RecordCache(LruTtlCache):
    """Record lines by cache key, in memory and, when a run store is open, in its cache table."""

    def __init__(self, maxsize: int = 10_000, ttl_s: float = 24 * 3600, store: RunStore | None = None):
        super().__init__(maxsize, ttl_s)
        self._store = store

    def get(self, key: str, ident: str, meta: dict) -> Record | None:
        """The cached record re-labelled with this item's id and metadata, or None."""
        found, line = self.lookup(key, self._store.cache_get if self._store is not None else None)
        if not found:
            return None
        rec = Record.from_json(line)
        rec.id, rec.meta = ident, meta
        return rec

    def put_record(self, key: str, rec: Record) -> str:
        """Remember rec without its id and metadata; returns the stored form (for the store's transaction)."""
        anon = Record.from_json(rec.to_json())
        anon.id, anon.meta = "", {}
        line = anon.to_json()
        self.put(key, line)
        return line

    def count_hit(self) -> None:
        """A hit served from outside the cache: a record an earlier batch in flight is computing."""
        with self._lock:
            self.hits += 1

    def can_hold(self) -> bool:
        """Whether a record put now is found by a later get (in memory or in the run store)."""
        return self._mem.maxsize > 0 or self._store is not None


def settings_fingerprint(compress_config, runner_config, threads: int | None = None) -> str:
    """The settings a record depends on: batch shape and CPU threads too, greedy output can differ with them.

    threads: the llama.cpp context's actual thread count (None without a model). On CPU, 1 and 2 threads
    gave different greedy text for 3 of 8 short dialogues (tests/test_cluster.py's corpus).
    """
    shape = {"slots": runner_config.num_slots, "token_budget": runner_config.n_batch, "ubatch": runner_config.n_ubatch,
             "warm_up": runner_config.warm_up}
    if threads is not None:
        shape["threads"] = threads
    return json.dumps({"compress": repr(compress_config), **shape}, sort_keys=True)
