"""Load on one MemoryStore: threads doing mixed put/get/search/delete on short memories, checked as they go.

Usage: python bench/store_load.py [--threads 8] [--ops 200] [--mode lossless|zstd|raw] [--store PATH] [--json FILE]
                                  [--compactor]

Every thread writes its own keys and knows what each should hold: a get must return its last write (read-
your-writes) or None after its delete; any value search returns must be one some thread wrote for that key.
tests/test_store_faults.py runs a shorter version of the same function. --compactor runs a compactor beside the
load (a second MemoryStore on the same database, compacting every memory as soon as it is written, in a loop).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NAMES = ["Caroline", "Melanie", "Jon", "Gina", "Tim", "John", "Maria", "Joanna"]
THINGS = ["a pottery class", "the farmers market", "a camping trip", "a job interview", "a charity run",
          "a new puppy", "a painting of a sunset", "a guitar lesson"]
MIX = (("put", 0.4), ("get", 0.3), ("search", 0.15), ("delete", 0.15))


def memory(rng: random.Random, who: int) -> str:
    """A sentence or two, different every time."""
    a, b, thing = NAMES[who % 8], rng.choice(NAMES), rng.choice(THINGS)
    return f"{a} told {b} about {thing} on day {rng.randint(1, 999)}. It cost ${rng.randint(5, 500)}."


def run_load(store, num_threads: int, num_ops: int, seed: int = 0, namespace=("load",)) -> dict:
    """Run the mix; {"latency": {op: [seconds]}, "errors": [...], "seconds": wall}. Errors list what went wrong."""
    written: dict[str, set] = {}  # key -> every value ever put under it, for checking what search returns
    lock = threading.Lock()
    latency = {op: [] for op, _ in MIX}
    errors: list[str] = []

    def worker(tid: int) -> None:
        rng = random.Random(seed * 1000 + tid)
        mine: dict[str, str | None] = {}
        try:
            for j in range(num_ops):
                op = rng.choices([o for o, _ in MIX], [w for _, w in MIX])[0]
                key = f"t{tid}-{rng.randint(0, 9)}"
                t0 = time.perf_counter()
                if op == "put" or (op != "search" and key not in mine):
                    op, value = "put", memory(rng, tid)
                    with lock:
                        written.setdefault(key, set()).add(value)
                    store.put(namespace, key, value)
                    mine[key] = value
                elif op == "get":
                    got = store.get(namespace, key)
                    if (got.value if got else None) != mine[key]:
                        errors.append(f"thread {tid} op {j}: get {key} gave {got and got.value!r}, wrote {mine[key]!r}")
                elif op == "delete":
                    store.delete(namespace, key)
                    mine[key] = None
                else:
                    for hit in store.search(namespace, rng.choice(THINGS), limit=2):
                        with lock:
                            ok = hit.value in written.get(hit.key, ())
                        if not ok:
                            errors.append(f"thread {tid} op {j}: search gave {hit.key}={hit.value!r}, never written")
                latency[op].append(time.perf_counter() - t0)
            for key, value in mine.items():
                got = store.get(namespace, key)
                if (got.value if got else None) != value:
                    errors.append(f"thread {tid}: {key} ended as {got and got.value!r}, last write {value!r}")
        except Exception as exc:  # a failed op is a finding, reported with the others
            errors.append(f"thread {tid}: {type(exc).__name__}: {exc}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(num_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latency": latency, "errors": errors, "seconds": time.perf_counter() - t0}


class CompactorBeside:
    """A thread compacting every hot memory of the store at conn over and over until stopped (with stop())."""

    def __init__(self, conn, **store_options):
        from engine.store import MemoryStore

        self.store = MemoryStore(conn, compaction=False, cold_after=0, **store_options)
        self.runs, self.errors = [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="compactor-beside")
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.runs.append(self.store.compact(everything=True))
            except Exception as exc:  # a finding, reported with the load's errors
                self.errors.append(f"compactor: {type(exc).__name__}: {exc}")
            self._stop.wait(0.05)

    def stop(self) -> list[str]:
        """Stop, close its store; the errors it met."""
        self._stop.set()
        self._thread.join()
        self.store.close()
        return self.errors

    @property
    def compacted(self) -> int:
        return sum(r.memories for r in self.runs)


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
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary(result), "errors": result["errors"]}, indent=1))


if __name__ == "__main__":
    main()
