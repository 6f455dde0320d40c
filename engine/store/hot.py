"""The hot tier's side of a memory: its text as a record no model is needed for, and when it was last read.

A put writes the hot record (zstd at a fast level, or raw where zstd would not be smaller) and returns without
touching the model; compaction later codes it with the namespace's policy. Reads move a memory's read time,
which compaction orders by: they are kept in memory and written in one transaction a while later (a get that
waited on an fsync for its own read time would cost milliseconds the agent feels; a read time lost in a crash
only makes its memory look idle sooner).
"""
from __future__ import annotations

import threading
import time

from engine.codecs.container import encode_record
from engine.codecs.item import Item
from engine.codecs.record import Record
from engine.codecs.zstd import zstd_record

# Fast (a whole put with nothing to embed measured 0.6 ms p50 on LoCoMo sessions); the cold codec sets the size.
HOT_ZSTD_LEVEL = 3
READ_TIMES_FLUSH_S = 5.0  # read times are written at most this long after the read (or at close, or compaction)
READ_TIMES_FLUSH_COUNT = 512


def hot_record(key: str, text: str) -> bytes:
    """The text as the smaller of a zstd record and a raw one, laid out as a .szr record."""
    raw = encode_record(Record(key, "raw", text=text), {})
    if len(text.encode("utf-8")) < 64:  # zstd's frame alone is about as large as such a text
        return raw
    packed = encode_record(zstd_record(Item(key, text), HOT_ZSTD_LEVEL, flagged=False), {})
    return packed if len(packed) < len(raw) else raw


class ReadTimes:
    """Row id -> when it was last read, written to the database in batches by flush_to."""

    def __init__(self):
        self._times: dict[int, float] = {}
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()

    def note(self, ids, now: float) -> None:
        with self._lock:
            for i in ids:
                self._times[i] = now

    def is_due(self) -> bool:
        return bool(self._times) and (len(self._times) >= READ_TIMES_FLUSH_COUNT
                                      or time.monotonic() - self._last_flush >= READ_TIMES_FLUSH_S)

    def flush_to(self, tiers) -> int:
        """Write the noted times (tier_sql.Tiers.touch); how many rows. Kept for the next try if the write fails."""
        with self._lock:
            times, self._times = self._times, {}
            self._last_flush = time.monotonic()
        if not times:
            return 0
        try:
            tiers.touch(times)
        except BaseException:
            with self._lock:
                for i, t in times.items():
                    self._times[i] = max(t, self._times.get(i, 0.0))
            raise
        return len(times)
