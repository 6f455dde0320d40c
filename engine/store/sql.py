"""The store's database behind one small interface: the same SQL on SQLite and PostgreSQL, a dialect apart.

Each thread has its own connection (sqlite3 and psycopg connections are not shared across threads). Every
write is one transaction: a killed process leaves each memory either wholly written or absent.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass

from engine.store.errors import StoreError
from engine.store.rows import Row

FORMAT_VERSION = 1  # of the tables below; a store written by a newer version is refused
_COLS = "id, ns, key, kind, body, crc, fields, text_bytes, created_at, updated_at, expires_at, ttl"
_LIVE = "(expires_at IS NULL OR expires_at > {p})"


@dataclass(frozen=True, slots=True)
class Dialect:
    param: str  # the driver's placeholder
    id_column: str
    blob: str
    real: str
    text_key: str  # the type of ns and key: byte order, so a namespace prefix is a range
    begin_write: str
    without_rowid: str
    lock_profiles: str  # serialises profile numbering across processes
    errors: tuple  # the driver's exception classes, reported as StoreError


def schema(d: Dialect) -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS semzip_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS semzip_profiles (idx INTEGER PRIMARY KEY, profile TEXT NOT NULL UNIQUE)",
        f"CREATE TABLE IF NOT EXISTS semzip_memories (id {d.id_column}, ns {d.text_key} NOT NULL, key {d.text_key} "
        f"NOT NULL, kind SMALLINT NOT NULL, body {d.blob} NOT NULL, crc BIGINT NOT NULL, fields TEXT, text_bytes "
        f"INTEGER NOT NULL, created_at {d.real} NOT NULL, updated_at {d.real} NOT NULL, expires_at {d.real}, "
        f"ttl {d.real}, UNIQUE (ns, key))",
        f"CREATE TABLE IF NOT EXISTS semzip_vectors (mem_id BIGINT NOT NULL, field TEXT NOT NULL, vec {d.blob} NOT NULL, "
        f"PRIMARY KEY (mem_id, field)){d.without_rowid}",
    ]


class SqlStore:
    """Rows in, rows out; knows nothing of coding. where names the store in every error."""

    def __init__(self, connect, dialect: Dialect, where: str):
        self._connect, self.d, self.where = connect, dialect, where
        self._local = threading.local()
        self._all: list = []
        self._all_lock = threading.Lock()

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._guard("open"):
                conn = self._local.conn = self._connect()
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _guard(self, what: str):
        try:
            yield
        except self.d.errors as exc:
            raise StoreError(f"{self.where}: cannot {what} ({str(exc).strip()})") from exc

    @contextmanager
    def _write(self, what: str):
        conn = self._conn()
        with self._guard(what):
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

    def _q(self, sql: str) -> str:
        return sql.replace("?", self.d.param)

    def _read(self, sql: str, params=(), what: str = "read") -> list[tuple]:
        with self._guard(what):
            cur = self._conn().cursor()
            cur.execute(self._q(sql), params)
            return cur.fetchall()

    def init(self) -> dict[str, str]:
        """Create the tables if absent; the meta table's entries (format version and the embedding scheme).

        A store of a newer format is returned as found, unchanged, for the caller to refuse."""
        try:
            found = dict(self._read("SELECT key, value FROM semzip_meta"))
        except StoreError:
            found = {}  # no tables yet (or no database: creating them says so)
        if int(found.get("format", 0)) > FORMAT_VERSION:
            return found
        with self._write("create its tables") as cur:
            for stmt in schema(self.d):
                cur.execute(stmt)
        return dict(self._read("SELECT key, value FROM semzip_meta"))

    def set_meta(self, entries: dict[str, str]) -> dict[str, str]:
        """Add entries not yet set (a concurrent creator's win is kept); the meta table after."""
        with self._write("write its settings") as cur:
            for k, v in entries.items():
                cur.execute(self._q("INSERT INTO semzip_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"),
                            (k, v))
        return dict(self._read("SELECT key, value FROM semzip_meta"))

    def profiles(self, needed: set[str] = frozenset()) -> list[str]:
        """The numerics profiles coded rows refer to by index, with needed ones added at the end."""
        have = [p for (p,) in self._read("SELECT profile FROM semzip_profiles ORDER BY idx")]
        if needed <= set(have):
            return have
        with self._write("record a profile") as cur:
            if self.d.lock_profiles:
                cur.execute(self.d.lock_profiles)
            cur.execute("SELECT profile FROM semzip_profiles ORDER BY idx")
            have = [p for (p,) in cur.fetchall()]
            for p in sorted(needed - set(have)):
                cur.execute(self._q("INSERT INTO semzip_profiles (idx, profile) VALUES (?, ?)"), (len(have), p))
                have.append(p)
        return have

    def write(self, rows: list[Row]) -> None:
        """Insert or replace rows (created_at kept on replace), their vectors with them, in one transaction."""
        upsert = self._q(
            "INSERT INTO semzip_memories (ns, key, kind, body, crc, fields, text_bytes, created_at, updated_at, "
            "expires_at, ttl) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET "
            "kind = excluded.kind, body = excluded.body, crc = excluded.crc, fields = excluded.fields, text_bytes = "
            "excluded.text_bytes, updated_at = excluded.updated_at, expires_at = excluded.expires_at, ttl = "
            "excluded.ttl RETURNING id")
        with self._write("write memories (disk full?)") as cur:
            for r in rows:
                cur.execute(upsert, (r.ns, r.key, r.kind, r.body, r.crc, r.fields, r.text_bytes, r.created_at,
                                     r.updated_at, r.expires_at, r.ttl))
                (r.id,) = cur.fetchone()
                cur.execute(self._q("DELETE FROM semzip_vectors WHERE mem_id = ?"), (r.id,))
                for field, vec in r.vectors:
                    cur.execute(self._q("INSERT INTO semzip_vectors (mem_id, field, vec) VALUES (?, ?, ?)"),
                                (r.id, field, vec))

    def delete(self, ns: str, keys: list[str]) -> int:
        """Delete these keys of one namespace; how many there were."""
        count = 0
        with self._write("delete memories") as cur:
            for key in keys:
                cur.execute(self._q("DELETE FROM semzip_vectors WHERE mem_id IN "
                                    "(SELECT id FROM semzip_memories WHERE ns = ? AND key = ?)"), (ns, key))
                cur.execute(self._q("DELETE FROM semzip_memories WHERE ns = ? AND key = ?"), (ns, key))
                count += cur.rowcount
        return count

    def fetch(self, ns: str, keys: list[str], now: float) -> list[Row]:
        """The live rows of these keys in one namespace (vectors not read)."""
        marks = ", ".join("?" * len(keys))
        sql = f"SELECT {_COLS} FROM semzip_memories WHERE ns = ? AND key IN ({marks}) AND {_LIVE.format(p='?')}"
        return [_row(t) for t in self._read(sql, (ns, *keys, now))] if keys else []

    def by_ids(self, ids: list[int]) -> list[Row]:
        marks = ", ".join("?" * len(ids))
        return [_row(t) for t in self._read(f"SELECT {_COLS} FROM semzip_memories WHERE id IN ({marks})", ids)] \
            if ids else []

    def _prefix(self, prefix: str) -> tuple[str, tuple]:
        if not prefix:
            return "1 = 1", ()
        # labels hold no control character, so every namespace under prefix sorts between prefix\x1f and prefix\x20
        return "(ns = ? OR (ns > ? AND ns < ?))", (prefix, prefix + "\x1f", prefix + "\x20")

    def scan(self, prefix: str, now: float) -> list[tuple]:
        """(id, ns, key, fields, created_at, updated_at) of every live memory under a namespace prefix, newest first."""
        cond, params = self._prefix(prefix)
        return self._read(f"SELECT id, ns, key, fields, created_at, updated_at FROM semzip_memories WHERE {cond} AND "
                          f"{_LIVE.format(p='?')} ORDER BY updated_at DESC, id DESC", (*params, now))

    def vectors(self, prefix: str, now: float) -> list[tuple[int, bytes]]:
        """(memory id, packed vector) of every live memory under a namespace prefix."""
        cond, params = self._prefix(prefix)
        return self._read(f"SELECT v.mem_id, v.vec FROM semzip_vectors v JOIN semzip_memories m ON m.id = v.mem_id "
                          f"WHERE {cond.replace('ns', 'm.ns')} AND {_LIVE.format(p='?')}", (*params, now))

    def namespaces(self, now: float) -> list[str]:
        return [ns for (ns,) in self._read(f"SELECT DISTINCT ns FROM semzip_memories WHERE {_LIVE.format(p='?')}",
                                           (now,))]

    def refresh(self, ids: list[int], now: float) -> None:
        """Move the expiry of these rows (those with a TTL) to now + their TTL."""
        if not ids:
            return
        marks = ", ".join("?" * len(ids))
        with self._write("refresh TTLs") as cur:
            cur.execute(self._q(f"UPDATE semzip_memories SET expires_at = ? + ttl WHERE ttl IS NOT NULL AND id IN "
                                f"({marks})"), (now, *ids))

    def sweep(self, now: float) -> int:
        """Delete expired rows and their vectors; how many."""
        with self._write("sweep expired memories") as cur:
            cur.execute(self._q("DELETE FROM semzip_vectors WHERE mem_id IN (SELECT id FROM semzip_memories WHERE "
                                "expires_at IS NOT NULL AND expires_at <= ?)"), (now,))
            cur.execute(self._q("DELETE FROM semzip_memories WHERE expires_at IS NOT NULL AND expires_at <= ?"), (now,))
            return cur.rowcount

    def stats(self) -> list[tuple]:
        """(ns, memories, text bytes in, body bytes, vector bytes) per namespace."""
        return self._read(
            "SELECT m.ns, COUNT(*), SUM(m.text_bytes), SUM(LENGTH(m.body)), SUM(COALESCE(v.n, 0)) FROM semzip_memories m "
            "LEFT JOIN (SELECT mem_id, SUM(LENGTH(vec)) AS n FROM semzip_vectors GROUP BY mem_id) v ON v.mem_id = m.id "
            "GROUP BY m.ns ORDER BY m.ns")

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except self.d.errors:
                pass  # a connection of a thread that is gone may already be unusable
        self._local = threading.local()


def _row(t: tuple) -> Row:
    return Row(id=t[0], ns=t[1], key=t[2], kind=t[3], body=bytes(t[4]), crc=t[5], fields=t[6], text_bytes=t[7],
               created_at=t[8], updated_at=t[9], expires_at=t[10], ttl=t[11])
