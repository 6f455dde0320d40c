"""Export, import and delete: memories out and back in exactly (SQLite to SQLite and to PostgreSQL), bad dump
lines named while the rest imports, and a deleted memory gone from every tier, the cache and the files."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

from engine.codecs.container import decode_record
from engine.codecs.decoded import DecodedCache
from engine.store import MemoryStore, Policy, Put

ROOT = Path(__file__).resolve().parents[1]
FORMAT1 = ROOT / "tests" / "data" / "stores"
PUTS = [
    Put(("u", "a"), "t", "Priya moved to Rua das Flores — naïve café, 日本語, 🙂", meta={"date": "3 March", "n": 2}),
    Put(("u", "a"), "j", {"text": "JSON value", "list": [1, 2.5, None], "deep": {"x": "é"}}),
    Put(("u", "b"), "ttl", "a memory with a TTL", ttl=3600),
    Put(("v",), "empty-meta", "", meta={}),
]


def store(conn, **kw) -> MemoryStore:
    return MemoryStore(conn, mode="zstd", index=False, embed=None, compaction=False, cold_after=0, **kw)


def dump_of(s: MemoryStore) -> list[dict]:
    buf = io.StringIO()
    s.export(buf)
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_export_then_import_gives_the_same_memories_sqlite_and_postgresql(tmp_path, pg_server_dsn):
    from conftest import fresh_database

    with store(tmp_path / "src.db") as src:
        src.put_many(PUTS)
        src.compact(namespace=("u", "a"))  # one tier or the other: an export reads both
        assert src.export(tmp_path / "dump.jsonl") == len(PUTS)
        original = dump_of(src)
    lines = (tmp_path / "dump.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == original and all(json.loads(line)["v"] == 1 for line in lines)
    for target in (str(tmp_path / "dst.db"), fresh_database(pg_server_dsn)):
        with store(target) as dst:
            report = dst.import_(tmp_path / "dump.jsonl")
            assert report.imported == len(PUTS) and report.errors == []
            assert sorted(dump_of(dst), key=lambda d: d["key"]) == sorted(original, key=lambda d: d["key"])
            got = dst.get(("u", "a"), "t")
            assert got.value == PUTS[0].value and got.meta == PUTS[0].meta and type(dst.get(("u", "a"), "j").value) is dict


def test_bad_dump_lines_are_named_and_every_other_line_imports(tmp_path):
    good = {"v": 1, "namespace": ["n"], "key": "ok", "value": "fine", "metadata": {}, "created_at": 1.0,
            "updated_at": 2.0, "ttl": None, "expires_at": None}
    lines = [json.dumps(good), "{not json", json.dumps({**good, "key": "nokey"}).replace('"value"', '"valu"'),
             json.dumps({**good, "key": "badns", "namespace": ["a", ""]}), json.dumps({**good, "key": "ok2"}),
             json.dumps({**good, "key": "badtime", "created_at": "yesterday"})]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with store(tmp_path / "s.db") as s:
        report = s.import_(path)
        assert report.imported == 2 and [n for n, _ in report.errors] == [2, 3, 4, 6]
        assert "not JSON" in report.errors[0][1] and "'value'" in report.errors[1][1]
        assert "namespace" in report.errors[2][1] and "created_at" in report.errors[3][1]
        got = s.get(("n",), "ok")
        assert got.value == "fine" and (got.created_at, got.updated_at) == (1.0, 2.0)
    env = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "engine.cli", "store", "import", str(tmp_path / "cli.db"), str(path)],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 1 and f"{path} line 2: not JSON" in r.stderr and "2 memories imported" in r.stderr


def _everywhere(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_a_deleted_memory_is_gone_from_every_tier_the_cache_and_the_files(tmp_path, lossless_engine):
    path = tmp_path / "f1.db"
    shutil.copy(FORMAT1 / "format1.db", path)  # lossless-coded cold memories
    secret = "The vault code is 4417-KESTREL, remember it only until Friday. " * 4
    cache = lossless_engine.read_cache
    lossless_engine.read_cache = DecodedCache(1 << 20)  # a real cache, on for this test
    try:
        with MemoryStore(path, engine=lossless_engine, embed=None, index=False, compaction=False,
                         policies={("gone",): Policy("zstd")}) as s:
            s.put(("gone",), "hot", secret)  # hot: a zstd body
            s.put(("gone", "deeper"), "also", secret[::-1])
            text = s.get(("chat", "priya"), "s1").value  # cold: decoded, its text kept hot beside the record
            (body, hot) = s.core.db.read("SELECT body, hot FROM semzip_memories WHERE key = 's1'")[0]
            (hot_body,) = s.core.db.read("SELECT body FROM semzip_memories WHERE key = 'hot'")[0]
            rec = decode_record("s1", bytes(body), s.core.db.profiles(), "test")
            assert lossless_engine.read_cache.get(rec) == text
            s.flush_read_times()
            before = _everywhere(path)
            assert all(bytes(b) in before for b in (body, hot, hot_body))  # the needles are there to be found
            assert s.delete(("chat", "priya"), "s1") and s.delete_namespace(("gone",)) == 2
            assert lossless_engine.read_cache.get(rec) is None
            assert s.get(("chat", "priya"), "s1") is None and s.search(("gone",)) == []
            files = _everywhere(path)
            for needle in (text[:60].encode(), bytes(body), bytes(hot), bytes(hot_body), secret[:40].encode(),
                           secret[::-1][:40].encode()):
                assert needle not in files
            assert s.get(("chat", "priya"), "emoji") is not None  # the others still read
            s.vacuum()
            assert s.get(("chat", "priya"), "emoji") is not None
    finally:
        lossless_engine.read_cache = cache
