"""The store's core: its database and tiers, the engines, read times and counts, the vector settings.

Every part of the store below its face (the batch, search, compaction, dump, background compaction) takes the
core, never the MemoryStore users hold. The core does the row-level work they share: memories to hot rows
(checked, embedded, written in one transaction with the batch's deletes) and rows back to memories (cold
ones decoded in one engine batch, then kept hot beside their records while they are used).
"""
from __future__ import annotations

import time

from engine.store import fields as fieldsmod
from engine.store import values, vectors
from engine.store.embedding import StoreEmbedder
from engine.store.errors import CorruptMemoryError, InvalidMemoryError, StoreError, StoreVersionError
from engine.store.hot import ReadTimes, hot_record
from engine.store.pack_directory import PackDirectory, Slot
from engine.store.pack_reader import read_slots
from engine.store.pack_sql import PackTable
from engine.store.policy_coder import Policies, PolicyCoder
from engine.store.postgres import is_dsn, open_postgres
from engine.store.reading import ReadCounts, decode_rows
from engine.store.rows import HOT, Memory, Put, Row, crc
from engine.store.sql import FORMAT_VERSION, KeyDelete, PrefixDelete, SqlStore
from engine.store.sqlite import open_sqlite
from engine.store.store_keys import DEFAULT_KEY_DEPTH, first_meta, open_key, sealer_for
from engine.store.tier_sql import Tiers

EMBEDDER_DIMS = 384  # all-MiniLM-L6-v2's, the default embed function


class StoreCore:
    """Opened by open_core; where names the store in every error."""

    def __init__(self, where: str, db: SqlStore, coder: PolicyCoder, embedder: StoreEmbedder, policies: Policies,
                 index, scheme: str, dims: int):
        self.where, self.db, self.coder, self.embedder = where, db, coder, embedder
        self.policies, self.index, self.scheme, self.dims = policies, index, scheme, dims
        self.tiers = Tiers(db)
        self.packs = PackTable(db)
        self.pack_directory = PackDirectory(self.packs)
        self.read_times = ReadTimes()
        self.read_counts = ReadCounts()

    # -- writing
    def hot_rows(self, puts: list[Put], times: dict | None = None) -> list[Row]:
        """Hot rows for puts, embedded (nothing written); InvalidMemoryError on the first bad one. A key put twice:
        the last one wins. times: (namespace, key) -> (created_at, updated_at, expires_at) kept from elsewhere."""
        now = time.time()
        checked: dict[tuple, tuple] = {}
        for p in puts:
            ns = values.check_namespace(p.namespace)
            key = values.check_key(ns, p.key)
            kind, text = values.to_text(ns, key, p.value)
            if p.ttl is not None and not (isinstance(p.ttl, (int, float)) and p.ttl > 0):
                raise InvalidMemoryError(f"ttl of {key!r}: a positive number of seconds or None, got {p.ttl!r}")
            index = self.index if p.index is None else p.index
            checked[(ns, key)] = (p, kind, text, fieldsmod.stored_fields(key, p.meta, kind, p.value),
                                  fieldsmod.index_texts(kind, p.value, text, index))
        items = list(checked.items())
        to_embed = [(i, path, t) for i, (_, c) in enumerate(items) for path, t in c[4].items()]
        packed = vectors.pack(self.embedder([t for _, _, t in to_embed]), self.scheme) if to_embed else []
        rows = []
        for (ns, key), (p, kind, text, flds, _) in items:
            body = hot_record(key, text)
            created, updated, expires = (times or {}).get((ns, key), (now, now, now + p.ttl if p.ttl else None))
            rows.append(Row(values.join(ns), key, kind, body, crc(body), flds, len(text.encode()), created, updated,
                            expires, p.ttl, tier=HOT, policy=self.policies.of(ns).spec))
        for (i, path, _), blob in zip(to_embed, packed):
            rows[i].vectors.append((path, blob))
        return rows

    def commit(self, writes: list[Row | KeyDelete | PrefixDelete]) -> list[int]:
        """The writes in one transaction, in order; how many rows each deleted. Deleted records leave the decoded
        caches, and their old pages the disk."""
        gone = self.db.apply(writes, self._hide_packed)
        deleted = [row for rows in gone for row in rows]
        if deleted:
            self.coder.forget([bytes(b) for row in deleted if row is not None for b in row if b is not None],
                              self.db.profiles(), self.where)
            self.tiers.scrub()
        return [len(rows) for rows in gone]

    def _hide_packed(self, cur, ns: str, key: str) -> int:
        """Inside a delete's transaction: the key's packed copies marked dead, their packs' kept texts dropped."""
        found = self.pack_directory.live_slots_in(cur, self.db.q, ns, {key})
        for pack_id in sorted({p for p, _ in found}):
            self.packs.mark_dead(cur, pack_id, {s for p, s in found if p == pack_id})
            cur.execute(self.db.q("UPDATE semzip_packs SET hot = NULL, used_at = NULL WHERE id = ?"), (pack_id,))
        return len(found)

    def put(self, puts: list[Put], times: dict | None = None) -> None:
        """Write puts hot in one transaction (all or none)."""
        self.commit(self.hot_rows(puts, times))

    # -- reading
    def decode(self, rows: list[Row | Slot], scores: list[float | None] | None = None, *,
               keep_hot: bool = True) -> list[Memory]:
        """Memories from rows and packed slots (cold rows in one decode batch, packs' streams in another);
        CorruptMemoryError naming the first that does not read. keep_hot=False: a read that is not the agent's use
        (an export) keeps no copies and moves no read times."""
        at_rows = [i for i, r in enumerate(rows) if isinstance(r, Row)]
        at_slots = [i for i, r in enumerate(rows) if not isinstance(r, Row)]
        plain = [rows[i] for i in at_rows]
        found = decode_rows(plain, [scores[i] for i in at_rows] if scores else None, self.coder, self.db.profiles(),
                            self.where, keep_hot)
        now = time.time()
        memories: dict[int, Memory] = {at_rows[k]: m for k, m in found.memories.items()}
        bad: dict[int, str] = {at_rows[k]: why for k, why in found.bad.items()}
        num_packed = 0
        if at_slots:
            packed = self._read_packed([rows[i] for i in at_slots], [scores[i] for i in at_slots] if scores else None,
                                       keep_hot)
            memories.update({at_slots[k]: m for k, m in packed[0].items()})
            bad.update({at_slots[k]: why for k, why in packed[1].items()})
            num_packed = packed[2]
        self.read_counts.add(len(memories) - found.num_cold - num_packed, found.num_cold + num_packed)
        if keep_hot:
            self.read_times.note([plain[i].id for i in found.memories], now)
        self.tiers.keep_copies(found.copies, now)
        if self.read_times.is_due():
            self.flush_read_times()
        if bad:
            i = min(bad)
            raise CorruptMemoryError(self.where, values.split(rows[i].ns), _key_of(rows[i]), bad[i])
        return [memories[i] for i in sorted(memories)]

    def _read_packed(self, slots: list[Slot], scores, keep_hot: bool) -> tuple[dict, dict, int]:
        """({index: Memory}, {index: why not}, how many the model decoded) for packed slots."""
        found = self.packs.in_namespaces_of(sorted({s.pack_id for s in slots}))
        indexes = self.pack_directory.indexes(found)
        read = read_slots(slots, indexes, self.packs, self.coder.decoder, self.db.profiles(), self.where)
        if keep_hot:
            self.packs.keep(read.copies, time.time())
        memories, bad = {}, dict(read.bad)
        for n, text in read.texts.items():
            s = slots[n]
            try:
                value = values.from_text(s.entry.kind, text)
                meta = fieldsmod.parse_fields(s.entry.fields)[0]
            except ValueError as exc:
                bad[n] = f"its value is not the JSON it was ({exc})"
                continue
            spans = indexes[s.pack_id].spans[s.slot]
            passage = next((k for k, sp in enumerate(spans) if sp.stream == s.stream), None) \
                if s.stream is not None and len(spans) > 1 else None
            memories[n] = Memory(values.split(s.ns), s.entry.key, value, meta, s.entry.created_at, s.entry.updated_at,
                                 scores[n] if scores else None, passage)
        return memories, bad, read.num_decoded

    def flush_read_times(self) -> int:
        """Write the read times noted since the last flush (compaction orders by them); how many."""
        return self.read_times.flush_to(self.tiers)

    def close(self) -> None:
        """Close the database connections and the engines the core opened (not one it was handed)."""
        try:
            self.db.close()
        finally:
            self.coder.close()


