"""Ray's overhead: one actor against one process on the same dialogues, and what the driver alone can carry.

Usage: python bench/bench_ray.py [--n 16] [--rounds 2] [--threads 2] [--driver-items 100000]

Each compress run is a full `semzip compress` in a subprocess, greedy, no fidelity scoring, the same
batch, slots and llama.cpp threads; single-process and --ray runs alternate, so load from elsewhere
on the machine falls on both. "end to end" includes start-up (Ray's local instance, the actor and its
model load; the single process's model load); "run" is the summary's wall, after start-up. The
driver row runs the driver's per-batch work (plan, journal commit, output) with an executor that
answers at once, to show where the bottleneck goes once engines are many.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED, machine, print_table  # noqa: E402


def compress(args: list[str], summary: Path) -> tuple[float, dict]:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "engine.cli", "compress", "--mode", "summary", *args, "--summary-json", str(summary)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return time.perf_counter() - t0, json.loads(summary.read_text())


class InstantExecutor:
    """Answers every batch at once with raw records: the driver's own cost, no model."""

    capacity = 16

    def __init__(self):
        self._queue = []

    def identity(self):
        return "bench", "bench"

    @property
    def num_in_flight(self):
        return len(self._queue)

    def submit(self, number, items, group_threshold):
        self._queue.append((number, items))

    def wait(self):
        from engine.codecs.record import Record
        from engine.jobs.batch import BatchResult

        out = [BatchResult(n, [Record(x.id, "raw", text=x.text, meta=x.meta) for x in items], worker="bench")
               for n, items in self._queue]
        self._queue.clear()
        return out


def driver_items_per_s(tmp: Path, n: int, batch: int) -> float:
    from engine.jobs.pipeline import BatchProcessor, RunOptions

    text = (SHARED / "locomo-dev-sessions.jsonl").open().readline()
    session = json.loads(text)["text"]
    src = tmp / "driver.jsonl"
    with src.open("w") as f:
        for i in range(n):  # distinct texts: every item misses the cache and is journalled
            f.write(json.dumps({"id": str(i), "text": f"{i} {session}"}) + "\n")
    processor = BatchProcessor(None, RunOptions(batch=batch), executor=InstantExecutor())
    t0 = time.perf_counter()
    processor.run(str(src), str(tmp / "driver.out.jsonl"))
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--driver-items", type=int, default=100_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="semzip-bench-ray-"))
    src = tmp / "in.jsonl"
    rows = [json.loads(line) for line in (SHARED / "dialogsum-dev.jsonl").open()][: args.n]
    src.write_text("".join(json.dumps({"id": r["fname"], "text": r["dialogue"]}) + "\n" for r in rows))
    common = [str(src), "--no-score", "--batch", str(args.batch), "--slots", str(args.slots),
              "--threads", str(args.threads), "--no-monitor"]
    print(f"machine: {machine()}; {args.n} dialogues, batch {args.batch}, {args.slots} slots, "
          f"{args.threads} threads", flush=True)
    times = {"one process": [], "ray, 1 actor": []}
    for r in range(args.rounds):
        for name, extra in (("one process", []), ("ray, 1 actor", ["--ray", "--actors", "1", "--cpus-per-actor",
                                                                    str(args.threads)])):
            out = tmp / f"{name.replace(' ', '_').replace(',', '')}.{r}.jsonl"
            e2e, summary = compress(common + ["-o", str(out)] + extra, tmp / "s.json")
            times[name].append((e2e, summary["wall_s"]))
            rss = [w["peak_rss_bytes"] / 2**20 for w in summary["workers"].values() if w["peak_rss_bytes"]]
            print(f"round {r + 1} {name}: {e2e:.1f} s end to end, {summary['wall_s']:.1f} s run"
                  + (f", actor peak RSS {max(rss):.0f} MiB" if extra and rss else ""), flush=True)
    outs = {p.read_bytes() for p in tmp.glob("*.[0-9].jsonl")}
    print(f"outputs identical across all runs: {len(outs) == 1}")
    med = {k: (statistics.median(e for e, _ in v), statistics.median(w for _, w in v)) for k, v in times.items()}
    base = med["one process"]
    print_table(["", "end to end (s)", "ratio", "after start-up (s)", "ratio", "items/min after start-up"],
                [[k, e, f"{e / base[0]:.3f}", w, f"{w / base[1]:.3f}", args.n / w * 60] for k, (e, w) in med.items()])
    rate = driver_items_per_s(tmp, args.driver_items, 64)
    print(f"driver alone (plan, journal, output; {args.driver_items} LoCoMo-sized items, batch 64): "
          f"{rate:,.0f} items/s")


if __name__ == "__main__":
    main()
