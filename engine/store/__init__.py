"""The memory store: put, get, search and delete an agent's memories, each stored as a semzip record."""
from engine.store.coding import Policy
from engine.store.errors import (CorruptMemoryError, InvalidMemoryError, MissingMemoryError, StoreError,
                                  StoreVersionError)
from engine.store.memory import MemoryStore, NamespaceStats, Put
from engine.store.rows import Memory

__all__ = ["MemoryStore", "Put", "Memory", "NamespaceStats", "Policy", "StoreError", "StoreVersionError",
           "CorruptMemoryError", "InvalidMemoryError", "MissingMemoryError"]
