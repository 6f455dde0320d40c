"""What the store holds, per namespace and tier: memories and bytes (the database's own overhead: file_bytes)."""
from __future__ import annotations

from dataclasses import dataclass

from engine.store import values
from engine.store.rows import COLD, COLD_KEPT, HOT


@dataclass(frozen=True, slots=True)
class NamespaceStats:
    namespace: tuple[str, ...]
    memories: int
    text_bytes: int  # UTF-8 bytes of the values put
    stored_bytes: int  # their records, kept copies and embeddings as stored (the database's overhead: file_bytes)
    hot: int = 0  # memories in the hot tier (not yet compacted)
    hot_bytes: int = 0  # their hot records and the kept hot copies of cold ones
    cold: int = 0  # memories compacted (kept_copies of them also hold their text hot)
    cold_bytes: int = 0  # their cold records
    kept_copies: int = 0


def namespace_stats(rows, pack_rows=()) -> list[NamespaceStats]:
    """NamespaceStats from SqlStore.stats' rows (per namespace and tier) and PackTable.stats' (packed memories count
    as cold, a pack's index and streams as their cold bytes, its kept texts as hot bytes)."""
    by_ns: dict[str, dict] = {}
    packed = [(ns, COLD, *rest) for ns, _, *rest in pack_rows]  # a pack's memories are cold ones, its kept text hot
    for ns, tier, n, t, body, kept, vecs in [*rows, *packed]:
        d = by_ns.setdefault(ns, dict(memories=0, text_bytes=0, stored_bytes=0, hot=0, hot_bytes=0, cold=0,
                                      cold_bytes=0, kept_copies=0))
        n, t, body, kept, vecs = (int(x or 0) for x in (n, t, body, kept, vecs))
        d["memories"] += n
        d["text_bytes"] += t
        d["stored_bytes"] += body + kept + vecs
        d["hot_bytes"] += kept
        if tier == HOT:
            d["hot"] += n
            d["hot_bytes"] += body
        else:
            d["cold"] += n
            d["cold_bytes"] += body
            d["kept_copies"] += n if tier == COLD_KEPT else 0
    return [NamespaceStats(values.split(ns), **d) for ns, d in sorted(by_ns.items())]
