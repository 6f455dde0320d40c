"""The GPU run's measurements: per model, summary-mode throughput at each slot count and llama-batched-bench on
the same build, then the lossless determinism self-test and lossless throughput. bench/gpu_run.sh calls it.

    python -m tools.gpu_matrix --model 7b=PATH --model 0.5b=PATH --slots 1,8,32,64,128 --gpu-layers -1 \
        --batched-bench build/bin/llama-batched-bench --results .gpuwork/results --deadline EPOCH

Every row runs in its own process (a crash costs one row, and the table says so) while the monitor's
sampler (NVML) reads GPU utilisation and memory. Rows are kept as JSON in --results: a call stopped by
--deadline leaves the rest for the next call, which skips what is done. Exit 3: rows remain.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools import gpu_report  # noqa: E402

CONTINUE = 3


@dataclass(frozen=True, slots=True)
class Row:
    model: str
    kind: str  # summary, batched-bench, selftest, lossless
    slots: int = 0

    @property
    def key(self) -> str:
        return f"{self.model}__{self.kind}" + (f"@{self.slots}" if self.slots else "")


def sample_gpu(cmd: list[str], timeout: float, env: dict) -> dict:
    """Run cmd while the monitor samples the GPU every 0.25 s; rc, wall, output and the GPU figures."""
    from engine.jobs.store import RunStore
    from engine.observe.monitor import Monitor

    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "samples.db")
        monitor = Monitor(store=store)
        monitor.start_sampling(0.25)
        t0 = time.perf_counter()
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
            rc, out = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as exc:
            rc, out = "timeout", f"{exc.stdout or ''}{exc.stderr or ''}"
            out = out.decode(errors="replace") if isinstance(out, bytes) else out
        wall = time.perf_counter() - t0
        monitor.stop()
        util = [v for _, v in store.series("gpu0_util_percent")]
        mem = [v for _, v in store.series("gpu0_memory_used_bytes")]
        store.close()
    return {"cmd": cmd, "rc": rc, "wall_s": wall, "output": out[-6000:], "gpu_util": util,
            "gpu_mem_peak_mib": max(mem) / 2**20 if mem else None}


class Matrix:
    def __init__(self, args):
        self.args = args
        self.py = args.python
        self.results: Path = args.results
        self.results.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # the engine's default (physical cores), given to llama-batched-bench too so both run alike
        self.threads = args.threads or psutil.cpu_count(logical=False) or os.cpu_count() or 1
        self._help: dict[str, str] = {}

    def n_for(self, slots: int) -> int:
        return max(self.args.min_n, self.args.n_per_slot * slots)

    def help_of(self, cmd: list[str]) -> str:
        """--help text of a script or module ('' when it is missing), to pass only the flags it takes."""
        key = " ".join(cmd)
        if key not in self._help:
            done = subprocess.run(cmd + ["--help"], capture_output=True, text=True, cwd=ROOT, env=self.env)
            self._help[key] = done.stdout if done.returncode == 0 else ""
        return self._help[key]

    def command(self, row: Row, path: str) -> list[str] | str:
        """The row's command, or why it cannot run here."""
        a, gl = self.args, str(self.args.gpu_layers)
        if row.kind == "summary":
            return [self.py, "bench/bench_throughput.py", "--model", path, "--slots", str(row.slots), "--n",
                    str(self.n_for(row.slots)), "--gen-tokens", str(a.gen_tokens), "--gpu-layers", gl,
                    "--threads", str(self.threads), "--json", str(self.results / f"{row.key}.out.json")]
        if row.kind == "batched-bench":
            pp = self.mean_prompt_tokens(row.model)
            npl = [int(s) for s in a.slots.split(",")]
            return [a.batched_bench, "-m", path, "-c", str(max(npl) * (pp + a.gen_tokens) + 256), "-b", "2048",
                    "-ub", "512", "-npp", str(pp), "-ntg", str(a.gen_tokens), "-npl", a.slots, "-kvu",
                    "-ngl", "999" if a.gpu_layers else "0", "--output-format", "jsonl", "-t", str(self.threads),
                    "-tb", str(self.threads)]
        if row.kind == "selftest":
            base = [self.py, "-m", "engine.codecs.lossless.selftest"]
            text = self.help_of(base)
            if not text:
                return "engine.codecs.lossless.selftest is not on this branch"
            return base + ["--model", path] + (["--gpu-layers", gl] if "--gpu-layers" in text else [])
        base = [self.py, "bench/bench_lossless.py"]
        text = self.help_of(base)
        if not text:
            return "bench/bench_lossless.py is not on this branch"
        return base + ["--model", path, "--slots", str(row.slots), "--n", str(self.n_for(row.slots))] + \
            (["--gpu-layers", gl] if "--gpu-layers" in text else [])

    def mean_prompt_tokens(self, model: str) -> int:
        """llama-batched-bench's PP: the mean per-memory prompt of this model's summary rows (the prefix is copied)."""
        for f in sorted(self.results.glob(f"{model}__summary@*.out.json")):
            return round(json.loads(f.read_text())["mean_prompt_tokens"])
        return 256

    def run(self, rows: list[Row], paths: dict[str, str]) -> int:
        for row in rows:
            target = self.results / f"{row.key}.json"
            if target.exists():
                continue
            cmd = self.command(row, paths[row.model])
            if isinstance(cmd, str):
                target.write_text(json.dumps({"row": row.key, "rc": "missing", "output": cmd}))
                continue
            left = self.args.deadline - time.time() if self.args.deadline else float("inf")
            if left < self.args.min_row_s:
                print(f"deadline: {row.key} and later rows left for the next call", file=sys.stderr)
                return CONTINUE
            timeout = min(self.args.row_cap_s, left - 5)
            print(f"[{time.strftime('%H:%M:%S')}] {row.key} ...", file=sys.stderr, flush=True)
            res = sample_gpu(cmd, timeout, self.env)
            if res["rc"] == "timeout" and timeout < self.args.row_cap_s:
                print(f"deadline: {row.key} stopped after {res['wall_s']:.0f} s, left for the next call", file=sys.stderr)
                return CONTINUE
            res["row"] = row.key
            print(f"    rc {res['rc']}, {res['wall_s']:.1f} s", file=sys.stderr, flush=True)
            target.write_text(json.dumps(res, indent=1))
        return 0


