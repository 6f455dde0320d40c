"""The store's database behind one small interface: the same SQL on SQLite and PostgreSQL, a dialect apart.

Each thread has its own connection (sqlite3 and psycopg connections are not shared across threads). Every
write is one transaction: a killed process leaves each memory either wholly written or absent. The tiers'
queries (compaction's claims and swaps, kept copies, read times) are in tier_sql.py.
"""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass

from engine.store.errors import StoreError
from engine.store.rows import Row

FORMAT_VERSION = 2  # of the tables below; a store written by a newer version is refused, an older one upgraded
# A row's tier: HOT (body a zstd or raw record, written by put with no model), COLD (body the namespace's policy's
# record, written by compaction) or COLD_KEPT (cold, with the text kept hot beside it in `hot` after a read).
HOT, COLD, COLD_KEPT = 0, 1, 2
_COLS = ("id, ns, key, kind, body, crc, fields, text_bytes, created_at, updated_at, expires_at, ttl, tier, hot, "
         "hot_crc, version, used_at, policy")
# Format 2's columns beyond format 1's: a format-1 row is a cold one (its body is its policy's record).
TIER_COLUMNS = ("tier SMALLINT NOT NULL DEFAULT 1", "hot {blob}", "hot_crc BIGINT", "version BIGINT NOT NULL DEFAULT 0",
                "used_at {real}", "claimed_until {real}", "policy TEXT")
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
    lock_profiles: str  # serialises profile numbering (and the format upgrade) across processes
    errors: tuple  # the driver's exception classes, reported as StoreError
    skip_locked: str  # a claim's row locks: PostgreSQL's FOR UPDATE SKIP LOCKED; SQLite's writer is alone anyway
    greatest: str  # the two-argument maximum function


def schema(d: Dialect) -> list[str]:
    # Small stores are mostly fixed cost: one meta table (the profiles a JSON list in it) without a separate key
    # index (WITHOUT ROWID), and each memory's embeddings in its own row, one blob
    # (a WITHOUT ROWID vectors table pushed 200-byte rows to overflow pages: 2.8x their bytes, measured).
    return [
        f"CREATE TABLE IF NOT EXISTS semzip_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL){d.without_rowid}",
        f"CREATE TABLE IF NOT EXISTS semzip_memories (id {d.id_column}, ns {d.text_key} NOT NULL, key {d.text_key} "
        f"NOT NULL, kind SMALLINT NOT NULL, body {d.blob} NOT NULL, crc BIGINT NOT NULL, fields TEXT, text_bytes "
        f"INTEGER NOT NULL, created_at {d.real} NOT NULL, updated_at {d.real} NOT NULL, expires_at {d.real}, "
        f"ttl {d.real}, vecs {d.blob}, {', '.join(c.format(blob=d.blob, real=d.real) for c in TIER_COLUMNS)}, "
        f"UNIQUE (ns, key))",
        HOT_INDEX,
    ]


