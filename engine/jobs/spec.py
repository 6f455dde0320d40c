"""What builds an engine, as one picklable value: the CLI builds its engine from it, and so does each Ray actor."""
from __future__ import annotations

from dataclasses import dataclass

from engine.codecs.summary.compressor import CompressConfig
from engine.core.runner import RunnerConfig


@dataclass(frozen=True, slots=True)
class EngineSpec:
    model: str | None = None  # models.lock name or GGUF path; None: the lock's default
    runner: RunnerConfig = RunnerConfig()
    compress: CompressConfig = CompressConfig()
    fallback: bool = True  # step down the fallback ladder instead of failing
    mode: str = "summary"  # or "lossless" (engine/api.py)
    ratio: float | None = None

    def build(self, on_step=None):
        """A loaded engine: a LadderEngine (on_step(rung, reason) hears each step down), or a plain Engine."""
        if not self.fallback:
            from engine.api import Engine

            return Engine(self.model, self.runner, self.compress, mode=self.mode, ratio=self.ratio)
        from engine.jobs.ladder import LadderEngine

        return LadderEngine(self.model, self.runner, self.compress, on_step=on_step, mode=self.mode, ratio=self.ratio)
