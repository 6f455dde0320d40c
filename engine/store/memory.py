"""MemoryStore: an agent's memories, each a semzip record, in one database (a SQLite file or PostgreSQL).

Two tiers: a put writes its memories hot (zstd or raw: no model) in one transaction and returns; compaction
(compaction.py: in a background thread of this process, or `semzip store compact`) later codes the idle ones
with their namespace's policy in large engine batches. Every read and write is one batch of operations
(ops.py, as LangGraph's store has them): the gets of a batch decode their cold records together, and its
puts and deletes commit in one transaction. put, get, search and the rest are sugar over batch.
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

from engine.store import dump, values, vectors
from engine.store.background import BackgroundCompaction, HostCalls
from engine.store.batch import run_batch
from engine.store.compaction import COLD_AFTER_S, HOT_BYTES, CompactionReport, Compactor
from engine.store.core import open_core
from engine.store.ops import Delete, DeleteNamespace, Get, ListKeys, ListNamespaces, Search
from engine.store.policy_coder import Policies, Policy
from engine.store.postgres import is_dsn
from engine.store.rows import Memory, Put
from engine.store.pack_plan import PACK_TOKENS
from engine.store.packing import Packer
from engine.store.stats import NamespaceStats, namespace_stats
from engine.store.store_keys import DEFAULT_KEY_DEPTH, shred_keys


class MemoryStore:
    """conn: a SQLite path or a postgresql:// DSN. mode/ratio: the default coding policy; policies: per namespace
    prefix (the longest matching prefix wins). embed: texts -> vectors (default all-MiniLM-L6-v2, offline) with
    dims its size; scheme: how stored vectors are quantized (vectors.SCHEMES); index: what a put embeds by
    default (True: the whole value, False: nothing, or a list of paths into JSON values).
    cold_after (seconds without a write or read) and hot_bytes (the hot tier's size) say when a memory is
    compacted; compaction=True runs it in a background thread while the store is open (False: only compact()
    and `semzip store compact` do). pack_tokens: the pack size B, the most tokens a read of a packed memory
    decodes (memories of the default lossless policy with no TTL are packed; others are coded alone).
    key: a key file's path (semzip store keygen) or a KeyFile: a new store is created encrypted, an encrypted one
    needs it; key_depth: how many leading labels of a namespace share one data key (what shred destroys);
    seal_names: a new encrypted store's namespace labels and keys are sealed too (tokens; lookups stay lookups)."""

    def __init__(self, conn: str | Path, *, engine=None, mode: str = "lossless", ratio: float | None = None,
                 policies: dict | None = None, embed=None, dims: int | None = None,
                 scheme: str = vectors.DEFAULT_SCHEME, index=True, open_engine=None,
                 cold_after: float = COLD_AFTER_S, hot_bytes: int = HOT_BYTES, compaction: bool = True,
                 pack_tokens: int = PACK_TOKENS, key=None, key_depth: int = DEFAULT_KEY_DEPTH,
                 seal_names: bool = False):
        by_prefix = {values.check_namespace(ns): p if isinstance(p, Policy) else Policy(*p)
                     for ns, p in (policies or {}).items()}
        self.core = open_core(conn, engine=engine, ratio=ratio, open_engine=open_engine,
                              policies=Policies(Policy(mode, ratio), by_prefix), embed=embed, dims=dims,
                              scheme=scheme, index=index, key=key, key_depth=key_depth, seal_names=seal_names)
        self.where, self.scheme, self.dims = self.core.where, self.core.scheme, self.core.dims
        self.compactor = Compactor(self.core, cold_after, hot_bytes, pack_tokens=pack_tokens)
        self.host = HostCalls()
        self.background = BackgroundCompaction(self.compactor, self.host) if compaction else None

    # -- the one path in
    def batch(self, ops) -> list:
        """A result per operation (engine.store.ops), in order: reads see the store as before the batch, then its
        writes commit in one transaction (the last write of a key wins); a bad op fails it with nothing done."""
        with self.host.call():
            return run_batch(self.core, list(ops))

    async def abatch(self, ops) -> list:
        """batch in a worker thread, so an asyncio host never waits on it."""
        return await asyncio.to_thread(self.batch, list(ops))

    # -- writing
    def put(self, namespace, key: str, value, *, meta: dict | None = None, index=None, ttl: float | None = None):
        """Store one memory (replacing any under the same key)."""
        self.batch([Put(namespace, key, value, meta, index, ttl)])

    def put_many(self, puts: list[Put]) -> None:
        """Store many memories hot (no model), in one transaction (all or none); compaction codes them later."""
        self.batch(puts)

    def delete(self, namespace, key: str) -> bool:
        """Remove a memory from every tier, with its embeddings and its decoded text; False if there was none."""
        return self.batch([Delete(namespace, key)])[0]

    def delete_namespace(self, namespace) -> int:
        """Remove every memory of a namespace and of the namespaces under it, as delete does; how many."""
        return self.batch([DeleteNamespace(namespace)])[0]

    def shred(self, namespace) -> int:
        """Destroy the data key of an encrypted store's namespace (and those under it): at once no copy of their
        memories opens, in this database, its log, a backup or a dump; then delete their rows as
        delete_namespace does. How many memories were deleted."""
        ns = values.check_namespace(namespace)
        seal = self.core.db.seal
        with self.host.call():
            prefixes = shred_keys(seal, ns, self.where)  # the promise, durable before anything else
            seal.forget(prefixes)
            self.core.pack_directory.forget()
            self.core.coder.forget_all()
            count = self.core.db.drop(values.join(ns))
        self.core.tiers.scrub()
        return count

    def export(self, out, namespace=(), *, plain: bool = False) -> int:
        """Every live memory under a namespace prefix as JSON lines into out (a path or a text file); how many. An
        encrypted store's lines are sealed (plain=True: not)."""
        return dump.export_lines(self.core, values.check_namespace(namespace, allow_empty=True), out, plain)

    def import_(self, source) -> dump.ImportReport:
        """Put every valid line of an export (a path or a file) hot, times as they were; bad lines reported."""
        with self.host.call():
            return dump.import_lines(self.core, source)

    def vacuum(self) -> None:
        """Give the space of deleted and compacted memories back to the disk: every pack that holds a deleted memory
        coded again without it (the model runs), then SQLite's file rewritten packed (PostgreSQL: VACUUM FULL).
        Afterwards no deleted memory's text or coded stream is in the database files."""
        with self.host.call():
            Packer(self.core, self.compactor.pack_tokens).rebuild([p for p, *_ in self.core.packs.with_dead("")])
        self.core.tiers.vacuum(full=True)

    def sweep(self) -> int:
        """Delete the memories whose TTL ran out; how many."""
        return self.core.db.sweep(time.time())

    # -- reading
    def get(self, namespace, key: str, *, refresh_ttl: bool = True) -> Memory | None:
        """The memory under namespace and key, or None."""
        return self.batch([Get(namespace, key, refresh_ttl)])[0]

    def get_many(self, pairs, *, refresh_ttl: bool = True) -> list[Memory | None]:
        """The memory (or None) for each (namespace, key), in order; their cold records decode together."""
        return self.batch([Get(ns, key, refresh_ttl) for ns, key in pairs])

    def list(self, namespace, *, limit: int = 100, offset: int = 0) -> list[str]:
        """Keys in exactly this namespace, newest first (nothing is decoded)."""
        return self.batch([ListKeys(namespace, limit, offset)])[0]

    def list_namespaces(self, *, prefix=(), suffix=(), max_depth: int | None = None, limit: int = 100,
                        offset: int = 0, conditions=()) -> list[tuple[str, ...]]:
        """Namespaces holding memories, sorted: prefix and suffix may hold "*" (any one label), conditions are more
        (path, is_suffix) pairs; max_depth truncates the namespaces found (duplicates merged)."""
        conditions = ((tuple(prefix), False), (tuple(suffix), True), *conditions)
        return self.batch([ListNamespaces(conditions, max_depth, limit, offset)])[0]

    def search(self, namespace_prefix=(), query: str | None = None, *, filter: dict | None = None, limit: int = 10,
               offset: int = 0, refresh_ttl: bool = True, decode: bool = True, query_vector=None,
               passages: bool = False) -> list[Memory]:
        """Memories under a prefix that pass filter: by cosine to query (top-k; unembedded ones after), else newest
        first. Only the returned page is decoded (decode=False: not even that; values are None). query_vector:
        the query's embedding, when the caller makes its own. passages: a hit on a long packed memory returns the
        passage that matched (Memory.passage its number), not the whole memory."""
        return self.batch([Search(namespace_prefix, query, filter, limit, offset, refresh_ttl, decode,
                                  query_vector, passages)])[0]

    def embed(self, texts: list[str]):
        """Vectors for texts, by the store's embed function."""
        return self.core.embedder(texts)

    def policy(self, namespace: tuple[str, ...]) -> Policy:
        """The coding policy of a namespace: that of its longest configured prefix, else the store's."""
        return self.core.policies.of(namespace)

    # -- tiers
    def compact(self, namespace=(), *, everything: bool = False, progress=None, pace=None) -> CompactionReport:
        """Code the memories due (everything: every hot one) under a namespace prefix now, in engine batches."""
        prefix = values.check_namespace(namespace, allow_empty=True)
        return self.compactor.run(prefix, everything, pace=pace, progress=progress)

    def backlog(self, namespace=()) -> tuple[int, int]:
        """(memories, hot bytes) due for compaction now under a namespace prefix."""
        self.core.flush_read_times()
        code, _, sizes = self.compactor.due(values.check_namespace(namespace, allow_empty=True))
        return len(code), sum(sizes[i] for i in code)

    def flush_read_times(self) -> int:
        """Write the read times noted since the last flush (compaction orders by them); how many."""
        return self.core.flush_read_times()

    # -- size
    def stats(self) -> list[NamespaceStats]:
        """Memories, bytes in and bytes stored (records, kept copies and embeddings) per namespace, and per tier."""
        return namespace_stats(self.core.db.stats(), self.core.packs.stats())

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
            self.core.flush_read_times()
        finally:
            self.core.close()

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["MemoryStore", "Put", "NamespaceStats", "Memory"]
