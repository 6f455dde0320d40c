"""The fallback ladder: full GPU offload, fewer GPU layers, CPU, smaller models from models.lock, then no model.

Only a shortage of resources at run time moves the ladder down: no GPU offload in this build, out
of memory, a context llama.cpp refuses, a decode error. A model the user names (or the default)
that is missing, not GGUF, fails its checksum or cannot be loaded is a setup error (exit 2) raised
before any rung runs; a smaller model that is not ready is left out of the plan with a warning.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from engine import models
from engine.codecs.events import ItemDone, ItemWork, OnItemDone, ignore
from engine.codecs.item import Item, clean_text
from engine.codecs.record import Record
from engine.codecs.summary.compressor import CompressConfig
from engine.codecs.summary.extractive import compress_extractive
from engine.codecs.zstd import zstd_record
from engine.core.runner import ContextError, LlamaError, RunnerConfig, backend_report
from engine.errors import ModelFileError, SemzipError

log = logging.getLogger(__name__)

# Why a rung gave up: a closed set, so metrics can label by it.
CAUSES = ("no_gpu_offload", "model_load", "context_refused", "out_of_memory", "decode_error")


@dataclass(frozen=True, slots=True)
class Rung:
    name: str
    code: str  # stored in a record's "r" when a fallback rung produced it
    model: str | None
    n_gpu_layers: int = 0


class ResourceFailure(Exception):
    """A rung cannot run for want of a resource; the ladder steps down."""

    def __init__(self, cause: str, detail: str):
        assert cause in CAUSES, cause
        super().__init__(f"{cause}: {detail}")
        self.cause = cause
        self.detail = detail


def unloadable(model: str | None, exc: Exception) -> ModelFileError:
    """The setup error for a model file that passed its checks but that llama.cpp cannot load or use."""
    fix = ("`semzip models fetch --force`" if model is None
           else "pass a lock name (`semzip models list`) or a good GGUF file")
    return ModelFileError(f"{exc}: the file is damaged or llama.cpp does not support its architecture; fix: {fix}")


def plan(model: str | None, n_gpu_layers: int, mode: str = models.DEFAULT_MODE) -> list[Rung]:
    """The rungs below (and including) what was asked for; smaller models that are not ready are left out. With no
    model left: extractive summaries, or zstd for the coded modes (the text stays exact)."""
    rungs = []
    if n_gpu_layers:
        rungs.append(Rung("gpu", "g", model, n_gpu_layers))
        partial = n_gpu_layers // 2 if n_gpu_layers > 0 else 12
        rungs.append(Rung("gpu-partial", "p", model, partial))
    rungs.append(Rung("cpu", "c", model, 0))
    lock = models.load_lock()
    current = lock.entries.get(model or lock.default_for(mode))
    floor = current.fallback_order if current else 0
    for e in sorted((e for e in lock.entries.values() if e.fallback_order > floor), key=lambda e: e.fallback_order):
        try:
            models.verify(e)
        except SemzipError as exc:  # not fetched, or a bad copy: the ladder must never step onto it mid-run
            log.warning("fallback rung model:%s left out: %s", e.name, exc)
            continue
        rungs.append(Rung(f"model:{e.name}", f"m{e.fallback_order}", e.name, 0))
    rungs.append(Rung("extractive", "x", None, 0) if mode == "summary" else Rung("zstd", "z", None, 0))
    return rungs


class ExtractiveEngine:
    """The last rung: records without a model (deterministic sentence and fact selection)."""

    model_sha = "extractive"
    model_path = Path("extractive")

    def __init__(self, compress_config: CompressConfig, runner_config: RunnerConfig):
        # The attributes the batch processor reads from an Engine.
        self.compressor = SimpleNamespace(config=compress_config)
        self.runner = SimpleNamespace(config=runner_config)

    def compress_direct(self, items: list[Item], on_done: OnItemDone = ignore) -> list[Record]:
        out = []
        for i, it in enumerate(items):
            text = clean_text(it.text)
            rec = Record(it.id, "raw", text=text, meta=it.meta)
            if len(text.strip()) >= self.compressor.config.raw_below_chars:
                summary, facts = compress_extractive(text, self.compressor.config.target_ratio)
                smaller = Record(it.id, "extractive", summary=summary, facts=facts, meta=it.meta)
                rec = smaller if smaller.stored_bytes < len(text.encode()) else rec
            out.append(rec)
            on_done(ItemWork().event(i, rec))
        return out

    compress = compress_direct

    def close(self) -> None:
        pass


class ZstdEngine(ExtractiveEngine):
    """The coded modes' last rung: the exact text, zstd-compressed and flagged."""

    model_sha = "zstd"
    model_path = Path("zstd")

    def compress_direct(self, items: list[Item], on_done: OnItemDone = ignore) -> list[Record]:
        out = []
        for i, it in enumerate(items):
            out.append(zstd_record(it))
            on_done(ItemWork().event(i, out[-1]))
        return out

    compress = compress_direct


