"""Search over stored embeddings: filter on the stored fields, rank by cosine, decode only the page returned.

A row is ranked by its own stored vectors. A pack is searched by its windows' vectors (about 128 tokens each):
the best windows are decoded (side by side, each stream only as far as the window ends) and their memories
ranked by embedding their decoded texts against the query; packed memories in other windows follow, by their
window's score. A filter on a JSON value's large field (not copied into the fields column) needs the value: only
the memories that cannot be decided from their fields are decoded for it, together.
"""
from __future__ import annotations

import time

from engine.store import fields as fieldsmod
from engine.store import listing, values, vectors
from engine.store.core import StoreCore
from engine.store.filters import check_filter, matches
from engine.store.pack_directory import Slot
from engine.store.pack_format import PackIndex
from engine.store.packing import PACK_VECTOR_SCHEME
from engine.store.rows import Memory

WINDOWS_READ = 3  # windows decoded for a search of up to 5 (measured: 3 of 128 tokens, recall@5 50.8%)


def rank(core: StoreCore, prefix: tuple[str, ...], query_vector, filter, limit: int, offset: int, refresh_ttl: bool,
         decode: bool, passages: bool = False) -> list[Memory]:
    """A Search op's memories (ops.Search says what it returns)."""
    filter, now = check_filter(filter), time.time()
    scanned = listing.live(core, values.join(prefix), now)  # (ref, ns, key, fields, created_at, updated_at)
    verdicts = [_passes(t, filter) for t in scanned]
    kept = [t[0] for t, v in zip(scanned, verdicts) if v is True]
    undecided = [t for t, v in zip(scanned, verdicts) if v is None]
    decoded: dict = {}  # ref -> Memory already read
    if undecided:
        refs = _rows_of(core, [t[0] for t in undecided])
        for ref, mem in zip(refs, core.decode(refs)):
            if matches({**mem.value, **mem.meta}, filter):
                key = ref if isinstance(ref, Slot) else ref.id
                kept.append(key)
                decoded[key] = mem
        order = {t[0]: i for i, t in enumerate(scanned)}
        kept.sort(key=order.get)
    scores: dict = {}
    best_stream: dict = {}  # passages: a packed memory's best window's stream
    later: dict = {}  # packed memories outside the windows read: their window's score
    if query_vector is not None:
        wanted = set(kept)
        size = vectors.size_of(core.scheme, core.dims)
        stored = [(i, blob[k : k + size]) for i, blob in core.db.vectors(values.join(prefix), now) if i in wanted
                  for k in range(0, len(blob), size)]  # a memory with several indexed fields has several
        if stored:
            sims = vectors.cosine(query_vector, vectors.unpack([v for _, v in stored], core.scheme, core.dims))
            for (i, _), s in zip(stored, sims):
                scores[i] = max(scores.get(i, -2.0), float(s))  # several indexed fields: the best one counts
        best_stream = _rank_packed(core, [r for r in kept if isinstance(r, Slot)], query_vector, limit + offset, scores,
                                   later, decoded, passages)
        # LangGraph's order: the scored by score, then the unscored (no embedding) to fill the page
        kept = (sorted((i for i in kept if i in scores), key=lambda i: -scores[i])
                + sorted((i for i in kept if i in later), key=lambda i: -later[i])
                + [i for i in kept if i not in scores and i not in later])
        scores.update(later)
    page = kept[offset : offset + limit]
    if not page:
        return []
    by_ref = {t[0]: t for t in scanned}
    if not decode:
        return [Memory(values.split(t[1]), t[2], None, fieldsmod.parse_fields(t[3])[0], t[4], t[5], scores.get(t[0]))
                for t in (by_ref[i] for i in page)]
    todo = [_passage(i, best_stream) for i in page if i not in decoded]
    refs = _rows_of(core, todo)
    for ref, mem in zip(refs, core.decode(refs)):
        decoded[ref if isinstance(ref, Slot) else ref.id] = mem
    found = []
    for i in page:
        if i in decoded:  # a row deleted since the scan is not
            mem = decoded[i]
            mem.score = scores.get(i)
            found.append(mem)
    if refresh_ttl:
        core.db.refresh([r.id for r in refs if not isinstance(r, Slot) and r.ttl], now)
    return found


