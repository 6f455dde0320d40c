"""The lossless fallback when no model can run: the exact text, zstd-compressed, flagged.

Decoding needs no model, so these records render anywhere; their ratio is zstd's (about 2x on chat).
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


def zstd_text(rec: Record) -> str:
    """The record's text; ValueError when the payload is corrupt or does not match its checksum."""
    try:
        data = zstandard.ZstdDecompressor().decompress(rec.payload)
    except zstandard.ZstdError as exc:
        raise ValueError(f"record {rec.id!r}: corrupt zstd payload ({exc})") from None
    if checksum(data) != rec.checksum:
        raise ValueError(f"record {rec.id!r}: the decompressed text does not match its checksum")
    return data.decode("utf-8")
