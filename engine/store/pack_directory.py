"""Which packed memories are live, and where: the packs' indexes, decoded once per process and kept.

A pack row never changes once written (a rebuild writes a new row), so an index is cached by the row's id and
its index's CRC. A key lives in at most one place that reads see: its row in semzip_memories when it has one (a
put after packing writes it hot, superseding the packed copy), else its slot in the newest pack that holds it
live (a slot is dead once semzip_pack_dead lists it).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from cachetools import LRUCache

from engine.store.pack_format import Entry, PackIndex, decode_index
from engine.store.pack_sql import PackTable

log = logging.getLogger("semzip.store")
CACHED_INDEXES = 4096


@dataclass(frozen=True, slots=True)
class Slot:
    """One packed memory: its pack, its place there, its namespace (as stored) and its index entry."""

    pack_id: int
    slot: int
    ns: str = field(compare=False)
    entry: Entry = field(compare=False)  # a slot is known by its pack and place
    stream: int | None = field(default=None, compare=False)  # a read of one passage: the stream that holds it


class DamagedPack(ValueError):
    def __init__(self, pack_id: int, ns: str, why: str):
        super().__init__(f"pack {pack_id} of namespace {ns!r}: {why}")
        self.pack_id, self.ns = pack_id, ns


class PackDirectory:
    def __init__(self, table: PackTable):
        self.table = table
        self._cache: LRUCache = LRUCache(CACHED_INDEXES)
        self._lock = threading.Lock()

    def indexes(self, found: list[tuple[int, str, int]], fetch=None) -> dict[int, PackIndex | DamagedPack]:
        """(id, ns, idx_crc) -> each pack's index (a DamagedPack where it does not open). fetch(ids) reads
        (id, crc, idx) rows: the table's by default, a transaction's cursor inside one."""
        out: dict[int, PackIndex | DamagedPack] = {}
        missing = []
        with self._lock:
            for i, ns, c in found:
                hit = self._cache.get((i, c))
                if hit is None:
                    missing.append((i, ns, c))
                else:
                    out[i] = hit
        if missing:
            ns_of = {i: ns for i, ns, _ in missing}
            for i, c, blob in (fetch or self.table.indexes)([i for i, _, _ in missing]):
                try:
                    index: PackIndex | DamagedPack = decode_index(self.table.open_index(ns_of[i], blob))
                except ValueError as exc:
                    index = DamagedPack(i, ns_of[i], str(exc))
                    log.error("%s", index)
                out[i] = index
                if isinstance(index, PackIndex):
                    with self._lock:
                        self._cache[(i, c)] = index
        return out

    def forget(self) -> None:
        """Drop every cached index (a shred: what they name must not outlive the key)."""
        with self._lock:
            self._cache.clear()

    def live(self, prefix: str, exact: bool = False) -> tuple[list[Slot], list[DamagedPack]]:
        """Every live packed memory of a namespace (exact) or under a prefix (the newest pack's copy of a key wins),
        and the packs whose index does not open."""
        found = self.table.in_namespaces(prefix, exact)
        indexes = self.indexes(found)
        dead = self.table.dead([i for i, _, _ in found])
        return self._live(found, indexes, dead)

    def find(self, ns: str, keys: set[str]) -> tuple[dict[str, Slot], list[DamagedPack]]:
        """key -> its live packed memory, for those of these keys a pack of the namespace holds."""
        found = self.table.in_namespaces(ns, exact=True)
        indexes = self.indexes(found)
        dead = self.table.dead([i for i, _, _ in found])
        out: dict[str, Slot] = {}
        for i, _, _ in reversed(found):  # newest pack first: its live copy of a key is the one read
            index = indexes.get(i)
            if not isinstance(index, PackIndex):
                continue
            for k in keys - out.keys():
                s = index.slot_of.get(k)
                if s is not None and s not in dead.get(i, ()):
                    out[k] = Slot(i, s, ns, index.entries[s])
        return out, [d for d in indexes.values() if isinstance(d, DamagedPack)]

    def live_slots_in(self, cur, q, ns: str, keys: set[str]) -> list[tuple[int, int]]:
        """Inside a write transaction (cur): (pack id, slot) of every live packed copy of these keys in the namespace
        (q: the database's placeholder rewriter)."""
        cur.execute(q("SELECT id, ns, idx_crc FROM semzip_packs WHERE ns = ?"), (self.table.db.seal.ns_in(ns),))
        found = [(i, ns, c) for i, _, c in cur.fetchall()]
        if not found:
            return []

        def fetch(ids):
            cur.execute(q(f"SELECT id, idx_crc, idx FROM semzip_packs WHERE id IN ({', '.join('?' * len(ids))})"), ids)
            return [(i, c, bytes(x)) for i, c, x in cur.fetchall()]

        indexes = self.indexes(found, fetch)
        out = []
        for i, _, _ in found:
            index = indexes.get(i)
            if isinstance(index, PackIndex):
                out += [(i, index.slot_of[k]) for k in keys if k in index.slot_of]
        if out:
            ids = sorted({i for i, _ in out})
            cur.execute(q(f"SELECT pack_id, slot FROM semzip_pack_dead WHERE pack_id IN ({', '.join('?' * len(ids))})"),
                        ids)
            dead = set(cur.fetchall())
            out = [o for o in out if o not in dead]
        return out

    @staticmethod
    def _live(found, indexes, dead) -> tuple[list[Slot], list[DamagedPack]]:
        seen: dict[tuple[str, str], Slot] = {}
        damaged = []
        for i, ns, _ in found:  # oldest first: a newer pack's copy replaces an older one's
            index = indexes.get(i)
            if index is None:
                continue  # rebuilt or deleted since the list was read
            if isinstance(index, DamagedPack):
                damaged.append(index)
                continue
            gone = dead.get(i, set())
            for s, e in enumerate(index.entries):
                if e.key is not None and s not in gone:
                    seen[(ns, e.key)] = Slot(i, s, ns, e)
        return list(seen.values()), damaged
