"""Shared helpers for bench scripts: corpus loading, peak RSS, table printing."""
from __future__ import annotations

import json
import os
import platform
import resource
from datetime import date
from pathlib import Path

import psutil

# ../shared/data beside the checkout; SEMZIP_DATA elsewhere (the GPU machine gets it in .gpubundle/data)
SHARED = Path(os.environ.get("SEMZIP_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def load_jsonl(name: str, field: str, limit: int | None = None) -> list[str]:
    path = SHARED / name
    if not path.is_file():
        raise SystemExit(f"{path} not found: the bench reads ../shared/data beside the checkout, or SEMZIP_DATA")
    rows = [json.loads(line)[field] for line in path.open() if line.strip()]
    return rows[:limit]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine() -> str:
    cpu = cpu_model()
    mem = psutil.virtual_memory().total / 2**30
    return f"{cpu}, {psutil.cpu_count(logical=False)} cores, {mem:.0f} GiB, {date.today().isoformat()}"


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[f"{c:.1f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for k, r in enumerate(cells):
        print("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
