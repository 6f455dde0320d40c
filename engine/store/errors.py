"""The memory store's typed errors: each names the store, and the namespace and key where one is involved."""
from __future__ import annotations

from engine.errors import InputError, SemzipError


class StoreError(SemzipError):
    """The store cannot be opened or written (disk full, locked past the timeout, unreachable server)."""

    exit_code = 2


class StoreVersionError(StoreError):
    """The store was written by a newer format version than this semzip reads."""


class StoreKeyError(StoreError):
    """An encrypted store's key is missing or wrong, a plain store was given one, or the key file is unusable."""


class CorruptMemoryError(SemzipError):
    """One stored memory cannot be read back exactly; every other memory still reads."""

    def __init__(self, store: str, namespace: tuple[str, ...], key: str, why: str):
        super().__init__(f"{store}: memory {key!r} in namespace {'/'.join(namespace)!r} is corrupt ({why})")
        self.namespace, self.key = namespace, key


class InvalidMemoryError(InputError, ValueError):
    """A namespace, key or value the store refuses (nothing is written)."""


class MissingMemoryError(SemzipError):
    """No memory under that namespace and key."""

    def __init__(self, store: str, namespace: tuple[str, ...], key: str):
        super().__init__(f"{store}: no memory {key!r} in namespace {'/'.join(namespace)!r}")
