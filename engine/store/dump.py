"""Export and import: a store's memories as JSON lines, exact values with their metadata, times and TTLs.

One object a line (docs/FORMAT.md, "Memory dumps"): {"v": 1, "namespace": [...], "key": ..., "value": a string
or a JSON object, "metadata": {...}, "created_at", "updated_at" (seconds since the epoch), "ttl" (seconds or
null), "expires_at" (or null)}. An import puts each valid line as a new hot memory (one transaction per
batch) with its times as they were; a line that is not JSON, lacks a field or names an invalid namespace is
reported by its number and reason, and every other line is imported. An encrypted store's dump is sealed line by
line: {"v": 1, "sealed": "AES-256-GCM", "store", "key_depth", "namespace", "key", "data": the line above, sealed
under its namespace's data key} (a store with sealed names writes "names": "sealed" and its namespace and key as
it stores them); importing it needs the key file of the store it came from.
"""
from __future__ import annotations

import base64
import contextlib
import json
import time
from dataclasses import dataclass, field

from engine.store import listing, values
from engine.store.core import StoreCore
from engine.store.errors import InvalidMemoryError
from engine.store.key_file import CIPHER
from engine.store.sealing import DUMP_LINE, Sealer
from engine.store.rows import Put

DUMP_VERSION = 1
BATCH = 256  # memories read or written per call


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)


@contextlib.contextmanager
def _opened(target, mode: str):
    if hasattr(target, "write" if mode == "w" else "read"):
        yield target
    else:
        with open(target, mode, encoding="utf-8", newline="\n") as f:
            yield f


def export_lines(core: StoreCore, prefix: tuple[str, ...], out, plain: bool = False) -> int:
    """Every live memory under a namespace prefix as JSON lines into out (a path or a text file); how many. An
    encrypted store's lines are sealed under their namespace's data key (a shred reaches the dump too) unless
    plain."""
    seal = None if plain or not core.db.seal.is_sealed else core.db.seal
    now = time.time()
    refs = [t[0] for t in listing.live(core, values.join(prefix), now)]
    count = 0
    with _opened(out, "w") as f:
        for start in range(0, len(refs), BATCH):
            chunk = refs[start : start + BATCH]
            by_id = {r.id: r for r in core.db.by_ids([i for i in chunk if isinstance(i, int)])}
            rows = [by_id[i] if isinstance(i, int) else i for i in chunk if not isinstance(i, int) or i in by_id]
            for row, mem in zip(rows, core.decode(rows, keep_hot=False)):
                line = {"v": DUMP_VERSION, "namespace": list(mem.namespace), "key": mem.key, "value": mem.value,
                        "metadata": mem.meta, "created_at": mem.created_at, "updated_at": mem.updated_at,
                        "ttl": getattr(row, "ttl", None), "expires_at": getattr(row, "expires_at", None)}
                text = json.dumps(line, ensure_ascii=False, separators=(",", ":"))
                f.write((text if seal is None else _sealed_line(seal, row.ns, mem.key, text)) + "\n")
                count += 1
    return count


def _sealed_line(seal, ns: str, key: str, text: str) -> str:
    sealed = seal.seal(ns, DUMP_LINE, key, text.encode("utf-8"))
    # a store with sealed names writes them as it stores them (tokens): an import opens them with its key file
    names = {"names": "sealed"} if seal.names is not None else {}
    line = {"v": DUMP_VERSION, "sealed": CIPHER, "store": seal.store_id, "key_depth": seal.depth, **names,
            "namespace": list(values.split(seal.ns_in(ns))), "key": seal.key_in(ns, key),
            "data": base64.b64encode(sealed).decode("ascii")}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def _opened_line(core: StoreCore, d: dict, sealers: dict) -> str:
    """A sealed line's JSON, opened with the importing store's key file (which must hold the dump's store's keys).
    sealers: the import's Sealer per dump store, so its data keys are unwrapped once, not once a line."""
    if not core.db.seal.is_sealed:
        raise InvalidMemoryError("a sealed line: import it into a store opened with the key file of the store it "
                                 "was exported from")
    try:
        keys, store = core.db.seal.keys, str(d["store"])
        which = (store, int(d["key_depth"]), "names" in d)
        seal = sealers.get(which)
        if seal is None:
            seal = sealers[which] = Sealer(keys, store, which[1], core.where, keys.names_key(store) if which[2] else None)
        ns = seal.ns_out(values.join(values.check_namespace(d["namespace"])))
        key = seal.key_out(ns, str(d["key"]))
        return seal.open(ns, DUMP_LINE, key, base64.b64decode(str(d["data"]), validate=True)).decode("utf-8")
    except (KeyError, TypeError, ValueError) as exc:  # SealError is a ValueError
        raise InvalidMemoryError(f"a sealed line that does not open ({exc})") from None


def import_lines(core: StoreCore, source) -> ImportReport:
    """Put every valid line of an export (a path or a file) hot, times as they were; bad lines reported."""
    report = ImportReport()
    batch: list[tuple] = []  # (line number, Put, times)
    sealers: dict = {}
    with _opened(source, "r") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                batch.append((n, *_parse(line, core, sealers)))
            except InvalidMemoryError as exc:
                report.errors.append((n, str(exc)))
            if len(batch) >= BATCH:
                _put(core, batch, report)
                batch = []
    _put(core, batch, report)
    return report


def _parse(line: str, core: StoreCore, sealers: dict):
    try:
        d = json.loads(line)
        if isinstance(d, dict) and "sealed" in d:
            d = json.loads(_opened_line(core, d, sealers))
    except json.JSONDecodeError as exc:
        raise InvalidMemoryError(f"not JSON ({exc.msg})") from None
    if not isinstance(d, dict):
        raise InvalidMemoryError("not a JSON object")
    missing = [k for k in ("namespace", "key", "value") if k not in d]
    if missing:
        raise InvalidMemoryError(f"no {', '.join(repr(k) for k in missing)}")
    if d.get("v", DUMP_VERSION) != DUMP_VERSION:
        raise InvalidMemoryError(f"dump version {d['v']!r}; this semzip reads version {DUMP_VERSION}")
    ns = values.check_namespace(d["namespace"])
    key = values.check_key(ns, d["key"])
    values.to_text(ns, key, d["value"])
    now = time.time()
    times = []
    for name, default in (("created_at", now), ("updated_at", now), ("expires_at", None), ("ttl", None)):
        v = d.get(name, default)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise InvalidMemoryError(f"{name} of {key!r}: a number of seconds, got {v!r}")
        times.append(v)
    created, updated, expires, ttl = times
    meta = d.get("metadata") or None
    return Put(ns, key, d["value"], meta=meta, ttl=ttl), (created, updated, expires)


def _put(core, batch, report: ImportReport) -> None:
    """One transaction for the batch; a line the store refuses (its metadata, say) is retried alone and named."""
    if not batch:
        return
    try:
        core.put([p for _, p, _ in batch], {(tuple(p.namespace), p.key): t for _, p, t in batch})
        report.imported += len(batch)
    except InvalidMemoryError:
        if len(batch) == 1:
            raise
        for one in batch:
            try:
                _put(core, [one], report)
            except InvalidMemoryError as exc:
                report.errors.append((one[0], str(exc)))
