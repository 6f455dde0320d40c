"""Rows to memories: each read from its fastest record, cold ones decoded together and then kept hot.

A row with a kept hot copy reads from it (no model); a cold model-coded row is decoded with the other cold
rows of the same call in one batch, and its text is written back beside its record (tier COLD_KEPT), so a
memory the agent uses stays fast while it is used. Every read moves the row's read time (hot.ReadTimes).
"""
from __future__ import annotations

import threading
import time

from engine.codecs.container import decode_record
from engine.codecs.record import MODEL_CODED
from engine.store import fields as fieldsmod
from engine.store import values
from engine.store.coding import crc
from engine.store.errors import CorruptMemoryError
from engine.store.hot import hot_record
from engine.store.rows import Memory, Row
from engine.store.sql import COLD, HOT


class ReadCounts:
    """Reads served from the hot tier (no model) and from cold records (the model decoded them)."""

    def __init__(self):
        self.hot = self.cold = 0
        self._lock = threading.Lock()

    def add(self, hot: int, cold: int) -> None:
        with self._lock:
            self.hot += hot
            self.cold += cold


def read_rows(store, rows: list[Row], scores: list[float | None] | None = None, keep_hot: bool = True) -> list[Memory]:
    """store.decode_rows' work: see MemoryStore.decode_rows."""
    profiles = store.db.profiles()
    bad: dict[int, str] = {}
    chosen: dict[int, bytes] = {}
    for i, r in enumerate(rows):
        body, body_crc = r.readable()
        if crc(body) != body_crc and r.hot is not None:
            body, body_crc = r.body, r.crc  # a damaged kept copy: the cold record is still there
        if crc(body) != body_crc:
            bad[i] = "its checksum does not match"
        else:
            chosen[i] = body
    texts = store.coder.decode([(rows[i].key, chosen[i]) for i in chosen], profiles, store.where)
    modeled = {i for i in chosen if _is_model_coded(rows[i], chosen[i], profiles, store.where)}
    out, copies = [], []
    for i, text in zip(chosen, texts):
        if isinstance(text, ValueError):
            bad[i] = str(text)
            continue
        r = rows[i]
        try:
            value = values.from_text(r.kind, text)
            meta = fieldsmod.parse_fields(r.fields)[0]
        except ValueError as exc:
            bad[i] = f"its value is not the JSON it was ({exc})"
            continue
        out.append((i, Memory(values.split(r.ns), r.key, value, meta, r.created_at, r.updated_at,
                              scores[i] if scores else None)))
        if keep_hot and i in modeled and r.tier == COLD:
            hot = hot_record(r.key, text)
            copies.append((r.id, r.version, hot, crc(hot)))
    now = time.time()
    cold = len(modeled & {i for i, _ in out})  # served by the model; the others by a hot or model-free record
    store.read_counts.add(len(out) - cold, cold)
    if keep_hot:
        store.read_times.note([rows[i].id for i, _ in out], now)
    store.tiers.keep_copies(copies, now)
    if store.read_times.is_due():
        store.flush_read_times()
    if bad:
        i = min(bad)
        raise CorruptMemoryError(store.where, values.split(rows[i].ns), rows[i].key, bad[i])
    return [m for _, m in sorted(out, key=lambda x: x[0])]


def _is_model_coded(row: Row, body: bytes, profiles: list[str], where: str) -> bool:
    if body is not row.body or row.tier == HOT:
        return False  # hot records and kept copies are zstd or raw
    try:
        return decode_record(row.key, body, profiles, where).kind in MODEL_CODED
    except ValueError:
        return False
