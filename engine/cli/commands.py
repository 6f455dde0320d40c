"""What `semzip compress` does once parsed: settings into configs, the engine (or Ray actors), the batch processor."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from engine.cli.config import Effective
from engine.errors import UsageError

MAX_EXIT_FAILURES = 100  # exit codes are 8 bits: the count of failed lines is capped here


def configs(settings: Effective):
    """(RunnerConfig, CompressConfig) from the effective settings; a combination they refuse is a UsageError."""
    from engine.codecs.summary.compressor import CompressConfig
    from engine.core.runner import RunnerConfig

    budget = settings["performance.token_budget"]
    try:
        return (
            RunnerConfig(num_slots=settings["performance.slots"], n_gpu_layers=settings["model.gpu_layers"],
                         n_batch=budget, n_ubatch=max(1, min(RunnerConfig().n_ubatch, budget)),
                         n_ctx=settings["performance.ctx_size"], warm_up=settings["performance.warm_up"],
                         n_threads=settings["performance.threads"]),
            CompressConfig(score=settings["compression.score"], quality_threshold=settings["compression.threshold"]),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def engine_for(settings: Effective, mode: str | None = None, model: str | None = None):
    """The Engine the settings describe, without the ladder: a model that does not load is a setup error (exit 2)."""
    from engine.api import Engine
    from engine.core.runner import ContextError, LlamaError
    from engine.jobs.ladder import unloadable

    runner_config, compress_config = configs(settings)
    model = model or settings["model.name"]
    try:
        return Engine(model=model, runner_config=runner_config, compress_config=compress_config,
                      mode=mode or settings["compression.mode"],
                      ratio=settings["compression.ratio"])
    except ContextError as exc:
        raise UsageError(f"{exc}; fix: fewer --slots or a smaller --ctx-size, or leave the fallback ladder on") \
            from None
    except LlamaError as exc:
        raise unloadable(model, exc) from None


def cluster_options(args):
    """--ray [ADDRESS] and its sizes, or None for a single-process run."""
    if args.ray is None:
        return None
    from engine.cluster.executor import ClusterOptions

    return ClusterOptions(address=None if args.ray == "local" else args.ray, actors=args.actors,
                          cpus_per_actor=args.cpus_per_actor)


def run_compress(args, settings: Effective) -> int:
    """`semzip compress`: settings checked, model loaded (or a setup error, exit 2), then the batch processor."""
    from engine.jobs.ladder import CAUSES
    from engine.jobs.pipeline import BatchProcessor, RunOptions, container_for, drop_store_files, store_path_for
    from engine.jobs.spec import EngineSpec
    from engine.jobs.store import RunStore
    from engine.observe.monitor import Monitor

    try:
        options = RunOptions(batch=settings["performance.batch_size"], resume=args.resume, store_path=args.store,
                             drop_store=args.drop_store, group_threshold=settings["compression.group"],
                             cache_size=settings["performance.cache_size"],
                             cache_ttl_s=settings["performance.cache_ttl"],
                             persistent_cache=settings["performance.persistent_cache"],
                             container=container_for(args.container, args.output))
        cluster = cluster_options(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    model = settings["model.name"]
    spec = EngineSpec(model, *configs(settings), fallback=settings["model.fallback"],
                      mode=settings["compression.mode"], ratio=settings["compression.ratio"])
    if cluster is not None:
        from engine.cluster.executor import RayExecutor

        executor = engine = RayExecutor(spec, cluster)  # the actors load their engines
    elif spec.fallback:
        executor, engine = None, spec.build()  # the named model's setup errors come first (exit 2)
    else:
        executor, engine = None, engine_for(settings)
    monitored = settings["monitoring.enabled"]
    store_path = store_path_for(options, args.output)
    with engine:
        metrics_store = RunStore(store_path) if store_path and monitored else None
        monitor = Monitor(model=model or "default", store=metrics_store) if monitored else None
        if monitor is not None and spec.fallback:
            monitor.on_plan([name for name, _ in spec.rungs()], CAUSES)  # ladder steps come back with each batch
        # The monitor writes its last snapshot into the store after the run: the store is dropped after that.
        processor = BatchProcessor(None if executor else engine, dataclasses.replace(options, drop_store=False),
                                   monitor, executor=executor)
        if monitor is not None:
            monitor.slots = settings["performance.slots"]
            if settings["monitoring.metrics_port"]:
                monitor.serve(settings["monitoring.metrics_port"])
            monitor.start_sampling(settings["monitoring.sample_interval"])
        try:
            summary = processor.run(args.input, args.output, fmt=args.format, whole=args.whole)
        finally:
            if monitor is not None:
                monitor.stop()
            if metrics_store is not None:
                metrics_store.close()
    if options.drop_store and store_path is not None:
        drop_store_files(store_path)
    print(summary.table(), file=sys.stderr)
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(summary.as_dict(), indent=1) + "\n")
    if summary.failed:
        print(f"semzip: {summary.failed} line(s) failed; see the error records in the output", file=sys.stderr)
    return min(summary.failed, MAX_EXIT_FAILURES)