def _rows_of(core: StoreCore, refs: list) -> list:
    """Rows (fetched) and slots, in the order given (rows deleted since the scan left out)."""
    rows = {r.id: r for r in core.db.by_ids([i for i in refs if not isinstance(i, Slot)])}
    return [i if isinstance(i, Slot) else rows[i] for i in refs if isinstance(i, Slot) or i in rows]


def _passage(ref, best_stream: dict):
    """The slot read as its best window's passage, where a search asked for passages and found one."""
    return Slot(ref.pack_id, ref.slot, ref.ns, ref.entry, best_stream[ref]) if ref in best_stream else ref


def _rank_packed(core: StoreCore, slots: list[Slot], query_vector, wanted: int, scores: dict, later: dict,
                 decoded: dict, passages: bool) -> dict:
    """Scores for packed memories: the best windows' memories decoded and ranked by their texts' embeddings.
    With passages, {slot: the stream of its best window} for each memory of several passages."""
    if not slots:
        return {}
    by_pack: dict[int, dict[int, Slot]] = {}
    for s in slots:
        by_pack.setdefault(s.pack_id, {})[s.slot] = s
    found = core.packs.in_namespaces_of(sorted(by_pack))
    indexes = core.pack_directory.indexes(found)
    blobs = core.packs.vectors(sorted(by_pack))
    size = vectors.size_of(PACK_VECTOR_SCHEME, core.dims)
    windows, stored = [], []
    for pack_id, blob in blobs.items():
        index = indexes.get(pack_id)
        if not isinstance(index, PackIndex):
            continue
        for w, k in zip(index.windows, range(0, len(blob), size)):
            live = [by_pack[pack_id][s] for s in index.window_slots(w) if s in by_pack[pack_id]
                    and index.entries[s].indexed]
            if live:
                windows.append(live)
                stored.append(blob[k : k + size])
                # a long memory is ranked by the passage in this window (its whole text embeds only its start)
                live[:] = [Slot(s.pack_id, s.slot, s.ns, s.entry, w.stream) if len(index.spans[s.slot]) > 1 else s
                           for s in live]
    if not windows:
        return {}
    sims = vectors.cosine(query_vector, vectors.unpack(stored, PACK_VECTOR_SCHEME, core.dims))
    order = sorted(range(len(windows)), key=lambda k: -sims[k])
    best_stream: dict = {}
    for k in order:
        for s in windows[k]:
            later[s] = max(later.get(s, -2.0), float(sims[k]) - 1.0)  # below every re-ranked one
            if passages and s.stream is not None and s not in best_stream:
                best_stream[s] = s.stream
    best = [s for k in order[: max(WINDOWS_READ, -(-wanted * 3 // 5))] for s in windows[k]]
    best = list({(s, s.stream): s for s in best}.values())  # each memory's passage in each window read, once
    memories = core.decode(best)
    for s, m, v in zip(best, memories, core.embedder([_text_of(m) for m in memories])):
        score = float(vectors.cosine(query_vector, v[None, :])[0])
        if score > scores.get(s, -2.0):
            scores[s] = score
            if s.stream is None or passages:  # a passage stands for the whole memory only when passages were asked
                decoded[s] = m
                if s.stream is not None:
                    best_stream[s] = s.stream
        later.pop(s, None)
    return best_stream


def _text_of(m: Memory) -> str:
    import json

    return m.value if isinstance(m.value, str) else json.dumps(m.value, ensure_ascii=False)


def _passes(scanned: tuple, filter: dict) -> bool | None:
    """True or False from the stored fields alone; None when the filter reads a large field of the value."""
    if not filter:
        return True
    meta, small, large = fieldsmod.parse_fields(scanned[3])
    if any(k in large and k not in meta for k in filter):
        return None
    return matches({**small, **meta}, filter)
