"""MemoryStore: an agent's memories, each a semzip record, in one database (a SQLite file or PostgreSQL).

Two tiers: a put writes its memories hot (zstd or raw: no model) in one transaction and returns; compaction
(compaction.py: in a background thread of this process, or `semzip store compact`) later codes the idle ones
with their namespace's policy in large engine batches. Reads of one call decode their cold records together
and keep the texts hot beside them; search ranks stored embeddings and decodes only the page it returns.
"""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from engine.store import dump
from engine.store import fields as fieldsmod
from engine.store import namespaces as nsmod
from engine.store import values, vectors
from engine.store.async_twins import AsyncTwins
from engine.store.background import BackgroundCompaction
from engine.store.coding import Coder, Policy, crc
from engine.store.embedding import StoreEmbedder
from engine.store.compaction import COLD_AFTER_S, HOT_BYTES, CompactionReport, Compactor
from engine.store.errors import InvalidMemoryError, StoreError, StoreVersionError
from engine.store.hot import ReadTimes, hot_record
from engine.store.postgres import is_dsn, open_postgres
from engine.store.reading import ReadCounts, read_rows
from engine.store.rows import Memory, Row
from engine.store.search import rank
from engine.store.sql import FORMAT_VERSION, HOT
from engine.store.sqlite import open_sqlite
from engine.store.stats import NamespaceStats, namespace_stats
from engine.store.tier_sql import Tiers

EMBEDDER_DIMS = 384  # all-MiniLM-L6-v2's, the default embed function


@dataclass(slots=True)
class Put:
    """One memory to write: value a str or a JSON object; index as in MemoryStore.put; ttl in seconds."""

    namespace: tuple[str, ...]
    key: str
    value: str | dict
    meta: dict | None = None
    index: bool | list[str] | dict[str, str] | None = None
    ttl: float | None = None


