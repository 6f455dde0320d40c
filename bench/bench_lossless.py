"""Lossless coding speed and ratio: encode and decode throughput, single-record latency, where the time goes.

Usage: python bench/bench_lossless.py [--model NAME|PATH] [--corpus locomo|dialogsum] [--n 70] [--slots 32]
       [--gpu-layers N] [--batched-bench BIN] [--json FILE]

Encode = Engine.compress over the corpus (one batch), decode = Engine.decode of all its records, then
each of --single records decoded alone. tokens/s counts coded tokens (the priming text excluded).
--batched-bench runs llama.cpp's llama-batched-bench (bench/build_llama_cpp.sh cpu llama-batched-bench)
on the same model and threads, for the share of its ceiling.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import load_jsonl, machine, peak_rss_mib, print_table  # noqa: E402
from bench.results import record  # noqa: E402

CORPORA = {"locomo": ("locomo-dev-sessions.jsonl", "text"), "dialogsum": ("dialogsum-dev.jsonl", "dialogue")}
# the corpus's name in metric names, and what one of its memories is
NAMES = {"locomo": ("LoCoMo dev", "sessions"), "dialogsum": ("DialogSum dev", "dialogues")}


def spent(stats, before) -> tuple:
    """(tokens, model s, coding s, rows) the codec's CodingStats gained since before, a copy of it."""
    return tuple(getattr(stats, k) - getattr(before, k) for k in ("num_tokens", "model_s", "coding_s", "num_rows"))


