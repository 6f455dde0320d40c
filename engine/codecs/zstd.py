"""The lossless fallback when no model can run: the exact text, zstd-compressed, flagged.

Decoding needs no model, so these records render anywhere (record.zstd_text, beside render); their ratio is
zstd's (about 2x on chat).
"""
from __future__ import annotations

import zstandard

from engine.codecs.item import Item
from engine.codecs.record import Record, checksum

LEVEL = 19


def zstd_record(item: Item, level: int = LEVEL, flagged: bool = True) -> Record:
    """flagged: the fallback ladder's mark (made without a model); the store's hot records are not flagged."""
    data = item.text.encode("utf-8", "surrogatepass")
    return Record(item.id, "zstd", payload=zstandard.ZstdCompressor(level=level).compress(data),
                  checksum=checksum(data), flagged=flagged, meta=item.meta)
