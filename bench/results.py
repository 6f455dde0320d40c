"""Figures as data: a bench script appends each figure it measured to bench/results/AREA.jsonl, one JSON line each.

    record("lossless ratio, LoCoMo dev", 9.47, "x", area="codec", dataset="first 24 sessions",
           settings="gemma-3-270m Q4_K_M, coder s1, 32 slots")

A line holds the figure (metric, value, unit), what it was measured on and with (data set, settings, an optional
note, the command), where (machine: CPU model, CPUs, memory, GPUs), the code (commit, "+dirty" when tracked files
outside bench/results differ from it) and when (UTC). Lines are only appended, never rewritten: history stays.
`python -m bench.report` renders bench/RESULTS.md, the newest line of each metric, from them.

A figure measured by hand (`semzip eval`, a suite run) goes in the same way:
    python -m bench.results add modes "honest ratio, LoCoMo dev, lossless" 9.17 x --dataset ... --settings ... \
        --command "semzip eval ../shared/data/locomo-dev-sessions.jsonl --qa ..."
SEMZIP_BENCH_RESULTS=DIR writes the lines under DIR instead (a smoke run; a GPU machine, whose DIR comes back
through the device tool's $OUT to be appended here).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import cpu_model

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# area -> (the page's heading, what its table holds); the page shows them in this order
AREAS = {
    "codec": ("Codec", "Lossless records: bytes, coding speed, reads"),
    "modes": ("Modes on the dev sets", "Every mode at default settings: ratio, answers kept, speed (`semzip eval`)"),
    "portability": ("Portability", "The same bits on every machine and build, and what that costs"),
    "hot": ("Store, hot path", "Puts, gets and searches that never wait on the model; retrieval"),
    "cold": ("Store, cold path", "Reads that decode a coded memory"),
    "compaction": ("Compaction", "Coding hot memories into the cold tier, and the store's bytes after it"),
    "packs": ("Packs", "The compacted store as packs: bytes at rest, cold reads bounded by a pack, search quality"),
    "sealing": ("Encryption at rest", "Encrypted stores against plain ones, in one run; shred"),
    "scale": ("Scale", "Threads, processes, batches, actors and GPUs"),
    "peers": ("Peers", "Others on the same data: llama.cpp's own tools, llama-zip, LangGraph's store, zstd and xz"),
    "setup": ("Set-up and suite", "Building, installing and the test suite"),
}
FIELDS = ("area", "metric", "value", "unit", "dataset", "settings", "note", "command", "machine", "cpu", "nproc",
          "commit", "date", "source")


def results_dir() -> Path:
    return Path(os.environ.get("SEMZIP_BENCH_RESULTS") or RESULTS)


def significant(value: float | int, digits: int = 4) -> float | int:
    """value kept to 4 significant digits (run-to-run noise is larger), whole from 1,000 up; ints as they are."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"a figure is a number, got {value!r}")
    if isinstance(value, int):
        return value
    kept = float(f"{value:.{digits}g}")
    return int(kept) if abs(kept) >= 1000 else kept


@functools.cache
def machine() -> dict:
    """CPU model (/proc/cpuinfo), CPUs this process may use (nproc), memory and GPUs (nvidia-smi), in words."""
    cpu = cpu_model()
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    words = f"{cpu}, {nproc} CPUs, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    if shutil.which("nvidia-smi"):
        done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=30)
        gpus = [g.strip() for g in done.stdout.splitlines() if g.strip()] if done.returncode == 0 else []
        if gpus:
            words += ", " + ", ".join(f"{gpus.count(g)} x {g}" for g in sorted(set(gpus)))
    return {"machine": words, "cpu": cpu, "nproc": nproc}


@functools.cache
def commit() -> str:
    """HEAD's short hash, "+dirty" if tracked files outside bench/results differ; SEMZIP_COMMIT where no git."""
    if os.environ.get("SEMZIP_COMMIT"):
        return os.environ["SEMZIP_COMMIT"]
    try:
        head = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                  ":(exclude)bench/results"], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return head + ("+dirty" if changed else "")


def this_command() -> str:
    """How this process was started, as a command to run from the repository's root."""
    script = Path(sys.argv[0])
    if script.is_file():
        script = script.resolve()
        script = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    return shlex.join(["python", str(script), *sys.argv[1:]])


def record(metric: str, value: float | int, unit: str, *, area: str, dataset: str, settings: str,
           command: str | None = None, note: str | None = None) -> dict:
    """Append one figure to AREA.jsonl under results_dir(); the line written, as a dict."""
    if area not in AREAS:
        raise ValueError(f"unknown area {area!r} (known: {', '.join(AREAS)})")
    if not metric or "|" in metric:
        raise ValueError(f"a metric is a name without '|', got {metric!r}")
    line = {"area": area, "metric": metric, "value": significant(value), "unit": unit, "dataset": dataset,
            "settings": settings, "note": note, "command": command or this_command(), **machine(),
            "commit": commit(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    line = {k: line[k] for k in FIELDS if line.get(k) is not None}
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{area}.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser("add", help="append a figure measured by hand")
    add.add_argument("area", choices=sorted(AREAS))
    add.add_argument("metric")
    add.add_argument("value")
    add.add_argument("unit")
    add.add_argument("--dataset", required=True)
    add.add_argument("--settings", required=True)
    add.add_argument("--command", required=True, help="the command that measured it")
    add.add_argument("--note", default=None)
    args = ap.parse_args(argv)
    value = int(args.value) if args.value.lstrip("-").isdigit() else float(args.value)
    line = record(args.metric, value, args.unit, area=args.area, dataset=args.dataset, settings=args.settings,
                  command=args.command, note=args.note)
    print(json.dumps(line, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
