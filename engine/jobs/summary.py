"""The run summary: what a compress run produced (kinds, bytes, ratio, quality, time), as a table and as JSON."""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from engine.codecs.record import Record

MIN_RATE_WALL_S = 1.0  # a rate over less than this says nothing (one line in a few milliseconds is not 8,000/min)


@dataclass(slots=True)
class RunSummary:
    kinds: Counter = field(default_factory=Counter)
    rungs: Counter = field(default_factory=Counter)  # records by the ladder rung that made them (errors not counted)
    fallbacks: list[tuple[str, str]] = field(default_factory=list)  # (rung that failed, cause), in order
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

    def add(self, size_in: int, rec: Record, rung: str, size_out: int | None = None) -> None:
        """rung: the ladder rung that made rec; size_out: its bytes in the output container (default: its JSON line)."""
        self.kinds[rec.kind] += 1
        if rec.kind == "error":
            self.failed += 1
            return
        self.rungs[rung] += 1
        size_out = rec.stored_bytes if size_out is None else size_out
        self.bytes_in += size_in
        self.bytes_out += size_out
        self.ratios.append(size_in / size_out)
        if rec.quality is not None:
            self.qualities.append(rec.quality)
        self.flagged += rec.flagged

    @property
    def num_records(self) -> int:
        return sum(self.kinds.values())

    def items_per_min(self) -> float | None:
        """Records per minute of wall time; None for a run too short to measure a rate over."""
        return self.num_records / self.wall_s * 60 if self.wall_s >= MIN_RATE_WALL_S else None

    def as_dict(self) -> dict:
        return {
            "records": self.num_records, "kinds": dict(self.kinds), "rungs": dict(self.rungs),
            "fallbacks": [{"rung": r, "cause": c} for r, c in self.fallbacks], "failed": self.failed,
            "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
            "ratio": self.bytes_in / self.bytes_out if self.bytes_out else None,
            "quality_mean": statistics.fmean(self.qualities) if self.qualities else None, "flagged": self.flagged,
            "wall_s": self.wall_s, "items_per_min": self.items_per_min(),
            "checkpoint_s": self.checkpoint_s, "prompt_tokens": self.prompt_tokens,
            "generated_tokens": self.generated_tokens, "cache": self.cache, "workers": self.workers,
        }

    def table(self) -> str:
        """Aligned lines; a figure that does not exist (no records, not scored, too short to time) says n/a."""
        rows = [
            ("records", f"{self.num_records} ({', '.join(f'{k} {v}' for k, v in sorted(self.kinds.items()))})"),
            ("failed lines", str(self.failed)),
        ]
        if self.rungs:
            rows.append(("records by ladder rung", ", ".join(f"{k} {v}" for k, v in self.rungs.most_common())))
        if self.fallbacks:
            rows.append(("fallback steps", "; ".join(f"{r} ({c})" for r, c in self.fallbacks)))
        rows += [
            ("honest ratio (all bytes in / all bytes stored)",
             f"{self.bytes_in / self.bytes_out:.2f}x" if self.bytes_out else "n/a (no records)"),
            ("ratio per record: mean / median", f"{statistics.fmean(self.ratios):.2f}x / "
             f"{statistics.median(self.ratios):.2f}x" if self.ratios else "n/a (no records)"),
            ("quality: mean (flagged under threshold)", f"{statistics.fmean(self.qualities):.3f} ({self.flagged})"
             if self.qualities else "n/a (not scored)"),
        ]
        rate = self.items_per_min()
        rows.append(("throughput", f"{rate:.1f} items/min over {self.wall_s:.1f} s" if rate is not None
                     else f"n/a (the run took {self.wall_s:.2f} s)"))
        if self.checkpoint_s and self.wall_s:
            share = self.checkpoint_s / self.wall_s
            rows.append(("checkpoint journal", f"{self.checkpoint_s:.2f} s ({share:.1%} of the wall)"))
        if self.cache:
            rows.append(("cache hits / misses", f"{self.cache['hits']} / {self.cache['misses']}"))
        if len(self.workers) > 1 or any(name != "local" for name in self.workers):
            for name, w in sorted(self.workers.items()):
                restarts = f", {len(w['pids']) - 1} restart(s)" if len(w["pids"]) > 1 else ""
                rows.append((f"  {name}", f"{w['batches']} batches, {w['items']} texts, "
                             f"{w['prompt_tokens'] + w['generated_tokens']} tokens, {w['compute_s']:.1f} s{restarts}"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
