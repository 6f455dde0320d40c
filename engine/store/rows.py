"""The units the store passes between its layers: a memory to write, a stored row, a memory handed back."""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

# A row's tier: HOT (body a zstd or raw record, written by put with no model), COLD (body the namespace's policy's
# record, written by compaction) or COLD_KEPT (cold, with the text kept hot beside it in `hot` after a read).
HOT, COLD, COLD_KEPT = 0, 1, 2


def crc(body: bytes) -> int:
    """A record's CRC-32, as rows keep it."""
    return zlib.crc32(body) & 0xFFFFFFFF


@dataclass(slots=True)
class Put:
    """One memory to write: value a str or a JSON object; index as in MemoryStore.put; ttl in seconds."""

    namespace: tuple[str, ...]
    key: str
    value: str | dict
    meta: dict | None = None
    index: bool | list[str] | dict[str, str] | None = None
    ttl: float | None = None


@dataclass(slots=True)
class Row:
    """One memory as the database holds it: body is a container record's bytes (raw or coded), crc its CRC-32."""

    ns: str
    key: str
    kind: int  # values.TEXT or values.JSON
    body: bytes
    crc: int
    fields: str | None  # JSON of the fields filters see (metadata and a JSON value's small top-level fields)
    text_bytes: int  # UTF-8 bytes of the exact text in, for the store's ratio
    created_at: float
    updated_at: float
    expires_at: float | None = None
    ttl: float | None = None  # seconds; reads that refresh move expires_at to now + ttl
    vectors: list[tuple[str, bytes]] = field(default_factory=list)  # (field path, packed embedding)
    id: int | None = None
    tier: int = HOT  # HOT, COLD or COLD_KEPT
    hot: bytes | None = None  # COLD_KEPT: the text kept hot beside the cold record (a zstd or raw record)
    hot_crc: int | None = None
    version: int = 0  # goes up on every put of the key: a compaction swaps only the version it read
    used_at: float = 0.0  # the last write or read
    policy: str | None = None  # a hot row's coding policy as its put saw it (Policy.spec), for compaction
    damage: str | None = None  # an encrypted store's row whose sealed body or fields did not open: why

    def readable(self) -> tuple[bytes, int]:
        """(record bytes, their CRC) that read back fastest: the kept hot copy when there is one."""
        return (self.hot, self.hot_crc) if self.hot is not None else (self.body, self.crc)


@dataclass(slots=True)
class Memory:
    """What get and search return: the value exactly as it was put, its metadata, its times, its search score."""

    namespace: tuple[str, ...]
    key: str
    value: str | dict
    meta: dict
    created_at: float
    updated_at: float
    score: float | None = None
    passage: int | None = None  # a search asked for passages: value is this passage of the memory (0 the first)
