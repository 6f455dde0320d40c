"""Compaction: hot memories coded with their namespace's policy in large engine batches, then swapped in.

A memory is due when it has been neither written nor read for cold_after seconds, or when the hot tier holds
more than hot_bytes (least recently used first; a kept hot copy is dropped before anything is coded, since
its cold record is already there). Each batch is claimed (tier_sql.Tiers.claim), its texts read from their
hot records (no model), grouped by their stored embeddings so similar memories run together, coded in one
engine call, and swapped in by one transaction that skips every row put or deleted since the claim.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from engine.codecs.container import encode_record
from engine.store import values, vectors
from engine.store.core import StoreCore
from engine.store.errors import InvalidMemoryError
from engine.store.pack_plan import MAX_PACK_TOKENS, MIN_PACK_TOKENS, PACK_TOKENS
from engine.store.packing import Packer
from engine.store.policy_coder import Policy
from engine.store.rows import HOT, crc
from engine.store.tier_sql import Coded

COLD_AFTER_S = 3600.0  # an agent's session: what it wrote or read in the last hour stays hot
HOT_BYTES = 64 << 20  # about 44,000 LoCoMo dev sessions as hot zstd records (1.5 KB each)
BATCH = 256  # memories a claim: about 25 packed streams of chat, so the engine runs full batches of lanes
LEASE_S = 3600.0  # a claimed batch not swapped by then (its compactor died) is taken again
GROUP_THRESHOLD = 0.6  # cosine of two stored (quantized) embeddings that makes them one group
# A SQLite file this much of which holds no row after a compaction is rewritten packed (VACUUM: LoCoMo dev's 70
# sessions leave 78% after their first compaction, 29% once packed). In the background only while the file is
# small enough that rewriting it does not hold the host's writes up for long; `semzip store compact` packs any.
PACK_SLACK_SHARE = 0.4
# A pack this much of whose memories are deleted or superseded is coded again without them: its dead bytes then
# cost more than the decode and code of one pack (at most B tokens a stream) that a rewrite takes.
PACK_DEAD_SHARE = 0.3
PACK_BACKGROUND_MAX_BYTES = 64 << 20


class Interrupted(Exception):
    """Compaction stopped mid-batch (the store is closing, or the host needs the model); its claims are released."""


@dataclass(slots=True)
class CompactionReport:
    memories: int = 0  # swapped hot -> cold
    superseded: int = 0  # put again or deleted while being coded: their records were dropped
    evicted: int = 0  # kept hot copies dropped (no coding)
    failed: int = 0  # hot records that did not read back: left as they are, named in errors
    text_bytes: int = 0
    hot_bytes: int = 0  # of the hot records replaced
    cold_bytes: int = 0  # of the cold records written
    batches: int = 0
    seconds: float = 0.0
    packed: bool = False  # the file was rewritten to give free pages back
    rewritten: int = 0  # packs coded again without their deleted memories
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One log line: what was coded, how fast, what it saved."""
        rate = self.memories / self.seconds * 60 if self.seconds else 0.0
        saved = self.hot_bytes - self.cold_bytes
        return (f"compacted {self.memories} memories ({self.text_bytes} text bytes) in {self.seconds:.1f} s "
                f"({rate:.1f} memories/min, {self.batches} batches): hot {self.hot_bytes} -> cold {self.cold_bytes} "
                f"bytes ({saved} saved, {self.text_bytes / self.cold_bytes if self.cold_bytes else 0:.2f}x the text); "
                f"{self.superseded} superseded, {self.evicted} kept copies dropped, {self.failed} failed"
                + (f"; {self.rewritten} packs rewritten" if self.rewritten else "") + ("; file packed" if self.packed else ""))


