"""The memory store: put, get, search and delete an agent's memories, each stored as a semzip record."""
from engine.store.errors import (
                                  CorruptMemoryError,
                                  InvalidMemoryError,
                                  MissingMemoryError,
                                  StoreError,
                                  StoreVersionError,
)
from engine.store.memory import MemoryStore, NamespaceStats
from engine.store.ops import Delete, DeleteNamespace, Get, ListKeys, ListNamespaces, Search
from engine.store.policy_coder import Policy
from engine.store.rows import Memory, Put

__all__ = ["MemoryStore", "Put", "Get", "Delete", "DeleteNamespace", "Search", "ListKeys", "ListNamespaces", "Memory",
           "NamespaceStats", "Policy", "StoreError", "StoreVersionError", "CorruptMemoryError", "InvalidMemoryError",
           "MissingMemoryError"]
