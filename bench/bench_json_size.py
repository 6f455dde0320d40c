"""JSON lines against the binary container for the same records: what the text form costs.

    python bench/bench_json_size.py OUT.szr [OUT2.szr ...]

For each container: its bytes, the same records as this release's JSON lines (format 3) and as format 2 wrote them
(base85 payload, the profile spelled out, version, kind and checksum keys), and the texts' bytes when the records'
ids name rows of --corpus (LoCoMo dev by default), for the ratios.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import SHARED, machine, print_table  # noqa: E402
from engine.codecs.container import Container  # noqa: E402


def format2_line(rec) -> str:
    """The line the previous release wrote for a coded record (engine/codecs/record.py before format 3)."""
    d = {"v": 2, "id": rec.id, "k": {"lossless": "z", "kept": "k", "zstd": "Z"}[rec.kind]}
    if rec.profile is not None:
        d["p"] = rec.profile
    d["c"] = rec.checksum
    d["b"] = base64.b85encode(rec.payload).decode("ascii")
    for key, value in (("m", rec.meta), ("w", 1 if rec.flagged else None), ("r", rec.rung)):
        if value:
            d[key] = value
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("containers", nargs="+")
    ap.add_argument("--corpus", default=str(SHARED / "locomo-dev-sessions.jsonl"))
    args = ap.parse_args()
    texts = {d["id"]: d["text"] for d in map(json.loads, Path(args.corpus).open())}
    print(f"machine: {machine()}")
    rows = []
    for path in args.containers:
        records = list(Container(path))
        szr = Path(path).stat().st_size
        v3 = sum(len(r.to_json().encode()) + 1 for r in records)
        v2 = sum(len(format2_line(r).encode()) + 1 for r in records if r.kind in ("lossless", "kept", "zstd")) + \
            sum(len(r.to_json().encode()) + 1 for r in records if r.kind not in ("lossless", "kept", "zstd"))
        text = sum(len(texts[r.id].encode()) for r in records if r.id in texts)
        rows.append([Path(path).name, len(records), szr, v3, f"{v3 / szr:.3f}", v2, f"{v2 / szr:.3f}",
                     f"{text / szr:.2f}x", f"{text / v3:.2f}x", f"{text / v2:.2f}x"])
    print_table(["container", "records", ".szr B", "JSON v3 B", "v3/.szr", "JSON v2 B", "v2/.szr", "ratio .szr",
                 "ratio v3", "ratio v2"], rows)
    from bench.results import record

    for path, row in zip(args.containers, rows):
        kinds = {r.kind for r in Container(path)}
        record(f"JSON lines against .szr, {'--ratio' if 'kept' in kinds else 'lossless'} records", float(row[4]), "x",
               area="portability", dataset=f"{row[1]} records of {Path(args.corpus).name} ({path})",
               settings="format 3 JSON lines against the container", note=f"{row[2]:,} .szr bytes, {row[3]:,} in JSON "
               f"lines; format 2's JSON lines {row[6]}x (ratios .szr / v3 / v2 {row[7]} / {row[8]} / {row[9]})")


if __name__ == "__main__":
    main()
