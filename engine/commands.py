"""The batch commands behind the CLI: compress and reconstruct files, with progress and a summary table."""
from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice

from tqdm import tqdm

from engine.compressor import Item
from engine.inputs import LineError, read_items
from engine.record import Record

MAX_EXIT_FAILURES = 100  # exit codes are 8 bits: the count of failed lines is capped here


@contextmanager
def open_output(path: str):
    if path == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as f:
        yield f


def count_lines(source: str) -> int | None:
    if source == "-":
        return None
    with open(source, "rb") as f:
        return sum(1 for line in f if line.strip())


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

    def add(self, original: str | None, rec: Record) -> None:
        self.kinds[rec.kind] += 1
        if rec.kind == "error":
            self.failed += 1
            return
        size_in, size_out = len(original.encode("utf-8")), rec.stored_bytes
        self.bytes_in += size_in
        self.bytes_out += size_out
        self.ratios.append(size_in / size_out)
        if rec.quality is not None:
            self.qualities.append(rec.quality)
        self.flagged += rec.flagged

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
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _mean(xs):
    return statistics.fmean(xs) if xs else float("nan")


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


def compress_file(engine, source: str, output: str, *, fmt: str = "auto", whole: bool = False, batch: int = 64) -> RunSummary:
    """Compress source into output, one record line per input line, in order; returns the run's summary."""
    summary = RunSummary()
    t0 = time.perf_counter()
    items = read_items(source, fmt=fmt, whole=whole)
    total = 1 if whole else count_lines(source)
    with open_output(output) as out, tqdm(total=total, unit="item", file=sys.stderr, disable=None, smoothing=0.1) as bar:
        while chunk := list(islice(items, batch)):
            todo = [x for x in chunk if isinstance(x, Item)]
            done = iter(engine.compress(todo))
            for x in chunk:
                if isinstance(x, LineError):
                    rec, original = Record(x.id, "error", error=x.problem, line=x.line), None
                else:
                    rec, original = next(done), x.text
                out.write(rec.to_json() + "\n")
                summary.add(original, rec)
            out.flush()
            bar.update(len(chunk))
            summary.wall_s = time.perf_counter() - t0
            bar.set_postfix_str(f"{summary.kinds.total() / summary.wall_s * 60:.1f}/min")
    summary.wall_s = time.perf_counter() - t0
    return summary


def reconstruct_file(reconstruct, source: str, output: str) -> tuple[int, int]:
    """Records in, {"id", "text"} lines out (errors as {"id", "line", "error"}); returns (lines, failed).

    reconstruct: records -> texts (render needs no model; expand goes through an Engine).
    """
    from engine.errors import InputError
    from engine.inputs import _open

    parsed: list[Record | tuple[int, str]] = []
    with _open(source) as stream:
        for n, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                parsed.append(Record.from_json(raw.decode("utf-8"), where=f"line {n}"))
            except UnicodeDecodeError as exc:  # one bad line never sinks the rest
                parsed.append((n, f"line {n}: invalid UTF-8 at byte {exc.start}"))
            except InputError as exc:
                parsed.append((n, str(exc)))
    records = [p for p in parsed if isinstance(p, Record)]
    texts = iter(reconstruct(records))
    failed = 0
    with open_output(output) as out:
        for p in parsed:
            if isinstance(p, Record):
                out.write(json.dumps({"id": p.id, "text": next(texts)}, ensure_ascii=False) + "\n")
            else:
                failed += 1
                out.write(json.dumps({"id": None, "line": p[0], "error": p[1]}, ensure_ascii=False) + "\n")
    return len(parsed), failed
