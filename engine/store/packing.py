"""Compaction into packs: a namespace's claimed hot memories, in the order written, coded as streams of a pack.

Memories fall due a few at a time, so a namespace's newest pack is left open while its last stream is short:
the next compaction decodes that stream's memories (at most B tokens: one lane), and writes a new pack made of the
old one's full streams, copied as they are, then the old last stream's memories and the new ones, coded anew
(an LSM tree's merge, where only the open block is ever coded twice). A trickle of puts still ends in full packs.

Each namespace's result is swapped in by one transaction: the claimed rows deleted where they are still the
version read (a put or a delete since the claim wins: its slot is written dead), the old pack replaced (its slots
deleted meanwhile stay dead), older packs' copies of the same keys marked dead, the new pack inserted. A process
killed anywhere leaves either the rows and the old pack or the new pack.
"""
from __future__ import annotations

import dataclasses
import time
import zlib
from dataclasses import dataclass, field

from engine.codecs.container import encode_record
from engine.store import values, vectors
from engine.store.pack_directory import PackDirectory, Slot
from engine.store.pack_format import (SEPARATOR, Entry, PackIndex, Part, decode_streams, encode_index,
                                      encode_streams)
from engine.store.pack_plan import PACK_TOKENS, SEPARATOR_SLOT, WINDOW_TOKENS, plan_streams, plan_windows
from engine.store.pack_reader import read_slots
from engine.store.pack_sql import NewPack, PackTable
from engine.store.rows import Row

PACK_VECTOR_SCHEME = "b1"  # a window's vector: its signs (49.0% recall@5 against i2's 50.8%, half the bytes)
MAX_STREAMS = 64  # a pack row's streams (about 16 KB of chat text); the next memories start a new pack
OPEN_BELOW = 3 / 4  # a pack whose last stream holds fewer than this share of B tokens is merged into


@dataclass(slots=True)
class _Memory:
    entry: Entry
    text: str
    row: Row | None = None  # None: carried from the old pack's open stream


@dataclass(slots=True)
class _Job:
    ns: str
    memories: list[_Memory]
    old_id: int | None = None
    old_index: PackIndex | None = None
    kept_streams: list[bytes] = field(default_factory=list)  # the old pack's full streams, copied
    kept_vecs: bytes = b""
    old_bytes: int = 0  # the replaced pack's row bytes (index, streams, vectors)
    plan: list = field(default_factory=list)


@dataclass(slots=True)
class PackResult:
    swapped: int = 0
    superseded: int = 0
    packs: int = 0
    bytes_before: int = 0
    bytes_after: int = 0


