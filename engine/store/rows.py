"""The units the store passes between its layers: a stored row and a memory handed back to the caller."""
from __future__ import annotations

from dataclasses import dataclass, field


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
