"""Lanes inside one record: what cutting a memory into parallel segments costs in bytes and gains in read time.

Usage: python bench/bench_lanes.py [--n 24] [--lanes none,768,512,384,256] [--single 4] [--dialogsum 0]

For each lane length L (a memory longer than L tokens is cut into balanced segments of about L, which
decode as parallel streams), the same texts are coded in one batch, their records' bytes summed, and
--single records decoded alone (in-process; p50 and max). Every record must decode exactly.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import load_jsonl, machine, print_table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=24, help="LoCoMo dev sessions")
    ap.add_argument("--dialogsum", type=int, default=0, help="DialogSum dev dialogues as well")
    ap.add_argument("--lanes", default="none,768,512,384,256")
    ap.add_argument("--single", type=int, default=4)
    ap.add_argument("--slots", type=int, default=32)
    args = ap.parse_args()

    from engine.api import Engine
    from engine.codecs.container import record_size
    from engine.codecs.item import Item
    from engine.core.runner import RunnerConfig

    texts = load_jsonl("locomo-dev-sessions.jsonl", "text", args.n)
    if args.dialogsum:
        texts += load_jsonl("dialogsum-dev.jsonl", "dialogue", args.dialogsum)
    items = [Item(str(i), t) for i, t in enumerate(texts)]
    raw = sum(len(t.encode()) for t in texts)
    engine = Engine(mode="lossless", runner_config=RunnerConfig(num_slots=args.slots), read_cache_bytes=0)
    codec = engine.compressor
    tokens = [len(codec.tokenizer.encode(t)) for t in texts]
    # the longest sessions read alone: a lane count shows most there
    singles = sorted(range(len(texts)), key=lambda i: -tokens[i])[: args.single]
    rows, base = [], None
    for spec in args.lanes.split(","):
        codec.lane_tokens = None if spec == "none" else int(spec)
        t0 = time.perf_counter()
        records = engine.compress_direct(items)
        enc_s = time.perf_counter() - t0
        size = sum(record_size(r) for r in records)
        base = base or size
        lat = []
        for i in singles:
            t = time.perf_counter()
            (text,) = engine.decode([records[i]])
            lat.append(time.perf_counter() - t)
            assert text == texts[i], f"record {i} did not decode exactly under lanes {spec}"
        segs = statistics.mean(len(codec.segments(list(range(n)))) for n in (tokens[i] for i in singles))
        rows.append([spec, size, f"{raw / size:.3f}", f"{size / base - 1:+.2%}", f"{segs:.1f}",
                     f"{statistics.median(lat):.2f}", f"{max(lat):.2f}", f"{sum(tokens) / enc_s:.0f}"])
        print(rows[-1], file=sys.stderr)
    engine.close()
    print(f"{machine()}; {len(texts)} dev texts ({args.n} LoCoMo, {args.dialogsum} DialogSum), {sum(tokens)} tokens, "
          f"{raw} bytes; single reads: the {len(singles)} longest ({', '.join(str(tokens[i]) for i in singles)} tokens)")
    print_table(["lane tokens", "bytes", "ratio", "vs none", "lanes (single)", "single p50 s", "single max s",
                 "encode tok/s"], rows)
    from bench.results import record

    none = next((r for r in rows if r[0] == "none"), None)
    for r in rows if none else ():
        if r[0] != "none":
            record(f"lanes of {r[0]} tokens, one read's speed-up", float(none[5]) / float(r[5]), "x", area="codec",
                   dataset=f"{len(texts)} dev texts ({args.n} LoCoMo, {args.dialogsum} DialogSum); single reads: "
                           f"the {len(singles)} longest alone",
                   settings=f"LosslessCodec.lane_tokens = {r[0]} (not the default), {args.slots} slots",
                   note=f"single read p50 {r[5]} s against {none[5]} s without lanes; {r[1]:,} bytes against "
                        f"{none[1]:,} ({r[3]})")


if __name__ == "__main__":
    main()
