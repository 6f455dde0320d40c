"""The Ray actor: one engine, loaded once for the actor's life, computing whole batches with the shared BatchWorker."""
from __future__ import annotations

from engine.jobs.batch import BatchResult, BatchWorker
from engine.jobs.spec import EngineSpec


class BatchActor:
    """Plain class; the executor wraps it with ray.remote and its resources. Holds no run state: a restart
    (after its process was killed) rebuilds the engine, and Ray retries the batches it held."""

    def __init__(self, spec: EngineSpec, name: str):
        self.worker = BatchWorker(spec.build(), name)  # it reports the ladder's steps with each batch

    def identity(self) -> tuple[str, str]:
        return self.worker.identity()

    def pid(self) -> int:
        import os

        return os.getpid()

    def compute(self, number: int, items: list, group_threshold: float | None) -> BatchResult:
        return self.worker.compute(number, items, group_threshold)
