"""`semzip store` as a user runs it: python -m engine.cli in a child process, on a real SQLite store."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEMORIES = [
    {"id": "pet", "text": "Caroline adopted a puppy called Biscuit.", "topic": "pets"},
    {"id": "art", "text": "Melanie painted a sunrise over the lake,\nin watercolours. Ünïcode ✓", "topic": "art"},
    {"id": "job", "text": "Caroline wants a career in counseling.  ", "topic": "work"},
]


def semzip(*args: str, stdin: str | None = None, **env) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run([sys.executable, "-m", "engine.cli", "store", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, timeout=600)


def test_put_get_search_delete_stats_without_a_model_then_compact(tmp_path):
    store = str(tmp_path / "cli.db")
    src = tmp_path / "m.jsonl"
    src.write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in MEMORIES), encoding="utf-8")
    # No model anywhere (an empty model cache): the hot tier needs none, so none of these loads one.
    nomodel = {"SEMZIP_CACHE": str(tmp_path / "empty-cache")}
    r = semzip("put", store, str(src), "--namespace", "users/caroline", **nomodel)
    assert r.returncode == 0, r.stderr.decode()
    r = semzip("get", store, "art", "--namespace", "users/caroline", **nomodel)
    assert r.returncode == 0 and r.stdout == MEMORIES[1]["text"].encode()  # exactly: no newline added
    r = semzip("search", store, "what is the dog called", "--limit", "2", **nomodel)
    lines = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert r.returncode == 0 and len(lines) == 2 and lines[0]["key"] == "pet"
    assert lines[0]["text"] == MEMORIES[0]["text"] and lines[0]["score"] > lines[1]["score"]
    r = semzip("delete", store, "pet", "--namespace", "users/caroline", **nomodel)
    assert r.returncode == 0
    r = semzip("get", store, "pet", "--namespace", "users/caroline", **nomodel)
    assert r.returncode == 1 and b"no memory 'pet' in namespace 'users/caroline'" in r.stderr
    r = semzip("compact", store, "--all", **nomodel)  # compaction needs the model: exit 2 with the fix
    assert r.returncode == 2 and b"semzip models fetch" in r.stderr, r.stderr.decode()
    r = semzip("stats", store, **nomodel)
    out = r.stdout.decode()
    assert r.returncode == 0 and "users/caroline" in out and "files on disk" in out
    total = next(line for line in out.splitlines() if line.startswith("total")).split()
    assert total[1:3] == ["2", "2"] and total[4] == "0"  # both still hot, nothing changed by the failed compaction
    assert int(total[6]) == sum(len(m["text"].encode()) for m in MEMORIES[1:])
    r = semzip("compact", store, "--all")  # with the model: both coded, lossless
    assert r.returncode == 0 and b"compacted 2 memories" in r.stderr, r.stderr.decode()
    total = next(line for line in semzip("stats", store).stdout.decode().splitlines() if line.startswith("total"))
    assert total.split()[2] == "0" and total.split()[4] == "2"
    r = semzip("get", store, "art", "--namespace", "users/caroline", **nomodel)  # packed: only the model reads it
    assert r.returncode == 2 and b"semzip models fetch" in r.stderr, r.stderr.decode()
    r = semzip("get", store, "art", "--namespace", "users/caroline")
    assert r.returncode == 0 and r.stdout == MEMORIES[1]["text"].encode()


def test_bad_input_names_the_line_and_writes_nothing(tmp_path):
    store = str(tmp_path / "cli.db")
    src = tmp_path / "bad.jsonl"
    src.write_text('{"id": "a", "text": "fine"}\n{"id": "b"}\n', encoding="utf-8")
    r = semzip("put", store, str(src), "--mode", "zstd")
    assert r.returncode == 1 and f"{src} line 2: a memory is an object with an 'id' and a string 'text'" in \
        r.stderr.decode()
    r = semzip("get", store, "a")
    assert r.returncode == 1 and b"no memory 'a' in namespace 'default'" in r.stderr


def test_a_postgresql_dsn_is_a_store_too(tmp_path, pg_server_dsn):
    from conftest import fresh_database

    dsn = fresh_database(pg_server_dsn)
    src = tmp_path / "m.jsonl"
    src.write_text(json.dumps(MEMORIES[1], ensure_ascii=False) + "\n", encoding="utf-8")
    assert semzip("put", dsn, str(src), "--mode", "zstd", "--namespace", "a/b").returncode == 0
    r = semzip("get", dsn, "art", "--namespace", "a/b")
    assert r.returncode == 0 and r.stdout == MEMORIES[1]["text"].encode()
