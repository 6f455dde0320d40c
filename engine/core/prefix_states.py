"""Shared prefixes' KV as bytes: kept in memory for this process and on disk for the next, so that no process
decodes the same prefix twice on the same build, CPU, model file and settings.

Qwen 0.5B's 329-token summary prompt costs 4.3 s to prefill on 2 cores, the lossless priming text 1.1 s
(bench/HISTORY.md); a larger model's more. Every summary batch starts from an empty KV cache with its prefix put
back (runner.reset), and every lossless engine from its priming text put back, so a kept state changes no bits:
it is the state this process would decode, as its key says. A file whose checksum fails is deleted and the prefix
decoded again.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np
from cachetools import LRUCache

MAGIC = b"semzip-kv1\n"
MEMORY_BYTES = 256 * 2**20  # in this process, least recently used out first
DISK_FILES = 16  # on disk, the most recently written kept


class PrefixStates:
    """get/put of a prefix's KV bytes under a key naming everything its numerics depend on."""

    def __init__(self, folder: Path | None, memory_bytes: int = MEMORY_BYTES, disk_files: int = DISK_FILES):
        self.folder = folder
        self.disk_files = disk_files
        self._memory: LRUCache = LRUCache(maxsize=memory_bytes, getsizeof=lambda state: state.nbytes)
        self._lock = threading.Lock()

    @staticmethod
    def digest(key: tuple) -> str:
        return hashlib.sha256(repr(key).encode()).hexdigest()[:32]

    def get(self, key: tuple) -> np.ndarray | None:
        name = self.digest(key)
        with self._lock:
            state = self._memory.get(name)
        if state is None and self.folder is not None:
            state = self._read(self.folder / f"{name}.kv")
            if state is not None:
                with self._lock:
                    self._memory[name] = state
        return state

    def put(self, key: tuple, state: np.ndarray) -> None:
        name = self.digest(key)
        with self._lock:
            self._memory[name] = state
        if self.folder is not None:
            self._write(self.folder / f"{name}.kv", state)

    def forget(self, key: tuple) -> None:
        """A state llama.cpp refused: out of memory and off the disk."""
        name = self.digest(key)
        with self._lock:
            self._memory.pop(name, None)
        if self.folder is not None:
            (self.folder / f"{name}.kv").unlink(missing_ok=True)

    @staticmethod
    def _read(path: Path) -> np.ndarray | None:
        try:
            data = path.read_bytes()
        except OSError:
            return None
        head = len(MAGIC) + 32
        if data[: len(MAGIC)] != MAGIC or hashlib.sha256(data[head:]).digest() != data[len(MAGIC) : head]:
            path.unlink(missing_ok=True)  # damaged or another version's: decoded again and rewritten
            return None
        return np.frombuffer(data, dtype=np.uint8, offset=head).copy()

    def _write(self, path: Path, state: np.ndarray) -> None:
        payload = state.tobytes()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(MAGIC + hashlib.sha256(payload).digest() + payload)
            tmp.replace(path)  # whole or absent: a reader never sees half a file
            kept = sorted(path.parent.glob("*.kv"), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in kept[self.disk_files :]:
                old.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only or full cache only costs the next process its prefill
