"""What builds an engine, as one picklable value: the CLI builds its engine from it, and so does each Ray actor."""
from __future__ import annotations

from dataclasses import dataclass

from engine.codecs.summary.compressor import CompressConfig
from engine.core.runner import RunnerConfig
from engine.models import DEFAULT_MODE


@dataclass(frozen=True, slots=True)
class EngineSpec:
    model: str | None = None  # models.lock name or GGUF path; None: the lock's default
    runner: RunnerConfig = RunnerConfig()
    compress: CompressConfig = CompressConfig()
    fallback: bool = True  # step down the fallback ladder instead of failing
    mode: str = DEFAULT_MODE  # lossless or summary (engine/api.py)
    ratio: float | None = None

    def build(self, on_step=None):
        """A loaded engine: a LadderEngine (on_step(rung, cause, detail) hears each step down), or a plain Engine."""
        if not self.fallback:
            from engine.api import Engine

            return Engine(self.model, self.runner, self.compress, mode=self.mode, ratio=self.ratio)
        from engine.jobs.ladder import LadderEngine

        return LadderEngine(self.model, self.runner, self.compress, on_step=on_step, mode=self.mode, ratio=self.ratio)

    def rungs(self) -> list[tuple[str, str]]:
        """(name, record code) of each rung the engine it builds can step down to, without loading anything."""
        if not self.fallback:
            return [("gpu" if self.runner.n_gpu_layers else "cpu", "")]
        from engine.jobs.ladder import plan

        return [(r.name, r.code) for r in plan(self.model, self.runner.n_gpu_layers, self.mode)]
