"""Load on one MemoryStore: threads doing mixed put/get/search/delete on short memories, checked as they go.

Usage: python bench/store_load.py [--threads 8] [--ops 200] [--mode lossless|zstd|raw] [--store PATH] [--json FILE]
                                  [--compactor]

The load and its checks are tests/mixed_load.py's (every get must return its thread's last write or None after
its delete, every search hit a value some thread wrote); tests/test_store_faults.py runs it short. --compactor
runs a compactor beside the load (a second MemoryStore on the same database, compacting every memory as soon as
it is written, in a loop).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from mixed_load import CompactorBeside, memory, run_load  # noqa: E402


def summary(result: dict) -> list[list]:
    """Per op: count, ops/s over the whole run, p50 and p95 in ms."""
    rows = []
    for op, xs in result["latency"].items():
        if xs:
            rows.append([op, len(xs), round(len(xs) / result["seconds"], 2), round(float(np.percentile(xs, 50)) * 1e3, 1),
                         round(float(np.percentile(xs, 95)) * 1e3, 1)])
    total = sum(len(xs) for xs in result["latency"].values())
    rows.append(["all", total, round(total / result["seconds"], 2), "", ""])
    return rows


def main() -> None:
    from bench.common import machine, print_table
    from bench.results import record
    from engine.store import MemoryStore

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--ops", type=int, default=200)
    ap.add_argument("--mode", default="lossless", help="how the memories are coded (zstd, raw: the store alone)")
    ap.add_argument("--store", default=None, help="a SQLite path or postgresql:// DSN (default: a temporary file)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--compactor", action="store_true", help="compact everything in a loop beside the load")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, MemoryStore(args.store or f"{tmp}/load.db", mode=args.mode) as store:
        store.put(("warm",), "up", memory(random.Random(0), 0))  # the model and embedder load outside the timing
        store.search(("warm",), "up")
        beside = CompactorBeside(store.where, mode=args.mode, engine=store.core.coder.decoder()) if args.compactor \
            else None
        result = run_load(store, args.threads, args.ops)
        if beside is not None:
            result["errors"] += beside.stop()
    extra = (f", compactor beside: {beside.compacted} memories compacted and {sum(r.superseded for r in beside.runs)} "
             f"superseded (put or deleted while coded) in {len(beside.runs)} runs" if beside else "")
    print(f"# {machine()}; {args.mode}; {args.threads} threads x {args.ops} ops, {result['seconds']:.1f} s, "
          f"{len(result['errors'])} errors{extra}")
    print_table(["op", "count", "ops/s", "p50 ms", "p95 ms"], summary(result))
    for e in result["errors"][:10]:
        print(e)
    rows = {r[0]: r for r in summary(result)}
    lat = "; ".join(f"{op} {rows[op][3]} ({rows[op][4]})" for op in ("put", "get", "search", "delete") if op in rows)
    record("mixed store load", rows["all"][2], "ops/s", area="scale",
           dataset="short memories (a sentence): 40% put, 30% get, 15% search (top 2), 15% delete",
           settings=f"{args.threads} threads x {args.ops} operations, mode {args.mode}"
                    + (", a compactor beside it on the same file (CompactorBeside)" if beside else ""),
           note=f"{len(result['errors'])} errors in {result['seconds']:.1f} s; p50 (p95) ms: {lat}" + extra)
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary(result), "errors": result["errors"]}, indent=1))


if __name__ == "__main__":
    main()
