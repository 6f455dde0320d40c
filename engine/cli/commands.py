"""What the commands do once parsed: settings into configs, `semzip compress`'s run, reconstruct's file loop."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from engine.cli.config import Effective
from engine.codecs.record import Record
from engine.errors import InputError, UsageError
from engine.jobs.inputs import open_input, open_output

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
                         n_ctx=settings["performance.ctx_size"], warm_up=settings["performance.warm_up"]),
            CompressConfig(score=settings["compression.score"], quality_threshold=settings["compression.threshold"]),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def engine_for(settings: Effective):
    """The Engine the settings describe, without the ladder: a model that does not load is a setup error (exit 2)."""
    from engine.api import Engine
    from engine.core.runner import ContextError, LlamaError
    from engine.jobs.ladder import unloadable

    runner_config, compress_config = configs(settings)
    try:
        return Engine(model=settings["model.name"], runner_config=runner_config, compress_config=compress_config)
    except ContextError as exc:
        raise UsageError(f"{exc}; fix: fewer --slots or a smaller --ctx-size, or leave the fallback ladder on") \
            from None
    except LlamaError as exc:
        raise unloadable(settings["model.name"], exc) from None


def run_compress(args, settings: Effective) -> int:
    """`semzip compress`: settings checked, model loaded (or a setup error, exit 2), then the batch processor."""
    from engine.jobs.ladder import CAUSES, LadderEngine
    from engine.jobs.pipeline import BatchProcessor, RunOptions, drop_store_files, store_path_for
    from engine.jobs.store import RunStore
    from engine.observe.monitor import Monitor

    try:
        options = RunOptions(batch=settings["performance.batch_size"], resume=args.resume, store_path=args.store,
                             drop_store=args.drop_store, group_threshold=settings["compression.group"],
                             cache_size=settings["performance.cache_size"],
                             cache_ttl_s=settings["performance.cache_ttl"],
                             persistent_cache=settings["performance.persistent_cache"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    runner_config, compress_config = configs(settings)  # settings errors before anything is created
    monitored = settings["monitoring.enabled"]
    model = settings["model.name"]
    store_path = store_path_for(options, args.output)
    if settings["model.fallback"]:
        on_step = []  # fallbacks while loading come before the monitor exists: replayed into it below
        engine = LadderEngine(model, runner_config, compress_config, on_step=lambda *step: on_step.append(step))
    else:
        engine = engine_for(settings)
    with engine:
        metrics_store = RunStore(store_path) if store_path and monitored else None
        monitor = Monitor(model=model or "default", store=metrics_store) if monitored else None
        if monitor is not None and settings["model.fallback"]:
            monitor.on_plan([r.name for r in engine.rungs], CAUSES)
            for step in on_step:
                monitor.on_fallback(*step)
            engine.on_step = monitor.on_fallback
        # The monitor writes its last snapshot into the store after the run: the store is dropped after that.
        processor = BatchProcessor(engine, dataclasses.replace(options, drop_store=False), monitor)
        if monitor is not None:
            monitor.slots = runner_config.num_slots
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


def reconstruct_file(reconstruct, source: str, output: str) -> tuple[int, int]:
    """Records in, {"id", "text"} lines out (errors as {"id", "line", "error"}); returns (lines, failed).

    reconstruct: records -> texts (render needs no model; expand goes through an Engine).
    """
    parsed: list[Record | tuple[int, str]] = []
    with open_input(source) as stream:
        for n, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                parsed.append(Record.from_json(raw.decode("utf-8"), where=f"line {n}"))
            except UnicodeDecodeError as exc:  # one bad line never sinks the rest
                parsed.append((n, f"line {n}: invalid UTF-8 at byte {exc.start}"))
            except InputError as exc:
                parsed.append((n, str(exc)))
    records = [p for p in parsed if isinstance(p, Record)]
    texts = iter(reconstruct(records))
    failed = 0
    with open_output(output) as out:
        for p in parsed:
            if isinstance(p, Record):
                out.write(json.dumps({"id": p.id, "text": next(texts)}, ensure_ascii=False) + "\n")
            else:
                failed += 1
                out.write(json.dumps({"id": None, "line": p[0], "error": p[1]}, ensure_ascii=False) + "\n")
    return len(parsed), failed
