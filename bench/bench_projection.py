"""What our own vocabulary projection costs in bits and gains in time, against llama.cpp's logits.

Usage: python bench/bench_projection.py [--model PATH] [--locomo 12] [--dialogsum 60] [--threads 0]

Held out as the real check will be: the shortlist is built from half the dev sets (every other LoCoMo
conversation, every other DialogSum dialogue) and the bits are counted on texts of the other half.
For each text, coded after the priming text in chunks of 63 tokens (the encoder's regime):
- c1: constriction's code length under llama.cpp's full-vocabulary logits (today's records);
- c2: under our projection (16-bit hidden state, int8 rows, table exp) over shortlist + the text's
  other tokens, plus the bytes that name those tokens (their subset's rank);
- c2 with an 8-bit hidden state (one product instead of two), for the choice.
Then the time of one decode step (1 row, beside a padding stream) with logits and with the capture.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED, machine, print_table  # noqa: E402


def code_bytes(symbols: list[int], rows: np.ndarray) -> int:
    import constriction

    enc = constriction.stream.queue.RangeEncoder()
    enc.encode(np.asarray(symbols, dtype=np.int32), constriction.stream.model.Categorical(perfect=False),
               np.ascontiguousarray(rows, dtype=np.float32))
    return len(enc.get_compressed().astype("<u4").tobytes().rstrip(b"\0"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--locomo", type=int, default=12)
    ap.add_argument("--dialogsum", type=int, default=60)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    import bindings  # noqa: F401  (sets ggml's force before llama.cpp loads)
    from bench import own_projection as P
    from engine.codecs.lossless.coder import probabilities
    from engine.codecs.lossless.priming import PRIMING_TEXT
    from engine.codecs.lossless.regime import Regime
    from engine.codecs.lossless.tokens import ExactTokenizer
    from engine.core.runner import ModelRunner

    model = Path(args.model or Path.home() / ".cache/semzip/models/gemma-3-270m-q4_k_m.gguf")
    lo = [json.loads(line) for line in open(SHARED / "locomo-dev-sessions.jsonl")]
    ds = [json.loads(line)["dialogue"] for line in open(SHARED / "dialogsum-dev.jsonl")]
    convs = sorted({r["conversation"] for r in lo})
    train_convs = set(convs[::2])
    regime = Regime()
    cfg = regime.runner_config(num_slots=2, n_threads=args.threads)
    plain = ModelRunner(model, cfg)
    import dataclasses
    capt = ModelRunner(model, dataclasses.replace(cfg, capture="result_norm"))
    tok = ExactTokenizer(plain.model)
    counts = collections.Counter()
    for r in lo:
        if r["conversation"] in train_convs:
            counts.update(tok.encode(r["text"]))
    for t in ds[::2]:
        counts.update(tok.encode(t))
    shortlist = np.array(sorted(counts), dtype=np.int64)
    proj = P.Projection(model, shortlist)
    test = [r["text"] for r in lo if r["conversation"] not in train_convs][: args.locomo] + ds[1::2][: args.dialogsum]
    prime = plain.model.tokenize(PRIMING_TEXT, add_special=True, parse_special=False)

    def rows_of(runner, tokens):
        """Rows for predicting tokens[1:] and the first token after the priming text, in chunks of 63."""
        runner.ctx.memory_clear()
        out, seq = [], prime + tokens[:-1]
        for a in range(0, len(seq), 63):
            chunk = seq[a : a + 63]
            want = [a + i >= len(prime) - 1 for i in range(len(chunk))]
            got = runner.forward(chunk + [0] * 0, list(range(a, a + len(chunk))), [0] * len(chunk), want)
            out.append(np.array(got))
        return np.concatenate(out)

    tot = collections.Counter()
    t0 = time.perf_counter()
    for k, text in enumerate(test):
        tokens = tok.encode(text)
        tot["text"] += len(text.encode())
        tot["tokens"] += len(tokens)
        logits = rows_of(plain, tokens)
        tot["c1"] += code_bytes(tokens, probabilities(logits, coder="c1"))
        hidden = rows_of(capt, tokens)
        extras = proj.extras_of(tokens)
        alpha = proj.alphabet(extras)
        tot["extras"] += len(extras)
        rank = P.subset_rank_bytes(proj.n_vocab - proj.shortlist.size, len(extras)) + 1
        tot["rank"] += rank
        syms = proj.symbols(tokens, alpha)
        q, scale = proj.quantized(hidden)
        base = P._exact_products(q, proj.base_w)
        tot["c2"] += code_bytes(syms, proj.frequencies(base, scale, q, alpha)) + rank
        # 8-bit hidden state: one product
        s8 = np.abs(hidden).max(axis=1) / np.float32(127)
        q8 = np.rint(hidden / s8[:, None]).astype(np.float32)
        lg8 = (q8 @ proj.base_w.T).astype(np.float64) * s8[:, None].astype(np.float64) * proj.base_s[None, :]
        if alpha.extras.size:
            lg8 = np.concatenate([lg8, (q8 @ alpha.weights.T).astype(np.float64) * s8[:, None] * alpha.scales], axis=1)
        tot["c2_h8"] += code_bytes(syms, P.table_frequencies(lg8)) + rank
        print(f"{k + 1}/{len(test)} c1 {tot['c1']} c2 {tot['c2']} h8 {tot['c2_h8']} extras {tot['extras']} "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    def step_ms(runner, n=40):
        runner.ctx.memory_clear()
        runner.forward(prime, list(range(len(prime))), [0] * len(prime), [False] * len(prime))
        t = time.perf_counter()
        for i in range(n):
            runner.forward([prime[i], 0], [len(prime) + i] * 2, [0, 1], [True, False])
            runner.drop_seq(1)
        return (time.perf_counter() - t) / n * 1e3

    h = rows_of(capt, tok.encode(test[0]))[:1]
    t = time.perf_counter()
    for _ in range(40):
        q, scale = proj.quantized(h)
        proj.frequencies(P._exact_products(q, proj.base_w), scale, q, proj.alphabet([]))
    proj_ms = (time.perf_counter() - t) / 40 * 1e3
    print(f"\n{machine()}; {model.name}; shortlist {shortlist.size} tokens (from the other half); "
          f"{len(test)} held-out texts, {tot['tokens']} tokens, {tot['text']} bytes")
    print_table(["coder", "bytes", "ratio", "vs c1"], [
        ["c1 llama.cpp logits", tot["c1"], f"{tot['text'] / tot['c1']:.3f}", "1.000"],
        ["c2 own projection (16-bit h)", tot["c2"], f"{tot['text'] / tot['c2']:.3f}", f"{tot['c2'] / tot['c1']:.4f}"],
        ["c2 with 8-bit h", tot["c2_h8"], f"{tot['text'] / tot['c2_h8']:.3f}", f"{tot['c2_h8'] / tot['c1']:.4f}"],
    ])
    print(f"extras: {tot['extras'] / len(test):.2f} per text, naming them {tot['rank']} bytes in all")
    print_table(["step (1 row + 1 padding stream)", "ms"], [
        ["llama.cpp with logits", f"{step_ms(plain):.1f}"],
        ["capture, no projection", f"{step_ms(capt):.1f}"],
        ["our projection + frequencies, 1 row", f"{proj_ms:.2f}"],
    ])


if __name__ == "__main__":
    main()
