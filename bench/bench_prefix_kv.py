"""What keeping a shared prefix's KV saves: whole `semzip compress` (and, lossless, `reconstruct --id`) processes.

Usage: python bench/bench_prefix_kv.py [--mode summary|lossless] [--n 8] [--batch 2] [--runs 2]

Each run is a fresh process compressing the first N DialogSum dev dialogues (default slots and threads; summary
without scoring). Cold: the on-disk states (CACHE/prefix-kv) removed first, so the process decodes the summary
prompt's prefix (and puts it back after every batch's reset) or the lossless priming text; warm: the next process
finds it on disk. Lossless runs also time one record read back alone by a fresh `semzip reconstruct --id`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import load_jsonl, machine, print_table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["summary", "lossless"], default="summary")
    ap.add_argument("--n", type=int, default=8, help="DialogSum dev dialogues")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--runs", type=int, default=2, help="runs of each kind (cold, warm)")
    args = ap.parse_args()

    from engine.models import cache_dir

    folder = Path(tempfile.mkdtemp())
    src = folder / "in.jsonl"
    texts = load_jsonl("dialogsum-dev.jsonl", "dialogue", args.n)
    src.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
    rows = []
    for kind in ["cold", "warm"] * args.runs:
        if kind == "cold":
            shutil.rmtree(cache_dir() / "prefix-kv", ignore_errors=True)
        out = folder / ("out.jsonl" if args.mode == "summary" else "out.szr")
        for old in folder.glob("out.*"):
            old.unlink()
        cmd = [sys.executable, "-m", "engine.cli", "compress", str(src), "-o", str(out), "--mode", args.mode,
               "--batch", str(args.batch), "--no-monitor"] + (["--no-score"] if args.mode == "summary" else [])
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        row = [kind, f"{time.perf_counter() - t0:.1f}"]
        digest = hashlib.sha256(out.read_bytes())
        if args.mode == "lossless":
            if kind == "cold":
                shutil.rmtree(cache_dir() / "prefix-kv", ignore_errors=True)  # the read's process starts cold too
            back = folder / "back.jsonl"
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "engine.cli", "reconstruct", str(out), "--id", "0", "-o", str(back)],
                           cwd=ROOT, check=True, capture_output=True)
            row.append(f"{time.perf_counter() - t0:.1f}")
            digest.update(back.read_bytes())
        rows.append(row + [digest.hexdigest()])
        print(rows[-1], file=sys.stderr)
    same = len({r[-1] for r in rows}) == 1
    print(f"{machine()}; {args.mode}; {args.n} DialogSum dev dialogues, batch {args.batch}; outputs identical: {same}")
    headers = ["process", "compress wall s"] + (["reconstruct --id 0 wall s"] if args.mode == "lossless" else [])
    print_table(headers, [r[:-1] for r in rows])
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
