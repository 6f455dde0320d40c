"""The store's embed function: the caller's, or the bundled all-MiniLM-L6-v2 loaded on first use (a process that
only reads by key never loads it)."""
from __future__ import annotations

import threading

import numpy as np

from engine.store.errors import StoreError


class StoreEmbedder:
    def __init__(self, embed, where: str):
        self._embed, self._model, self.where = embed, None, where
        self.dims: int | None = None  # set once the store's settings are read
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        """One float32 row per text; StoreError when the embed function's shape is not the store's."""
        with self._lock:  # two threads' first searches must not load the model twice
            if self._embed is None and self._model is None:
                from engine.codecs.quality import Embedder

                self._model = Embedder()
        vecs = np.asarray(self._embed(texts) if self._embed else self._model.embed(texts), dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape != (len(texts), self.dims):
            raise StoreError(f"{self.where}: the embed function gave shape {vecs.shape}, the store holds "
                             f"{self.dims}-dimension vectors")
        return vecs
