"""One batch of store operations (ops.py) against the core: the one path every call of MemoryStore takes.

Every op is checked before anything is read or written, so a bad one fails the batch with nothing done. Reads
are answered on the store as it was before the batch (gets decoded together, each search's page decoded
together); then the writes commit in one transaction, in order, and a put followed by a later write of its
key is dropped (the last write of a key wins).
"""
from __future__ import annotations

import time

from engine.store import listing
from engine.store import namespaces as nsmod
from engine.store import values
from engine.store.core import StoreCore
from engine.store.errors import CorruptMemoryError, InvalidMemoryError
from engine.store.filters import check_filter
from engine.store.ops import WRITES, Delete, DeleteNamespace, Get, ListKeys, ListNamespaces, Put, Search
from engine.store.rows import Row
from engine.store.search import rank
from engine.store.sql import KeyDelete, PrefixDelete


def run_batch(core: StoreCore, ops: list) -> list:
    """A result per op, in order (see ops.py for each op's)."""
    gets: dict[int, tuple[str, str]] = {}
    searches: list[tuple[int, Search, tuple[str, ...]]] = []  # with the prefix checked
    listings: list[tuple[int, object, str | None]] = []  # with ListKeys' namespace checked and joined
    written = []
    for n, op in enumerate(ops):  # every op checked before anything is read or written
        if isinstance(op, Get):
            gets[n] = _checked_key(op.namespace, op.key)
        elif isinstance(op, WRITES):
            written.append(n)
        elif isinstance(op, Search):
            searches.append((n, op, values.check_namespace(op.namespace_prefix, allow_empty=True)))
            check_filter(op.filter)
        elif isinstance(op, ListKeys):
            listings.append((n, op, values.join(values.check_namespace(op.namespace))))
        elif isinstance(op, ListNamespaces):
            listings.append((n, op, None))
        else:
            raise InvalidMemoryError(f"operation {n} of the batch: not a store operation ({type(op).__name__})")
    writes, write_ops = _writes(core, [(n, ops[n]) for n in written]) if written else ([], [])
    results: list = [None] * len(ops)
    if gets:
        _answer_gets(core, ops, gets, results)
    if searches:
        _answer_searches(core, searches, results)
    now = time.time()
    for n, op, ns in listings:
        if ns is not None:
            results[n] = [t[2] for t in listing.live(core, ns, now, exact=True)][op.offset : op.offset + op.limit]
        else:
            found = (values.split(name) for name in listing.namespaces(core, now))
            results[n] = nsmod.select(found, list(op.conditions), op.max_depth, op.limit, op.offset)
    if writes:
        for n, count in zip(write_ops, core.commit(writes)):
            if isinstance(ops[n], Delete):
                results[n] = count > 0
            elif isinstance(ops[n], DeleteNamespace):
                results[n] = count
    return results


def _checked_key(namespace, key) -> tuple[str, str]:
    ns = values.check_namespace(namespace)
    return values.join(ns), values.check_key(ns, key)


def _writes(core: StoreCore, ops: list[tuple[int, object]]) -> tuple[list, list[int]]:
    """(the writes to commit, in order: rows, key and prefix deletes; the batch's op index of each)."""
    later: set[tuple[str, str]] = set()
    kept: list[tuple[int, object]] = []  # (op index, the put, or the delete to do)
    for n, op in reversed(ops):  # from the end: a put is dropped when its key is written again later
        if isinstance(op, (Put, Delete)):
            key = _checked_key(op.namespace, op.key)
            if isinstance(op, Put) and key in later:
                continue
            later.add(key)
            kept.append((n, op if isinstance(op, Put) else KeyDelete(*key)))
        else:
            kept.append((n, PrefixDelete(values.join(values.check_namespace(op.namespace)))))
    kept.reverse()
    rows = iter(core.hot_rows([w for _, w in kept if isinstance(w, Put)]))
    return [next(rows) if isinstance(w, Put) else w for _, w in kept], [n for n, _ in kept]


def _answer_gets(core: StoreCore, ops: list, gets: dict[int, tuple[str, str]], results: list) -> None:
    """Every get of the batch: its rows fetched per namespace, decoded together, TTLs refreshed where asked."""
    now = time.time()
    by_ns: dict[str, set[str]] = {}
    for ns, key in gets.values():
        by_ns.setdefault(ns, set()).add(key)
    found = {(r.ns, r.key): r for ns, keys in by_ns.items() for r in core.db.fetch(ns, sorted(keys), now)}
    for ns, keys in by_ns.items():  # keys no row holds may be packed
        missing = {k for k in keys if (ns, k) not in found}
        if missing:
            slots, damaged = core.pack_directory.find(ns, missing)
            found.update({(ns, k): s for k, s in slots.items()})
            if damaged and missing - set(slots):
                k = min(missing - set(slots))
                raise CorruptMemoryError(core.where, values.split(ns), k, f"it may be in {damaged[0]}")
    rows = list(found.values())
    memories = dict(zip(found, core.decode(rows)))
    refresh = {found[w].id for n, w in gets.items()
               if w in found and ops[n].refresh_ttl and isinstance(found[w], Row) and found[w].ttl}
    core.db.refresh(sorted(refresh), now)
    for n, w in gets.items():
        results[n] = memories.get(w)


def _answer_searches(core: StoreCore, searches: list[tuple[int, Search, tuple[str, ...]]], results: list) -> None:
    """Every search of the batch, the queries that need the store's embedding embedded in one call."""
    to_embed = [(n, op.query) for n, op, _ in searches if op.query and op.query_vector is None]
    vecs = dict(zip([n for n, _ in to_embed], core.embedder([q for _, q in to_embed]))) if to_embed else {}
    for n, op, prefix in searches:
        vector = op.query_vector if op.query_vector is not None else vecs.get(n)
        results[n] = rank(core, prefix, vector, op.filter, op.limit, op.offset, op.refresh_ttl, op.decode,
                          op.passages)
