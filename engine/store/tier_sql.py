"""The tiers' queries over a SqlStore: what compaction claims and swaps, kept hot copies, read times, packing.

A claim is a lease (claimed_until), taken in one short transaction that selects its rows FOR UPDATE SKIP LOCKED
on PostgreSQL: several compactors, in any processes on any machines, take disjoint batches without a lock
service, and a batch whose compactor died is taken again when its lease runs out. No row lock is held while a
batch is coded, so puts, deletes and reads never wait on the model. A swap writes a cold record only over the
version it read: a put or a delete since then wins, and the record is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.store.rows import COLD, COLD_KEPT, HOT, Row, crc
from engine.store.sealing import RECORD, VECS, SealError
from engine.store.sql import ROW_COLUMNS, SqlStore, to_row

ROW_OVERHEAD = 64  # bytes a row costs besides its records, embeddings, names and fields (times, counters, cell)


@dataclass(frozen=True, slots=True)
class Coded:
    """A claimed row's cold record, to swap in over the version that was read."""

    id: int
    ns: str
    key: str
    version: int
    body: bytes
    crc: int
    read_used_at: float  # the row's read time when claimed: read since, it keeps its hot body as a copy


class Tiers:
    def __init__(self, db: SqlStore):
        self.db, self.d = db, db.d

    def touch(self, times: dict[int, float]) -> None:
        """Move these rows' read times forward (never back: another process may have read them later)."""
        sql = self.db.q(f"UPDATE semzip_memories SET used_at = {self.d.greatest}(COALESCE(used_at, 0), ?) "
                         f"WHERE id = ?")
        with self.db.transaction("write read times") as cur:
            for i, t in sorted(times.items()):
                cur.execute(sql, (t, i))

    def hot_rows(self, prefix: str) -> list[tuple[int, int, float, int]]:
        """(id, tier, last use, hot bytes) of every row not only cold, least recently used first."""
        cond, params = self.db.prefix_condition(prefix)
        return self.db.read(
            f"SELECT id, tier, COALESCE(used_at, updated_at), CASE WHEN tier = {HOT} THEN LENGTH(body) ELSE "
            f"LENGTH(hot) END FROM semzip_memories WHERE tier <> {COLD} AND {cond} ORDER BY 3, id", params)

    def unpacked_cold(self, prefix: str) -> list[tuple[int, str]]:
        """(id, ns) of the cold rows with no TTL: in a store of format 3 these are rows older formats coded alone,
        which compaction packs when their namespace's policy is the default one."""
        cond, params = self.db.prefix_condition(prefix)
        found = self.db.read(f"SELECT id, ns FROM semzip_memories WHERE tier <> {HOT} AND ttl IS NULL AND {cond} "
                             f"ORDER BY id", params)
        return [(i, self.db.seal.ns_out(ns)) for i, ns in found]

    def evict_copies(self, ids: list[int]) -> int:
        """Drop the kept hot copies of these rows (their cold record stays: nothing is coded); how many."""
        return self._update_each("SET hot = NULL, hot_crc = NULL, tier = {cold} WHERE id = ? AND tier = {kept}",
                                 [(i,) for i in ids], "evict kept copies")

    def claim(self, ids: list[int], now: float, lease_s: float, cold_too: bool = False) -> list[Row]:
        """Lease those of these hot rows (cold_too: or cold ones, to pack) that no other compactor holds; their rows
        (vectors in .vectors)."""
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        with self.db.transaction("claim memories to compact") as cur:
            cur.execute(self.db.q(f"SELECT {ROW_COLUMNS}, vecs FROM semzip_memories WHERE id IN ({marks}) AND "
                                   f"{'1 = 1' if cold_too else f'tier = {HOT}'} "
                                   f"AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id{self.d.skip_locked}"),
                        (*ids, now))
            found = cur.fetchall()
            rows = []
            for t in found:
                row = to_row(t[:-1], self.db.seal)
                try:
                    row.vectors = [("", self.db.seal.open(row.ns, VECS, row.key, bytes(t[-1])))] \
                        if t[-1] is not None else []
                except SealError:
                    row.vectors = []  # only orders the batch: the row is still coded
                rows.append(row)
            if rows:
                got = ", ".join("?" * len(rows))
                cur.execute(self.db.q(f"UPDATE semzip_memories SET claimed_until = ? WHERE id IN ({got})"),
                            (now + lease_s, *[r.id for r in rows]))
        return rows

    def release(self, ids: list[int]) -> None:
        """Give back leases of a batch that was not coded (interrupted, or yielding to the host)."""
        self._update_each("SET claimed_until = NULL WHERE id = ?", [(i,) for i in ids], "release claims")

    def swap(self, coded: list[Coded]) -> int:
        """In one transaction, each claimed hot body replaced by its cold record where the row is still the version
        read; how many were swapped (the others were put again or deleted meanwhile: their records are dropped).
        A cold row keeps no read time or policy (bytes on every row of the bottom level); one read since the claim
        keeps its hot body as its kept copy instead."""
        return self._update_each(
            "SET hot = CASE WHEN used_at > ? THEN body END, hot_crc = CASE WHEN used_at > ? THEN crc END, tier = CASE "
            "WHEN used_at > ? THEN {kept} ELSE {cold} END, used_at = CASE WHEN used_at > ? THEN used_at END, body = ?, "
            "crc = ?, claimed_until = NULL, policy = NULL WHERE id = ? AND version = ? AND tier = {hot}",
            [(*[c.read_used_at] * 4, *self._sealed(c.ns, c.key, c.body, c.crc), c.id, c.version) for c in coded],
            "swap in compacted records (disk full?)")

    def keep_copies(self, copies: list[tuple[int, str, str, int, bytes, int]], now: float) -> int:
        """(id, ns, key, version, hot record, its crc): a cold row just read keeps its text hot beside its record."""
        return self._update_each("SET hot = ?, hot_crc = ?, tier = {kept}, used_at = ? WHERE id = ? AND version = ? "
                                 "AND tier = {cold}", [(*self._sealed(ns, k, h, c), now, i, v)
                                                       for i, ns, k, v, h, c in copies], "keep hot copies")

    def _sealed(self, ns: str, key: str, record: bytes, record_crc: int) -> tuple[bytes, int]:
        """A record as its row stores it, with its CRC (an encrypted store's: of the sealed bytes)."""
        if not self.db.seal.is_sealed:
            return record, record_crc
        sealed = self.db.seal.seal(ns, RECORD, key, record)
        return sealed, crc(sealed)

    def _update_each(self, clause: str, params: list[tuple], what: str) -> int:
        if not params:
            return 0
        sql = self.db.q("UPDATE semzip_memories " + clause.format(hot=HOT, cold=COLD, kept=COLD_KEPT))
        count = 0
        with self.db.transaction(what) as cur:
            for p in params:
                cur.execute(sql, p)
                count += cur.rowcount
        return count

    def slack_share(self) -> tuple[float, int]:
        """SQLite: (the share of the file that holds no row: free pages and the room compaction left inside pages,
        estimated from the rows' sizes; the file's bytes). PostgreSQL: (0, 0): its own vacuum sees to that."""
        if not self.d.page_count:
            return 0.0, 0
        (pages,), (size,) = self.db.read(self.d.page_count)[0], self.db.read(self.d.page_size)[0]
        (rows,) = self.db.read(
            "SELECT COALESCE(SUM(LENGTH(body) + COALESCE(LENGTH(hot), 0) + COALESCE(LENGTH(vecs), 0) + LENGTH(ns) + "
            f"LENGTH(key) + COALESCE(LENGTH(fields), 0) + {ROW_OVERHEAD}), 0) FROM semzip_memories")[0]
        total = pages * size
        return (1 - rows / total if total else 0.0), total

    def scrub(self) -> None:
        """After a delete: SQLite's WAL written back into the file and emptied, so the old page images that held
        the deleted bytes are gone from disk too (secure_delete zeroes them in the file). PostgreSQL: nothing
        here (its dead rows go with vacuum(full=True))."""
        self.db.run_outside_transaction(self.d.scrub, "write its log back")

    def vacuum(self, full: bool = False) -> None:
        """Give free space back: SQLite rewrites the file packed (and empties its WAL); PostgreSQL vacuums (full:
        rewrites the table, dropping dead rows' bytes from its files)."""
        self.db.run_outside_transaction(self.d.vacuum_full if full else self.d.vacuum, "vacuum (disk full?)")
