"""What a compacted store's file would weigh under other layouts: its own rows at other page sizes, and packs
(a design not built: one row per namespace holding its memories' cold records, embeddings and a zstd'd index
of their keys, metadata and times, as an SSTable packs a block).

Usage: python bench/bench_store_layout.py STORE.db TEXT_BYTES
(STORE.db: a compacted store, e.g. the one bench_store_tiers.py --keep DIR leaves; TEXT_BYTES: its texts' bytes.)

Each variant is written to a new SQLite file and VACUUMed; its size and where the bytes go (dbstat) are printed.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import zstandard


def pages(path: Path) -> str:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name, COUNT(*), SUM(payload), SUM(unused) FROM dbstat GROUP BY name").fetchall()
    return "; ".join(f"{n}: {c} pages, {p} payload, {u} unused" for n, c, p, u in rows)


def as_rows(src: Path, out: Path, page: int) -> int:
    shutil.copy(src, out)
    with sqlite3.connect(out) as db:
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute(f"PRAGMA page_size={page}")
        db.execute("VACUUM")
    return out.stat().st_size


def as_packs(src: Path, out: Path, page: int) -> int:
    with sqlite3.connect(src) as s:
        meta = s.execute("SELECT key, value FROM semzip_meta").fetchall()
        rows = s.execute("SELECT ns, key, kind, body, crc, fields, text_bytes, created_at, updated_at, expires_at, "
                         "ttl, vecs FROM semzip_memories ORDER BY ns, key").fetchall()
    by_ns: dict[str, list] = {}
    for r in rows:
        by_ns.setdefault(r[0], []).append(r)
    db = sqlite3.connect(out)
    db.execute(f"PRAGMA page_size={page}")
    db.execute("CREATE TABLE semzip_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
    db.executemany("INSERT INTO semzip_meta VALUES (?, ?)", meta)
    db.execute("CREATE TABLE semzip_packs (id INTEGER PRIMARY KEY, ns TEXT NOT NULL, blob BLOB NOT NULL)")
    z = zstandard.ZstdCompressor(level=19)
    for ns, members in by_ns.items():
        index = [[key, kind, crc, fields, text_bytes, created, updated, expires, ttl, len(body), len(vecs or b"")]
                 for _, key, kind, body, crc, fields, text_bytes, created, updated, expires, ttl, vecs in members]
        packed_index = z.compress(json.dumps(index, separators=(",", ":")).encode())
        blob = (len(packed_index).to_bytes(4, "little") + packed_index + b"".join(bytes(m[3]) for m in members)
                + b"".join(bytes(m[11] or b"") for m in members))
        db.execute("INSERT INTO semzip_packs (ns, blob) VALUES (?, ?)", (ns, blob))
    db.commit()
    db.execute("VACUUM")
    db.close()
    return out.stat().st_size


def main() -> None:
    src, text_bytes = Path(sys.argv[1]), int(sys.argv[2])
    with sqlite3.connect(src) as s:
        records, vecs = s.execute("SELECT SUM(LENGTH(body)), SUM(COALESCE(LENGTH(vecs), 0)) FROM semzip_memories").fetchone()
    print(f"texts {text_bytes} bytes; cold records {records} ({text_bytes / records:.2f}x); with embeddings "
          f"{records + vecs} ({text_bytes / (records + vecs):.2f}x)")
    print(f"as stored: {src.stat().st_size} bytes ({text_bytes / src.stat().st_size:.2f}x); {pages(src)}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, build in (("rows", as_rows), ("packs", as_packs)):
            for page in (512, 1024, 2048, 4096):
                out = Path(tmp) / f"{kind}-{page}.db"
                size = build(src, out, page)
                print(f"| {kind} | {page} | {size} | {text_bytes / size:.2f}x | {pages(out)} |")


if __name__ == "__main__":
    main()
