"""The store on one SQLite file in WAL mode: readers in other processes never block the one writer."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.store.database import Dialect
from engine.store.sql import SqlStore

DIALECT = Dialect(param="?", id_column="INTEGER PRIMARY KEY", blob="BLOB", real="REAL", text_key="TEXT",
                  begin_write="BEGIN IMMEDIATE", without_rowid=" WITHOUT ROWID", lock_profiles="",
                  errors=(sqlite3.Error,), skip_locked="", greatest="MAX",
                  scrub=("PRAGMA wal_checkpoint(TRUNCATE)",),
                  vacuum=("PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"),
                  vacuum_full=("PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"),
                  page_count="PRAGMA page_count", page_size="PRAGMA page_size")
PAGE_SIZE = 512  # SQLite's smallest
BUSY_TIMEOUT_S = 30.0  # a writer waits this long for another process's write to finish


def open_sqlite(path: str | Path) -> SqlStore:
    """A SqlStore over the file at path (created with its folder's permissions if absent)."""
    path = str(path)

    def connect():
        # isolation_level=None: transactions are the store's own BEGIN/COMMIT; check_same_thread=False only so
        # that close() may close every thread's connection: each is still used by the thread that opened it.
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        # Small pages, set before the first table (a store keeps the size it was created with): a store's eight
        # tables and indexes each start with a page of their own whatever they hold, which at 2 KiB was 16 KiB of
        # a compacted store of 70 sessions (bench/HISTORY.md); rows and packs longer than a page continue on
        # overflow pages.
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before put returns, so an acknowledged write survives a power cut too.
        conn.execute("PRAGMA synchronous=FULL")
        # A deleted memory's bytes are overwritten with zeros in the pages that held them, not left in free space.
        conn.execute("PRAGMA secure_delete=ON")
        return conn

    return SqlStore(connect, DIALECT, path)
