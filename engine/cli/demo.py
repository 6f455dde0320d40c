"""`semzip demo`: compress the bundled sample memories and print a table."""
from __future__ import annotations

import json
import time
from pathlib import Path

BUNDLED = Path(__file__).resolve().parent / "data" / "sample.jsonl"  # ships inside the package


def sample_texts(n: int) -> list[tuple[str, str]]:
    """The first n (id, text) pairs of the bundled sample."""
    with BUNDLED.open(encoding="utf-8") as f:
        return [(r["id"], r["text"]) for r in map(json.loads, f)][:n]


def run_demo(n: int = 8, model: str | None = None) -> int:
    from engine.api import Engine

    items = sample_texts(n)
    t0 = time.perf_counter()
    with Engine(model=model) as engine:
        records = engine.compress([t for _, t in items])
    wall = time.perf_counter() - t0
    print(f"{'id':14s} {'in B':>6s} {'out B':>6s} {'ratio':>6s}  summary")
    total_in = total_out = 0
    for (ident, text), rec in zip(items, records):
        size_in, size_out = len(text.encode()), rec.stored_bytes
        total_in += size_in
        total_out += size_out
        print(f"{ident:14s} {size_in:6d} {size_out:6d} {size_in / size_out:6.2f}  {rec.summary[:70]}")
    print(f"{len(items)} memories in {wall:.1f} s ({len(items) / wall * 60:.1f}/min), honest ratio {total_in / total_out:.2f}x")
    return 0
