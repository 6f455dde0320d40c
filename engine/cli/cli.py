"""`semzip` command line: each command's handler; the parser is in parser.py; exit codes come from typed errors."""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from engine.cli.config import resolve
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

    return run_demo(n=args.n, model=resolve(args)["model.name"])


def _compress(args) -> int:
    from engine.cli.commands import run_compress

    return run_compress(args, resolve(args))


def _reconstruct(args) -> int:
    from engine.cli.commands import MAX_EXIT_FAILURES, engine_for
    from engine.cli.records_io import coding_model, read_records, reconstruct_file
    from engine.codecs.record import render

    settings = resolve(args)  # settings errors before any work
    parsed = read_records(args.input, args.id)
    model = coding_model(parsed, settings["model.name"])  # the model named by coded records' profiles, or --model
    t0 = time.perf_counter()
    if args.mode == "expand":
        with engine_for(settings, mode="summary") as engine:
            failed = reconstruct_file(lambda recs: engine.reconstruct(recs, mode="expand"), parsed, args.output)
    elif model is not None:
        with engine_for(settings, mode="lossless", model=model) as engine:
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
    from engine.cli.commands import engine_for
    from engine.cli.evaluate import evaluate

    settings = resolve(args)
    if args.curve:
        return _curve(args, settings)
    with engine_for(settings) as engine:
        report = evaluate(engine, args.corpus, qa=args.qa, limit=args.n, plot=args.plot)
    print(report.table())
    return 0


def _curve(args, settings) -> int:
    from engine.cli import curve
    from engine.cli.commands import configs

    if not args.qa:
        raise UsageError("--curve needs --qa: the curve is answers kept against ratio")
    parse = lambda s: [float(x) for x in s.split(",") if x]  # noqa: E731
    runner_config, _ = configs(settings)
    points = curve.curve(args.corpus, args.qa, parse(args.ratios), parse(args.summary_ratios), runner_config,
                         args.n, lossless_model=settings["model.name"])
    print(curve.table(points))
    curve.plot(points, args.curve, f"{Path(args.corpus).name}: answers kept vs ratio")
    print(f"wrote {args.curve}", file=sys.stderr)
    return 0


def _report(args) -> int:
    from engine.observe.report import format_report, load_run, write_plots

    run = load_run(args.run)
    if args.json:
        print(json.dumps({k: v for k, v in run.items() if not k.startswith("_")}, indent=1))
    else:
        print(format_report(run))
    if args.plot:
        for path in write_plots(run, args.plot):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _config(args) -> int:
    from engine.cli.config import show

    settings = resolve(args)
    if args.json:
        print(json.dumps({k: {"value": settings[k], "source": settings.sources[k]} for k in settings.values}, indent=1))
    else:
        print(show(settings), end="")
    return 0


def _store(args) -> int:
    from engine.cli.store import run_store

    return run_store(args)


def _mcp(args) -> int:
    from engine.integrations.mcp_server import serve

    from engine.cli.store import key_options

    return serve(args.store, args.namespace, args.port, args.mode, host=args.host, token_file=args.token_file,
                 allow_origins=args.allow_origin, store_options=key_options(args))


HANDLERS = {"mcp": _mcp, "doctor": _doctor, "models": _models, "compress": _compress, "reconstruct": _reconstruct, "eval": _eval,
            "report": _report, "config": _config, "demo": _demo, "store": _store}


def build_parser():
    from engine.cli.parser import build_parser as build

    return build(HANDLERS)


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
