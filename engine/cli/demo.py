"""`semzip demo`: three bundled memories (a chat session, a meeting note, a dialogue) stored in every mode.

Then the memory store: the same memories put, searched, compacted and read back (demo_store.py).

Modes, from exact to readable: zstd -19 (no model, the baseline), lossless (the text arithmetic-coded
under the lossless default model), the ratio knob at 16x (the most informative spans kept verbatim,
coded the same way), and summary (the default model writes a summary and facts). For each: bytes
stored, ratio, time to store and to get the text back, whether it is exact, and the first lines of
what comes back beside the original's.
"""
from __future__ import annotations

import json
import time
import textwrap
from dataclasses import dataclass
from pathlib import Path

from engine.codecs.container import record_size
from engine.codecs.item import Item
from engine.cli.demo_store import run_store_demo
from engine.codecs.record import Record, zstd_text

BUNDLED = Path(__file__).resolve().parent / "data" / "demo.jsonl"  # ships inside the package; written for semzip
KNOB_RATIO = 16.0
SHOWN_LINES = 3


@dataclass(slots=True)
class Mode:
    name: str
    records: list[Record]
    texts: list[str]
    store_s: float
    back_s: float

    def sizes(self) -> list[int]:
        # Coded records as in a .szr container (raw payload bytes); summaries as their JSON lines.
        return [record_size(r) if r.payload is not None else r.stored_bytes for r in self.records]


def bundled(n: int | None = None) -> list[tuple[Item, str]]:
    """(memory, what kind of memory it is) for the first n bundled memories."""
    with BUNDLED.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f][:n]
    return [(Item(r["id"], r["text"]), r["kind"]) for r in rows]


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _zstd(items: list[Item]) -> Mode:
    from engine.codecs.zstd import zstd_record

    records, store_s = _timed(lambda: [zstd_record(it) for it in items])
    texts, back_s = _timed(lambda: [zstd_text(r) for r in records])
    return Mode("zstd -19 (no model)", records, texts, store_s, back_s)


def _coded(items: list[Item], runner_config) -> list[Mode]:
    """Lossless and the ratio knob from one engine: the knob reuses the lossless pass's per-token bits."""
    from engine.api import Engine
    from engine.codecs.lossless.selective_codec import SelectiveCodec

    with Engine(None, runner_config, mode="lossless") as engine:
        (exact, bits), store_s = _timed(lambda: engine.compressor.compress(items, with_bits=True))
        texts, back_s = _timed(engine.reconstruct, exact)
        modes = [Mode(f"lossless ({engine.model_path.stem})", exact, texts, store_s, back_s)]
        knob, knob_s = _timed(lambda: SelectiveCodec(engine.compressor, KNOB_RATIO).compress(items, lossless=(exact, bits)))
        texts, back_s = _timed(engine.reconstruct, knob)
        modes.append(Mode(f"ratio knob --ratio {KNOB_RATIO:g}", knob, texts, store_s + knob_s, back_s))
    return modes


def _summary(items: list[Item], model: str | None, runner_config) -> Mode:
    from engine.api import Engine
    from engine.codecs.summary.compressor import CompressConfig

    # Unscored, to stay within a minute: `semzip compress` also scores each record and retries weak ones.
    with Engine(model, runner_config, CompressConfig(score=False), mode="summary") as engine:
        records, store_s = _timed(engine.compress_direct, items)
        texts, back_s = _timed(engine.reconstruct, records)
        return Mode(f"summary ({engine.model_path.stem}, unscored)", records, texts, store_s, back_s)


def _first_lines(text: str, width: int) -> list[str]:
    lines = [wrapped for line in text.splitlines() for wrapped in textwrap.wrap(line, width) or [""]]
    return lines[:SHOWN_LINES] + (["…"] if len(lines) > SHOWN_LINES else [])


def run_demo(n: int | None = None, model: str | None = None) -> int:
    from engine.core.runner import RunnerConfig

    from engine import models

    models.resolve(model, mode="summary")  # a bad --model (summary mode's) fails before anything loads: exit 2
    memories = bundled(n)
    items = [it for it, _ in memories]
    t0 = time.perf_counter()
    config = RunnerConfig(num_slots=8)
    modes = [_zstd(items), *_coded(items, config), _summary(items, model, config)]
    size_in = [len(it.text.encode()) for it in items]
    print(f"{len(items)} memories, {sum(size_in):,} bytes: "
          + ", ".join(f"{it.id} ({kind}, {b:,} B)" for (it, kind), b in zip(memories, size_in)))
    print(f"\n{'mode':54s} {'bytes':>6s} {'ratio':>6s} {'store s':>8s} {'back s':>7s}  exact")
    for m in modes:
        exact = sum(t == it.text for t, it in zip(m.texts, items))
        print(f"{m.name:54s} {sum(m.sizes()):6d} {sum(size_in) / sum(m.sizes()):5.1f}x {m.store_s:8.1f} "
              f"{m.back_s:7.1f}  {exact}/{len(items)}")
    width = 58
    for k, it in enumerate(items):
        print(f"\n== {it.id}: original | what each mode gives back (first lines)")
        original = _first_lines(it.text, width)
        for m in modes[1:]:
            print(f"-- {m.name}: {size_in[k] / m.sizes()[k]:.1f}x")
            back = _first_lines(m.texts[k], width)
            for a, b in zip(original + [""] * len(back), back + [""] * len(original)):
                if a or b:
                    print(f"   {a:{width}s} | {b}")
    print()
    for line in run_store_demo(items, config).lines():
        print(line)
    print(f"\ndemo took {time.perf_counter() - t0:.0f} s (models loaded and lossless self-test included)")
    return 0
