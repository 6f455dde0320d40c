"""What keeping the summary prompt's prefix KV saves: a whole `semzip compress` process, cold and warm.

Usage: python bench/bench_prefix_kv.py [--n 8] [--batch 2] [--runs 2]

Each run is a fresh process compressing the first N DialogSum dev dialogues in summary mode (no scoring, default
slots and threads). Cold: the on-disk prefix states (CACHE/prefix-kv) removed first, so the process prefills the
prompt's prefix once and puts it back after every batch's reset; warm: the next process finds it on disk.
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
        out = folder / "out.jsonl"
        for old in folder.glob("out.jsonl*"):
            old.unlink()
        cmd = [sys.executable, "-m", "engine.cli", "compress", str(src), "-o", str(out), "--mode", "summary",
               "--no-score", "--batch", str(args.batch), "--no-monitor"]
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        rows.append([kind, f"{time.perf_counter() - t0:.1f}", hashlib.sha256(out.read_bytes()).hexdigest()])
        print(rows[-1], file=sys.stderr)
    same = len({r[2] for r in rows}) == 1
    print(f"{machine()}; {args.n} DialogSum dev dialogues, batch {args.batch}; outputs identical: {same}")
    print_table(["process", "wall s"], [r[:2] for r in rows])
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
