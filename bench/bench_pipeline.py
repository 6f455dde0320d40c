"""Pipeline costs on the same dialogues: checkpointing and monitoring on/off, and a re-run served by the cache.

Usage: python bench/bench_pipeline.py [--n 32]. Each configuration is a full `semzip compress` in a
subprocess (model load included), greedy, no fidelity scoring (it is the same in every row).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED, machine, print_table  # noqa: E402


def run(args: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "engine.cli", "compress", "--mode", "summary", *args], capture_output=True, text=True)
    if done.returncode not in (0,):
        raise SystemExit(done.stderr[-2000:])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="semzip-bench-"))
    src = tmp / "in.jsonl"
    rows = [json.loads(line) for line in (SHARED / "dialogsum-dev.jsonl").open()][: args.n]
    src.write_text("".join(json.dumps({"id": r["fname"], "text": r["dialogue"]}) + "\n" for r in rows))
    common = [str(src), "--no-score", "--batch", str(args.batch)]
    print(f"machine: {machine()}; {args.n} dialogues, batch {args.batch}", flush=True)
    plain = run(common + ["-o", "-", "--no-monitor"])  # stdout: no store, no journal, no monitor
    journal = run(common + ["-o", str(tmp / "a.jsonl"), "--no-monitor"])
    monitored = run(common + ["-o", str(tmp / "b.jsonl")])
    cached = run(common + ["-o", str(tmp / "c.jsonl"), "--store", str(tmp / "b.jsonl.semzip.db"), "--no-monitor"])
    grouped = run(common + ["-o", str(tmp / "d.jsonl"), "--no-monitor", "--group", "0.85"])
    same = (tmp / "a.jsonl").read_bytes() == (tmp / "b.jsonl").read_bytes() == (tmp / "c.jsonl").read_bytes()
    ipm = lambda s: args.n / s * 60  # noqa: E731
    print_table(
        ["run", "wall s", "items/min", "vs plain"],
        [
            ["plain (no journal, no monitor)", plain, ipm(plain), "1.000"],
            ["checkpoint journal", journal, ipm(journal), f"{plain / journal:.3f}"],
            ["journal + monitor (1 s sampling)", monitored, ipm(monitored), f"{plain / monitored:.3f}"],
            ["re-run, persistent cache", cached, ipm(cached), f"{plain / cached:.1f}x faster"],
            ["journal + similarity grouping (cosine 0.85)", grouped, ipm(grouped), f"{plain / grouped:.3f}"],
        ],
    )
    print(f"outputs of the journal, monitored and cached runs identical: {same}")


if __name__ == "__main__":
    main()
