"""Batches computed on Ray actors: one per GPU on GPU nodes, else one per few CPUs, each loading its engine once.

The driver (this process) keeps everything that makes a run exactly-once: it plans each fixed batch,
commits finished batches to the run store's journal and writes the output from it, exactly as a
single-process run does (engine.jobs.pipeline). Actors only compute. A killed actor process is
restarted by Ray, which retries the batches that actor held (max_task_retries=-1, the policy of Ray
Data's actor pools); a killed driver takes its actors with it, and --resume recomputes only the
batches missing from the journal.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import sys
from dataclasses import dataclass

from engine.cluster.actor import BatchActor
from engine.errors import SemzipError
from engine.jobs.batch import BatchResult
from engine.jobs.spec import EngineSpec

log = logging.getLogger(__name__)
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # batches are kilobytes; Ray's default takes 30% of memory


class ClusterError(SemzipError):
    """Ray is missing, unreachable, or an actor died more often than allowed."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    address: str | None = None  # a running cluster ("auto", "host:port", "ray://..."); None: start a local instance
    actors: int = 0  # 0: one per GPU when the engine offloads layers and GPUs exist, else one per cpus_per_actor
    cpus_per_actor: int = 0  # 0: the llama.cpp threads (1 for a GPU actor)
    max_restarts: int = 3  # per actor; past that the run stops, the journal intact for --resume
    batches_per_actor: int = 2  # in flight: one decoding, one queued, so an actor never waits for the driver

    def __post_init__(self):
        if self.actors < 0 or self.cpus_per_actor < 0 or self.max_restarts < 0 or self.batches_per_actor < 1:
            raise ValueError(f"need actors, cpus per actor and max restarts >= 0 and batches per actor >= 1, got "
                             f"{self.actors}, {self.cpus_per_actor}, {self.max_restarts}, {self.batches_per_actor}")


def actor_threads(spec: EngineSpec, options: ClusterOptions) -> int:
    """llama.cpp threads for every actor, fixed here: CPU greedy text depends on the thread count (see
    settings_fingerprint), so all actors use one count, the one a single process here would use by default."""
    import psutil

    return spec.runner.n_threads or options.cpus_per_actor or psutil.cpu_count(logical=False) or os.cpu_count() or 1


def import_ray(local: bool = False):
    """ray, imported; local: a local instance will be started, on the loopback address only."""
    if local and "ray" not in sys.modules:
        # Ray binds a node's outward address even for a one-machine instance; this (read at import) keeps it on
        # 127.0.0.1. Ray documents it for single-machine use on Windows and macOS; on Linux it works the same.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise ClusterError("--ray needs Ray: pip install 'semzip[ray]'") from None
    return ray


class RayExecutor:
    """The executor interface of engine.jobs.pipeline (identity, submit, wait, num_in_flight, capacity) over actors."""

    def __init__(self, spec: EngineSpec = EngineSpec(), options: ClusterOptions = ClusterOptions()):
        self.ray = ray = import_ray(local=options.address is None)
        self.options = options
        self.started_ray = not ray.is_initialized()
        threads = actor_threads(spec, options)
        if self.started_ray:
            self._init(ray, options, options.cpus_per_actor or threads)
        try:
            self.actors, self.resources = self._start_actors(spec, threads)
            identities = ray.get([a.identity.remote() for a in self.actors])  # every engine loaded, or the error
        except ray.exceptions.RayError as exc:
            self.close()
            raise ClusterError(f"the Ray actors could not load the engine: {_cause(exc)}") from None
        if len(set(identities)) > 1:
            self.close()
            raise ClusterError(f"actors loaded different models or settings ({sorted(set(identities))}): "
                               "their records would differ; give every node the same model (semzip models fetch)")
        self._identity = identities[0]
        self._rungs = spec.rungs()
        self.capacity = len(self.actors) * options.batches_per_actor
        self._refs: dict = {}  # ObjectRef -> actor index
        self._load = [0] * len(self.actors)

    @staticmethod
    def _init(ray, options: ClusterOptions, cpus_per_actor: int) -> None:
        try:
            if options.address:
                ray.init(address=options.address, logging_level=logging.WARNING, log_to_driver=False)
            else:
                # One CPU more than the actors use: the driver, and a Ray Dataset's read tasks, must not starve.
                actors = options.actors or max(1, (os.cpu_count() or 1) // cpus_per_actor)
                ray.init(num_cpus=actors * cpus_per_actor + 1, include_dashboard=False, logging_level=logging.WARNING,
                         log_to_driver=False, object_store_memory=LOCAL_OBJECT_STORE_BYTES)
        except Exception as exc:  # ConnectionError, RuntimeError, ValueError: all mean no cluster
            raise ClusterError(f"cannot start or reach Ray{' at ' + options.address if options.address else ''}: "
                               f"{exc}") from None

    def _start_actors(self, spec: EngineSpec, threads: int):
        ray, o = self.ray, self.options
        total = ray.cluster_resources()
        use_gpu = spec.runner.n_gpu_layers != 0 and total.get("GPU", 0) >= 1
        cpus = o.cpus_per_actor or (1 if use_gpu else threads)
        if use_gpu:
            count = o.actors or int(total["GPU"])
        else:
            count = o.actors or max(1, int(total.get("CPU", 1) - 1) // cpus)
        spec = dataclasses.replace(spec, runner=dataclasses.replace(spec.runner, n_threads=threads))
        resources = {"num_cpus": cpus, "num_gpus": 1 if use_gpu else 0}
        remote = ray.remote(BatchActor).options(max_restarts=o.max_restarts, max_task_retries=-1, **resources)
        log.info("starting %d %s actors, %d threads each", count, "GPU" if use_gpu else "CPU", threads)
        return [remote.remote(spec, f"actor{i}") for i in range(count)], resources

    def identity(self) -> tuple[str, str]:
        return self._identity

    @property
    def num_in_flight(self) -> int:
        return len(self._refs)

    def rungs(self) -> list[tuple[str, str]]:
        """(name, record code) of each rung the actors' engines can step down to."""
        return self._rungs

    def submit(self, number: int, items: list, group_threshold: float | None, on_done=None) -> None:
        """on_done is not called: an actor's per-item events come back with its batch (ItemDone in the result)."""
        i = min(range(len(self.actors)), key=self._load.__getitem__)  # the least loaded actor
        self._refs[self.actors[i].compute.remote(number, items, group_threshold)] = i
        self._load[i] += 1

    def wait(self) -> list[BatchResult]:
        """Every batch result ready now (at least one)."""
        ray = self.ray
        ray.wait(list(self._refs), num_returns=1)
        ready, _ = ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
        out = []
        for ref in ready:
            i = self._refs.pop(ref)
            self._load[i] -= 1
            try:
                out.append(ray.get(ref))
            except ray.exceptions.RayActorError as exc:
                raise ClusterError(f"actor{i} died more than {self.options.max_restarts} times ({_cause(exc)}); "
                                   "finished batches are in the journal: rerun with --resume") from None
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, SemzipError):
                    raise cause from None
                raise
        return out

    def actor_pids(self) -> list[int]:
        """The actors' current process ids (a test kills one)."""
        return self.ray.get([a.pid.remote() for a in self.actors])

    def close(self) -> None:
        for actor in getattr(self, "actors", []):
            self.ray.kill(actor)
        if self.started_ray:
            self.ray.shutdown()

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cause(exc) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