class Compactor:
    def __init__(self, core: StoreCore, cold_after: float = COLD_AFTER_S, hot_bytes: int = HOT_BYTES, batch: int = BATCH,
                 lease_s: float = LEASE_S, pack_tokens: int = PACK_TOKENS):
        if cold_after < 0 or hot_bytes < 0 or batch < 1 or not MIN_PACK_TOKENS <= pack_tokens <= MAX_PACK_TOKENS:
            raise ValueError(f"cold_after and hot_bytes are >= 0, batch >= 1 and pack_tokens {MIN_PACK_TOKENS} to "
                             f"{MAX_PACK_TOKENS}, "
                             f"got {cold_after}, {hot_bytes}, {batch}, {pack_tokens}")
        self.core, self.tiers = core, core.tiers
        self.cold_after, self.hot_bytes, self.batch, self.lease_s = cold_after, hot_bytes, batch, lease_s
        self.pack_tokens = pack_tokens
        self.totals = CompactionReport()  # every run of this process's, added up

    def due(self, prefix: tuple[str, ...] = (), everything: bool = False) -> tuple[list[int], list[int], dict]:
        """(rows to code or pack, kept copies to drop, id -> hot bytes of each), least recently used first. Cold rows
        an older format coded alone are always due, to be packed (those of the default policy with no TTL)."""
        rows = self.tiers.hot_rows(values.join(prefix))
        total = sum(size or 0 for *_, size in rows)
        excess, cutoff = total - self.hot_bytes, time.time() - self.cold_after
        unpacked = {i for i, ns in self.tiers.unpacked_cold(values.join(prefix))
                    if self.core.policies.of(values.split(ns)).packs}
        code, evict = [], []
        for i, tier, used, size in rows:
            if i not in unpacked and (everything or used <= cutoff or excess > 0):
                (code if tier == HOT else evict).append(i)
                excess -= size or 0
        return code + sorted(unpacked), evict, {i: size or 0 for i, _, _, size in rows}

    def run(self, prefix: tuple[str, ...] = (), everything: bool = False, pace=None, progress=None,
            pack: int | None = None, batch: int | None = None) -> CompactionReport:
        """Compact what is due (everything: every hot memory) under a namespace prefix. pace() is called between
        model steps and batches (it may wait, or raise Interrupted); progress(n) hears each batch's size. pack: the
        largest file (bytes) that is rewritten packed when compaction left it slack (None: any)."""
        t0, report = time.perf_counter(), CompactionReport()
        try:
            self._run(report, prefix, everything, pace, progress, batch or self.batch)
            slack, size = self.tiers.slack_share() if report.memories else (0.0, 0)
            report.packed = slack >= PACK_SLACK_SHARE and (pack is None or size <= pack)
            if report.packed:
                self.tiers.vacuum()
        finally:  # an interrupted run's swapped batches count too
            report.seconds = time.perf_counter() - t0
            for name in ("memories", "superseded", "evicted", "failed", "text_bytes", "hot_bytes", "cold_bytes",
                         "batches", "seconds"):
                setattr(self.totals, name, getattr(self.totals, name) + getattr(report, name))
        return report

    def _run(self, report: CompactionReport, prefix, everything, pace, progress, batch) -> None:
        self.core.flush_read_times()
        code, evict, _ = self.due(prefix, everything)
        code.sort()  # in the order written: a namespace's memories go into its packs together
        report.evicted = self.tiers.evict_copies(evict)
        cutoff = time.time() - self.cold_after  # packs' kept texts go as rows' kept copies do (nothing is coded)
        report.evicted += self.core.packs.evict([i for i, used, _ in self.core.packs.kept(values.join(prefix))
                                                 if everything or used <= cutoff])
        for start in range(0, len(code), batch):
            if pace is not None:
                pace()
            rows = self.tiers.claim(code[start : start + batch], time.time(), self.lease_s, cold_too=True)
            if not rows:
                continue
            packable = [r for r in rows if r.ttl is None and _policy_of(self.core, r).packs]
            alone = [r for r in rows if r.tier == HOT and not (r.ttl is None and _policy_of(self.core, r).packs)]
            try:
                coded = self._code(alone, report, pace) if alone else []
                swapped = self.tiers.swap(coded)
                if packable:
                    self._pack(packable, report, pace)
            except BaseException:
                self.tiers.release([r.id for r in rows])
                raise
            report.batches += 1
            report.memories += swapped
            report.superseded += len(coded) - swapped
            if progress is not None:
                progress(len(rows))
        dead = [i for i, _, n, d in self.core.packs.with_dead(values.join(prefix)) if d >= n * PACK_DEAD_SHARE]
        if dead:
            report.rewritten = Packer(self.core, self.pack_tokens, self.lease_s).rebuild(dead).packs

    def _pack(self, rows, report: CompactionReport, pace) -> None:
        """Rows of the default lossless policy with no TTL into their namespaces' packs (packing.py)."""
        core = self.core
        texts, _ = core.coder.decode([(r.key, r.readable()[0]) for r in rows], core.db.profiles(), core.where)
        good = []
        for r, text in zip(rows, texts):
            if isinstance(text, str) and crc(r.readable()[0]) == r.readable()[1]:
                good.append((r, text))
            else:
                report.failed += 1
                why = r.damage or (text if isinstance(text, ValueError) else "its checksum does not match")
                report.errors.append(f"{core.where}: memory {r.key!r} in namespace {values.split(r.ns)}: {why}")
                self.tiers.release([r.id])
        if not good:
            return
        result = Packer(core, self.pack_tokens, self.lease_s).pack([r for r, _ in good], [t for _, t in good], pace)
        report.memories += result.swapped
        report.superseded += result.superseded
        report.text_bytes += sum(r.text_bytes for r, _ in good)
        report.hot_bytes += result.bytes_before
        report.cold_bytes += result.bytes_after

    def _code(self, rows, report: CompactionReport, pace) -> list[Coded]:
        """Cold records for claimed rows (those whose hot record does not read are released and named)."""
        core = self.core
        texts, _ = core.coder.decode([(r.key, r.body) for r in rows], [], core.where)
        good, bad = [], []
        for r, text in zip(rows, texts):
            if isinstance(text, str) and crc(r.body) == r.crc:
                good.append((r, text))
            else:
                bad.append(r.id)
                why = r.damage or (text if isinstance(text, ValueError) else "its checksum does not match")
                report.errors.append(f"{core.where}: memory {r.key!r} in namespace {values.split(r.ns)}: {why}")
        report.failed += len(bad)
        self.tiers.release(bad)
        good = [good[i] for i in self._similar_together([r for r, _ in good])]
        records = core.coder.encode([t for _, t in good], [_policy_of(core, r) for r, _ in good],
                                     [r.kind == values.JSON for r, _ in good], pace=pace)
        profiles = {p: i for i, p in enumerate(core.db.profiles({r.profile for r in records if r.profile}))}
        coded = []
        for (r, text), rec in zip(good, records):
            rec.id = r.key
            body = encode_record(rec, profiles)
            coded.append(Coded(r.id, r.ns, r.key, r.version, body, crc(body), r.used_at))
            report.text_bytes += r.text_bytes
            report.hot_bytes += len(r.body)
            report.cold_bytes += len(body)
        return coded

    def _similar_together(self, rows) -> list[int]:
        """An order of rows that runs similar memories together (by their first stored embedding)."""
        import numpy as np

        from engine.jobs.grouping import group_order

        embedded = [i for i, r in enumerate(rows) if r.vectors]
        rest = [i for i, r in enumerate(rows) if not r.vectors]
        if len(embedded) < 2:
            return embedded + rest
        size = vectors.size_of(self.core.scheme, self.core.dims)
        vecs = vectors.unpack([rows[i].vectors[0][1][:size] for i in embedded], self.core.scheme, self.core.dims)
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return [embedded[k] for k in group_order(vecs, GROUP_THRESHOLD)] + rest


def _policy_of(core: StoreCore, row) -> Policy:
    """The policy the row's put saw (a writer with another configuration may have put it), else the store's."""
    try:
        return Policy.parse(row.policy) if row.policy else core.policies.of(values.split(row.ns))
    except (ValueError, InvalidMemoryError):
        return core.policies.of(values.split(row.ns))
