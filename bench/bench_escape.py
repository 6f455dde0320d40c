"""How coder s1's choices were made: ideal code lengths of held-out text for each shortlist size, escape estimate
and hidden-state precision, against llama.cpp's own logits (coder c2's probabilities).

Usage: python bench/bench_escape.py capture [--locomo 12] [--dialogsum 60] [--out /tmp/s1-capture.npz]
       python bench/bench_escape.py estimate [--capture /tmp/s1-capture.npz]

capture: the shortlist's data is half the dev sets (every other LoCoMo conversation, the even DialogSum
dialogues); the texts of the other half are prefilled after the priming text in chunks of 63, each decode
giving both the final hidden state (kept) and llama.cpp's logits (each token's c2 bits kept).
estimate: code lengths -log2 p summed over the held-out texts, p from s1's rules (projection.py) with the list
and the escape estimate varied: the top-N of the half's tokens, the escape probability (e + a) / (t + b) or split
by whether the previous token escaped. Ideal lengths, not constriction's bytes (bench_shortlist.py measures those).
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import SHARED, machine  # noqa: E402

GEMMA = Path.home() / ".cache/semzip/models/gemma-3-270m-q4_k_m.gguf"


def capture(args) -> None:
    import bindings  # noqa: F401  (sets ggml's matmul switches before llama.cpp loads)
    from engine.codecs.lossless.arithmetic import probabilities
    from engine.codecs.lossless.priming import PRIMING_TEXT
    from engine.codecs.lossless.regime import Regime
    from engine.codecs.lossless.tokens import ExactTokenizer
    from engine.core.runner import ModelRunner

    lo = [json.loads(line) for line in open(SHARED / "locomo-dev-sessions.jsonl")]
    ds = [json.loads(line)["dialogue"] for line in open(SHARED / "dialogsum-dev.jsonl")]
    half = set(sorted({r["conversation"] for r in lo})[::2])
    runner = ModelRunner(args.model, Regime().runner_config(num_slots=2))  # captures hidden states beside logits
    tok = ExactTokenizer(runner.model)
    counts = collections.Counter()
    for text in [r["text"] for r in lo if r["conversation"] in half] + ds[::2]:
        counts.update(tok.encode(text))
    test = [r["text"] for r in lo if r["conversation"] not in half][: args.locomo] + ds[1::2][: args.dialogsum]
    prime = runner.model.tokenize(PRIMING_TEXT, add_special=True, parse_special=False)
    out = {"half_ids": np.array(list(counts)), "half_n": np.array(list(counts.values()))}
    t0 = time.perf_counter()
    for k, text in enumerate(test):
        tokens = tok.encode(text)
        runner.ctx.memory_clear()
        seq = prime + tokens[:-1]
        hidden, bits, done = [], [], 0
        for a in range(0, len(seq), 63):
            chunk = seq[a : a + 63]
            want = [a + i >= len(prime) - 1 for i in range(len(chunk))]
            n = sum(want)
            logits = runner.forward(chunk, list(range(a, a + len(chunk))), [0] * len(chunk), want)
            if n:
                hidden.append(np.array(runner.captured(n)))
                p = probabilities(logits).astype(np.float64)
                p = p[np.arange(n), tokens[done : done + n]] / p.sum(axis=1)
                bits.append(-np.log2(p))
                done += n
        out[f"h{k}"], out[f"t{k}"], out[f"b{k}"] = np.concatenate(hidden), np.array(tokens), np.concatenate(bits)
        out[f"n{k}"] = np.array(len(text.encode()))
        print(f"{k + 1}/{len(test)} {len(tokens)} tokens ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    np.savez(args.out, **out)
    print(f"{len(test)} held-out texts -> {args.out}")


def _segment_bits(M, q, hs, tokens, base, ids, where_base, full, prior) -> tuple[float, int]:
    from engine.codecs.lossless import projection as P

    extras, where, esc, steps, prev, bits = [], {}, [0, 0], [0, 0], 0, 0.0
    for i, token in enumerate(tokens):
        logits = base[i]
        if extras:
            values, scales = M.rows(extras)
            logits = np.concatenate([logits, (P.products(q[i : i + 1], values) * scales)[0]])
        f = P.frequencies(logits[None], hs[i : i + 1])[0]
        z = float(f.sum())
        c = prev if prior[2] else 0
        a, b = (prior[0], prior[1]) if c == 0 else (prior[2], prior[3])
        p = (esc[c] + a) / (steps[c] + b) if prior[2] else (sum(esc) + a) / (sum(steps) + b)
        w = max(1.0, z * p / (1 - p))
        j = where_base[token] if where_base[token] >= 0 else (ids.size + where[token] if token in where else -1)
        if j >= 0:
            bits -= np.log2(max(f[j], 0.5) / (z + w))
            escaped = 0
        else:
            wide = full[i].astype(np.float64)
            wide[ids] = 0
            wide[extras] = 0
            bits -= np.log2(w / (z + w)) + np.log2(max(wide[token], 0.5) / wide.sum())
            where[token] = len(extras)
            extras.append(token)
            escaped = 1
        steps[c] += 1
        esc[c] += escaped
        prev = escaped
    return bits / 8, len(extras)


def estimate(args) -> None:
    from engine.codecs.lossless import projection as P

    cap = np.load(args.capture)
    M = P.OutputMatrix.from_gguf(args.model)
    order = np.argsort(-cap["half_n"], kind="stable")
    ranked = cap["half_ids"][order]
    n_texts = len([k for k in cap.files if k[0] == "h" and k[1:].isdigit()])
    sizes = [2048, 4096, ranked.size]
    # (a, b, a', b'): escape probability (e + a) / (t + b); with a' > 0, a second count after an escape
    priors = [(0.5, 1, 0, 0), (0.5, 8, 0, 0), (0.25, 16, 0, 0), (0.5, 8, 0.5, 1)]
    total = collections.Counter()
    escapes = collections.Counter()
    llama = text_bytes = tokens_n = 0.0
    for k in range(n_texts):
        H, T = cap[f"h{k}"], cap[f"t{k}"].tolist()
        llama += cap[f"b{k}"].sum() / 8
        text_bytes += int(cap[f"n{k}"])
        tokens_n += len(T)
        q, hs = P.blocked_ints(M, H)
        smallest = set(ranked[: min(sizes)].tolist())
        full = {i: P.full_frequencies(M, q[i : i + 1], hs[i : i + 1])[0] for i, t in enumerate(T) if t not in smallest}
        for n in sizes:
            ids = np.sort(ranked[:n])
            where_base = np.full(M.n_vocab, -1)
            where_base[ids] = np.arange(ids.size)
            values, scales = M.rows(ids)
            base = P.products(q, values) * scales
            for prior in priors if n == ranked.size else priors[1:2]:
                b, e = _segment_bits(M, q, hs, T, base, ids, where_base, full, prior)
                total[(n, prior)] += b
                escapes[(n, prior)] += e
        print(f"{k + 1}/{n_texts}", file=sys.stderr)
    print(f"{machine()}; {n_texts} held-out texts, {text_bytes:.0f} bytes, {tokens_n:.0f} tokens; "
          f"llama.cpp's logits (c2): {llama:.0f} bytes")
    for (n, prior), b in total.items():
        rule = (f"(e + {prior[0]}) / (t + {prior[1]})" if not prior[2] else
                f"(e + {prior[0]}) / (t + {prior[1]}), after an escape (e' + {prior[2]}) / (t' + {prior[3]})")
        print(f"list {n:>5} | escape {rule:<60} | {b:8.0f} bytes | {b / llama - 1:+.2%} | escapes {escapes[(n, prior)]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("--locomo", type=int, default=12)
    c.add_argument("--dialogsum", type=int, default=60)
    c.add_argument("--out", default="/tmp/s1-capture.npz")
    e = sub.add_parser("estimate")
    e.add_argument("--capture", default="/tmp/s1-capture.npz")
    for p in (c, e):
        p.add_argument("--model", default=str(GEMMA))
    args = ap.parse_args()
    capture(args) if args.cmd == "capture" else estimate(args)


if __name__ == "__main__":
    main()