class MemoryStore(AsyncTwins):
    """conn: a SQLite path or a postgresql:// DSN. mode/ratio: the default coding policy; policies: per namespace
    prefix (the longest matching prefix wins). embed: texts -> vectors (default all-MiniLM-L6-v2, offline) with
    dims its size; scheme: how stored vectors are quantized (vectors.SCHEMES); index: what a put embeds by
    default (True: the whole value, False: nothing, or a list of paths into JSON values).
    cold_after (seconds without a write or read) and hot_bytes (the hot tier's size) say when a memory is
    compacted; compaction=True runs it in a background thread while the store is open (False: only compact()
    and `semzip store compact` do)."""

    def __init__(self, conn: str | Path, *, engine=None, mode: str = "lossless", ratio: float | None = None,
                 policies: dict | None = None, embed=None, dims: int | None = None,
                 scheme: str = vectors.DEFAULT_SCHEME, index=True, open_engine=None,
                 cold_after: float = COLD_AFTER_S, hot_bytes: int = HOT_BYTES, compaction: bool = True):
        self.where = str(conn)
        self.default_policy = Policy(mode, ratio)
        self.policies = {values.check_namespace(ns): p if isinstance(p, Policy) else Policy(*p)
                         for ns, p in (policies or {}).items()}
        if scheme not in vectors.SCHEMES:
            raise InvalidMemoryError(f"vector scheme must be one of {', '.join(vectors.SCHEMES)}, got {scheme!r}")
        self.index = index
        self._vectors = StoreEmbedder(embed, self.where)
        self.db = open_postgres(self.where) if is_dsn(self.where) else open_sqlite(self.where)
        self.coder = Coder(engine, ratio if engine is not None else None, open_engine)
        try:
            self.settings = self._open_settings(scheme, dims, None if embed else EMBEDDER_DIMS)
        except BaseException:
            self.db.close()
            raise
        self.scheme, self.dims = self.settings["vectors"], int(self.settings["dims"])
        self._vectors.dims = self.dims
        self.tiers = Tiers(self.db)
        self.read_times = ReadTimes()
        self.read_counts = ReadCounts()
        self.compactor = Compactor(self, cold_after, hot_bytes)
        self._active, self._active_lock = 0, threading.Lock()
        self.background = BackgroundCompaction(self) if compaction else None

    def _open_settings(self, scheme: str, dims: int | None, default_dims: int | None) -> dict:
        found = self.db.init()
        if int(found.get("format", FORMAT_VERSION)) > FORMAT_VERSION:
            raise StoreVersionError(f"{self.where} was written by store format {found['format']}; this semzip reads "
                                    f"up to {FORMAT_VERSION}: upgrade semzip")
        if "dims" not in found and (dims or default_dims) is None:
            raise InvalidMemoryError(f"{self.where}: a new store with a custom embed function needs its dims")
        found = self.db.set_meta({"format": str(FORMAT_VERSION), "vectors": scheme,
                                  "dims": str(dims or default_dims)})
        if dims is not None and int(found["dims"]) != dims:
            raise StoreError(f"{self.where} holds {found['dims']}-dimension embeddings, this store was opened with "
                             f"{dims}-dimension ones")
        return found

    # -- writing
    def put(self, namespace, key: str, value, *, meta: dict | None = None, index=None, ttl: float | None = None):
        """Store one memory (replacing any under the same key)."""
        self.put_many([Put(namespace, key, value, meta, index, ttl)])

    def put_many(self, puts: list[Put]) -> None:
        """Store many memories hot (no model), in one transaction (all or none); compaction codes them later."""
        with self.host_call():
            self._put_many(puts)

    def _put_many(self, puts: list[Put], times: dict | None = None) -> None:
        """times: (namespace, key) -> (created_at, updated_at, expires_at) kept from elsewhere (an import)."""
        now = time.time()
        checked: dict[tuple, tuple] = {}
        for p in puts:  # everything is checked before anything is coded or written
            ns = values.check_namespace(p.namespace)
            key = values.check_key(ns, p.key)
            kind, text = values.to_text(ns, key, p.value)
            if p.ttl is not None and not (isinstance(p.ttl, (int, float)) and p.ttl > 0):
                raise InvalidMemoryError(f"ttl of {key!r}: a positive number of seconds or None, got {p.ttl!r}")
            index = self.index if p.index is None else p.index
            checked[(ns, key)] = (p, kind, text, fieldsmod.stored_fields(key, p.meta, kind, p.value),
                                  fieldsmod.index_texts(kind, p.value, text, index))
        items = list(checked.items())  # a key put twice in one call: the last one wins
        to_embed = [(i, path, t) for i, (_, c) in enumerate(items) for path, t in c[4].items()]
        packed = vectors.pack(self._vectors([t for _, _, t in to_embed]), self.scheme) if to_embed else []
        rows = []
        for (ns, key), (p, kind, text, flds, _) in items:
            body = hot_record(key, text)
            created, updated, expires = (times or {}).get((ns, key), (now, now, now + p.ttl if p.ttl else None))
            rows.append(Row(values.join(ns), key, kind, body, crc(body), flds, len(text.encode()), created, updated,
                            expires, p.ttl, tier=HOT, policy=self.policy(ns).spec))
        for (i, path, _), blob in zip(to_embed, packed):
            rows[i].vectors.append((path, blob))
        self.db.write(rows)

    def delete(self, namespace, key: str) -> bool:
        """Remove a memory from every tier, with its embeddings and its decoded text; False if there was none."""
        ns = values.check_namespace(namespace)
        with self.host_call():
            return self._forget(self.db.delete(values.join(ns), [values.check_key(ns, key)])) > 0

    def delete_namespace(self, namespace) -> int:
        """Remove every memory of a namespace and of the namespaces under it, as delete does; how many."""
        ns = values.check_namespace(namespace)
        with self.host_call():
            return self._forget(self.db.delete_prefix(values.join(ns)))

    def _forget(self, deleted: list[tuple]) -> int:
        """Deleted rows' records out of the decoded-text caches and their old pages off the disk; how many rows."""
        self.coder.forget([bytes(b) for row in deleted for b in row if b is not None], self.db.profiles(), self.where)
        if deleted:
            self.tiers.scrub()
        return len(deleted)

    def export(self, out, namespace=()) -> int:
        """Every live memory under a namespace prefix as JSON lines into out (a path or a text file); how many."""
        return dump.export_lines(self, values.check_namespace(namespace, allow_empty=True), out)

    def import_(self, source) -> dump.ImportReport:
        """Put every valid line of an export (a path or a file) hot, times as they were; bad lines reported."""
        return dump.import_lines(self, source)

    def vacuum(self) -> None:
        """Give the space of deleted and compacted memories back to the disk (SQLite: the file rewritten packed;
        PostgreSQL: VACUUM FULL of the memories table)."""
        self.tiers.vacuum(full=True)

    def sweep(self) -> int:
        """Delete the memories whose TTL ran out; how many."""
        return self.db.sweep(time.time())

    # -- reading
    def get(self, namespace, key: str, *, refresh_ttl: bool = True) -> Memory | None:
        """The memory under namespace and key, or None."""
        return self.get_many([(namespace, key)], refresh_ttl=refresh_ttl)[0]

    def get_many(self, pairs, *, refresh_ttl: bool = True) -> list[Memory | None]:
        """The memory (or None) for each (namespace, key), in order; their cold records decode together."""
        with self.host_call():
            return self._get_many(pairs, refresh_ttl)

    def _get_many(self, pairs, refresh_ttl: bool) -> list[Memory | None]:
        now, wanted = time.time(), []
        for namespace, key in pairs:
            ns = values.check_namespace(namespace)
            wanted.append((values.join(ns), values.check_key(ns, key)))
        by_ns: dict[str, list[str]] = {}
        for ns, key in wanted:
            by_ns.setdefault(ns, []).append(key)
        found = {(r.ns, r.key): r for ns, keys in by_ns.items() for r in self.db.fetch(ns, sorted(set(keys)), now)}
        rows = list(found.values())
        memories = dict(zip(found, self.decode_rows(rows)))
        if refresh_ttl:
            self.db.refresh([r.id for r in rows if r.ttl], now)
        return [memories.get(w) for w in wanted]

    def decode_rows(self, rows: list[Row], scores: list[float | None] | None = None, *,
                    keep_hot: bool = True) -> list[Memory]:
        """Memories from rows (cold ones in one decode batch); CorruptMemoryError naming the first that does not read.
        keep_hot=False: a read that is not the agent's use (an export) keeps no copies and moves no read times."""
        return read_rows(self, rows, scores, keep_hot)

    def list(self, namespace, *, limit: int = 100, offset: int = 0) -> list[str]:
        """Keys in exactly this namespace, newest first (nothing is decoded)."""
        ns = values.join(values.check_namespace(namespace))
        return [t[2] for t in self.db.scan(ns, time.time()) if t[1] == ns][offset : offset + limit]

    def list_namespaces(self, *, prefix=(), suffix=(), max_depth: int | None = None, limit: int = 100,
                        offset: int = 0, conditions=()) -> list[tuple[str, ...]]:
        """Namespaces holding memories, sorted: prefix and suffix may hold "*" (any one label), conditions are more
        (path, is_suffix) pairs; max_depth truncates the namespaces found (duplicates merged)."""
        conditions = [(tuple(prefix), False), (tuple(suffix), True), *conditions]
        return nsmod.select((values.split(n) for n in self.db.namespaces(time.time())), conditions, max_depth,
                            limit, offset)

    def search(self, namespace_prefix=(), query: str | None = None, *, filter: dict | None = None, limit: int = 10,
               offset: int = 0, refresh_ttl: bool = True, decode: bool = True, query_vector=None) -> list[Memory]:
        """Memories under a prefix that pass filter: by cosine to query (top-k; unembedded ones after), else newest
        first. Only the returned page is decoded (decode=False: not even that; values are None). query_vector:
        the query's embedding, when the caller makes its own."""
        with self.host_call():
            if query and query_vector is None:
                query_vector = self._vectors([query])[0]
            return rank(self, values.check_namespace(namespace_prefix, allow_empty=True), query_vector, filter, limit,
                        offset, refresh_ttl, decode)

    def embed(self, texts: list[str]):
        """Vectors for texts, by the store's embed function."""
        return self._vectors(texts)

    def policy(self, namespace: tuple[str, ...]) -> Policy:
        """The coding policy of a namespace: that of its longest configured prefix, else the store's."""
        best = max((p for p in self.policies if namespace[: len(p)] == p), key=len, default=None)
        return self.policies[best] if best is not None else self.default_policy

    # -- tiers
    def compact(self, namespace=(), *, everything: bool = False, progress=None, pace=None) -> CompactionReport:
        """Code the memories due (everything: every hot one) under a namespace prefix now, in engine batches."""
        prefix = values.check_namespace(namespace, allow_empty=True)
        return self.compactor.run(prefix, everything, pace=pace, progress=progress)

    def backlog(self, namespace=()) -> tuple[int, int]:
        """(memories, hot bytes) due for compaction now under a namespace prefix."""
        self.flush_read_times()
        code, _, sizes = self.compactor.due(values.check_namespace(namespace, allow_empty=True))
        return len(code), sum(sizes[i] for i in code)

    def flush_read_times(self) -> int:
        """Write the read times noted since the last flush (compaction orders by them); how many."""
        return self.read_times.flush_to(self.tiers)

    @contextlib.contextmanager
    def host_call(self):
        """Marks a call of the host's in flight: background compaction waits for none to be."""
        with self._active_lock:
            self._active += 1
        try:
            yield
        finally:
            with self._active_lock:
                self._active -= 1

    @property
    def is_busy(self) -> bool:
        return self._active > 0

    # -- size
    def stats(self) -> list[NamespaceStats]:
        """Memories, bytes in and bytes stored (records, kept copies and embeddings) per namespace, and per tier."""
        return namespace_stats(self.db.stats())

    def file_bytes(self) -> int | None:
        """Bytes of the store's files on disk (SQLite: the database and its WAL); None for PostgreSQL."""
        if is_dsn(self.where):
            return None
        return sum(Path(self.where + s).stat().st_size for s in ("", "-wal") if Path(self.where + s).exists())

    # -- lifetime
    def close(self) -> None:
        """Stop background compaction (its batch abandoned, claims given back), write the read times, close the
        database connections and the engines this store opened (not one it was handed)."""
        try:
            if self.background is not None:
                self.background.stop()
            self.flush_read_times()
        finally:
            self.db.close()
            self.coder.close()

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["MemoryStore", "Put", "NamespaceStats", "Memory"]
