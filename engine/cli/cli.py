"""`semzip` command line: parses arguments and hands off; exit codes come from typed errors."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from engine.cli.config import add_setting_flags, resolve
from engine.errors import SemzipError


def _models(args) -> int:
    from engine import models
    from engine.models import fetch

    lock = models.load_lock()
    if args.models_cmd == "fetch":
        names = [args.name] if args.name else [lock.default]
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
    from engine.cli.commands import MAX_EXIT_FAILURES, engine_for, reconstruct_file
    from engine.codecs.record import render

    settings = resolve(args)  # settings errors before any work
    if args.mode == "render":
        n, failed = reconstruct_file(lambda recs: [render(r) for r in recs], args.input, args.output)
    else:
        with engine_for(settings) as engine:
            n, failed = reconstruct_file(lambda recs: engine.reconstruct(recs, mode="expand"), args.input, args.output)
    print(f"{n} records, {failed} failed", file=sys.stderr)
    return min(failed, MAX_EXIT_FAILURES)


def _eval(args) -> int:
    from engine.cli.commands import engine_for
    from engine.cli.evaluate import evaluate

    with engine_for(resolve(args)) as engine:
        report = evaluate(engine, args.corpus, qa=args.qa, limit=args.n, plot=args.plot)
    print(report.table())
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


def build_parser() -> argparse.ArgumentParser:
    # allow_abbrev=False everywhere: `--mode` must never be taken for `--model`.
    p = argparse.ArgumentParser(prog="semzip", description="Compress agent memories with a local LLM (llama.cpp, in-process).",
                                allow_abbrev=False)
    p.add_argument("-v", "--verbose", action="store_true", help="log llama.cpp and engine details")
    sub = p.add_subparsers(dest="cmd", required=True)

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help, allow_abbrev=False)
        parser.set_defaults(func=func)
        return parser

    command("doctor", _doctor, "versions, backends, GPU, models; non-zero if the default model is missing")

    m = command("models", _models, "list, fetch or pin the models of models.lock")
    msub = m.add_subparsers(dest="models_cmd", required=True)
    msub.add_parser("list", help="which models are present and verified", allow_abbrev=False)
    f = msub.add_parser("fetch", help="download, assemble and verify a model (default: the default model)", allow_abbrev=False)
    f.add_argument("name", nargs="?")
    f.add_argument("--force", action="store_true", help="re-assemble even if a verified copy exists")
    pin = msub.add_parser("pin", help="record a user-supplied GGUF's path, size and sha256 in models.lock", allow_abbrev=False)
    pin.add_argument("name")
    pin.add_argument("path")

    c = command("compress", _compress, "compress memories (JSONL or text, file or -) into records")
    c.add_argument("input", help="input file, or - for stdin")
    c.add_argument("-o", "--output", default="-", help="output JSONL of records, or - for stdout")
    c.add_argument("--format", default="auto", choices=["auto", "jsonl", "text"])
    c.add_argument("--whole", action="store_true", help="the whole file is one memory")
    c.add_argument("--resume", action="store_true", help="continue an interrupted run from its store")
    c.add_argument("--store", default=None, help="run store (journal, cache, metrics); default OUTPUT.semzip.db")
    c.add_argument("--drop-store", action="store_true", help="delete the run store after a successful run")
    c.add_argument("--summary-json", default=None, metavar="FILE", help="also write the run's summary as JSON here")
    add_setting_flags(c, "compress")

    r = command("reconstruct", _reconstruct, "readable text from records")
    r.add_argument("input")
    r.add_argument("-o", "--output", default="-")
    r.add_argument("--mode", choices=["render", "expand"], default="render", help="render: no model; expand: the model writes")
    add_setting_flags(r, "reconstruct")

    e = command("eval", _eval, "compress a corpus and report ratio, fidelity, answer retention and baselines")
    e.add_argument("corpus", help="JSONL with a text field ('text' or 'dialogue')")
    e.add_argument("--qa", default=None, help="LoCoMo-style QA JSONL (conversation, sessions, answer)")
    e.add_argument("--n", type=int, default=None, help="only the first N memories")
    e.add_argument("--plot", default=None, help="write a ratio vs quality scatter PNG here")
    add_setting_flags(e, "eval")

    rp = command("report", _report, "summary of a compress run from its store; --plot DIR writes PNG charts")
    rp.add_argument("run", help="the run's OUTPUT file or its .semzip.db store")
    rp.add_argument("--plot", default=None, help="write throughput, latency, ratio/quality and GPU charts here")
    rp.add_argument("--json", action="store_true")

    cf = command("config", _config, "the effective settings (semzip.toml, preset, flags) and where each came from")
    csub = cf.add_subparsers(dest="config_cmd", required=True)
    show = csub.add_parser("show", help="print the effective settings as TOML, each with its source", allow_abbrev=False)
    show.add_argument("--json", action="store_true")
    add_setting_flags(show, "config")

    demo = command("demo", _demo, "compress a sample of memories with the default model and print a table")
    demo.add_argument("--n", type=int, default=8)
    add_setting_flags(demo, "demo")
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