def batched_bench(binary: str, model: Path, threads: int, npl: list[int]) -> dict[int, tuple[float, float]]:
    """{parallel sequences: (prompt tok/s, generation tok/s)} from llama-batched-bench's table."""
    cmd = [binary, "-m", str(model), "-c", "16384", "-b", "2048", "-ub", "512", "-npp", "128", "-ntg", "64",
           "-npl", ",".join(map(str, npl)), "-t", str(threads), "-fa", "on"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 10 and re.fullmatch(r"\d+", cells[2] or ""):
            rows[int(cells[2])] = (float(cells[5]), float(cells[7]))  # S_PP t/s, S_TG t/s
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--corpus", default="locomo", choices=sorted(CORPORA))
    ap.add_argument("--n", type=int, default=70)
    ap.add_argument("--slots", type=int, default=32)
    ap.add_argument("--gpu-layers", type=int, default=0)
    ap.add_argument("--single", type=int, default=3, help="records decoded alone, for the one-record latency")
    ap.add_argument("--batched-bench", default=None, metavar="BIN")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from engine.api import Engine
    from engine.codecs.container import record_size
    from engine.codecs.item import Item
    from engine.core.runner import RunnerConfig

    name, field = CORPORA[args.corpus]
    texts = load_jsonl(name, field, args.n)
    t0 = time.perf_counter()
    # the decoded-text cache off: the lone reads below would otherwise be answered from it
    engine = Engine(args.model, RunnerConfig(num_slots=args.slots, n_gpu_layers=args.gpu_layers), mode="lossless",
                    read_cache_bytes=0)
    startup = time.perf_counter() - t0
    codec = engine.compressor
    stats = codec.primed.stats
    before = dataclasses.replace(stats)
    t0 = time.perf_counter()
    records = engine.compress_direct([Item(str(i), t) for i, t in enumerate(texts)])
    enc_s = time.perf_counter() - t0
    enc = spent(stats, before)
    before = dataclasses.replace(stats)
    t0 = time.perf_counter()
    back = engine.decode(records)
    dec_s = time.perf_counter() - t0
    dec = spent(stats, before)
    exact = sum(b == t for b, t in zip(back, texts))
    singles = []
    for rec in records[: args.single]:
        t0 = time.perf_counter()
        engine.decode([rec])
        singles.append(time.perf_counter() - t0)
    bytes_in = sum(len(t.encode()) for t in texts)
    ratio = bytes_in / sum(record_size(r) for r in records)
    model_name = engine.model_path.name
    threads = engine.runner.ctx.n_threads
    profile = codec.profile.key
    engine.close()

    n = len(texts)
    print(f"{machine()}; {model_name}; {n} {args.corpus} memories, {bytes_in / n:.0f} B and {enc[0] / n:.0f} tokens each; "
          f"slots {args.slots}; start-up (load, self-test, priming) {startup:.1f} s")
    headers = ["pass", "memories/min", "tokens/s", "model s", "coding s", "rows decoded (padding incl.)"]
    rows = [["encode", n / enc_s * 60, enc[0] / enc_s, enc[1], enc[2], enc[3]],
            ["decode", n / dec_s * 60, dec[0] / dec_s, dec[1], dec[2], dec[3]]]
    print_table(headers, rows)
    per_token_ms = (enc[2] + dec[2]) / max(enc[0] + dec[0], 1) * 1e3
    print(f"exact {exact}/{n}; ratio (.szr records, no metadata) {ratio:.2f}x; distribution + coding "
          f"{per_token_ms:.2f} ms per token; one record alone: median {statistics.median(singles):.1f} s "
          f"({', '.join(f'{s:.1f}' for s in singles)}); peak RSS {peak_rss_mib():.0f} MiB")
    result = {"machine": machine(), "model": model_name, "corpus": args.corpus, "n": n, "slots": args.slots,
              "startup_s": startup, "encode_per_min": n / enc_s * 60, "encode_tok_s": enc[0] / enc_s,
              "decode_per_min": n / dec_s * 60, "decode_tok_s": dec[0] / dec_s, "exact": exact, "ratio": ratio,
              "coding_ms_per_token": per_token_ms, "single_record_s": singles}
    corpus, each = NAMES[args.corpus]
    model = "" if args.model is None else f", {model_name}"  # another model's figures are other metrics
    dataset = f"{corpus}, first {n} {each} ({bytes_in:,} bytes)"
    settings = f"{model_name}, profile {profile}, {args.slots} slots, one batch"
    record(f"lossless ratio, {corpus}{model}", ratio, "x", area="codec", dataset=dataset,
           settings=settings + "; record bytes, ids 0, 1, 2...", note=f"{exact}/{n} exact")
    record(f"lossless encode, {corpus}{model}", n / enc_s * 60, f"{each}/min", area="codec", dataset=dataset,
           settings=settings, note=f"{enc[0] / enc_s:.0f} tokens/s")
    record(f"lossless decode, {corpus}{model}", n / dec_s * 60, f"{each}/min", area="codec", dataset=dataset,
           settings=settings, note=f"{dec[0] / dec_s:.0f} tokens/s; one record alone {statistics.median(singles):.1f} "
                                   f"s median of {len(singles)}")
    if args.batched_bench:
        ceiling = batched_bench(args.batched_bench, Path(engine.model_path), threads, [1, 8, args.slots])
        print("llama-batched-bench (same build, -fa on, 128-token prompts, 64 generated):")
        print_table(["sequences", "prompt tok/s", "generation tok/s"], [[k, *v] for k, v in sorted(ceiling.items())])
        pp, tg = ceiling[args.slots]
        print(f"share of the ceiling: encode {enc[0] / enc_s / pp:.0%} of prompt processing, decode "
              f"{dec[0] / dec_s / tg:.0%} of generation at {args.slots} sequences")
        result["batched_bench"] = {str(k): v for k, v in ceiling.items()}
        bb = f"{model_name}, the same build and threads; -fa on, 128-token prompts, 64 generated"
        record(f"llama-batched-bench generation, {args.slots} sequences", tg, "tokens/s", area="peers",
               dataset=dataset, settings=bb, note=f"prompt processing {pp:.1f} tokens/s")
        record("lossless decode against llama-batched-bench's generation", 100 * dec[0] / dec_s / tg, "%",
               area="peers", dataset=dataset, settings=f"{settings}, {args.slots} sequences",
               note=f"{dec[0] / dec_s:.0f} of {tg:.0f} tokens/s")
        record("lossless encode against llama-batched-bench's generation", 100 * enc[0] / enc_s / tg, "%",
               area="peers", dataset=dataset, settings=f"{settings}, {args.slots} sequences",
               note=f"{enc[0] / enc_s:.0f} of {tg:.0f} tokens/s; {enc[0] / enc_s / pp:.0%} of its prompt processing")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
