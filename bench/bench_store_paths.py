"""The store's paths, one checkout against another in one run: put, hot get, hot search, compaction, cold get.

Usage: python bench/bench_store_paths.py [--base REF] [--rounds 2] [--n 60] [--coded 12] [--cold 4]

Each round runs one child process per checkout (this working tree, and REF checked out into a temporary git
worktree), alternating which goes first, on the same data: n DialogSum dev dialogues put one at a time
(put_many of one, embedded), a hot get of each (5 passes), a search (k = 5) per dialogue's summary; then the first `coded`
dialogues compacted with the default lossless model (one engine, opened before the clock starts), and `cold` of
them read by a second store and a fresh engine (nothing decoded yet). Only the public MemoryStore API is used,
so any checkout since store format 2 runs it. Figures: the median over rounds of each child's p50 (latencies)
or total (compaction).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import SHARED, machine, print_table  # noqa: E402
from bench.results import record  # noqa: E402

CHILD = r"""
import json, sys, tempfile, time
from pathlib import Path
import numpy as np
import engine
from engine.api import Engine
from engine.codecs.quality import Embedder
from engine.store import MemoryStore, Put

n, coded, cold = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rows = [json.loads(l) for l in open(sys.argv[4]) if l.strip()][:n]
emb = Embedder()
emb.embed(["warm up"])
ms = lambda xs: float(np.percentile(xs, 50)) * 1000
out = {"engine": engine.__file__}
with tempfile.TemporaryDirectory() as tmp:
    path = str(Path(tmp) / "s.db")
    engine = Engine(mode="lossless")
    put, get, search = [], [], []
    with MemoryStore(path, engine=engine, embed=emb.embed, dims=384, compaction=False) as store:
        store.search(("warm",), "warm up", decode=False)
        for r in rows:
            t0 = time.perf_counter()
            store.put_many([Put(("d",), r["fname"], r["dialogue"])])
            put.append(time.perf_counter() - t0)
        for _ in range(5):  # a hot get is tens of microseconds: 5 passes
            for r in rows:
                t0 = time.perf_counter()
                assert store.get(("d",), r["fname"]).value == r["dialogue"]
                get.append(time.perf_counter() - t0)
        for r in rows:
            t0 = time.perf_counter()
            store.search(("d",), r["summary"], limit=5)
            search.append(time.perf_counter() - t0)
        store.delete_namespace(("d",))
        store.put_many([Put(("c",), r["fname"], r["dialogue"]) for r in rows[:coded]])
        t0 = time.perf_counter()
        report = store.compact(everything=True)
        out["compact_s"] = time.perf_counter() - t0
        assert report.memories == coded, report.line()
    engine.close()
    fresh = Engine(mode="lossless")
    reads = []
    with MemoryStore(path, engine=fresh, embed=emb.embed, dims=384, compaction=False) as store:
        for r in rows[:cold]:
            t0 = time.perf_counter()
            assert store.get(("c",), r["fname"]).value == r["dialogue"]
            reads.append(time.perf_counter() - t0)
    fresh.close()
out.update(put_ms=ms(put), get_ms=ms(get), search_ms=ms(search), cold_get_ms=ms(reads))
print(json.dumps(out))
"""

# key -> (the table's label, the recorded metric, its unit, its area)
METRICS = {"put_ms": ("put, p50 (ms)", "put, p50, against the commit before", "ms", "hot"),
           "get_ms": ("hot get, p50 (ms)", "hot get, p50, against the commit before", "ms", "hot"),
           "search_ms": ("hot search k=5, p50 (ms)", "hot search k = 5, p50, against the commit before", "ms", "hot"),
           "compact_s": ("compaction (s)", "compaction of {coded} dialogues, against the commit before", "s", "compaction"),
           "cold_get_ms": ("cold get, p50 (ms)", "cold get, p50, against the commit before", "ms", "cold")}


def run_child(tree: Path, args) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD, str(args.n), str(args.coded), str(args.cold),
                        str(SHARED / "dialogsum-dev.jsonl")], cwd=tree, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"})
    if r.returncode != 0:
        raise SystemExit(f"{tree}: the child failed:\n{r.stderr[-2000:]}")
    got = json.loads(r.stdout.strip().splitlines()[-1])
    if not got.pop("engine").startswith(str(tree)):
        raise SystemExit(f"{tree}: the child imported another checkout's engine")
    return got


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default="HEAD", help="the git ref to compare the working tree against")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--coded", type=int, default=12)
    p.add_argument("--cold", type=int, default=4)
    args = p.parse_args()
    base_sha = subprocess.run(["git", "rev-parse", "--short", args.base], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            got: dict[str, list[dict]] = {"base": [], "tree": []}
            for k in range(args.rounds):
                order = [("base", base), ("tree", ROOT)] if k % 2 == 0 else [("tree", ROOT), ("base", base)]
                for name, tree in order:
                    got[name].append(run_child(tree, args))
                    print(f"round {k + 1} {name}: {got[name][-1]}", file=sys.stderr)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)
    print(f"{machine()}; {args.rounds} rounds, {args.n} DialogSum dev dialogues, {args.coded} compacted, "
          f"{args.cold} read cold")
    rows = []
    dataset = f"DialogSum dev, first {args.n} dialogues ({args.coded} compacted, {args.cold} read cold)"
    for key, (label, metric, unit, area) in METRICS.items():
        b = statistics.median(r[key] for r in got["base"])
        t = statistics.median(r[key] for r in got["tree"])
        each = {name: ", ".join(f"{r[key]:.4g}" for r in got[name]) for name in got}
        rows.append([label, f"{b:.2f}", f"{t:.2f}", f"{t / b:.3f}", each["base"], each["tree"]])
        record(metric.format(coded=args.coded), t / b, "x", area=area, dataset=dataset,
               settings=f"the working tree against {base_sha}, {args.rounds} rounds alternating, median of each "
                        f"child's figure; default lossless model, all-MiniLM-L6-v2",
               note=f"{unit}: before {b:.4g} ({each['base']}), after {t:.4g} ({each['tree']})")
    print_table(["path", f"before ({base_sha})", "after (working tree)", "after / before", "before, each round",
                 "after, each round"], rows)


if __name__ == "__main__":
    main()
