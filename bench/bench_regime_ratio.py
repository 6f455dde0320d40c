"""What a lossless regime costs in bytes: the same dev texts coded under each regime, in a process of its own.

Usage: python bench/bench_regime_ratio.py [--locomo 24] [--dialogsum 48] [--regimes r1,r2]

A regime's matmul switches are read by ggml once per process, so each regime codes in a child started with its
switches (engine.codecs.lossless.regime.KERNEL_ENV); the child codes the texts in one batch with default settings
and prints its records' container bytes. Every record is a different code under each regime (its bits change), so
only the totals compare: the issue's budget is 2% of the release before's (r1) bytes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import load_jsonl, machine, print_table  # noqa: E402


def texts(locomo: int, dialogsum: int) -> dict[str, list[str]]:
    return {"LoCoMo": load_jsonl("locomo-dev-sessions.jsonl", "text", locomo),
            "DialogSum": load_jsonl("dialogsum-dev.jsonl", "dialogue", dialogsum)}


def child(locomo: int, dialogsum: int) -> None:
    from engine.api import Engine
    from engine.codecs.container import record_size
    from engine.codecs.lossless.regime import process_regime

    out = {"regime": process_regime()}
    with Engine(mode="lossless", read_cache_bytes=0) as engine:
        for name, batch in texts(locomo, dialogsum).items():
            t0 = time.perf_counter()
            records = engine.compress(batch)
            out[name] = {"texts": len(batch), "text_bytes": sum(len(t.encode()) for t in batch),
                         "record_bytes": sum(record_size(r) for r in records), "encode_s": time.perf_counter() - t0,
                         "profile": records[0].profile}
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--locomo", type=int, default=24, help="LoCoMo dev sessions")
    ap.add_argument("--dialogsum", type=int, default=48, help="DialogSum dev dialogues")
    ap.add_argument("--regimes", default="r1,r2")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.locomo, args.dialogsum)

    from engine.codecs.lossless.regime import KERNEL_ENV

    results = {}
    for regime in args.regimes.split(","):
        env = {**os.environ, **KERNEL_ENV[regime]}
        cmd = [sys.executable, __file__, "--child", "--locomo", str(args.locomo), "--dialogsum", str(args.dialogsum)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        results[regime] = json.loads(done.stdout.strip().splitlines()[-1])
        assert results[regime]["regime"] == regime, results[regime]
        print(regime, results[regime], file=sys.stderr)
    base = args.regimes.split(",")[0]
    rows = []
    for regime, r in results.items():
        for name in ("LoCoMo", "DialogSum"):
            d, b = r[name], results[base][name]
            rows.append([regime, name, d["texts"], d["text_bytes"], d["record_bytes"],
                         f"{d['text_bytes'] / d['record_bytes']:.3f}", f"{d['record_bytes'] / b['record_bytes'] - 1:+.2%}",
                         f"{d['encode_s']:.0f}"])
    print(f"{machine()}; bytes vs {base}")
    print_table(["regime", "set", "texts", "text bytes", "record bytes", "ratio", f"vs {base}", "encode s"], rows)
    from bench.results import record

    for regime, r in results.items():
        for name in ("LoCoMo", "DialogSum") if regime != base else ():
            d, b = r[name], results[base][name]
            extra = 100 * (d["record_bytes"] / b["record_bytes"] - 1)
            ratios = f"{d['text_bytes'] / d['record_bytes']:.3f}x, {base} {b['text_bytes'] / b['record_bytes']:.3f}x"
            record(f"regime {regime}'s extra bytes over {base}, {name} dev", extra, "%", area="codec",
                   dataset=f"{name} dev, first {d['texts']} texts ({d['text_bytes']:,} bytes)",
                   settings="default settings, one batch under each regime, each in a child process with its matmul "
                            f"switches (profile {d['profile']})",
                   note=f"{d['record_bytes']:,} against {b['record_bytes']:,} bytes ({ratios})")


if __name__ == "__main__":
    main()
