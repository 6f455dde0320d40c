"""SemzipStore: LangGraph's BaseStore over a MemoryStore, so an agent's long-term memory is stored as semzip records.

pip install 'semzip[langgraph]'. Semantics are LangGraph's (langgraph.store.base and its InMemoryStore): one
batch() of ops, reads answered before the batch's writes, the last write of a key winning; namespace label
rules; list_namespaces' wildcards and depth; the filter operators; TTL in minutes, refreshed on read; index per
put with the store's IndexConfig (the caller's own embeddings). Values come back equal to what was put.
"""
from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone
from typing import Any, Iterable

from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    PutOp,
    SearchItem,
    SearchOp,
    TTLConfig,
    ensure_embeddings,
    get_text_at_path,
    tokenize_path,
    validate_op_namespace,
)

from engine.store import Delete, Get, InvalidMemoryError, ListNamespaces, Memory, MemoryStore, Put, Search


class SemzipStore(BaseStore):
    """conn: a SQLite path or a postgresql:// DSN. index: LangGraph's IndexConfig (dims, embed, fields); without
    one there is no semantic search (queries are ignored, as in LangGraph's stores); without its embed, the
    bundled all-MiniLM-L6-v2 embeds (dims 384, offline). ttl: its TTLConfig (minutes). store_options go to
    MemoryStore (engine=, mode=, scheme=, cold_after=, hot_bytes=, compaction=, ...): puts are written hot and
    compacted in a background thread while the store is open, unless compaction=False."""

    supports_ttl = True

    def __init__(self, conn, *, index: IndexConfig | None = None, ttl: TTLConfig | None = None, **store_options):
        self.index_config = dict(index) if index else None
        self.ttl_config = ttl
        self.semantic = self.index_config is not None
        embed = (self.index_config or {}).get("embed")
        self.embeddings = ensure_embeddings(embed) if embed is not None else None
        fields = (self.index_config or {}).get("fields") or ["$"]
        self._fields = [(p, p if p == "$" else tokenize_path(p)) for p in fields]
        embed = (lambda texts: self.embeddings.embed_documents(texts)) if self.embeddings else None
        dims = self.index_config.get("dims") if self.index_config else None
        self.store = MemoryStore(conn, embed=embed, dims=dims, index=False, **store_options)
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()

    def batch(self, ops: Iterable[Any]) -> list[Any]:
        """Each LangGraph op as the store's own, answered in one MemoryStore.batch (reads on the state before the
        batch, then its writes in one transaction, the last write of a key winning)."""
        ops = list(ops)
        for op in ops:
            validate_op_namespace(op)
            # LangGraph's public put() refuses a namespace rooted at "langgraph"; batch() takes it, as LangGraph's own
            # stores do (it keeps its records there through batch).
            if isinstance(op, PutOp) and not op.namespace:
                raise InvalidNamespaceError(f"Namespace cannot be empty. Got: {op.namespace}")
        found = self.store.batch([self._op(op) for op in ops])
        return [_result(op, r) for op, r in zip(ops, found)]

    async def abatch(self, ops: Iterable[Any]) -> list[Any]:
        return await asyncio.to_thread(self.batch, list(ops))

    def _op(self, op):
        """The store's op for a LangGraph one."""
        if isinstance(op, GetOp):
            return Get(op.namespace, op.key, bool(op.refresh_ttl))
        if isinstance(op, SearchOp):
            query = op.query if self.semantic else None
            vector = self.embeddings.embed_query(query) if query and self.embeddings else None
            return Search(op.namespace_prefix, query, op.filter, op.limit, op.offset, bool(op.refresh_ttl),
                          query_vector=vector)
        if isinstance(op, ListNamespacesOp):
            return ListNamespaces(tuple((c.path, c.match_type == "suffix") for c in op.match_conditions or ()),
                                  op.max_depth, op.limit, op.offset)
        if isinstance(op, PutOp):
            if op.value is None:
                return Delete(op.namespace, op.key)
            return Put(op.namespace, op.key, _plain(op), index=self._index_texts(op),
                       ttl=op.ttl * 60 if op.ttl is not None else None)
        raise ValueError(f"Unknown operation type: {type(op)}")

    def _index_texts(self, op: PutOp) -> dict[str, str]:
        """field label -> text to embed, by LangGraph's path rules (each element of a [*] path on its own)."""
        if not self.semantic or op.index is False:
            return {}
        paths = self._fields if op.index is None else [(p, p if p == "$" else tokenize_path(p)) for p in op.index]
        out = {}
        for path, tokens in paths:
            texts = get_text_at_path(op.value, tokens)
            if len(texts) == 1:
                out[path] = texts[0]
            else:
                out.update({f"{path}.{i}": t for i, t in enumerate(texts)})
        return out

    # TTL sweeping, as LangGraph's stores offer it
    def sweep_ttl(self) -> int:
        """Delete expired items now; how many."""
        return self.store.sweep()

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> threading.Thread:
        """Sweep every interval (default: the TTLConfig's sweep_interval_minutes, else 5) in a daemon thread."""
        minutes = sweep_interval_minutes or (self.ttl_config or {}).get("sweep_interval_minutes") or 5
        if self._sweeper is None or not self._sweeper.is_alive():
            self._stop.clear()

            def loop():
                while not self._stop.wait(minutes * 60):
                    self.sweep_ttl()

            self._sweeper = threading.Thread(target=loop, name="semzip-ttl-sweeper", daemon=True)
            self._sweeper.start()
        return self._sweeper

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout)
            return not self._sweeper.is_alive()
        return True

    def close(self) -> None:
        self.stop_ttl_sweeper(1)
        self.store.close()

    def __enter__(self) -> "SemzipStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _plain(op: PutOp) -> dict:
    if not isinstance(op.value, dict):
        try:
            return dict(op.value)
        except (TypeError, ValueError):
            raise InvalidMemoryError(f"value of {op.key!r}: a mapping, got {type(op.value).__name__}") from None
    return op.value


def _result(op, found):
    """The LangGraph result for the store's result of op."""
    if isinstance(op, GetOp):
        return None if found is None else Item(**_item_fields(found))
    if isinstance(op, SearchOp):
        return [SearchItem(**_item_fields(m), score=m.score) for m in found]
    if isinstance(op, ListNamespacesOp):
        return found
    return None  # a put or a delete


def _item_fields(mem: Memory) -> dict:
    return {"namespace": mem.namespace, "key": mem.key, "value": mem.value,
            "created_at": datetime.fromtimestamp(mem.created_at, timezone.utc),
            "updated_at": datetime.fromtimestamp(mem.updated_at, timezone.utc)}