def plan(models: list[str], slots: list[int]) -> list[Row]:
    """Summary rows and llama-batched-bench first (the issue's targets), then the lossless rows."""
    rows = [Row(m, "summary", s) for m in models for s in slots]
    rows += [Row(m, "batched-bench") for m in models]
    rows += [r for m in models for r in [Row(m, "selftest")] + [Row(m, "lossless", s) for s in slots]]
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--slots", default="1,8,32,64,128")
    ap.add_argument("--gen-tokens", type=int, default=53)
    ap.add_argument("--n-per-slot", type=int, default=2, help="memories per slot in each row")
    ap.add_argument("--min-n", type=int, default=8)
    ap.add_argument("--gpu-layers", type=int, default=-1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batched-bench", required=True)
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--deadline", type=float, default=0.0, help="epoch seconds after which no row starts")
    ap.add_argument("--min-row-s", type=float, default=45.0, help="no row starts with less time than this left")
    ap.add_argument("--row-cap-s", type=float, default=300.0, help="a row running longer is recorded as timed out")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--header", default="", help="machine line for the table")
    ap.add_argument("--all", type=Path, default=None, help="also write every row (and its figures) here as one JSON")
    args = ap.parse_args(argv)
    paths = dict(m.split("=", 1) for m in args.model)
    slots = [int(s) for s in args.slots.split(",")]
    status = Matrix(args).run(plan(list(paths), slots), paths)
    print(gpu_report.render(args.results, list(paths), slots, args.header))
    if args.all:
        rows = {f.name[:-5]: json.loads(f.read_text()) for f in sorted(args.results.glob("*.json"))}
        args.all.write_text(json.dumps({"header": args.header, "rows": rows}, indent=1) + "\n")
    if status == CONTINUE:
        print("\nNOT DONE: run the same command again (the results so far are kept)")
    return status


if __name__ == "__main__":
    sys.exit(main())