def _key_of(r: Row | Slot) -> str:
    return r.key if isinstance(r, Row) else r.entry.key


def open_core(conn, *, engine=None, ratio: float | None = None, open_engine=None, policies: Policies,
              embed=None, dims: int | None = None, scheme: str = vectors.DEFAULT_SCHEME, index=True, key=None,
              key_depth: int = DEFAULT_KEY_DEPTH, seal_names: bool = False) -> StoreCore:
    """The core of the store at conn (a SQLite path or a postgresql:// DSN), its tables created or upgraded."""
    where = str(conn)
    if scheme not in vectors.SCHEMES:
        raise InvalidMemoryError(f"vector scheme must be one of {', '.join(vectors.SCHEMES)}, got {scheme!r}")
    keys = open_key(key)  # a missing or unusable key file fails before the store is touched
    db = open_postgres(where) if is_dsn(where) else open_sqlite(where)
    try:
        settings = _settings(db, where, scheme, dims, None if embed else EMBEDDER_DIMS, keys, key_depth, seal_names)
    except BaseException:
        db.close()
        raise
    embedder = StoreEmbedder(embed, where)
    embedder.dims = int(settings["dims"])
    coder = PolicyCoder(engine, ratio if engine is not None else None, open_engine)
    return StoreCore(where, db, coder, embedder, policies, index, settings["vectors"], int(settings["dims"]))


def _settings(db: SqlStore, where: str, scheme: str, dims: int | None, default_dims: int | None, keys,
              key_depth: int, seal_names: bool) -> dict:
    """The store's meta entries, written on first open (sealed when it is created with a key file); a newer format,
    other dims or a key that does not fit refused, with nothing written. db.seal set."""
    found = db.init()
    if int(found.get("format", FORMAT_VERSION)) > FORMAT_VERSION:
        raise StoreVersionError(f"{where} was written by store format {found['format']}; this semzip reads "
                                f"up to {FORMAT_VERSION}: upgrade semzip")
    if "dims" not in found and (dims or default_dims) is None:
        raise InvalidMemoryError(f"{where}: a new store with a custom embed function needs its dims")
    if "format" in found:
        sealer_for(found, keys, where)  # before anything is written: a plain store given a key stays untouched
        first = {}
    else:
        first = first_meta(keys, key_depth, seal_names)
    found = db.set_meta({**first, "vectors": scheme, "dims": str(dims or default_dims)})
    db.seal = sealer_for(found, keys, where)  # again: a concurrent creator's choice is the one kept
    if dims is not None and int(found["dims"]) != dims:
        raise StoreError(f"{where} holds {found['dims']}-dimension embeddings, this store was opened with "
                         f"{dims}-dimension ones")
    return found
