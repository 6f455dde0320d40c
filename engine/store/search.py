"""Search over stored embeddings: filter on the stored fields, rank by cosine, decode only the page returned.

A filter on a JSON value's large field (not copied into the fields column) needs the value: only the
memories that cannot be decided from their fields are decoded for it, together.
"""
from __future__ import annotations

import time

from engine.store import fields as fieldsmod
from engine.store import values, vectors
from engine.store.core import StoreCore
from engine.store.filters import check_filter, matches
from engine.store.rows import Memory


def rank(core: StoreCore, prefix: tuple[str, ...], query_vector, filter, limit: int, offset: int, refresh_ttl: bool,
         decode: bool) -> list[Memory]:
    """A Search op's memories (ops.Search says what it returns)."""
    filter, now = check_filter(filter), time.time()
    scanned = core.db.scan(values.join(prefix), now)  # (id, ns, key, fields, created_at, updated_at), newest first
    verdicts = [_passes(t, filter) for t in scanned]
    kept = [t[0] for t, v in zip(scanned, verdicts) if v is True]
    undecided = [t for t, v in zip(scanned, verdicts) if v is None]
    if undecided:
        rows = core.db.by_ids([t[0] for t in undecided])
        for row, mem in zip(rows, core.decode(rows)):
            if matches({**mem.value, **mem.meta}, filter):
                kept.append(row.id)
        order = {t[0]: i for i, t in enumerate(scanned)}
        kept.sort(key=order.get)
    scores: dict[int, float] = {}
    if query_vector is not None:
        wanted = set(kept)
        size = vectors.size_of(core.scheme, core.dims)
        stored = [(i, blob[k : k + size]) for i, blob in core.db.vectors(values.join(prefix), now) if i in wanted
                  for k in range(0, len(blob), size)]  # a memory with several indexed fields has several
        if stored:
            sims = vectors.cosine(query_vector, vectors.unpack([v for _, v in stored], core.scheme, core.dims))
            for (i, _), s in zip(stored, sims):
                scores[i] = max(scores.get(i, -2.0), float(s))  # several indexed fields: the best one counts
        # LangGraph's order: the scored by score, then the unscored (no embedding) to fill the page
        kept = sorted((i for i in kept if i in scores), key=lambda i: -scores[i]) + [i for i in kept if i not in scores]
    page = kept[offset : offset + limit]
    if not page:
        return []
    by_id = {t[0]: t for t in scanned}
    if not decode:
        return [Memory(values.split(t[1]), t[2], None, fieldsmod.parse_fields(t[3])[0], t[4], t[5], scores.get(t[0]))
                for t in (by_id[i] for i in page)]
    rows = {r.id: r for r in core.db.by_ids(page)}
    rows_in_order = [rows[i] for i in page if i in rows]  # one may have been deleted since the scan
    found = core.decode(rows_in_order, [scores.get(r.id) for r in rows_in_order])
    if refresh_ttl:
        core.db.refresh([r.id for r in rows_in_order if r.ttl], now)
    return found


def _passes(scanned: tuple, filter: dict) -> bool | None:
    """True or False from the stored fields alone; None when the filter reads a large field of the value."""
    if not filter:
        return True
    meta, small, large = fieldsmod.parse_fields(scanned[3])
    if any(k in large and k not in meta for k in filter):
        return None
    return matches({**small, **meta}, filter)


