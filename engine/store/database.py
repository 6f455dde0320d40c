"""A database connection per thread, transactions and errors: what every query module of the store builds on.

Each thread has its own connection (sqlite3 and psycopg connections are not shared across threads). Every
write is one transaction: a killed process leaves it wholly written or absent. What differs between SQLite and
PostgreSQL is data in a Dialect, never a branch in the queries.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass

from engine.store.errors import StoreError
from engine.store.sealing import Plain


@dataclass(frozen=True, slots=True)
class Dialect:
    param: str  # the driver's placeholder
    id_column: str
    blob: str
    real: str
    text_key: str  # the type of ns and key: byte order, so a namespace prefix is a range
    begin_write: str
    without_rowid: str
    lock_profiles: str  # serialises profile numbering (and the format upgrade) across processes
    errors: tuple  # the driver's exception classes, reported as StoreError
    skip_locked: str  # a claim's row locks: PostgreSQL's FOR UPDATE SKIP LOCKED; SQLite's writer is alone anyway
    greatest: str  # the two-argument maximum function
    # Statements outside any transaction: after a delete (SQLite: the WAL written back and emptied, so no old page
    # image keeps deleted bytes), and to give space back (full: dropping dead rows' bytes from the files too).
    scrub: tuple[str, ...]
    vacuum: tuple[str, ...]
    vacuum_full: tuple[str, ...]
    # SQLite's pragmas that size the file, to tell how much of it holds no row; empty where the server's own
    # vacuum sees to that (PostgreSQL)
    page_count: str = ""
    page_size: str = ""


class Database:
    """Connections, transactions and reads over one database; where names it in every error."""

    def __init__(self, connect, dialect: Dialect, where: str):
        self._connect, self.d, self.where = connect, dialect, where
        self.seal = Plain()  # an encrypted store's Sealer, set when it is opened with its key
        self._local = threading.local()
        self._all: list = []
        self._all_lock = threading.Lock()

    def connection(self):
        """This thread's connection, opened on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.guard("open"):
                conn = self._local.conn = self._connect()
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def guard(self, what: str):
        """The driver's errors inside as the store's error class, saying what could not be done."""
        try:
            yield
        except self.d.errors as exc:
            raise StoreError(f"{self.where}: cannot {what} ({str(exc).strip()})") from exc

    @contextmanager
    def transaction(self, what: str):
        """A cursor inside one write transaction: committed at the end, rolled back on any exception."""
        conn = self.connection()
        with self.guard(what):
            cur = conn.cursor()
            cur.execute(self.d.begin_write)
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                try:
                    cur.execute("ROLLBACK")
                except self.d.errors:
                    pass  # the failed statement may have ended the transaction already
                raise

    def q(self, sql: str) -> str:
        """sql with its ? placeholders in the driver's style."""
        return sql.replace("?", self.d.param)

    def read(self, sql: str, params=(), what: str = "read") -> list[tuple]:
        """The rows of one query (? placeholders)."""
        with self.guard(what):
            cur = self.connection().cursor()
            cur.execute(self.q(sql), params)
            return cur.fetchall()

    def run_outside_transaction(self, statements: tuple[str, ...], what: str) -> None:
        """Statements that must run with no transaction open (checkpoints, vacuum)."""
        if not statements:
            return
        with self.guard(what):
            cur = self.connection().cursor()
            for stmt in statements:
                cur.execute(stmt)

    def prefix_condition(self, prefix: str) -> tuple[str, tuple]:
        """(WHERE condition, params) for the namespace prefix and every namespace under it (as stored: a store with
        sealed names stores each label as a token, joined as labels are, so a prefix is still a range)."""
        if not prefix:
            return "1 = 1", ()
        prefix = self.seal.ns_in(prefix)
        # labels hold no control character, so every namespace under prefix sorts between prefix\x1f and prefix\x20
        return "(ns = ? OR (ns > ? AND ns < ?))", (prefix, prefix + "\x1f", prefix + "\x20")

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except self.d.errors:
                pass  # a connection of a thread that is gone may already be unusable
        self._local = threading.local()
