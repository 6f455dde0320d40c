"""The monitor's own cost: CPU time its sampler thread and its per-item hooks consume, as a share of wall time.

Usage: python bench/bench_monitor.py [--seconds 20]. Throughput on/off comparisons on this 2-core
machine are swamped by ±5% run-to-run noise (see bench_pipeline.py), so this measures the cost directly.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import machine, print_table  # noqa: E402
from bench.results import record  # noqa: E402
from engine.codecs.events import ItemDone  # noqa: E402
from engine.codecs.record import Record  # noqa: E402
from engine.jobs.store import RunStore  # noqa: E402
from engine.observe.monitor import Monitor  # noqa: E402


def thread_cpu_s(name: str) -> float:
    """CPU seconds (user + system) so far of this process's live thread called name (the kernel's own count)."""
    native = next(t.native_id for t in threading.enumerate() if t.name == name)
    return next(t.user_time + t.system_time for t in psutil.Process().threads() if t.id == native)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    with RunStore(Path(tempfile.mkdtemp()) / "m.db") as store:
        mon = Monitor(store=store)
        cpu = {}
        mon.start_sampling(1.0)
        recs = [Record(str(i), "llm", summary="s" * 80, facts=["f"] * 6, quality=0.8) for i in range(32)]
        events = [ItemDone(i, r, 30.0, 900, 120) for i, r in enumerate(recs)]
        t_hooks = 0.0
        batches = 0
        t_end = time.time() + args.seconds
        while time.time() < t_end:
            t0 = time.thread_time()
            for rec, event in zip(recs, events):  # what one 32-item batch reports, an item at a time
                mon.on_item(3000, rec, event)
                mon.on_cache({"hits": 0, "misses": event.index + 1, "size": event.index + 1})
            t_hooks += time.thread_time() - t0
            batches += 1
            time.sleep(1.0)  # one batch a second: far more often than real batches finish on this CPU
        cpu["sampler"] = thread_cpu_s("semzip-sampler")  # its thread, named by Monitor.start_sampling, still live
        mon.stop()
        threading.Event().wait(0.1)
    wall = args.seconds
    print(f"machine: {machine()}; {wall:.0f} s, sampling every 1 s, one 32-item batch reported per second")
    print_table(["part", "CPU s", "share of one core"], [
        ["sampler thread (psutil, GPU probe, store writes)", f"{cpu.get('sampler', 0.0):.3f}", f"{cpu.get('sampler', 0.0) / wall:.3%}"],
        [f"per-item hooks ({batches} batches of 32)", f"{t_hooks:.3f}", f"{t_hooks / wall:.3%}"],
    ])
    record("the monitor's CPU, share of one core", 100 * (cpu["sampler"] + t_hooks) / wall, "%", area="scale",
           dataset=f"one 32-item batch reported per second for {wall:.0f} s",
           settings="Monitor sampling every 1 s (psutil, GPU probe, SQLite samples), per-item hooks",
           note=f"sampler thread {cpu['sampler'] / wall:.2%}, per-batch hooks {t_hooks / wall:.2%}")


if __name__ == "__main__":
    main()
