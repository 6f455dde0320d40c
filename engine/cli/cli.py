"""`semzip` command line: parses arguments and hands off; exit codes come from typed errors."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from engine.errors import SemzipError, UsageError


def _models(args) -> int:
    from engine import models
    from engine.models import fetch

    lock = models.load_lock()
    if args.models_cmd == "fetch":
        names = [args.name] if args.name else list(dict.fromkeys([lock.default, lock.default_lossless]))
        for name in names:
            path = fetch.fetch(lock.get(name), force=args.force)
            print(f"{name}: {path} (verified)")
        return 0
    if args.models_cmd == "pin":
        entry = fetch.pin(lock, args.name, Path(args.path))
        print(f"{entry.name}: pinned {args.path} in {lock.path}")
        return 0
    for entry in lock.entries.values():
        try:
            state = f"verified  {models.verify(entry)}"
        except SemzipError as exc:
            state = f"not ready ({exc})"
        mark = "*" if entry.name == lock.default else " "
        print(f"{mark} {entry.name:38s} {entry.quantization:7s} {state}")
    return 0


def _doctor(args) -> int:
    from engine.cli.doctor import run_doctor

    return run_doctor()


def _demo(args) -> int:
    from engine.cli.demo import run_demo

    return run_demo(n=args.n, model=args.model)


def _configs(args):
    from engine.codecs.summary.compressor import CompressConfig
    from engine.core.runner import RunnerConfig

    try:
        if args.threads < 0:
            raise ValueError(f"--threads must be >= 0, got {args.threads}")
        return (
            RunnerConfig(num_slots=args.slots, n_gpu_layers=args.gpu_layers, n_batch=args.token_budget,
                         n_ubatch=max(1, min(RunnerConfig().n_ubatch, args.token_budget)), n_threads=args.threads),
            CompressConfig(score=not args.no_score, quality_threshold=args.threshold),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _engine(args, mode: str | None = None):
    from engine.api import Engine

    runner_config, compress_config = _configs(args)
    return Engine(model=args.model, runner_config=runner_config, compress_config=compress_config,
                  mode=mode or getattr(args, "codec", "summary"), ratio=getattr(args, "ratio", None))


def _compress(args) -> int:
    from engine.cli.commands import MAX_EXIT_FAILURES
    from engine.jobs.pipeline import BatchProcessor, RunOptions, container_for, drop_store_files, store_path_for
    from engine.jobs.spec import EngineSpec
    from engine.jobs.store import RunStore
    from engine.observe.monitor import Monitor

    try:
        options = RunOptions(batch=args.batch, resume=args.resume, store_path=args.store, drop_store=args.drop_store,
                             group_threshold=args.group, cache_size=args.cache_size, cache_ttl_s=args.cache_ttl,
                             persistent_cache=not args.no_persistent_cache,
                             container=container_for(args.container, args.output))
        cluster = _cluster_options(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    spec = EngineSpec(args.model, *_configs(args), fallback=not args.no_fallback, mode=args.codec,
                      ratio=args.ratio)  # settings errors before anything is created
    store_path = store_path_for(options, args.output)
    metrics_store = RunStore(store_path) if store_path and not args.no_monitor else None
    monitor = None if args.no_monitor else Monitor(model=args.model or "default", store=metrics_store)
    if cluster is not None:
        from engine.cluster.executor import RayExecutor

        executor = engine = RayExecutor(spec, cluster)  # the actors load their engines; fallbacks come back per batch
    else:
        executor, engine = None, spec.build(on_step=monitor.on_fallback if monitor else None)
    with engine:
        # The monitor writes its last snapshot into the store after the run: the store is dropped after that.
        processor = BatchProcessor(None if executor else engine, dataclasses.replace(options, drop_store=False),
                                   monitor, executor=executor)
        if monitor is not None:
            monitor.slots = args.slots
            if args.metrics_port:
                monitor.serve(args.metrics_port)
            monitor.start_sampling(args.sample_interval)
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


def _cluster_options(args):
    """--ray [ADDRESS] and its sizes, or None for a single-process run."""
    if args.ray is None:
        return None
    from engine.cluster.executor import ClusterOptions

    return ClusterOptions(address=None if args.ray == "local" else args.ray, actors=args.actors,
                          cpus_per_actor=args.cpus_per_actor)


def _reconstruct(args) -> int:
    import time

    from engine.cli.commands import MAX_EXIT_FAILURES, coding_model, read_records, reconstruct_file
    from engine.codecs.record import render

    parsed = read_records(args.input, args.id)
    model = coding_model(parsed, args.model)  # the model named by coded records' profiles, or --model
    t0 = time.perf_counter()
    if args.mode == "expand":
        with _engine(args) as engine:
            failed = reconstruct_file(lambda recs: engine.reconstruct(recs, mode="expand"), parsed, args.output)
    elif model is not None:
        args.model = model
        with _engine(args, mode="lossless") as engine:
            t0 = time.perf_counter()  # the model's load and self-test are not the decode
            failed = reconstruct_file(engine.decode, parsed, args.output)
    else:
        failed = reconstruct_file(lambda recs: [_render_or_error(render, r) for r in recs], parsed, args.output)
    print(f"{len(parsed)} records, {failed} failed, {time.perf_counter() - t0:.2f} s to decode", file=sys.stderr)
    return min(failed, MAX_EXIT_FAILURES)


def _render_or_error(render, rec):
    try:
        return render(rec)
    except ValueError as exc:
        return exc


def _eval(args) -> int:
    from engine.cli.evaluate import evaluate

    if args.curve:
        return _curve(args)
    with _engine(args) as engine:
        report = evaluate(engine, args.corpus, qa=args.qa, limit=args.n, plot=args.plot)
    print(report.table())
    return 0


def _curve(args) -> int:
    from pathlib import Path as _Path

    from engine.cli import curve

    if not args.qa:
        raise UsageError("--curve needs --qa: the curve is answers kept against ratio")
    parse = lambda s: [float(x) for x in s.split(",") if x]  # noqa: E731
    runner_config, _ = _configs(args)
    points = curve.curve(args.corpus, args.qa, parse(args.ratios), parse(args.summary_ratios), runner_config,
                         args.n, lossless_model=args.model)
    print(curve.table(points))
    curve.plot(points, args.curve, f"{_Path(args.corpus).name}: answers kept vs ratio")
    print(f"wrote {args.curve}", file=sys.stderr)
    return 0


def _report(args) -> int:
    import json as _json

    from engine.observe.report import format_report, load_run, write_plots

    run = load_run(args.run)
    if args.json:
        print(_json.dumps({k: v for k, v in run.items() if not k.startswith("_")}, indent=1))
    else:
        print(format_report(run))
    if args.plot:
        for path in write_plots(run, args.plot):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _add_engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="models.lock name or GGUF path (default: the lock's default)")
    p.add_argument("--slots", type=int, default=16, help="sequences decoded together (1-255)")
    p.add_argument("--token-budget", type=int, default=2048,
                   help="most tokens (prompt chunks + one per generating sequence) in one llama_decode")
    p.add_argument("--gpu-layers", type=int, default=0, help="layers offloaded to the GPU (-1: all)")
    p.add_argument("--threads", type=int, default=0, help="llama.cpp CPU threads (0: physical cores; the records are the same)")
    p.add_argument("--no-score", action="store_true", help="skip fidelity scoring (and the retry it drives)")
    p.add_argument("--threshold", type=float, default=0.85, help="quality under which a record is retried once")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="semzip", description="Compress agent memories with a local LLM (llama.cpp, in-process).")
    p.add_argument("-v", "--verbose", action="store_true", help="log llama.cpp and engine details")
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("doctor", help="versions, backends, GPU, models; non-zero if the default model is missing")
    d.set_defaults(func=_doctor)

    m = sub.add_parser("models", help="list, fetch or pin the models of models.lock")
    msub = m.add_subparsers(dest="models_cmd", required=True)
    msub.add_parser("list", help="which models are present and verified")
    f = msub.add_parser("fetch", help="download, assemble and verify a model (default: the default model)")
    f.add_argument("name", nargs="?")
    f.add_argument("--force", action="store_true", help="re-assemble even if a verified copy exists")
    pin = msub.add_parser("pin", help="record a user-supplied GGUF's path, size and sha256 in models.lock")
    pin.add_argument("name")
    pin.add_argument("path")
    m.set_defaults(func=_models)

    c = sub.add_parser("compress", help="compress memories (JSONL or text, file or -) into records")
    c.add_argument("input", help="input file, or - for stdin")
    c.add_argument("-o", "--output", default="-", help="output JSONL of records, or - for stdout")
    c.add_argument("--format", default="auto", choices=["auto", "jsonl", "text"])
    c.add_argument("--mode", dest="codec", default="summary", choices=["summary", "lossless"],
                   help="summary: a readable summary and facts; lossless: the exact text, arithmetic-coded under the "
                        "model (decoding needs the same model)")
    c.add_argument("--ratio", type=float, default=None, metavar="R",
                   help="target ratio: lossless mode keeps only the most informative spans of memories whose exact "
                        "record would exceed bytes/R; summary mode sizes its records to it (default 8)")
    c.add_argument("--container", default="auto", choices=["auto", "jsonl", "binary"],
                   help="records as JSON lines, or a binary .szr container (raw payloads, an index for random access); "
                        "auto: binary when OUTPUT ends in .szr")
    c.add_argument("--whole", action="store_true", help="the whole file is one memory")
    c.add_argument("--batch", type=int, default=64, help="items read and compressed together (a checkpoint each)")
    c.add_argument("--resume", action="store_true", help="continue an interrupted run from its store")
    c.add_argument("--store", default=None, help="run store (journal, cache, metrics); default OUTPUT.semzip.db")
    c.add_argument("--drop-store", action="store_true", help="delete the run store after a successful run")
    c.add_argument("--cache-size", type=int, default=10_000, help="records kept in the in-memory LRU cache")
    c.add_argument("--cache-ttl", type=float, default=24 * 3600, metavar="SECONDS", help="in-memory cache entry lifetime")
    c.add_argument("--no-persistent-cache", action="store_true",
                   help="do not keep records in the run store's cache (a re-run then recomputes them)")
    c.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus /metrics on localhost:PORT during the run")
    c.add_argument("--no-monitor", action="store_true", help="no metrics, no system sampling")
    c.add_argument("--no-fallback", action="store_true", help="fail instead of stepping down the fallback ladder")
    c.add_argument("--group", type=float, default=None, metavar="COSINE",
                   help="order each batch by similarity (sentence embeddings, e.g. 0.85); default: input order")
    c.add_argument("--summary-json", default=None, metavar="FILE", help="also write the run's summary as JSON here")
    c.add_argument("--sample-interval", type=float, default=1.0, help="seconds between system samples")
    c.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="compute batches on Ray actors (pip install 'semzip[ray]'): a cluster's address, or none to "
                        "start a local instance; the journal, output and --resume stay in this process")
    c.add_argument("--actors", type=int, default=0,
                   help="with --ray: engines to start (default: one per GPU, or one per --cpus-per-actor CPUs)")
    c.add_argument("--cpus-per-actor", type=int, default=0,
                   help="with --ray: CPUs per actor (default: --threads; 1 for GPU actors); also the threads if "
                        "--threads is not given")
    _add_engine_args(c)
    c.set_defaults(func=_compress)

    r = sub.add_parser("reconstruct", help="readable text from records")
    r.add_argument("input")
    r.add_argument("-o", "--output", default="-")
    r.add_argument("--mode", choices=["render", "expand"], default="render",
                   help="render: the record's text (coded records are decoded with the model they name); expand: the "
                        "model writes a narrative from a summary record")
    r.add_argument("--id", action="append", default=None, metavar="ID",
                   help="only this record (repeatable); a .szr container reads just that record")
    _add_engine_args(r)
    r.set_defaults(func=_reconstruct)

    e = sub.add_parser("eval", help="compress a corpus and report ratio, fidelity, answer retention and baselines")
    e.add_argument("corpus", help="JSONL with a text field ('text' or 'dialogue')")
    e.add_argument("--qa", default=None, help="LoCoMo-style QA JSONL (conversation, sessions, answer)")
    e.add_argument("--n", type=int, default=None, help="only the first N memories")
    e.add_argument("--plot", default=None, help="write a ratio vs quality scatter PNG here")
    e.add_argument("--mode", dest="codec", default="summary", choices=["summary", "lossless"])
    e.add_argument("--ratio", type=float, default=None, metavar="R", help="as for compress")
    e.add_argument("--curve", default=None, metavar="PNG",
                   help="instead: answers kept vs ratio for every mode, with zstd and truncation (needs --qa)")
    e.add_argument("--ratios", default="12,16,20,25,32", help="--curve: the ratio knob's points")
    e.add_argument("--summary-ratios", default="4,8,12", help="--curve: summary mode's target ratios")
    _add_engine_args(e)
    e.set_defaults(func=_eval)

    rp = sub.add_parser("report", help="summary of a compress run from its store; --plot DIR writes PNG charts")
    rp.add_argument("run", help="the run's OUTPUT file or its .semzip.db store")
    rp.add_argument("--plot", default=None, help="write throughput, latency, ratio/quality and GPU charts here")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(func=_report)

    demo = sub.add_parser("demo", help="compress a sample of dialogues with the default model and print a table")
    demo.add_argument("--n", type=int, default=8)
    demo.add_argument("--model", default=None, help="lock name or GGUF path")
    demo.set_defaults(func=_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # llama.cpp reports handled conditions (a full KV cache before a preemption) as errors
        logging.getLogger("semzip.llama").setLevel(logging.CRITICAL)
    try:
        return args.func(args)
    except SemzipError as exc:
        print(f"semzip: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("semzip: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
