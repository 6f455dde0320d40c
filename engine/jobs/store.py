"""A run's store: one SQLite file (WAL) holding the checkpoint journal, the persistent cache and the metrics.

WAL with synchronous=NORMAL survives a killed process: a committed batch is never lost, a batch
being written when the process died is rolled back and redone on resume.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

from engine.errors import SemzipError


class StoreError(SemzipError):
    """The run store cannot be used (corrupt, or made for another input)."""

    exit_code = 2


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (idx INTEGER PRIMARY KEY, line TEXT NOT NULL, orig_bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (t REAL NOT NULL, name TEXT NOT NULL, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (t REAL NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
"""


class RunStore:
    """Thread-safe: one connection guarded by a lock (the sampler thread writes metrics too)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            ok = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise sqlite3.DatabaseError(ok)
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"run store {self.path} is corrupt ({exc}); move it aside and rerun without --resume "
                "(the run starts over), or restore it from a backup"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # metadata
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # journal: the output line of each finished input item
    def done_indices(self) -> set[int]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT idx FROM journal")}

    def commit_lines(self, rows: list[tuple[int, str, int]], cache: dict[str, str] | None = None) -> None:
        """One transaction: a batch's (index, line, original bytes) rows and new cache entries, all or none."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO journal VALUES (?, ?, ?)", rows)
            if cache:
                self._db.executemany("INSERT OR REPLACE INTO cache VALUES (?, ?)", cache.items())
            self._db.execute("COMMIT")

    def journal_rows(self) -> list[tuple[int, str, int]]:
        with self._lock:
            return self._db.execute("SELECT idx, line, orig_bytes FROM journal ORDER BY idx").fetchall()

    def clear_journal(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM journal")

    # persistent cache
    def cache_get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT record FROM cache WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # metrics
    def add_samples(self, t: float, values: dict[str, float]) -> None:
        with self._lock:
            self._db.executemany("INSERT INTO samples VALUES (?, ?, ?)", [(t, k, float(v)) for k, v in values.items()])

    def add_event(self, kind: str, detail: dict) -> None:
        with self._lock:
            self._db.execute("INSERT INTO events VALUES (?, ?, ?)", (time.time(), kind, json.dumps(detail)))

    def series(self, name: str) -> list[tuple[float, float]]:
        with self._lock:
            return self._db.execute("SELECT t, value FROM samples WHERE name = ? ORDER BY t", (name,)).fetchall()

    def sample_names(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT name FROM samples ORDER BY name")]

    def events(self) -> list[tuple[float, str, dict]]:
        with self._lock:
            rows = self._db.execute("SELECT t, kind, detail FROM events ORDER BY t").fetchall()
        return [(t, k, json.loads(d)) for t, k, d in rows]
