"""The store's tables and the row-level SQL: the same statements on SQLite and PostgreSQL, a Dialect apart.

Every write is one transaction (database.py): a killed process leaves each batch of writes either wholly
written or absent. The tiers' queries (compaction's claims and swaps, kept copies, read times, space) are in
tier_sql.py, over the same Database interface.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from engine.store.database import Database, Dialect
from engine.store.errors import StoreError
from engine.store.pack_sql import pack_schema
from engine.store.rows import COLD, Row, crc
from engine.store.values import split
from engine.store.sealed_rows import open_row, opened_fields
from engine.store.sealing import FIELDS, RECORD, VECS, SealError

# Of the tables below: a store written by a newer version is refused, an older one upgraded. Format 4 is a store
# sealed under a key file (sealing.py): the same tables, its content columns sealed, so a release that reads up to
# format 3 refuses it rather than writing plain rows into it. A plain store stays format 3.
FORMAT_VERSION = 4
PLAIN_FORMAT, SEALED_FORMAT = 3, 4
ROW_COLUMNS = ("id, ns, key, kind, body, crc, fields, text_bytes, created_at, updated_at, expires_at, ttl, tier, "
               "hot, hot_crc, version, used_at, policy")
# Format 2's columns beyond format 1's: a format-1 row is a cold one (its body is its policy's record).
TIER_COLUMNS = ("tier SMALLINT NOT NULL DEFAULT 1", "hot {blob}", "hot_crc BIGINT", "version BIGINT NOT NULL DEFAULT 0",
                "used_at {real}", "claimed_until {real}", "policy TEXT")
LIVE = "(expires_at IS NULL OR expires_at > ?)"
log = logging.getLogger("semzip.store")


@dataclass(frozen=True, slots=True)
class KeyDelete:
    """A write that deletes one key of a namespace (ns joined as stored)."""

    ns: str
    key: str


@dataclass(frozen=True, slots=True)
class PrefixDelete:
    """A write that deletes a namespace and every namespace under it."""

    prefix: str


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
        *pack_schema(d),  # format 3: the packs (pack_sql.py)
    ]


# Compaction finds the rows not (only) cold by this partial index: an all-cold store keeps it empty.
HOT_INDEX = f"CREATE INDEX IF NOT EXISTS semzip_hot_rows ON semzip_memories (used_at) WHERE tier <> {COLD}"


class SqlStore(Database):
    """The memories table and its meta table: rows in, rows out; knows nothing of coding."""

    def init(self) -> dict[str, str]:
        """Create the tables if absent; the meta table's entries (format version and the embedding scheme).

        A store of a newer format is returned as found, unchanged, for the caller to refuse."""
        try:
            found = dict(self.read("SELECT key, value FROM semzip_meta"))
        except StoreError:
            found = {}  # no tables yet (or no database: creating them says so)
        if int(found.get("format", 0)) > FORMAT_VERSION:
            return found
        if int(found.get("format", PLAIN_FORMAT)) < PLAIN_FORMAT:
            self._upgrade()
        with self.transaction("create its tables") as cur:
            for stmt in schema(self.d):
                cur.execute(stmt)
        return dict(self.read("SELECT key, value FROM semzip_meta"))

    def _upgrade(self) -> None:
        """Format 1 to 2 (the tier columns added, its rows cold: their bodies are their policy's records), then 2 to
        3 (the packs' tables, created by init; rows stay as they are until compaction packs them), in one
        transaction. Rechecked under the write lock: another process may have upgraded it first."""
        with self.transaction(f"upgrade its tables to store format {PLAIN_FORMAT}") as cur:
            if self.d.lock_profiles:
                cur.execute(self.d.lock_profiles)
            cur.execute("SELECT value FROM semzip_meta WHERE key = 'format'")
            found = cur.fetchall()
            if not found or int(found[0][0]) >= PLAIN_FORMAT:
                return
            if found == [("1",)]:
                for column in TIER_COLUMNS:
                    cur.execute(f"ALTER TABLE semzip_memories ADD COLUMN "
                                f"{column.format(blob=self.d.blob, real=self.d.real)}")
                cur.execute(HOT_INDEX)
            for stmt in pack_schema(self.d):
                cur.execute(stmt)
            cur.execute(f"UPDATE semzip_meta SET value = '{PLAIN_FORMAT}' WHERE key = 'format'")

    def set_meta(self, entries: dict[str, str]) -> dict[str, str]:
        """Add entries not yet set (a concurrent creator's win is kept); the meta table after."""
        with self.transaction("write its settings") as cur:
            for k, v in entries.items():
                cur.execute(self.q("INSERT INTO semzip_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"),
                            (k, v))
        return dict(self.read("SELECT key, value FROM semzip_meta"))

    def profiles(self, needed: set[str] = frozenset()) -> list[str]:
        """The numerics profiles coded rows refer to by index, with needed ones added at the end."""
        have = self._profile_list(self.read("SELECT value FROM semzip_meta WHERE key = 'profiles'"))
        if needed <= set(have):
            return have
        with self.transaction("record a profile") as cur:
            if self.d.lock_profiles:
                cur.execute(self.d.lock_profiles)
            cur.execute("SELECT value FROM semzip_meta WHERE key = 'profiles'")  # again, under the write lock
            have = self._profile_list(cur.fetchall())
            have += sorted(needed - set(have))
            cur.execute(self.q("INSERT INTO semzip_meta (key, value) VALUES ('profiles', ?) ON CONFLICT (key) DO "
                                "UPDATE SET value = excluded.value"), (json.dumps(have),))
        return have

    @staticmethod
    def _profile_list(found: list[tuple]) -> list[str]:
        return json.loads(found[0][0]) if found else []

    def apply(self, writes: list[Row | KeyDelete | PrefixDelete], hide_packed) -> list[list[tuple]]:
        """In one transaction and in order: each Row inserted or replacing its key's (created_at kept; its id and
        version set on it), each delete done. For each write, (body, kept copy or None) of the rows it deleted, and
        a None for each packed copy it hid: hide_packed(cur, ns, key) (after the row's own delete, so a compaction
        that swaps the row into a pack either sees the delete or is seen by it), and packs under a deleted prefix
        go with it. A replaced row's version goes up, so a compaction that read the old one cannot swap it out."""
        upsert = self.q(
            "INSERT INTO semzip_memories (ns, key, kind, body, crc, fields, text_bytes, created_at, updated_at, "
            "expires_at, ttl, vecs, tier, used_at, policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON "
            "CONFLICT (ns, key) DO UPDATE SET kind = excluded.kind, body = excluded.body, crc = excluded.crc, "
            "fields = excluded.fields, text_bytes = excluded.text_bytes, updated_at = excluded.updated_at, "
            "expires_at = excluded.expires_at, ttl = excluded.ttl, vecs = excluded.vecs, tier = excluded.tier, "
            "hot = NULL, hot_crc = NULL, version = semzip_memories.version + 1, used_at = excluded.used_at, "
            "claimed_until = NULL, policy = excluded.policy RETURNING id, version")
        delete_key = self.q("DELETE FROM semzip_memories WHERE ns = ? AND key = ? RETURNING ns, key, body, hot")
        gone: list[list[tuple]] = []
        with self.transaction("write memories (disk full?)") as cur:
            for w in writes:
                if isinstance(w, Row):
                    seal = self.seal
                    vecs = b"".join(v for _, v in w.vectors) or None
                    body = seal.seal(w.ns, RECORD, w.key, w.body)
                    cur.execute(upsert, (seal.ns_in(w.ns), seal.key_in(w.ns, w.key, create=True), w.kind, body,
                                         crc(body) if seal.is_sealed else w.crc, seal.seal_text(w.ns, FIELDS, w.key,
                                         w.fields), w.text_bytes, w.created_at, w.updated_at, w.expires_at, w.ttl,
                                         vecs and seal.seal(w.ns, VECS, w.key, vecs), w.tier, w.updated_at, w.policy))
                    w.id, w.version = cur.fetchone()
                    gone.append([])
                elif isinstance(w, KeyDelete):
                    cur.execute(delete_key, (self.seal.ns_in(w.ns), self.seal.key_in(w.ns, w.key)))
                    gone.append(self._opened_records(cur.fetchall()) + [None] * hide_packed(cur, w.ns, w.key))
                else:
                    cond, params = self.prefix_condition(w.prefix)
                    cur.execute(self.q(f"DELETE FROM semzip_memories WHERE {cond} RETURNING ns, key, body, hot"),
                                params)
                    found = self._opened_records(cur.fetchall())
                    cur.execute(self.q(f"SELECT SUM(num_memories - (SELECT COUNT(*) FROM semzip_pack_dead WHERE pack_id "
                                       f"= id)) FROM semzip_packs WHERE {cond}"), params)
                    packed = int(cur.fetchone()[0] or 0)  # PostgreSQL sums to a Decimal
                    cur.execute(self.q(f"DELETE FROM semzip_pack_dead WHERE pack_id IN (SELECT id FROM semzip_packs "
                                       f"WHERE {cond})"), params)
                    cur.execute(self.q(f"DELETE FROM semzip_packs WHERE {cond}"), params)
                    gone.append(found + [None] * packed)
        return gone

    def _opened_records(self, found: list[tuple]) -> list[tuple]:
        """(record, kept copy) of deleted rows' (ns, key, body, hot), opened: the decoded caches know them so."""
        out = []
        for ns, key, *records in found:
            try:
                ns = self.seal.ns_out(ns)
                key = self.seal.key_out(ns, key)
                out.append(tuple(r if r is None else self.seal.open(ns, RECORD, key, bytes(r)) for r in records))
            except SealError:
                out.append((None, None))  # nothing decoded it, so no cache holds it
        return out

    def drop(self, prefix: str) -> int:
        """Delete every row and pack under a namespace prefix in one transaction, returning nothing of them (a
        shredded namespace: its values no longer open, so no cache can hold them); how many memories."""
        cond, params = self.prefix_condition(prefix)
        with self.transaction("delete a shredded namespace") as cur:
            cur.execute(self.q(f"DELETE FROM semzip_memories WHERE {cond}"), params)
            count = cur.rowcount
            cur.execute(self.q(f"SELECT SUM(num_memories - (SELECT COUNT(*) FROM semzip_pack_dead WHERE pack_id = id)) "
                               f"FROM semzip_packs WHERE {cond}"), params)
            count += int(cur.fetchone()[0] or 0)
            cur.execute(self.q(f"DELETE FROM semzip_pack_dead WHERE pack_id IN (SELECT id FROM semzip_packs WHERE "
                               f"{cond})"), params)
            cur.execute(self.q(f"DELETE FROM semzip_packs WHERE {cond}"), params)
        return count

    def fetch(self, ns: str, keys: list[str], now: float) -> list[Row]:
        """The live rows of these keys in one namespace (vectors not read)."""
        marks = ", ".join("?" * len(keys))
        sql = f"SELECT {ROW_COLUMNS} FROM semzip_memories WHERE ns = ? AND key IN ({marks}) AND {LIVE}"
        stored = [self.seal.key_in(ns, k) for k in keys]
        return [to_row(t, self.seal) for t in self.read(sql, (self.seal.ns_in(ns), *stored, now))] if keys else []

    def by_ids(self, ids: list[int]) -> list[Row]:
        marks = ", ".join("?" * len(ids))
        return [to_row(t, self.seal) for t in self.read(f"SELECT {ROW_COLUMNS} FROM semzip_memories WHERE id IN "
                                                         f"({marks})", ids)] if ids else []

    def scan(self, prefix: str, now: float) -> list[tuple]:
        """(id, ns, key, fields, created_at, updated_at) of every live memory under a namespace prefix, newest first."""
        cond, params = self.prefix_condition(prefix)
        found = self.read(f"SELECT id, ns, key, fields, created_at, updated_at FROM semzip_memories WHERE {cond} AND "
                          f"{LIVE} ORDER BY updated_at DESC, id DESC", (*params, now))
        if not self.seal.is_sealed:
            return found
        return [(i, ns, key, opened_fields(self.seal, ns, key, f), c, u)
                for i, ns, key, f, c, u in self._names_out(found)]

    def vectors(self, prefix: str, now: float) -> list[tuple[int, bytes]]:
        """(memory id, its packed vectors end to end) of every live embedded memory under a namespace prefix."""
        cond, params = self.prefix_condition(prefix)
        found = self.read(f"SELECT id, ns, key, vecs FROM semzip_memories WHERE {cond} AND vecs IS NOT NULL AND {LIVE}",
                          (*params, now))
        out = []
        for i, ns, key, v in self._names_out(found):
            try:
                out.append((i, self.seal.open(ns, VECS, key, bytes(v))))
            except SealError as exc:  # searched as a memory with no embedding; a read of it names the damage
                log.error("%s: the embedding of memory %r in namespace %r does not open (%s)", self.where, key,
                          "/".join(split(ns)), exc)
        return out

    def _names_out(self, found: list[tuple]) -> list[tuple]:
        """Rows of (id, ns, key, ...) with their names in plain; a row whose names do not open is dropped, named."""
        try:
            return self.seal.names_out(found)
        except SealError:
            out = []
            for t in found:  # again one by one, to keep the others
                try:
                    out += self.seal.names_out([t])
                except SealError as exc:
                    log.error("%s: the names of memory %d do not open (%s)", self.where, t[0], exc)
            return out

    def namespaces(self, now: float) -> list[str]:
        return [self.seal.ns_out(ns) for (ns,) in self.read(f"SELECT DISTINCT ns FROM semzip_memories WHERE {LIVE}",
                                                             (now,))]

    def refresh(self, ids: list[int], now: float) -> None:
        """Move the expiry of these rows (those with a TTL) to now + their TTL."""
        if not ids:
            return
        marks = ", ".join("?" * len(ids))
        with self.transaction("refresh TTLs") as cur:
            cur.execute(self.q(f"UPDATE semzip_memories SET expires_at = ? + ttl WHERE ttl IS NOT NULL AND id IN "
                                f"({marks})"), (now, *ids))

    def sweep(self, now: float) -> int:
        """Delete expired rows (their vectors with them); how many."""
        with self.transaction("sweep expired memories") as cur:
            cur.execute(self.q("DELETE FROM semzip_memories WHERE expires_at IS NOT NULL AND expires_at <= ?"), (now,))
            return cur.rowcount

    def stats(self) -> list[tuple]:
        """(ns, tier, memories, text bytes in, body bytes, kept hot copy bytes, vector bytes) per namespace and tier."""
        found = self.read("SELECT ns, tier, COUNT(*), SUM(text_bytes), SUM(LENGTH(body)), SUM(COALESCE(LENGTH(hot), "
                          "0)), SUM(COALESCE(LENGTH(vecs), 0)) FROM semzip_memories GROUP BY ns, tier ORDER BY ns, tier")
        return sorted((self.seal.ns_out(ns), *rest) for ns, *rest in found) if self.seal.is_sealed else found


def to_row(t: tuple, seal) -> Row:
    """A Row from a SELECT of ROW_COLUMNS, its sealed values opened (seal: the database's Sealer or Plain)."""
    row = Row(id=t[0], ns=t[1], key=t[2], kind=t[3], body=bytes(t[4]), crc=t[5], fields=t[6], text_bytes=t[7],
              created_at=t[8], updated_at=t[9], expires_at=t[10], ttl=t[11], tier=t[12],
              hot=bytes(t[13]) if t[13] is not None else None, hot_crc=t[14], version=t[15],
              used_at=t[16] if t[16] is not None else t[9], policy=t[17])
    if seal.is_sealed:
        open_row(row, seal)
    return row
