"""The fallback ladder: full GPU offload, fewer GPU layers, CPU, smaller models from models.lock, then no model.

Each rung is tried for real (load the model, create the context, decode); a failure is logged with
its reason, counted by the monitor, and the next rung takes over, for the rest of the run.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from engine import models
from engine.codecs.item import Item, clean_text
from engine.codecs.record import Record
from engine.codecs.summary.compressor import CompressConfig
from engine.codecs.summary.extractive import compress_extractive
from engine.codecs.zstd import zstd_record
from engine.core.runner import LlamaError, RunnerConfig, backend_report
from engine.errors import SemzipError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rung:
    name: str
    code: str  # stored in a record's "r" when a fallback rung produced it
    model: str | None
    n_gpu_layers: int = 0


def plan(model: str | None, n_gpu_layers: int, mode: str = "summary") -> list[Rung]:
    """The rungs below (and including) what was asked for; with no model left, extractive summaries, or zstd for
    the coded modes (the text stays exact)."""
    rungs = []
    if n_gpu_layers:
        rungs.append(Rung("gpu", "g", model, n_gpu_layers))
        partial = n_gpu_layers // 2 if n_gpu_layers > 0 else 12
        rungs.append(Rung("gpu-partial", "p", model, partial))
    rungs.append(Rung("cpu", "c", model, 0))
    lock = models.load_lock()
    current = lock.entries.get(model or lock.default_for(mode))
    floor = current.fallback_order if current else 0
    smaller = sorted((e for e in lock.entries.values() if e.fallback_order > floor), key=lambda e: e.fallback_order)
    rungs += [Rung(f"model:{e.name}", f"m{e.fallback_order}", e.name, 0) for e in smaller]
    rungs.append(Rung("extractive", "x", None, 0) if mode == "summary" else Rung("zstd", "z", None, 0))
    return rungs


class ExtractiveEngine:
    """The last rung: records without a model (deterministic sentence and fact selection)."""

    model_sha = "extractive"
    model_path = Path("extractive")

    def __init__(self, compress_config: CompressConfig, runner_config: RunnerConfig):
        # The attributes the batch processor reads from an Engine.
        self.compressor = SimpleNamespace(config=compress_config, last_results=[])
        self.runner = SimpleNamespace(config=runner_config)

    def compress_direct(self, items: list[Item]) -> list[Record]:
        out = []
        for it in items:
            text = clean_text(it.text)
            if len(text.strip()) < self.compressor.config.raw_below_chars:
                out.append(Record(it.id, "raw", text=text, meta=it.meta))
                continue
            summary, facts = compress_extractive(text, self.compressor.config.target_ratio)
            rec = Record(it.id, "extractive", summary=summary, facts=facts, meta=it.meta)
            out.append(rec if rec.stored_bytes < len(text.encode()) else Record(it.id, "raw", text=text, meta=it.meta))
        return out

    compress = compress_direct

    def close(self) -> None:
        pass


class ZstdEngine(ExtractiveEngine):
    """The coded modes' last rung: the exact text, zstd-compressed and flagged."""

    model_sha = "zstd"
    model_path = Path("zstd")

    def compress_direct(self, items: list[Item]) -> list[Record]:
        return [zstd_record(it) for it in items]

    compress = compress_direct


class LadderEngine:
    """An Engine that steps down the ladder when loading or decoding fails."""

    def __init__(self, model: str | None, runner_config: RunnerConfig, compress_config: CompressConfig, on_step=None,
                 mode: str = "summary", ratio: float | None = None):
        self.mode, self.ratio = mode, ratio
        self.rungs = plan(model, runner_config.n_gpu_layers, mode)
        self.runner_config = runner_config
        self.compress_config = compress_config
        self.on_step = on_step or (lambda rung, reason: None)
        self.steps: list[tuple[str, str]] = []
        self.index = -1
        self.engine = None
        self._advance()

    def _advance(self, reason: str | None = None) -> None:
        from engine.api import Engine

        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if reason is not None:
            self._step(self.rungs[self.index], reason)
        while self.index + 1 < len(self.rungs):
            self.index += 1
            rung = self.rungs[self.index]
            try:
                if rung.name in ("extractive", "zstd"):  # no model left
                    last = ExtractiveEngine if rung.name == "extractive" else ZstdEngine
                    self.engine = last(self.compress_config, self.runner_config)
                    return
                if rung.n_gpu_layers and not backend_report().supports_gpu_offload:
                    raise SemzipError("this llama.cpp build has no GPU offload (see `semzip doctor`)")
                cfg = dataclasses.replace(self.runner_config, n_gpu_layers=rung.n_gpu_layers)
                self.engine = Engine(rung.model, cfg, self.compress_config, mode=self.mode, ratio=self.ratio)
                return
            except (SemzipError, LlamaError, ValueError) as exc:
                self._step(rung, str(exc))
        raise SemzipError("every rung of the fallback ladder failed: " + "; ".join(f"{r}: {why}" for r, why in self.steps))

    def _step(self, rung: Rung, reason: str) -> None:
        log.warning("fallback: %s failed (%s); trying the next rung", rung.name, reason)
        self.steps.append((rung.name, reason))
        self.on_step(rung.name, reason)

    @property
    def rung(self) -> Rung:
        return self.rungs[self.index]

    def __getattr__(self, name):  # compressor, runner, model_sha, model_path of the engine in use
        return getattr(self.engine, name)

    def compress_direct(self, items: list[Item]) -> list[Record]:
        while True:
            try:
                records = self.engine.compress_direct(items)
                break
            except LlamaError as exc:  # a decode failure other than a full KV cache, which the scheduler handles
                self._advance(f"decode failed: {exc}")
        if self.index > 0:
            for rec in records:
                rec.rung = self.rung.code
        return records

    compress = compress_direct

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()

    def __enter__(self) -> "LadderEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
