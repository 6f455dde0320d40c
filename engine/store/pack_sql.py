"""The packs' tables (store format 3) and their SQL: a row per pack, and the slots deleted since it was written.

A pack row is immutable once written but for its kept copy (the texts reads decoded) and its lease. A deleted
memory of a pack is a row of semzip_pack_dead: written in the delete's own transaction, so a delete hides it at
once without touching the pack; the pack is coded again later without it (compaction past a dead share, vacuum).
Writers that change a namespace's packs take its lease (claimed_until) first, so two compactors never rebuild
the same pack; no lock is held while the model codes.
"""
from __future__ import annotations

from dataclasses import dataclass

import logging
import zlib

from engine.store.database import Database, Dialect
from engine.store.sealing import PACK_BODY, PACK_INDEX, PACK_KEPT, PACK_VECS, SealError

log = logging.getLogger("semzip.store")


def pack_schema(d: Dialect) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS semzip_packs (id {d.id_column}, ns {d.text_key} NOT NULL, idx {d.blob} NOT NULL, "
        f"idx_crc BIGINT NOT NULL, body {d.blob} NOT NULL, vecs {d.blob}, num_memories INTEGER NOT NULL, "
        f"num_tokens INTEGER NOT NULL, tail_tokens INTEGER NOT NULL, text_bytes INTEGER NOT NULL, "
        f"created_at {d.real} NOT NULL, hot {d.blob}, used_at {d.real}, claimed_until {d.real})",
        "CREATE INDEX IF NOT EXISTS semzip_packs_by_ns ON semzip_packs (ns)",
        f"CREATE TABLE IF NOT EXISTS semzip_pack_dead (pack_id BIGINT NOT NULL, slot INTEGER NOT NULL, "
        f"PRIMARY KEY (pack_id, slot)){d.without_rowid}",
    ]


@dataclass(slots=True)
class NewPack:
    """A pack to insert: what its row holds."""

    ns: str
    idx: bytes
    idx_crc: int
    body: bytes
    vecs: bytes | None
    num_memories: int
    num_tokens: int
    tail_tokens: int  # tokens in its last stream: under the pack size, a later compaction fills it
    text_bytes: int


