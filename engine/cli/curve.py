"""`semzip eval --curve`: answers kept against honest ratio, one curve per mode, with zstd and truncation.

Points: the lossless record (exact), the ratio knob at several ratios (one lossless pass serves them
all), summary mode at several target ratios, zstd -19 (exact), and each session truncated to the same
bytes as each knob point. Ratios count .szr records for the coded modes and JSON lines for summaries.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import zstandard

from engine.cli.evaluate import answer_retention, _cut_utf8, load_corpus
from engine.codecs.container import FOOTER, MAGIC, record_size
from engine.codecs.item import Item


@dataclass(frozen=True, slots=True)
class Point:
    mode: str
    setting: str
    ratio: float
    answers_kept: float
    store_per_min: float | None = None  # memories stored per minute, from the start (a knob point includes its lossless pass)
    read_per_min: float | None = None  # memories read back per minute (None: no model needed)


def _point(mode, setting, rows, texts_back, sizes, qa, store_s=None, read_s=None) -> Point:
    _, kept, _ = answer_retention(rows, texts_back, sizes, qa)
    rate = lambda s: None if s is None else 60 * len(rows) / s  # noqa: E731
    return Point(mode, setting, sum(len(r["_text"].encode()) for r in rows) / sum(sizes), kept or 0.0,
                 rate(store_s), rate(read_s))


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def curve(corpus: str, qa: str, ratios: list[float], summary_ratios: list[float], runner_config,
          limit: int | None = None, lossless_model: str | None = None, summary_model: str | None = None) -> list[Point]:
    from engine.api import Engine
    from engine.codecs.lossless.selective_codec import SelectiveCodec

    rows = load_corpus(corpus, limit)
    items = [Item(r["_id"], r["_text"]) for r in rows]
    framing = (len(MAGIC) + 2 + FOOTER.size) / len(items)
    points = []
    with Engine(lossless_model, runner_config, mode="lossless") as engine:
        exact, exact_s = _timed(engine.compressor.compress, items, with_bits=True)
        sizes = [record_size(r) + framing for r in exact[0]]
        texts, read_s = _timed(engine.decode, exact[0])
        points.append(_point("lossless", "exact", rows, texts, sizes, qa, exact_s, read_s))
        for ratio in ratios:
            records, cut_s = _timed(SelectiveCodec(engine.compressor, ratio).compress, items, lossless=exact)
            sizes = [record_size(r) + framing for r in records]
            texts, read_s = _timed(engine.decode, records)
            points.append(_point("ratio knob", f"--ratio {ratio:g}", rows, texts, sizes, qa, exact_s + cut_s, read_s))
    with Engine(summary_model, runner_config, mode="summary") as engine:
        base = engine.compressor.config
        for ratio in summary_ratios:
            engine.compressor.config = dataclasses.replace(base, target_ratio=ratio)
            records, store_s = _timed(engine.compressor.compress, items)
            points.append(_point("summary", f"--ratio {ratio:g}", rows, engine.decode(records),
                                 [r.stored_bytes for r in records], qa, store_s))
    zstd = zstandard.ZstdCompressor(level=19)
    sizes = [len(zstd.compress(r["_text"].encode())) for r in rows]
    points.append(_point("zstd -19", "exact", rows, [r["_text"] for r in rows], sizes, qa))
    for p in [p for p in points if p.mode != "zstd -19"]:
        sizes = [len(r["_text"].encode()) / p.ratio for r in rows]
        cut = [_cut_utf8(r["_text"], int(s)) for r, s in zip(rows, sizes)]
        points.append(_point("truncation", f"at {p.ratio:.1f}x", rows, cut, sizes, qa))
    return points


def table(points: list[Point]) -> str:
    rate = lambda r: "" if r is None else f"{r:.1f}"  # noqa: E731
    lines = ["| mode | setting | honest ratio | answers kept | stored/min | read/min |", "|---|---|---|---|---|---|"]
    lines += [f"| {p.mode} | {p.setting} | {p.ratio:.2f}x | {p.answers_kept:.3f} | {rate(p.store_per_min)} "
              f"| {rate(p.read_per_min)} |" for p in points]
    return "\n".join(lines)


def plot(points: list[Point], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    styles = {"lossless": "o", "ratio knob": "o-", "summary": "s-", "zstd -19": "D", "truncation": "x--"}
    for mode, style in styles.items():
        pts = sorted((p for p in points if p.mode == mode), key=lambda p: p.ratio)
        if pts:
            ax.plot([p.ratio for p in pts], [p.answers_kept for p in pts], style, label=mode, markersize=6)
    ax.set_xscale("log")
    ticks = [t for t in (1, 2, 4, 8, 16, 32, 64, 128) if min(p.ratio for p in points) / 2 <= t <= max(p.ratio for p in points) * 2]
    ax.set_xticks(ticks, [f"{t}x" for t in ticks])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("honest compression ratio (original bytes / stored bytes, log scale)")
    ax.set_ylabel("QA answers kept")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