# Compaction finds the rows not (only) cold by this partial index: an all-cold store keeps it empty.
HOT_INDEX = f"CREATE INDEX IF NOT EXISTS semzip_hot_rows ON semzip_memories (used_at) WHERE tier <> {COLD}"


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
        if found.get("format", str(FORMAT_VERSION)) != str(FORMAT_VERSION):
            self._upgrade()
        with self._write("create its tables") as cur:
            for stmt in schema(self.d):
                cur.execute(stmt)
        return dict(self._read("SELECT key, value FROM semzip_meta"))

    def _upgrade(self) -> None:
        """Format 1 to 2 in one transaction: the tier columns added, its rows cold (their bodies are their
        policy's records). Rechecked under the write lock: another process may have upgraded it first."""
        with self._write("upgrade its tables to store format 2") as cur:
            if self.d.lock_profiles:
                cur.execute(self.d.lock_profiles)
            cur.execute("SELECT value FROM semzip_meta WHERE key = 'format'")
            if cur.fetchall() != [("1",)]:
                return
            for column in TIER_COLUMNS:
                cur.execute(f"ALTER TABLE semzip_memories ADD COLUMN {column.format(blob=self.d.blob, real=self.d.real)}")
            cur.execute(HOT_INDEX)
            cur.execute(f"UPDATE semzip_meta SET value = '{FORMAT_VERSION}' WHERE key = 'format'")

    def set_meta(self, entries: dict[str, str]) -> dict[str, str]:
        """Add entries not yet set (a concurrent creator's win is kept); the meta table after."""
        with self._write("write its settings") as cur:
            for k, v in entries.items():
                cur.execute(self._q("INSERT INTO semzip_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"),
                            (k, v))
        return dict(self._read("SELECT key, value FROM semzip_meta"))

    def profiles(self, needed: set[str] = frozenset()) -> list[str]:
        """The numerics profiles coded rows refer to by index, with needed ones added at the end."""
        have = self._profile_list(self._read("SELECT value FROM semzip_meta WHERE key = 'profiles'"))
        if needed <= set(have):
            return have
        with self._write("record a profile") as cur:
            if self.d.lock_profiles:
                cur.execute(self.d.lock_profiles)
            cur.execute("SELECT value FROM semzip_meta WHERE key = 'profiles'")  # again, under the write lock
            have = self._profile_list(cur.fetchall())
            have += sorted(needed - set(have))
            cur.execute(self._q("INSERT INTO semzip_meta (key, value) VALUES ('profiles', ?) ON CONFLICT (key) DO "
                                "UPDATE SET value = excluded.value"), (json.dumps(have),))
        return have

    @staticmethod
    def _profile_list(found: list[tuple]) -> list[str]:
        return json.loads(found[0][0]) if found else []

    def write(self, rows: list[Row]) -> None:
        """Insert or replace rows (created_at kept on replace), their vectors with them, in one transaction. A
        replaced row's version goes up, so a compaction that read the old one cannot swap its record in."""
        upsert = self._q(
            "INSERT INTO semzip_memories (ns, key, kind, body, crc, fields, text_bytes, created_at, updated_at, "
            "expires_at, ttl, vecs, tier, used_at, policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
            "(ns, key) "
            "DO UPDATE SET kind = excluded.kind, body = excluded.body, crc = excluded.crc, fields = excluded.fields, "
            "text_bytes = excluded.text_bytes, updated_at = excluded.updated_at, expires_at = excluded.expires_at, "
            "ttl = excluded.ttl, vecs = excluded.vecs, tier = excluded.tier, hot = NULL, hot_crc = NULL, version = "
            "semzip_memories.version + 1, used_at = excluded.used_at, claimed_until = NULL, policy = excluded.policy "
            "RETURNING id, version")
        with self._write("write memories (disk full?)") as cur:
            for r in rows:
                vecs = b"".join(v for _, v in r.vectors) or None
                cur.execute(upsert, (r.ns, r.key, r.kind, r.body, r.crc, r.fields, r.text_bytes, r.created_at,
                                     r.updated_at, r.expires_at, r.ttl, vecs, r.tier, r.updated_at, r.policy))
                r.id, r.version = cur.fetchone()

    def delete(self, ns: str, keys: list[str]) -> list[tuple]:
        """Delete these keys of one namespace; (body, kept copy or None) of each row deleted."""
        gone: list[tuple] = []
        with self._write("delete memories") as cur:
            for key in keys:
                cur.execute(self._q("DELETE FROM semzip_memories WHERE ns = ? AND key = ? RETURNING body, hot"), (ns, key))
                gone += cur.fetchall()
        return gone

    def delete_prefix(self, prefix: str) -> list[tuple]:
        """Delete every memory of a namespace and of the namespaces under it; (body, kept copy) of each."""
        cond, params = self._prefix(prefix)
        with self._write("delete a namespace") as cur:
            cur.execute(self._q(f"DELETE FROM semzip_memories WHERE {cond} RETURNING body, hot"), params)
            return cur.fetchall()

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
        """(memory id, its packed vectors end to end) of every live embedded memory under a namespace prefix."""
        cond, params = self._prefix(prefix)
        return [(i, bytes(v)) for i, v in self._read(
            f"SELECT id, vecs FROM semzip_memories WHERE {cond} AND vecs IS NOT NULL AND {_LIVE.format(p='?')}",
            (*params, now))]

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
        """Delete expired rows (their vectors with them); how many."""
        with self._write("sweep expired memories") as cur:
            cur.execute(self._q("DELETE FROM semzip_memories WHERE expires_at IS NOT NULL AND expires_at <= ?"), (now,))
            return cur.rowcount

    def stats(self) -> list[tuple]:
        """(ns, tier, memories, text bytes in, body bytes, kept hot copy bytes, vector bytes) per namespace and tier."""
        return self._read("SELECT ns, tier, COUNT(*), SUM(text_bytes), SUM(LENGTH(body)), SUM(COALESCE(LENGTH(hot), "
                          "0)), SUM(COALESCE(LENGTH(vecs), 0)) FROM semzip_memories GROUP BY ns, tier ORDER BY ns, tier")

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
               created_at=t[8], updated_at=t[9], expires_at=t[10], ttl=t[11], tier=t[12],
               hot=bytes(t[13]) if t[13] is not None else None, hot_crc=t[14], version=t[15],
               used_at=t[16] if t[16] is not None else t[9], policy=t[17])
