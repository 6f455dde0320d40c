"""An encrypted store's rows as the store's code uses them: names and sealed values opened, per row.

What does not open becomes the row's damage (a read of it names it), never an error that sinks the whole read.
"""
from __future__ import annotations

from engine.store.rows import Row, crc
from engine.store.sealing import FIELDS, RECORD, SealError


def open_row(row: Row, seal) -> None:
    """An encrypted store's row with its record, kept copy and fields opened; what does not open is its damage
    (a kept copy that does not open is dropped: the record is still there)."""
    try:
        row.ns = seal.ns_out(row.ns)
        row.key = seal.key_out(row.ns, row.key)
        row.body = seal.open(row.ns, RECORD, row.key, row.body)
        row.crc = crc(row.body)
        row.fields = seal.open_text(row.ns, FIELDS, row.key, row.fields)
    except SealError as exc:
        row.body, row.crc, row.damage = b"", -1, str(exc)
        return
    if row.hot is not None:
        try:
            row.hot = seal.open(row.ns, RECORD, row.key, row.hot)
            row.hot_crc = crc(row.hot)
        except SealError:
            row.hot = row.hot_crc = None


def opened_fields(seal, ns: str, key: str, fields: str | None) -> str | None:
    try:
        return seal.open_text(ns, FIELDS, key, fields)
    except SealError:
        return None  # filters see no fields; a read of the memory names the damage
