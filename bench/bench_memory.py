"""Streaming memory: peak RSS of `semzip compress` over 1,000 and 10,000 memories.

The corpus repeats the first 64 DialogSum dialogues with distinct ids, so the model compresses 64
texts and the cache answers the rest: what is measured is whether the streaming path (reading,
batching, journal, cache, monitor) holds memory that grows with the corpus.
Usage: python bench/bench_memory.py [--sizes 1000,10000]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED, machine, print_table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000,10000")
    args = ap.parse_args()
    base = [json.loads(line)["dialogue"] for line in (SHARED / "dialogsum-dev.jsonl").open()][:64]
    tmp = Path(tempfile.mkdtemp(prefix="semzip-mem-"))
    rows = []
    print(f"machine: {machine()}", flush=True)
    for n in map(int, args.sizes.split(",")):
        src = tmp / f"in{n}.jsonl"
        src.write_text("".join(json.dumps({"id": f"m{i}", "text": base[i % 64]}) + "\n" for i in range(n)))
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "engine.cli", "compress", str(src), "-o", str(tmp / f"out{n}.jsonl"), "--mode", "summary", "--no-score"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        child = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:  # sample the child process RSS for its peak
            try:
                rss = child.memory_info().rss
            except psutil.NoSuchProcess:
                break
            peak = max(peak, rss)
            time.sleep(0.2)
        wall = time.perf_counter() - t0
        if proc.returncode:
            raise SystemExit(proc.stderr.read()[-2000:])
        lines = sum(1 for _ in (tmp / f"out{n}.jsonl").open())
        rows.append([n, lines, wall, peak / 2**20])
    print_table(["memories", "output lines", "wall s", "peak RSS MiB"], rows)


if __name__ == "__main__":
    main()
