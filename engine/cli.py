"""`semzip` command line: parses arguments and hands off; exit codes come from typed errors."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from engine.errors import SemzipError


def _models(args) -> int:
    from engine import fetch, models

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
    from engine.doctor import run_doctor

    return run_doctor()


def _demo(args) -> int:
    from engine.demo import run_demo

    return run_demo(n=args.n, model=args.model)


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
