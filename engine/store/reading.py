"""Rows to memories: each read from its fastest record, the model-coded ones decoded together in one batch.

A row with a kept hot copy reads from it (no model); a damaged kept copy falls back to the cold record. What a
read does besides (read times, kept copies, counts) is the core's: this module only turns rows into values.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from engine.store import fields as fieldsmod
from engine.store import values
from engine.store.hot import hot_record
from engine.store.rows import COLD, Memory, Row, crc


class ReadCounts:
    """Reads served from the hot tier (no model) and from cold records (the model decoded them)."""

    def __init__(self):
        self.hot = self.cold = 0
        self._lock = threading.Lock()

    def add(self, hot: int, cold: int) -> None:
        with self._lock:
            self.hot += hot
            self.cold += cold


@dataclass(slots=True)
class Decoded:
    memories: dict[int, Memory] = field(default_factory=dict)  # by the row's index in the rows read
    bad: dict[int, str] = field(default_factory=dict)  # row index -> why it does not read
    copies: list[tuple[int, str, str, int, bytes, int]] = field(default_factory=list)  # (id, ns, key, version,
    # hot record, crc)
    num_cold: int = 0  # memories the model decoded


def decode_rows(rows: list[Row], scores: list[float | None] | None, coder, profiles: list[str], where: str,
                keep_hot: bool) -> Decoded:
    """Each row's memory, or why not; with keep_hot, the hot records that cold rows decoded by the model keep."""
    out = Decoded()
    chosen: dict[int, bytes] = {}
    for i, r in enumerate(rows):
        if r.damage is not None:
            out.bad[i] = r.damage
            continue
        body, body_crc = r.readable()
        if crc(body) != body_crc and r.hot is not None:
            body, body_crc = r.body, r.crc  # a damaged kept copy: the cold record is still there
        if crc(body) != body_crc:
            out.bad[i] = "its checksum does not match"
        else:
            chosen[i] = body
    order = list(chosen)
    texts, modeled_at = coder.decode([(rows[i].key, chosen[i]) for i in order], profiles, where)
    modeled = {order[k] for k in modeled_at}
    for i, text in zip(order, texts):
        if isinstance(text, ValueError):
            out.bad[i] = str(text)
            continue
        r = rows[i]
        try:
            value = values.from_text(r.kind, text)
            meta = fieldsmod.parse_fields(r.fields)[0]
        except ValueError as exc:
            out.bad[i] = f"its value is not the JSON it was ({exc})"
            continue
        out.memories[i] = Memory(values.split(r.ns), r.key, value, meta, r.created_at, r.updated_at,
                                 scores[i] if scores else None)
        if i in modeled:
            out.num_cold += 1
            if keep_hot and r.tier == COLD:
                hot = hot_record(r.key, text)
                out.copies.append((r.id, r.ns, r.key, r.version, hot, crc(hot)))
    return out
