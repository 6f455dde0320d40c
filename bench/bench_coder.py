"""What coder c2 costs against c1: record bytes and coding time on the dev sets, and whether each coder's
probabilities keep their bits on numpy's other SIMD code.

    python bench/bench_coder.py [--locomo 24] [--dialogsum 48] [--threads 0]

Both coders code the same texts in one batch each, on one engine (the model's logits are the same; only the
mapping from logits to probabilities differs); every record is decoded back and compared. Then the prime's
logits and the logits of the first texts' rows go to a child process whose numpy runs its baseline code
(NPY_DISABLE_CPU_FEATURES: every dispatched target off): a coder whose probabilities come back with other bits
there would code records that another machine's numpy cannot read.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import load_jsonl, machine, print_table  # noqa: E402
from bench.results import record  # noqa: E402

CHILD = """
import sys
import numpy as np
from engine.codecs.lossless import arithmetic as coder
logits = np.load(sys.argv[1])
for c in ("c1", "c2"):
    np.save(sys.argv[2] + c + ".npy", coder.probabilities(logits, coder=c))
"""



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--locomo", type=int, default=24)
    ap.add_argument("--dialogsum", type=int, default=48)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    from engine.api import Engine
    from engine.codecs.container import record_size
    from engine.codecs.item import Item
    from engine.codecs.lossless import arithmetic as coder, stream
    from engine.codecs.lossless.codec import LosslessCodec
    from engine.core.runner import RunnerConfig

    sets = {"LoCoMo dev": load_jsonl("locomo-dev-sessions.jsonl", "text", args.locomo),
            "DialogSum dev": load_jsonl("dialogsum-dev.jsonl", "dialogue", args.dialogsum)}
    rows, logits_seen = [], []
    real_step = stream.PrimedRunner.step

    def step(self, *a, **k):  # keep a few real logits rows for the SIMD comparison below
        out = real_step(self, *a, **k)
        if not k.get("hidden") and sum(len(x) for x in logits_seen) < 64:
            logits_seen.append(np.array(out))
        return out

    stream.PrimedRunner.step = step
    with Engine(mode="lossless", read_cache_bytes=0, runner_config=RunnerConfig(n_threads=args.threads)) as eng:
        base = eng.compressor
        codecs = {c: LosslessCodec(base.runner, eng.model_sha, base.profile.kernels, base.regime, coder=c)
                  for c in coder.CODERS}
        for name, texts in sets.items():
            items = [Item(str(i), t) for i, t in enumerate(texts)]
            raw = sum(len(t.encode()) for t in texts)
            sizes = {}
            for c, codec in codecs.items():
                t0 = time.perf_counter()
                records = codec.compress(items)
                enc = time.perf_counter() - t0
                assert codec.decompress(records) == texts, f"{c} did not give back {name}"
                sizes[c] = sum(record_size(r) for r in records)
                rows.append([name, c, len(texts), raw, sizes[c], f"{raw / sizes[c]:.3f}",
                             f"{(sizes[c] / sizes['c1'] - 1) * 100:+.2f}%" if c != "c1" else "-", f"{enc:.0f}"])
            record(f"coder c2's extra bytes over c1, {name}", (sizes["c2"] / sizes["c1"] - 1) * 100, "%",
                   area="portability", dataset=f"{name}, first {len(texts)} texts ({raw:,} bytes)",
                   settings=f"{eng.model_path.name}, both coders on one engine in one run, every record decoded "
                            "back exactly",
                   note=f"c1 {sizes['c1']:,} and c2 {sizes['c2']:,} bytes ({raw / sizes['c2']:.3f}x)")
        first = base.primed.first_logits.reshape(1, -1)
    stream.PrimedRunner.step = real_step
    print(f"{machine()}; numpy {np.__version__}, dispatched here: {' '.join(coder.numpy_active_targets()) or 'none'}")
    print_table(["set", "coder", "texts", "text bytes", "record bytes", "ratio", "vs c1", "encode s"], rows)

    logits = np.concatenate([first] + logits_seen).astype(np.float32)[:64]
    targets = coder.numpy_active_targets()
    if not targets:
        print("numpy runs its baseline code here: no other SIMD code to compare against")
        return
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "logits.npy", logits)
        env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(targets), "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-c", CHILD, str(Path(tmp) / "logits.npy"), str(Path(tmp) / "p")], env=env,
                       check=True)
        table = []
        for c in coder.CODERS:
            here = coder.probabilities(logits, coder=c)
            there = np.load(Path(tmp) / f"p{c}.npy")
            differ = np.count_nonzero(here.view(np.uint32) != there.view(np.uint32))
            table.append([c, f"{len(logits)} x {logits.shape[1]}", f"{differ:,}",
                          "same bits" if differ == 0 else "OTHER BITS"])
    differ = {row[0]: int(row[2].replace(",", "")) for row in table}
    record("coder c1's probabilities that differ on numpy's baseline code", 100 * differ["c1"] / logits.size, "%",
           area="portability", dataset=f"{len(logits)} logits rows x {logits.shape[1]:,} (the priming text's last "
                                       "and real coding steps)",
           settings=f"numpy {np.__version__}, its {' '.join(targets)} code here against NPY_DISABLE_CPU_FEATURES in "
                    "a child process", note=f"{differ['c1']:,} values differ; coder c2: {differ['c2']:,}")
    print(f"probabilities on numpy's {' '.join(targets)} code (here) against its baseline (a child):")
    print_table(["coder", "rows x vocabulary", "values that differ", ""], table)


if __name__ == "__main__":
    main()