class PackTable:
    def __init__(self, db: Database):
        self.db = db

    # -- reads
    def in_namespaces(self, prefix: str, exact: bool = False) -> list[tuple[int, str, int]]:
        """(id, ns, idx_crc) of the packs of a namespace (exact) or under a prefix, oldest first."""
        if exact:
            found = self.db.read("SELECT id, ns, idx_crc FROM semzip_packs WHERE ns = ? ORDER BY id",
                                 (self.db.seal.ns_in(prefix),))
        else:
            cond, params = self.db.prefix_condition(prefix)
            found = self.db.read(f"SELECT id, ns, idx_crc FROM semzip_packs WHERE {cond} ORDER BY id", params)
        return self._names_out(found)

    def in_namespaces_of(self, ids: list[int]) -> list[tuple[int, str, int]]:
        """(id, ns, idx_crc) of these packs (those still there)."""
        return self._names_out(self._in("SELECT id, ns, idx_crc FROM semzip_packs WHERE id IN", ids))

    def indexes(self, ids: list[int]) -> list[tuple[int, int, bytes]]:
        """(id, idx_crc, idx) of these packs (an encrypted store's index still sealed: open_index opens it)."""
        return [(i, c, bytes(x)) for i, c, x in self._in("SELECT id, idx_crc, idx FROM semzip_packs WHERE id IN", ids)]

    def open_index(self, ns: str, idx: bytes) -> bytes:
        """A pack's index as stored, opened; SealError (a ValueError) when it does not."""
        return self.db.seal.open(ns, PACK_INDEX, "", idx)

    def dead(self, ids: list[int]) -> dict[int, set[int]]:
        """Pack id -> its deleted slots (packs with none are absent)."""
        out: dict[int, set[int]] = {}
        for p, s in self._in("SELECT pack_id, slot FROM semzip_pack_dead WHERE pack_id IN", ids):
            out.setdefault(p, set()).add(s)
        return out

    def bodies(self, ids: list[int]) -> dict[int, tuple[bytes | SealError, bytes | None]]:
        """Pack id -> (its streams' bytes, or the SealError of an encrypted store's that do not open; its kept
        copy or None: one that does not open is as none)."""
        out = {}
        for i, ns, c, b, h in self._names_out(self._in("SELECT id, ns, idx_crc, body, hot FROM semzip_packs WHERE "
                                                       "id IN", ids)):
            try:
                body: bytes | SealError = self.db.seal.open(ns, PACK_BODY, str(c), bytes(b))
            except SealError as exc:
                body = exc
            try:
                kept = self.db.seal.open(ns, PACK_KEPT, str(c), bytes(h)) if h is not None else None
            except SealError:
                kept = None
            out[i] = (body, kept)
        return out

    def vectors(self, ids: list[int]) -> dict[int, bytes]:
        """Pack id -> its windows' vectors end to end (a pack whose sealed vectors do not open is absent: its
        windows are searched as unembedded)."""
        out = {}
        for i, ns, c, v in self._names_out(self._in("SELECT id, ns, idx_crc, vecs FROM semzip_packs WHERE vecs IS NOT "
                                                    "NULL AND id IN", ids)):
            try:
                out[i] = self.db.seal.open(ns, PACK_VECS, str(c), bytes(v))
            except SealError as exc:
                log.error("%s: the vectors of pack %d in namespace %r do not open (%s)", self.db.where, i, ns, exc)
        return out

    def open_tail(self, ns: str, below_tokens: int, now: float) -> list[tuple]:
        """(id, num_tokens, tail_tokens) of the namespace's newest pack when its last stream is under below_tokens
        and no other compactor holds it."""
        return self.db.read("SELECT id, num_tokens, tail_tokens FROM semzip_packs WHERE ns = ? AND tail_tokens < ? "
                            "AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id DESC LIMIT 1",
                            (self.db.seal.ns_in(ns), below_tokens, now))

    def with_dead(self, prefix: str) -> list[tuple[int, str, int, int]]:
        """(id, ns, memories, deleted slots) of the packs under a prefix that hold a deleted memory."""
        cond, params = self.db.prefix_condition(prefix)
        return self._names_out(self.db.read(
            f"SELECT p.id, p.ns, p.num_memories, COUNT(*) FROM semzip_packs p JOIN semzip_pack_dead d ON d.pack_id = "
            f"p.id WHERE {cond.replace('ns', 'p.ns')} GROUP BY p.id, p.ns, p.num_memories ORDER BY p.id", params))

    def kept(self, prefix: str) -> list[tuple[int, float, int]]:
        """(id, last read, kept bytes) of the packs under a prefix with a kept copy, least recently read first."""
        cond, params = self.db.prefix_condition(prefix)
        return self.db.read(f"SELECT id, COALESCE(used_at, 0), LENGTH(hot) FROM semzip_packs WHERE hot IS NOT NULL AND "
                            f"{cond} ORDER BY 2, id", params)

    def stats(self) -> list[tuple]:
        """(ns, packs, live memories, text bytes, index + body bytes, kept copy bytes, vector bytes) per namespace."""
        found = self.db.read("SELECT ns, COUNT(*), SUM(num_memories - (SELECT COUNT(*) FROM semzip_pack_dead WHERE "
                             "pack_id = id)), SUM(text_bytes), SUM(LENGTH(idx) + LENGTH(body)), SUM(COALESCE(LENGTH("
                             "hot), 0)), SUM(COALESCE(LENGTH(vecs), 0)) FROM semzip_packs GROUP BY ns ORDER BY ns")
        return sorted((self.db.seal.ns_out(ns), *rest) for ns, *rest in found) if self.db.seal.is_sealed else found

    def row_bytes(self, pack_id: int) -> int:
        """A pack's index, streams and vectors, in bytes."""
        found = self.db.read("SELECT LENGTH(idx) + LENGTH(body) + COALESCE(LENGTH(vecs), 0) FROM semzip_packs WHERE "
                             "id = ?", (pack_id,))
        return int(found[0][0]) if found else 0

    # -- writes, inside a caller's transaction (cur)
    def insert(self, cur, p: NewPack, now: float) -> int:
        """The pack's row (an encrypted store's parts sealed: its streams, vectors and kept copy bound to its index
        by the index's CRC); its id."""
        seal, idx, idx_crc = self.db.seal, p.idx, p.idx_crc
        if seal.is_sealed:
            idx = seal.seal(p.ns, PACK_INDEX, "", p.idx)
            idx_crc = zlib.crc32(idx) & 0xFFFFFFFF
        bound = str(idx_crc)
        cur.execute(self.db.q("INSERT INTO semzip_packs (ns, idx, idx_crc, body, vecs, num_memories, num_tokens, "
                              "tail_tokens, text_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"),
                    (seal.ns_in(p.ns), idx, idx_crc, seal.seal(p.ns, PACK_BODY, bound, p.body),
                     p.vecs and seal.seal(p.ns, PACK_VECS, bound, p.vecs), p.num_memories, p.num_tokens,
                     p.tail_tokens, p.text_bytes, now))
        return cur.fetchone()[0]

    def mark_dead(self, cur, pack_id: int, slots) -> None:
        sql = self.db.q("INSERT INTO semzip_pack_dead (pack_id, slot) VALUES (?, ?) ON CONFLICT DO NOTHING")
        for s in sorted(slots):
            cur.execute(sql, (pack_id, s))

    def dead_in(self, cur, pack_id: int) -> set[int]:
        cur.execute(self.db.q("SELECT slot FROM semzip_pack_dead WHERE pack_id = ?"), (pack_id,))
        return {s for (s,) in cur.fetchall()}

    def delete(self, cur, ids: list[int]) -> None:
        for i in ids:
            cur.execute(self.db.q("DELETE FROM semzip_pack_dead WHERE pack_id = ?"), (i,))
            cur.execute(self.db.q("DELETE FROM semzip_packs WHERE id = ?"), (i,))

    def claim(self, ids: list[int], now: float, lease_s: float) -> list[int]:
        """Lease these packs (to rebuild them); those no other compactor holds."""
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        with self.db.transaction("claim packs") as cur:
            cur.execute(self.db.q(f"SELECT id FROM semzip_packs WHERE id IN ({marks}) AND (claimed_until IS NULL OR "
                                  f"claimed_until < ?) ORDER BY id{self.db.d.skip_locked}"), (*ids, now))
            got = [i for (i,) in cur.fetchall()]
            for i in got:
                cur.execute(self.db.q("UPDATE semzip_packs SET claimed_until = ? WHERE id = ?"), (now + lease_s, i))
        return got

    def release(self, ids: list[int]) -> None:
        if ids:
            with self.db.transaction("release packs") as cur:
                for i in ids:
                    cur.execute(self.db.q("UPDATE semzip_packs SET claimed_until = NULL WHERE id = ?"), (i,))

    def keep(self, copies: dict[int, bytes], now: float) -> None:
        """Each pack's kept copy replaced (a read decoded more of it)."""
        if copies:
            with self.db.transaction("keep decoded texts") as cur:
                for i, blob in sorted(copies.items()):
                    if self.db.seal.is_sealed:
                        cur.execute(self.db.q("SELECT ns, idx_crc FROM semzip_packs WHERE id = ?"), (i,))
                        found = cur.fetchall()
                        if not found:
                            continue  # rebuilt meanwhile
                        blob = self.db.seal.seal(self.db.seal.ns_out(found[0][0]), PACK_KEPT, str(found[0][1]), blob)
                    cur.execute(self.db.q("UPDATE semzip_packs SET hot = ?, used_at = ? WHERE id = ?"), (blob, now, i))

    def evict(self, ids: list[int]) -> int:
        if not ids:
            return 0
        with self.db.transaction("evict kept texts") as cur:
            for i in ids:
                cur.execute(self.db.q("UPDATE semzip_packs SET hot = NULL, used_at = NULL WHERE id = ?"), (i,))
        return len(ids)

    def _names_out(self, found: list[tuple]) -> list[tuple]:
        """Rows whose second column is a namespace as stored, with it as the store's code uses it."""
        if not self.db.seal.is_sealed:
            return found
        return [(t[0], self.db.seal.ns_out(t[1]), *t[2:]) for t in found]

    def _in(self, sql: str, ids: list[int]) -> list[tuple]:
        out = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            out += self.db.read(f"{sql} ({', '.join('?' * len(chunk))})", chunk)
        return out
