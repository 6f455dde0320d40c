"""Time to the first memory: from the start of a compress run (model loaded) until the first memory shows on the
progress bar and in /metrics, on LoCoMo sessions in one batch.

Usage: python bench/bench_first_item.py [--mode lossless|summary] [--n 16] [--batch 64] [--stop-after 4] [--no-warm-up] [--threshold 0.85]
The run is the batch processor with journal, cache and monitor, as `semzip compress` runs it; a thread
scrapes /metrics every 0.1 s. The progress bar advances in the same call that feeds the monitor, so
its time is the monitor's. The run stops after --stop-after memories (0: runs to the end).
"""
from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED, machine  # noqa: E402


class Enough(Exception):
    """Raised from the monitor hook once --stop-after memories are in: ends the run early."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape_loop(port: int, t0: list[float], seen: dict, stop: threading.Event) -> None:
    """Note when /metrics first shows a finished memory, and a latency and a quality sample."""
    while not stop.wait(0.1):
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read().decode()
        except OSError:
            continue
        done = sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                   if line.startswith("semzip_operations_total{"))
        latency = any(line.startswith("semzip_latency_seconds_count{") and not line.endswith(" 0.0")
                      for line in body.splitlines())
        if done >= 1 and "metrics" not in seen and t0:
            seen["metrics"] = time.perf_counter() - t0[0]
        if latency and "latency" not in seen and t0:
            seen["latency"] = time.perf_counter() - t0[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=16, help="LoCoMo sessions, all in one batch")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--slots", type=int, default=16)
    ap.add_argument("--threshold", type=float, default=0.85, help="0: score, never retry")
    ap.add_argument("--no-warm-up", action="store_true", help="admit every slot at once (the schedule before issue 13)")
    ap.add_argument("--stop-after", type=int, default=4)
    ap.add_argument("--mode", default="lossless", choices=["lossless", "summary"])
    args = ap.parse_args()

    from engine.codecs.summary.compressor import CompressConfig
    from engine.core.runner import RunnerConfig
    from engine.jobs.ladder import LadderEngine
    from engine.jobs.pipeline import BatchProcessor, RunOptions
    from engine.observe.monitor import Monitor

    rows = [json.loads(line) for line in (SHARED / "locomo-dev-sessions.jsonl").open()][: args.n]
    tmp = Path(tempfile.mkdtemp(prefix="semzip-first-"))
    src = tmp / "in.jsonl"
    src.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows))
    mean_kb = sum(len(r["text"].encode()) for r in rows) / len(rows) / 1000
    t_load = time.perf_counter()
    engine = LadderEngine(None, RunnerConfig(num_slots=args.slots, warm_up=not args.no_warm_up),
                          CompressConfig(quality_threshold=args.threshold), mode=args.mode)
    t_load = time.perf_counter() - t_load
    monitor = Monitor(store=None)
    port = free_port()
    monitor.serve(port)
    t0: list[float] = []
    finished: list[float] = []
    on_item = monitor.on_item

    def timed_on_item(*a, **kw):
        on_item(*a, **kw)
        finished.append(time.perf_counter() - t0[0])
        if args.stop_after and len(finished) >= args.stop_after:
            raise Enough

    monitor.on_item = timed_on_item
    seen: dict[str, float] = {}
    stop = threading.Event()
    scraper = threading.Thread(target=scrape_loop, args=(port, t0, seen, stop), daemon=True)
    scraper.start()
    processor = BatchProcessor(engine, RunOptions(batch=args.batch), monitor)
    t0.append(time.perf_counter())
    try:
        processor.run(str(src), str(tmp / "out.jsonl"))
    except Enough:
        pass
    wall = time.perf_counter() - t0[0]
    time.sleep(0.3)  # one more scrape
    stop.set()
    engine.close()
    print(f"machine: {machine()}")
    print(f"{args.mode} mode, {args.n} LoCoMo sessions ({mean_kb:.1f} KB mean), batch {args.batch}, {args.slots} slots, "
          f"warm-up {'off' if args.no_warm_up else 'on'}, threshold {args.threshold}; model load {t_load:.1f} s")
    marks = ", ".join(f"#{k + 1} {t:.1f} s" for k, t in enumerate(finished))
    print(f"memories on the progress bar (s after the run started, model loaded): {marks}")
    print(f"/metrics: first finished memory {seen.get('metrics', float('nan')):.1f} s, first latency sample "
          f"{seen.get('latency', float('nan')):.1f} s; stopped after {wall:.1f} s")


if __name__ == "__main__":
    main()
