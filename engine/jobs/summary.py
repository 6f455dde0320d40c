"""The run summary: what a compress run produced (kinds, bytes, ratio, quality, time), as a table and as JSON."""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from engine.codecs.record import Record


@dataclass(slots=True)
class RunSummary:
    kinds: Counter = field(default_factory=Counter)
    bytes_in: int = 0
    bytes_out: int = 0
    ratios: list[float] = field(default_factory=list)
    qualities: list[float] = field(default_factory=list)
    flagged: int = 0
    failed: int = 0
    wall_s: float = 0.0
    checkpoint_s: float = 0.0  # of wall_s, spent opening, journalling and writing out through the run store
    prompt_tokens: int = 0  # decoded by the model (a shared prefix counts once)
    generated_tokens: int = 0
    cache: dict = field(default_factory=dict)
    workers: dict = field(default_factory=dict)  # per engine ("local", or one per Ray actor): batches, items, tokens

    def add(self, size_in: int, rec: Record, size_out: int | None = None) -> None:
        """size_out: the record's bytes in the output container (default: its JSON line)."""
        self.kinds[rec.kind] += 1
        if rec.kind == "error":
            self.failed += 1
            return
        size_out = rec.stored_bytes if size_out is None else size_out
        self.bytes_in += size_in
        self.bytes_out += size_out
        self.ratios.append(size_in / size_out)
        if rec.quality is not None:
            self.qualities.append(rec.quality)
        self.flagged += rec.flagged

    def as_dict(self) -> dict:
        n = sum(self.kinds.values())
        return {
            "records": n, "kinds": dict(self.kinds), "failed": self.failed, "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out, "ratio": self.bytes_in / max(self.bytes_out, 1),
            "quality_mean": _mean(self.qualities) if self.qualities else None, "flagged": self.flagged,
            "wall_s": self.wall_s, "items_per_min": n / self.wall_s * 60 if self.wall_s else None,
            "checkpoint_s": self.checkpoint_s, "prompt_tokens": self.prompt_tokens,
            "generated_tokens": self.generated_tokens, "cache": self.cache, "workers": self.workers,
        }

    def table(self) -> str:
        n = sum(self.kinds.values())
        rows = [
            ("records", f"{n} ({', '.join(f'{k} {v}' for k, v in sorted(self.kinds.items()))})"),
            ("failed lines", str(self.failed)),
            ("honest ratio (all bytes in / all bytes stored)", f"{self.bytes_in / max(self.bytes_out, 1):.2f}x"),
            ("ratio per record: mean / median", f"{_mean(self.ratios):.2f}x / {_median(self.ratios):.2f}x"),
            ("quality: mean (flagged under threshold)", f"{_mean(self.qualities):.3f} ({self.flagged})"),
            ("throughput", f"{n / self.wall_s * 60:.1f} items/min over {self.wall_s:.1f} s" if self.wall_s else "-"),
        ]
        if self.checkpoint_s:
            rows.append(("checkpoint journal", f"{self.checkpoint_s:.2f} s ({self.checkpoint_s / self.wall_s:.1%} of the wall)"))
        if self.cache:
            rows.append(("cache hits / misses", f"{self.cache['hits']} / {self.cache['misses']}"))
        if len(self.workers) > 1 or any(name != "local" for name in self.workers):
            for name, w in sorted(self.workers.items()):
                restarts = f", {len(w['pids']) - 1} restart(s)" if len(w["pids"]) > 1 else ""
                rows.append((f"  {name}", f"{w['batches']} batches, {w['items']} texts, "
                             f"{w['prompt_tokens'] + w['generated_tokens']} tokens, {w['compute_s']:.1f} s{restarts}"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _mean(xs):
    return statistics.fmean(xs) if xs else float("nan")


def _median(xs):
    return statistics.median(xs) if xs else float("nan")
