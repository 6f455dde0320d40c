"""Texts already decoded from model-coded records, for repeated reads: LRU with TTL, bounded in bytes.

A memory is written once and read many times, and decoding one costs the model a step per token. The
key is what fixes the text: the record's profile, checksum and payload (never its id, which a store may
reuse for another memory); the size counted is the key's payload plus the text's UTF-8 bytes.
"""
from __future__ import annotations

import threading

from cachetools import TTLCache

from engine.codecs.record import Record

DECODED_CACHE = "decoded"  # its name in /metrics (semzip_cache_hits{cache="decoded"})


def _key(rec: Record) -> tuple:
    return rec.profile, rec.checksum, bytes(rec.payload or b"")


def _size(entry: tuple[int, str]) -> int:
    return entry[0]


class DecodedCache:
    """Thread-safe; max_bytes 0 turns it off. Counts hits and misses."""

    def __init__(self, max_bytes: int = 64 << 20, ttl_s: float = 3600.0):
        if max_bytes < 0 or ttl_s <= 0:
            raise ValueError(f"the decoded-text cache needs max_bytes >= 0 and ttl_s > 0, got {max_bytes}, {ttl_s}")
        self._mem: TTLCache = TTLCache(maxsize=max(max_bytes, 1), ttl=ttl_s, getsizeof=_size)
        self._on = max_bytes > 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, rec: Record) -> str | None:
        with self._lock:
            entry = self._mem.get(_key(rec)) if self._on else None
            if entry is None:
                self.misses += 1
                return None
            self.hits += 1
            return entry[1]

    def put(self, rec: Record, text: str) -> None:
        key = _key(rec)
        size = len(key[2]) + len(text.encode("utf-8", "surrogatepass"))
        if not self._on or size > self._mem.maxsize:
            return
        with self._lock:
            self._mem[key] = (size, text)

    def forget(self, rec: Record) -> None:
        """Drop rec's text (its memory was deleted: its words must not stay readable from memory)."""
        with self._lock:
            self._mem.pop(_key(rec), None)

    def clear(self) -> None:
        """Drop every text (a namespace was shredded: its records no longer open, so they cannot be named)."""
        with self._lock:
            self._mem.clear()

    def stats(self) -> dict:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "size": len(self._mem), "bytes": int(self._mem.currsize)}
