"""The Python API for host processes: open an Engine once (model loaded once), then compress and reconstruct."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable

from engine import models
from engine.batcher import SubmissionBatcher
from engine.codecs.events import OnItemDone, ignore
from engine.codecs.item import Item
from engine.codecs.record import Record, render
from engine.codecs.summary.compressor import CompressConfig, Compressor
from engine.codecs.summary.expand import expand
from engine.core.runner import ModelRunner, RunnerConfig


class Engine:
    """One model, shared by every caller; safe to call from several threads (calls take turns on the model)."""

    def __init__(
        self,
        model: str | None = None,
        runner_config: RunnerConfig = RunnerConfig(),
        compress_config: CompressConfig = CompressConfig(),
    ):
        self.model_path, self.model_entry = models.resolve(model)
        # Cache keys need the weights' identity; an unpinned file is identified by path, size and mtime.
        st = self.model_path.stat()
        self.model_sha = self.model_entry.sha256 if self.model_entry else f"{self.model_path}:{st.st_size}:{st.st_mtime_ns}"
        self.runner = ModelRunner(self.model_path, runner_config)
        self.compressor = Compressor(self.runner, compress_config)
        self._lock = threading.Lock()  # the model runs one call at a time; the batcher merges callers
        self._batcher = SubmissionBatcher(self._compress_locked)

    def _compress_locked(self, items: list[Item]) -> list[Record]:
        with self._lock:
            return self.compressor.compress(items)

    def compress(self, texts: Iterable[str | Item]) -> list[Record]:
        """One record per text, in order. Plain strings get ids "0", "1", ...

        Calls from several threads at once are merged into shared batches by one worker.
        """
        items = [t if isinstance(t, Item) else Item(id=str(i), text=t) for i, t in enumerate(texts)]
        if not items:
            return []
        return self._batcher.submit(items).result()

    def compress_direct(self, items: list[Item], on_done: OnItemDone = ignore) -> list[Record]:
        """compress() without the cross-caller batcher: exactly this list is one batch (the batch processor's
        fixed batches rely on it for deterministic output). on_done(ItemDone) fires per item as it is final."""
        with self._lock:
            return self.compressor.compress(items, on_done)

    def reconstruct(self, records: Iterable[Record], mode: str = "render") -> list[str]:
        """render: deterministic text from the record alone; expand: a narrative written by the model."""
        records = list(records)
        if mode == "render":
            return [render(r) for r in records]
        if mode != "expand":
            raise ValueError(f"mode must be 'render' or 'expand', got {mode!r}")
        with self._lock:
            return expand(self.compressor.generator, records)

    async def acompress(self, texts: Iterable[str | Item]) -> list[Record]:
        return await asyncio.to_thread(self.compress, list(texts))

    async def areconstruct(self, records: Iterable[Record], mode: str = "render") -> list[str]:
        return await asyncio.to_thread(self.reconstruct, list(records), mode)

    def close(self) -> None:
        self._batcher.close()
        with self._lock:
            self.runner.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
