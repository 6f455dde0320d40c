"""A pack's size B: bytes at rest against the time one pack takes to decode alone, on LoCoMo dev turns.

Usage: python bench/bench_pack_size.py [--sessions 12] [--sizes 128,256,512,1024,2048] [--reads 3] [--no-baselines]

The first --sessions LoCoMo dev sessions are cut into turns (one line a memory, in the order written). For each
B, consecutive turns of a conversation are gathered into packs of at most B tokens (a turn longer than B is a
pack of its own), each pack's text (its turns joined by newlines) coded as one lossless stream by the default
engine in one batch; the bytes are the records' (container framing and a short id included, no store row). Then
--reads of the packs (the fullest) are decoded alone, one at a time, with the decoded-text cache off: the cold
read of a pack read to its end; then the same packs in one decode call, side by side (a search's reads). Baselines in the same run: each turn its own stream, and each session whole.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED, machine, print_table  # noqa: E402
from bench.results import record  # noqa: E402


def packs_of(turns: list[tuple[str, str]], counts: list[int], budget: int | None) -> list[str]:
    """Texts of packs: consecutive turns of one conversation, at most budget tokens (None: one pack a turn)."""
    out, current, used, conv = [], [], 0, None
    for (c, text), n in zip(turns, counts):
        if current and (budget is None or c != conv or used + n > budget):
            out.append("\n".join(current))
            current, used = [], 0
        current.append(text)
        used += n
        conv = c
    if current:
        out.append("\n".join(current))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=12)
    ap.add_argument("--sizes", default="128,256,512,1024,2048")
    ap.add_argument("--reads", type=int, default=3)
    ap.add_argument("--no-baselines", action="store_true", help="the packs only: no turn-alone or whole-session rows")
    args = ap.parse_args()

    from engine.api import Engine
    from engine.codecs.container import record_size
    from engine.codecs.item import Item

    sessions = [json.loads(line) for line in (SHARED / "locomo-dev-sessions.jsonl").open() if line.strip()]
    sessions = sessions[: args.sessions]
    turns = [(s["conversation"], line) for s in sessions for line in s["text"].split("\n") if line]
    text_bytes = sum(len(t.encode()) for _, t in turns) + len(turns) - len(sessions)  # newlines inside sessions
    rows, figures = [], []
    with Engine(mode="lossless", read_cache_bytes=0) as engine:
        counts = [len(engine.runner.model.tokenize(t)) for _, t in turns]
        variants = [] if args.no_baselines else [("turn alone", packs_of(turns, counts, None)),
                                                  ("session whole", [s["text"] for s in sessions])]
        variants += [(f"B = {b}", packs_of(turns, counts, b)) for b in map(int, args.sizes.split(","))]
        for name, texts in variants:
            t0 = time.perf_counter()
            records = engine.compress([Item(f"p{i}", t) for i, t in enumerate(texts)])
            encode_s = time.perf_counter() - t0
            stored = sum(record_size(r) for r in records)
            picks = sorted(range(len(texts)), key=lambda i: -len(texts[i]))[: args.reads]  # the fullest packs
            reads = []
            for i in picks:
                t0 = time.perf_counter()
                (back,) = engine.decode([records[i]])
                reads.append(time.perf_counter() - t0)
                assert back == texts[i], f"{name}: pack {i} did not read back exactly"
            t0 = time.perf_counter()  # what a search that decodes its 3 best packs side by side waits for
            together = engine.decode([records[i] for i in picks])
            together_s = time.perf_counter() - t0
            assert together == [texts[i] for i in picks], f"{name}: packs read together did not read back exactly"
            mean_tokens = sum(counts) / len(texts)
            read_s = statistics.median(reads)
            rows.append([name, len(texts), f"{mean_tokens:.0f}", stored, f"{text_bytes / stored:.2f}x",
                         f"{encode_s:.0f}", f"{read_s:.1f}", f"{read_s / 2:.1f}", f"{together_s:.1f}"])
            figures.append((name, len(texts), mean_tokens, stored, read_s, together_s))
    print(f"{machine()}; {len(sessions)} LoCoMo dev sessions, {len(turns)} turns, {text_bytes} bytes, "
          f"{sum(counts)} tokens")
    print_table(["unit", "streams", "tokens each", "bytes", "ratio", "encode s", "read a full one, s",
                 "to its middle, s (est.)", f"{args.reads} read together, s"], rows)
    dataset = f"LoCoMo dev, first {len(sessions)} sessions cut into {len(turns)} turns ({text_bytes} bytes)"
    for name, n, mean_tokens, stored, read_s, together_s in figures:
        settings = (f"{name}: {n} streams of {mean_tokens:.0f} tokens on average; default engine (gemma-3-270m "
                    f"Q4_K_M, coder s1), one batch; records' bytes with container framing")
        record(f"packed turns at rest, {name}", text_bytes / stored, "x", area="compaction", dataset=dataset,
               settings=settings)
        record(f"one pack read alone to its end, {name}", read_s, "s", area="cold", dataset=dataset,
               settings=settings + f"; median of the {args.reads} fullest, decoded-text cache off")
        record(f"the {args.reads} fullest packs read together to their ends, {name}", together_s, "s", area="cold",
               dataset=dataset, settings=settings + "; one decode call, side by side, decoded-text cache off")


if __name__ == "__main__":
    main()