class Packer:
    def __init__(self, core, pack_tokens: int = PACK_TOKENS, lease_s: float = 3600.0):
        """pack_tokens: the store's pack size B; a namespace's policy may set its own."""
        self.core, self.pack_tokens, self.lease_s = core, pack_tokens, lease_s
        self.table: PackTable = core.packs
        self.directory: PackDirectory = core.pack_directory

    def pack(self, rows: list[Row], texts: list[str], pace=None) -> PackResult:
        """Pack claimed rows (texts: each one's text, read from its record) into their namespaces' packs."""
        result = PackResult()
        by_ns: dict[str, list[tuple[Row, str]]] = {}
        for r, t in sorted(zip(rows, texts), key=lambda rt: (rt[0].created_at, rt[0].id)):
            by_ns.setdefault(r.ns, []).append((r, t))
        jobs = [self._job(ns, items) for ns, items in by_ns.items()]
        engine = self.core.coder.decoder()
        try:
            self._code(jobs, engine, pace)
            for job in jobs:
                try:
                    self._swap(job, result)
                except _Vanished:  # its namespace was deleted meanwhile: so were the memories claimed
                    result.superseded += len([m for m in job.memories if m.row is not None])
        finally:
            self.table.release([j.old_id for j in jobs if j.old_id is not None])
        return result

    def rebuild(self, pack_ids: list[int]) -> PackResult:
        """Code these packs again with their live memories only (their deleted ones' bytes gone with the old rows)."""
        result = PackResult()
        jobs = []
        try:
            for pack_id in self.table.claim(pack_ids, time.time(), self.lease_s):
                found = self.table.in_namespaces_of([pack_id])
                index = self.directory.indexes(found).get(pack_id)
                if not isinstance(index, PackIndex):
                    continue  # a damaged pack is left for its memories' errors to name
                ns = found[0][1]
                dead = self.table.dead([pack_id]).get(pack_id, set())
                live = [Slot(pack_id, s, ns, e) for s, e in enumerate(index.entries) if e.key and s not in dead]
                read = read_slots(live, {pack_id: index}, self.table, self.core.coder.decoder, self.core.db.profiles(),
                                  self.core.where)
                if read.bad:
                    continue
                jobs.append(_Job(ns, [_Memory(s.entry, read.texts[n]) for n, s in enumerate(live)], pack_id, index,
                                 old_bytes=self.table.row_bytes(pack_id)))
            if jobs:
                self._code(jobs, self.core.coder.decoder(), None)
                for job in jobs:
                    try:
                        self._swap(job, result)
                    except _Vanished:
                        pass
        finally:
            self.table.release([j.old_id for j in jobs])
        return result

    def tokens_of(self, ns: str) -> int:
        """B for a namespace (as stored): its policy's pack size, else the store's."""
        return self.core.policies.of(values.split(ns)).pack_tokens or self.pack_tokens

    def _job(self, ns: str, items: list[tuple[Row, str]]) -> _Job:
        memories = [_Memory(Entry(r.key, r.kind, r.fields, r.created_at, r.updated_at, r.text_bytes,
                                  zlib.crc32(t.encode()) & 0xFFFFFFFF, bool(r.vectors)), t, r) for r, t in items]
        job = _Job(ns, memories)
        now = time.time()
        for pack_id, _, _ in self.table.open_tail(ns, int(self.tokens_of(ns) * OPEN_BELOW), now):
            if not self.table.claim([pack_id], now, self.lease_s):
                continue
            found = self.table.in_namespaces(ns, exact=True)
            index = self.directory.indexes([f for f in found if f[0] == pack_id]).get(pack_id)
            if not isinstance(index, PackIndex) or len(index.streams) >= MAX_STREAMS:
                self.table.release([pack_id])
                continue
            carried = self._open_stream(pack_id, ns, index)
            if carried is None:
                self.table.release([pack_id])
                continue
            body, _ = self.table.bodies([pack_id])[pack_id]
            vecs = self.table.vectors([pack_id]).get(pack_id)
            if isinstance(body, ValueError) or (vecs is None and index.windows):
                self.table.release([pack_id])  # its sealed parts do not open: left for its reads to name
                continue
            job.old_id, job.old_index = pack_id, index
            job.old_bytes = self.table.row_bytes(pack_id)
            job.kept_streams = decode_streams(body)[:-1]
            vecs = vecs or b""
            size = vectors.size_of(PACK_VECTOR_SCHEME, self.core.dims)
            kept_windows = sum(w.stream < len(index.streams) - 1 for w in index.windows)
            job.kept_vecs = vecs[: kept_windows * size]
            job.memories = carried + memories
        return job

    def _open_stream(self, pack_id: int, ns: str, index: PackIndex) -> list[_Memory] | None:
        """The live memories of a pack's last stream, decoded; None when that stream holds a passage of a longer
        memory (it is not reopened) or does not read."""
        last = len(index.streams) - 1
        slots = sorted({p.slot for p in index.streams[last]})
        if any(len(index.spans[s]) > 1 for s in slots):
            return None
        dead = self.table.dead([pack_id]).get(pack_id, set())
        live = [Slot(pack_id, s, ns, index.entries[s]) for s in slots if s not in dead and index.entries[s].key]
        read = read_slots(live, {pack_id: index}, self.table, self.core.coder.decoder, self.core.db.profiles(),
                          self.core.where)
        if read.bad:
            return None
        return [_Memory(s.entry, read.texts[n]) for n, s in enumerate(live)]

    def _code(self, jobs: list[_Job], engine, pace) -> None:
        """Each job's streams planned and coded (all namespaces' in one engine batch), windows embedded."""
        sep = engine.count_tokens([SEPARATOR])[0]
        for job in jobs:
            texts = [m.text for m in job.memories]
            job.plan = plan_streams(texts, engine.count_tokens(texts), engine.count_tokens, sep, self.tokens_of(job.ns))
        flat = [(job, s) for job in jobs for s in job.plan]
        coded = engine.compress_parts([[p.text for p in s] for _, s in flat], pace=pace)
        for (job, s), (rec, counts) in zip(flat, coded):
            if rec.kind == "error":
                raise ValueError(rec.error)
            s[:] = [(p, n, rec) for p, n in zip(s, counts)]

    def _swap(self, job: _Job, result: PackResult) -> None:
        core, q = self.core, self.core.db.q
        # the old pack's slots below base lie in its full streams, copied as they are; the rest were reopened
        base = min((p.slot for parts in job.old_index.streams[len(job.kept_streams):] for p in parts), default=0) \
            if job.kept_streams else 0
        entries = list(job.old_index.entries[:base]) if job.old_index else []
        streams = [list(s) for s in job.old_index.streams[: len(job.kept_streams)]] if job.old_index else []
        windows = [w for w in job.old_index.windows if w.stream < len(streams)] if job.old_index else []
        records = list(job.kept_streams)
        profiles = {p: i for i, p in enumerate(core.db.profiles({parts[0][2].profile for parts in job.plan}))}
        slot_of = {}
        for k, m in enumerate(job.memories):
            slot_of[k] = len(entries)
            entries.append(dataclasses.replace(m.entry))
        window_texts = []
        separator_tokens = job.old_index.separator_tokens if job.old_index else None
        for parts in job.plan:
            stream = len(streams)
            for p, n, _ in parts:
                if p.slot == SEPARATOR_SLOT and n != (separator_tokens := separator_tokens or n):
                    raise ValueError(f"a separator coded as {n} tokens, not {separator_tokens}")
            mine = [(p, n) for p, n, _ in parts if p.slot != SEPARATOR_SLOT]
            streams.append([Part(slot_of[p.slot], len(p.text.encode()), n) for p, n in mine])
            records.append(encode_record(parts[0][2], profiles))
            for w in plan_windows(stream, [(p.slot, n) for p, n in mine], WINDOW_TOKENS):
                text = "\n".join(p.text for p, _ in mine[w.first : w.end] if job.memories[p.slot].entry.indexed)
                if text:
                    windows.append(w)
                    window_texts.append(text)
        new_vecs = vectors.pack(core.embedder(window_texts), PACK_VECTOR_SCHEME) if window_texts else []
        vecs = job.kept_vecs + b"".join(new_vecs)
        index = PackIndex(entries, streams, windows, separator_tokens or 1)
        with core.db.transaction("swap in a pack (disk full?)") as cur:
            gone = set()
            for k, m in enumerate(job.memories):
                if m.row is None:
                    continue
                cur.execute(q("DELETE FROM semzip_memories WHERE id = ? AND version = ? RETURNING id"),
                            (m.row.id, m.row.version))
                if not cur.fetchall():
                    gone.add(slot_of[k])  # put again or deleted since the claim: that write wins
            if job.old_id is not None:
                cur.execute(q("SELECT id FROM semzip_packs WHERE id = ?"), (job.old_id,))
                if not cur.fetchall():
                    raise _Vanished()
                old_dead = self.table.dead_in(cur, job.old_id)
                for k, m in enumerate(job.memories):
                    if m.row is None and _old_slot(job, m) in old_dead:
                        gone.add(slot_of[k])
                for s in old_dead:
                    if s < base:
                        gone.add(s)
            for s in gone:
                e = index.entries[s]
                index.entries[s] = Entry(None, e.kind, None, 0.0, 0.0, e.text_bytes, e.crc, e.indexed)
            keys = {e.key for e in index.entries if e.key is not None}
            older = [(p, s) for p, s in self.directory.live_slots_in(cur, q, job.ns, keys) if p != job.old_id]
            for p in sorted({p for p, _ in older}):
                self.table.mark_dead(cur, p, {s for pp, s in older if pp == p})
            idx = encode_index(index)
            body = encode_streams(records)
            num_tokens = index.num_tokens
            self.table.insert(cur, NewPack(job.ns, idx, zlib.crc32(idx) & 0xFFFFFFFF, body, vecs or None,
                                                    len(entries), num_tokens, index.stream_tokens(len(streams) - 1),
                                                    sum(e.text_bytes for e in entries)), time.time())
            if job.old_id is not None:
                self.table.delete(cur, [job.old_id])
        new_rows = [m for m in job.memories if m.row is not None]
        result.swapped += len(new_rows) - len([k for k, m in enumerate(job.memories) if m.row and slot_of[k] in gone])
        result.superseded += len([k for k, m in enumerate(job.memories) if m.row and slot_of[k] in gone])
        result.packs += 1
        result.bytes_before += sum(len(m.row.body) for m in new_rows)
        result.bytes_after += len(idx) + len(body) + len(vecs) - job.old_bytes  # a merge replaced the old pack


def _old_slot(job: _Job, m: _Memory) -> int:
    return next(s for s, e in enumerate(job.old_index.entries) if e is m.entry)


class _Vanished(Exception):
    """The pack being merged into was deleted meanwhile (its namespace was): nothing is swapped."""
