"""One decode step's cost under each setting of ggml's matmul switches, with and without the output projection.

Usage: python bench/bench_regime_steps.py [--model PATH] [--threads 0]

Each setting runs in its own process (ggml reads the switches once per process): r1 (tiled K-quant kernel
forced, the release before's regime), r2 (tiled kernel off: vec_dot at every row count, this release's), and
ggml's default (tiled from 8 rows: not a regime, rows would change bits at 8). A step feeds one token to each of
N streams after a 70-token context (a lone stream gets a padding stream, as the decoder does), all asking for
logits; "no projection" captures the final hidden state and stops the graph there (bindings' capture). The
prefill row is the encoder's step: 2 streams x 63 tokens, every row with logits.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import machine, print_table  # noqa: E402

SETTINGS = {
    "r1: tiled forced": {"GGML_CPU_TILED_MM": "1", "GGML_CPU_TILED_MM_FORCE": "1"},
    "r2: tiled off": {"GGML_CPU_TILED_MM": "0", "GGML_CPU_TILED_MM_FORCE": "0"},
    "ggml default (tiled from 8 rows)": {"GGML_CPU_TILED_MM": "1", "GGML_CPU_TILED_MM_FORCE": "0"},
}
ROWS = (1, 2, 4, 8, 32)


def child(model: str, threads: int, capture: bool) -> dict:
    import bindings  # noqa: F401
    from engine.codecs.lossless.regime import Regime
    from engine.core.runner import ModelRunner

    cfg = Regime().runner_config(num_slots=33, n_threads=threads)
    r = ModelRunner(model, dataclasses.replace(cfg, capture="result_norm" if capture else None))
    text = "Caroline: I went to the LGBTQ support group yesterday and it was so powerful. Melanie: That's great! "
    toks = (r.model.tokenize(text * 3, add_special=True, parse_special=False) * 2)[:70]
    n = len(toks)
    out = {}
    for rows in ROWS:
        r.ctx.memory_clear()
        r.forward(toks, list(range(n)), [0] * n, [False] * (n - 1) + [True])
        streams = max(rows, 2)
        for s in range(1, streams):
            r.copy_seq(0, s)
        t0 = time.perf_counter()
        for k in range(20):
            r.forward([toks[k]] * streams, [n + k] * streams, list(range(streams)), [True] * rows + [False] * (streams - rows))
            if rows < 2:
                r.drop_seq(1)  # the padding stream: dropped after each step, as the decoder does
        out[f"{rows}"] = (time.perf_counter() - t0) / 20 * 1e3
    r.ctx.memory_clear()
    t0 = time.perf_counter()
    for _ in range(3):
        r.forward(toks[:63] * 2, list(range(63)) * 2, [0] * 63 + [1] * 63, [True] * 126)
        r.ctx.memory_clear()
    out["prefill"] = (time.perf_counter() - t0) / 3 * 1e3
    r.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(Path.home() / ".cache/semzip/models/gemma-3-270m-q4_k_m.gguf"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--child", choices=["logits", "hidden"], default=None)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.model, args.threads, args.child == "hidden")))
        return
    rows = []
    for name, env in SETTINGS.items():
        for what in ("logits", "hidden"):
            proc = subprocess.run([sys.executable, __file__, "--model", args.model, "--threads", str(args.threads),
                                   "--child", what], env={**os.environ, **env}, capture_output=True, text=True,
                                  check=True)
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append([name, "with logits" if what == "logits" else "no projection"]
                        + [f"{got[str(k)]:.1f}" for k in ROWS] + [f"{got['prefill']:.0f}"])
            print(rows[-1], file=sys.stderr)
    print(f"{machine()}; {Path(args.model).name}; ms per llama_decode (20 steps, mean)")
    print_table(["matmul switches", "rows"] + [f"{k} stream{'s' if k > 1 else ''} x 1" for k in ROWS]
                + ["prefill 2 x 63"], rows)
    from bench.results import record

    ms = {(r[0][:2], r[1]): r[2:] for r in rows}  # (regime, rows) -> ms at each of ROWS streams, then the prefill
    r2, r1, bare = ms[("r2", "with logits")], ms[("r1", "with logits")], ms[("r2", "no projection")]
    record("decode step, 1 stream x 1 token, with logits", float(r2[0]), "ms", area="codec",
           dataset=f"{Path(args.model).name}, one token to one stream after 70 tokens of context, beside a padding "
                   "stream", settings="regime r2 (ggml's tiled kernel off)",
           note=f"regime r1 (tiled forced) {r1[0]} ms: r2 {float(r1[0]) / float(r2[0]):.1f}x; without the output "
                f"projection {bare[0]} ms (r1 {ms[('r1', 'no projection')][0]}); 32 streams x 1 token {r2[4]} ms "
                f"(r1 {r1[4]}); prefill 2 x 63 tokens {r2[5]} ms (r1 {r1[5]})")


if __name__ == "__main__":
    main()
