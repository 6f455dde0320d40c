"""Every live memory under a namespace prefix, whichever table holds it: rows, and packed slots no row supersedes."""
from __future__ import annotations

import logging

from engine.store.core import StoreCore
from engine.store.pack_directory import Slot

log = logging.getLogger("semzip.store")


def live(core: StoreCore, prefix: str, now: float, exact: bool = False) -> list[tuple]:
    """(row id or Slot, ns, key, fields, created_at, updated_at) of each live memory, newest first. A pack whose
    index does not open is logged and left out (its memories' gets fail naming it)."""
    rows = core.db.scan(prefix, now)
    if exact:
        rows = [t for t in rows if t[1] == prefix]
    slots, damaged = core.pack_directory.live(prefix, exact)
    for d in damaged:
        log.error("%s: %s: its memories are left out of listings and searches", core.where, d)
    have = {(t[1], t[2]) for t in rows}
    packed = [(s, s.ns, s.entry.key, s.entry.fields, s.entry.created_at, s.entry.updated_at) for s in slots
              if (s.ns, s.entry.key) not in have]
    if not packed:
        return rows
    return sorted(rows + packed, key=lambda t: (-t[5], _order(t[0])))


def _order(ref) -> tuple:
    return (1, -ref.pack_id, -ref.slot) if isinstance(ref, Slot) else (0, -ref, 0)


def namespaces(core: StoreCore, now: float) -> list[str]:
    """Every namespace (as stored) that holds a live memory."""
    found = set(core.db.namespaces(now))
    slots, _ = core.pack_directory.live("")
    return sorted(found | {s.ns for s in slots})