class LadderEngine:
    """An Engine that steps down the ladder when a rung runs out of resources."""

    def __init__(self, model: str | None, runner_config: RunnerConfig, compress_config: CompressConfig, on_step=None,
                 mode: str = models.DEFAULT_MODE, ratio: float | None = None):
        models.resolve(model, mode=mode)  # the named model's setup errors first: missing, not GGUF, bad checksum
        self.model, self.mode, self.ratio = model, mode, ratio
        self.rungs = plan(model, runner_config.n_gpu_layers, mode)
        self.runner_config = runner_config
        self.compress_config = compress_config
        self.on_step = on_step or (lambda rung, cause, detail: None)
        self.steps: list[tuple[str, str, str]] = []  # (rung, cause, detail)
        self.index = -1
        self.engine = None
        self._advance()

    def _advance(self, failure: ResourceFailure | None = None) -> None:
        from engine.api import Engine

        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if failure is not None:
            self._step(self.rungs[self.index], failure)
        while self.index + 1 < len(self.rungs):
            self.index += 1
            rung = self.rungs[self.index]
            try:
                if rung.name in ("extractive", "zstd"):  # no model left
                    last = ExtractiveEngine if rung.name == "extractive" else ZstdEngine
                    self.engine = last(self.compress_config, self.runner_config)
                    return
                if rung.n_gpu_layers and not backend_report().supports_gpu_offload:
                    raise ResourceFailure("no_gpu_offload",
                                          "this llama.cpp build has no GPU offload (see `semzip doctor`)")
                cfg = dataclasses.replace(self.runner_config, n_gpu_layers=rung.n_gpu_layers)
                self.engine = Engine(rung.model, cfg, self.compress_config, mode=self.mode, ratio=self.ratio)
                return
            except ResourceFailure as exc:
                self._step(rung, exc)
            except ContextError as exc:
                self._step(rung, ResourceFailure("context_refused", str(exc)))
            except MemoryError as exc:
                self._step(rung, ResourceFailure("out_of_memory", str(exc) or "MemoryError"))
            except LlamaError as exc:  # could not load the model, or loaded one it cannot use
                if not rung.n_gpu_layers and rung.model == self.model:
                    # On the CPU, memory-mapped, a load failure is the file itself: a setup error, not a shortage.
                    raise unloadable(self.model, exc) from None
                self._step(rung, ResourceFailure("model_load", str(exc)))
        raise SemzipError("every rung of the fallback ladder failed: "
                          + "; ".join(f"{r}: {cause} ({why})" for r, cause, why in self.steps))

    def _step(self, rung: Rung, failure: ResourceFailure) -> None:
        log.warning("fallback: %s failed (%s: %s); trying the next rung", rung.name, failure.cause, failure.detail)
        self.steps.append((rung.name, failure.cause, failure.detail))
        self.on_step(rung.name, failure.cause, failure.detail)

    @property
    def rung(self) -> Rung:
        return self.rungs[self.index]

    def rung_name(self, code: str | None) -> str:
        """The rung a record came from: its "r" code, or none for the first rung of the plan."""
        if code is None:
            return self.rungs[0].name
        return next((r.name for r in self.rungs if r.code == code), code)

    def __getattr__(self, name):  # compressor, runner, model_sha, model_path of the engine in use
        return getattr(self.engine, name)

    def compress_direct(self, items: list[Item], on_done: OnItemDone = ignore) -> list[Record]:
        """Records from the current rung; a decode failure steps down and runs the batch again.

        on_done fires once per item: after a step down, only for the items the failed rung had not finished.
        """
        fired: set[int] = set()

        def relay(event: ItemDone) -> None:
            if event.index not in fired:
                fired.add(event.index)
                event.record.rung = self.rung.code if self.index > 0 else None
                on_done(event)

        while True:
            try:
                records = self.engine.compress_direct(items, relay)
                break
            except MemoryError as exc:
                self._advance(ResourceFailure("out_of_memory", str(exc) or "MemoryError"))
            except LlamaError as exc:  # a decode failure other than a full KV cache, which the scheduler handles
                self._advance(ResourceFailure("decode_error", str(exc)))
        for rec in records:
            rec.rung = self.rung.code if self.index > 0 else None
        return records

    compress = compress_direct

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()

    def __enter__(self) -> "LadderEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
