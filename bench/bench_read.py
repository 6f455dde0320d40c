"""One memory read alone: in-process and as a whole `semzip reconstruct FILE.szr --id X` process, p50 and p95.

Usage: python bench/bench_read.py [--n 12] [--processes 6] [--threads 0]

The first --n LoCoMo dev sessions are compressed once with default settings (`semzip compress --mode
lossless` into a .szr); then each is read alone in-process (one Engine, its decoded-text cache off, so
every read decodes), and --processes of them as whole processes (start-up, model load, the self-test's
kept verdict, the decode, the output), timed from outside. Every text must come back exactly.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import load_jsonl, machine, print_table  # noqa: E402
from bench.results import record  # noqa: E402

SEMZIP = [sys.executable, "-m", "engine.cli"]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--processes", type=int, default=6)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    texts = load_jsonl("locomo-dev-sessions.jsonl", "text", args.n)
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        src, szr = Path(tmp) / "in.jsonl", Path(tmp) / "out.szr"
        src.write_text("".join(json.dumps({"id": f"s{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
        threads = ["--threads", str(args.threads)] if args.threads else []
        t0 = time.perf_counter()
        subprocess.run(SEMZIP + ["compress", str(src), "-o", str(szr), "--mode", "lossless", "--drop-store"] + threads,
                       check=True, cwd=root, capture_output=True)
        enc_s = time.perf_counter() - t0

        from engine.api import Engine
        from engine.cli.records_io import read_records
        from engine.core.runner import RunnerConfig

        records = [r for r in read_records(str(szr), None)]
        inproc = []
        with Engine(mode="lossless", read_cache_bytes=0, runner_config=RunnerConfig(n_threads=args.threads)) as eng:
            for rec, text in zip(records, texts):
                t = time.perf_counter()
                (got,) = eng.decode([rec])
                inproc.append(time.perf_counter() - t)
                assert got == text, f"{rec.id} did not read back exactly"
        whole = []
        for i in range(min(args.processes, len(texts))):
            t = time.perf_counter()
            out = subprocess.run(SEMZIP + ["reconstruct", str(szr), "--id", f"s{i}"] + threads, check=True, cwd=root,
                                 capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
            whole.append(time.perf_counter() - t)
            assert json.loads(out.stdout)["text"] == texts[i], f"s{i} did not read back exactly from the process"
    segs = [len(r.payload) for r in records]
    print(f"{machine()}; {len(texts)} LoCoMo dev sessions, {sum(len(t.encode()) for t in texts)} bytes; "
          f"compressed in {enc_s:.1f} s (one process); payloads {statistics.mean(segs):.0f} bytes on average")
    print_table(["read of one session", "n", "p50 s", "p95 s", "max s"], [
        ["in-process (Engine.decode)", len(inproc), f"{pct(inproc, 50):.2f}", f"{pct(inproc, 95):.2f}",
         f"{max(inproc):.2f}"],
        ["whole process (semzip reconstruct --id)", len(whole), f"{pct(whole, 50):.2f}", f"{pct(whole, 95):.2f}",
         f"{max(whole):.2f}"],
    ])
    text_bytes = sum(len(t.encode()) for t in texts)
    each = f"{text_bytes / len(texts) / 1000:.1f} KB each"
    dataset = f"LoCoMo dev, first {len(texts)} sessions ({text_bytes:,} bytes: {each})"
    record("one session read alone, in-process", pct(inproc, 50), "s", area="codec", dataset=dataset,
           settings=f"Engine.decode of one record, decoded-text cache off, default settings; p50 of {len(inproc)}",
           note=f"p95 {pct(inproc, 95):.1f} s")
    if whole:
        record("one session read alone, whole process", pct(whole, 50), "s", area="codec",
               dataset=f"LoCoMo dev, the first {len(whole)} of those sessions",
               settings=f"`semzip reconstruct FILE.szr --id X`, default settings, model load and the kept self-test "
                        f"verdict included; p50 of {len(whole)}", note=f"p95 {pct(whole, 95):.1f} s")


if __name__ == "__main__":
    main()
