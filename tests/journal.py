"""A run's checkpoint journal as a test watches it from outside: to kill a process after a commit, not a guess."""
from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path


def journal_rows(out: Path) -> int:
    """Items committed so far by the run writing out (0 before its store exists)."""
    try:
        with sqlite3.connect(f"file:{out}.semzip.db?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def wait_for_journal(out: Path, proc: subprocess.Popen, rows: int, timeout_s: float = 300) -> None:
    """Until the run has committed rows items; the run ending first, or timeout_s passing, fails the test."""
    deadline = time.monotonic() + timeout_s
    while journal_rows(out) < rows:
        assert proc.poll() is None, "the run ended before the kill"
        assert time.monotonic() < deadline, f"no {rows} items committed in {timeout_s:.0f} s"
        time.sleep(0.1)
