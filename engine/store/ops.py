"""The operations of one MemoryStore.batch, as LangGraph's store has them: small named values, one result each.

Reads (Get, Search, ListKeys, ListNamespaces) see the store as it was before the batch; the writes (Put,
Delete, DeleteNamespace) then commit together in one transaction, in order, the last write of a key winning.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.store.rows import Put


@dataclass(frozen=True, slots=True)
class Get:
    """Result: the Memory, or None. refresh_ttl moves a memory with a TTL to expire its TTL from now."""

    namespace: tuple[str, ...]
    key: str
    refresh_ttl: bool = True


@dataclass(frozen=True, slots=True)
class Delete:
    """Result: True if there was a memory under the key (from every tier, with its embeddings)."""

    namespace: tuple[str, ...]
    key: str


@dataclass(frozen=True, slots=True)
class DeleteNamespace:
    """Result: how many memories the namespace and the namespaces under it held."""

    namespace: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Search:
    """Result: Memories under a prefix that pass filter, by cosine to query (unembedded ones after), else newest
    first; only the returned page is decoded (decode=False: values None). query_vector: the caller's own
    embedding of the query. passages: a long packed memory's hit is its best window's passage (Memory.passage
    says which), so a search decodes at most one stream of B tokens a hit."""

    namespace_prefix: tuple[str, ...] = ()
    query: str | None = None
    filter: dict | None = None
    limit: int = 10
    offset: int = 0
    refresh_ttl: bool = True
    decode: bool = True
    query_vector: object = None
    passages: bool = False  # a hit on a packed memory of several passages returns the passage that matched


@dataclass(frozen=True, slots=True)
class ListKeys:
    """Result: the keys in exactly this namespace, newest first (nothing decoded)."""

    namespace: tuple[str, ...]
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class ListNamespaces:
    """Result: namespaces holding memories, sorted. conditions: (path, is_suffix) pairs, "*" any one label;
    max_depth truncates the namespaces found (duplicates merged)."""

    conditions: tuple[tuple[tuple[str, ...], bool], ...] = ()
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0


Op = Get | Put | Delete | DeleteNamespace | Search | ListKeys | ListNamespaces
WRITES = (Put, Delete, DeleteNamespace)

__all__ = ["Get", "Put", "Delete", "DeleteNamespace", "Search", "ListKeys", "ListNamespaces", "Op", "WRITES"]
