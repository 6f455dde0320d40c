"""The store's two tiers: hot puts, compaction (due rules, races, two compactors, kill -9, a full disk), reads that
keep memories hot, background compaction, and stores of format 1. The cold codec here is zstd at level 19 (a
real codec, no model) except where a test says it uses the model."""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.store import MemoryStore, Policy, Put, StoreError
from engine.store.compaction import Interrupted
from engine.store.rows import COLD, COLD_KEPT, HOT
from compactor_child import COMPACTOR

ROOT = Path(__file__).resolve().parents[1]
FORMAT1 = ROOT / "tests" / "data" / "stores"


def zstd_store(conn, **kw) -> MemoryStore:
    kw.setdefault("compaction", False)
    return MemoryStore(conn, mode="zstd", index=False, embed=None, **kw)


def tiers(store: MemoryStore) -> dict[str, int]:
    """key -> tier, every row."""
    return dict(store.core.db.read("SELECT key, tier FROM semzip_memories"))


def texts(n: int, tag: str = "m") -> dict[str, str]:
    return {f"{tag}{i}": f"Memory {i}: Caroline told Melanie about the pottery class on day {i}. " * (1 + i % 4)
            for i in range(n)}


def test_puts_are_hot_and_compaction_codes_what_is_due(conn):
    with zstd_store(conn, cold_after=3600, hot_bytes=10**9) as store:
        store.put_many([Put(("a",), k, v) for k, v in texts(6).items()])
        assert set(tiers(store).values()) == {HOT}
        assert store.compact().memories == 0 and store.backlog() == (0, 0)  # written just now: not due
        store.compactor.cold_after = 0
        assert store.backlog()[0] == 6
        report = store.compact()
        assert report.memories == 6 and report.text_bytes == sum(len(v) for v in texts(6).values())
        assert report.cold_bytes < report.hot_bytes and "compacted 6 memories" in report.line()
        assert set(tiers(store).values()) == {COLD}
        assert [m.value for m in store.get_many([(("a",), k) for k in texts(6)])] == list(texts(6).values())
        assert store.compactor.totals.memories == 6


def test_over_hot_bytes_the_least_recently_used_go_first(tmp_path):
    with zstd_store(tmp_path / "s.db", cold_after=3600) as store:
        for k, v in texts(5).items():  # put one after another: m0 is the oldest
            store.put(("a",), k, v)
            time.sleep(0.01)
        store.get(("a",), "m0")  # read: now the most recently used
        store.flush_read_times()
        sizes = dict(store.core.db.read("SELECT key, LENGTH(body) FROM semzip_memories"))
        store.compactor.hot_bytes = sum(sizes.values()) - 1  # one byte over: the LRU one goes
        store.compact()
        assert [k for k, t in sorted(tiers(store).items()) if t == COLD] == ["m1"]


def test_a_cold_read_keeps_the_text_hot_and_dropping_that_copy_codes_nothing(tmp_path, lossless_engine):
    with zstd_store(tmp_path / "s.db", cold_after=0) as store:
        store.put_many([Put(("a",), k, v) for k, v in texts(3).items()])
        store.compact()
        store.compactor.cold_after = 3600
        # a cold zstd record reads without a model: no copy is kept for it
        assert store.get(("a",), "m1").value == texts(3)["m1"] and tiers(store)["m1"] == COLD
    # a model-coded cold record (lossless: its record's kind) read back gets a hot copy
    path = tmp_path / "f1.db"
    shutil.copy(FORMAT1 / "format1.db", path)
    # chat's policy not the default: its rows stay rows coded alone (the default's are packed: tests/test_packs.py)
    with MemoryStore(path, engine=lossless_engine, embed=None, index=False, compaction=False, cold_after=3600,
                     policies={("chat",): Policy("zstd")}) as store:
        assert store.get(("chat", "priya"), "s1").meta == {"date": "7:12 pm on 3 March, 2024"}
        assert tiers(store)["s1"] == COLD_KEPT and store.core.read_counts.cold == 1
        value = store.get(("chat", "priya"), "s1").value  # from the copy: no model
        assert store.core.read_counts.hot == 1 and value.startswith("[7:12 pm on 3 March, 2024]")
        store.compactor.cold_after = 0
        report = store.compact()
        # the copy dropped, nothing coded for it; format 1's rows of the default policy (notes, raw) packed
        assert report.evicted == 1 and report.memories == 2 and tiers(store)["s1"] == COLD


def test_a_put_or_a_delete_during_a_compaction_wins(conn):
    with zstd_store(conn, cold_after=0) as store:
        store.put_many([Put(("a",), k, v) for k, v in texts(4).items()])
        real = store.core.coder.encode

        def racing(*args, **kwargs):  # between the claim and the swap, by construction
            store.put(("a",), "m1", "written while m1 was being coded")
            store.delete(("a",), "m2")
            return real(*args, **kwargs)

        store.core.coder.encode = racing
        report = store.compact()
        store.core.coder.encode = real
        assert report.memories == 2 and report.superseded == 2
        assert store.get(("a",), "m1").value == "written while m1 was being coded" and tiers(store)["m1"] == HOT
        assert store.get(("a",), "m2") is None and tiers(store)["m0"] == tiers(store)["m3"] == COLD
        assert store.compact().memories == 1 and tiers(store)["m1"] == COLD  # the new m1, coded next time


def child_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


def test_two_compactors_on_one_database_code_each_memory_once(conn, tmp_path):
    memories = texts(40)
    with zstd_store(conn) as store:
        store.put_many([Put(("a",), k, v) for k, v in memories.items()])
    (tmp_path / "meet").mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", COMPACTOR, conn, str(tmp_path / "meet")], cwd=ROOT, env=child_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        reports.append(json.loads(out))
    assert sum(r["memories"] for r in reports) == 40 and all(r["superseded"] == 0 for r in reports)
    assert all(r["batches"] > 0 for r in reports)  # both held claims at once, on disjoint batches
    with zstd_store(conn) as store:
        assert set(tiers(store).values()) == {COLD}
        assert [m.value for m in store.get_many([(("a",), k) for k in memories])] == list(memories.values())


KILLED = """
import sys, time
from engine.store import MemoryStore
store = MemoryStore(sys.argv[1], mode="zstd", index=False, embed=None, compaction=False, cold_after=0)
where = sys.argv[2]
real = store.core.coder.encode
batches = 0
def coded(*a, **k):
    out = real(*a, **k)
    if where == "before" and batches == 1:
        print("claimed, not swapped", flush=True); time.sleep(600)
    return out
def progress(n):
    global batches
    batches += 1
    if where == "between" and batches == 2 or where == "after" and batches == 4:
        print(f"committed {batches}", flush=True); time.sleep(600)
store.core.coder.encode = coded
store.compactor.batch = 5
store.compactor.lease_s = 1.0
store.compact(progress=progress)
"""


@pytest.mark.parametrize("where", ["before", "between", "after"])
def test_kill_9_during_compaction_loses_nothing(conn, where):
    memories = texts(20)
    with zstd_store(conn) as store:
        store.put_many([Put(("a",), k, v) for k, v in memories.items()])
    proc = subprocess.Popen([sys.executable, "-c", KILLED, conn, where], cwd=ROOT, env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # the child says where it stands, then waits to be killed there
    assert line, proc.stderr.read()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with zstd_store(conn, cold_after=0) as store:
        cold = sum(t == COLD for t in tiers(store).values())
        assert cold == {"before": 5, "between": 10, "after": 20}[where]
        assert [m.value for m in store.get_many([(("a",), k) for k in memories])] == list(memories.values())
        time.sleep(1.1)  # the killed batch's lease runs out
        store.compact()
        assert set(tiers(store).values()) == {COLD}
        assert [m.value for m in store.get_many([(("a",), k) for k in memories])] == list(memories.values())


def test_a_full_disk_during_compaction_names_the_store_and_the_next_run_goes_on(small_disk):
    path = small_disk / "full.db"
    memories = {f"k{i}": f"memory {i} " + os.urandom(300).hex() for i in range(60)}
    with zstd_store(path, cold_after=0) as store:
        store.put_many([Put(("d",), k, v) for k, v in memories.items()])
        with open(small_disk / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        with pytest.raises(StoreError, match=str(path)):
            store.compact()
        assert [m.value for m in store.get_many([(("d",), k) for k in memories])] == list(memories.values())
        (small_disk / "filler").unlink()
        store.compactor.lease_s = 0  # claims the failed run left stand no longer
        store.compact()
        assert set(tiers(store).values()) == {COLD}
        assert [m.value for m in store.get_many([(("d",), k) for k in memories])] == list(memories.values())


def test_background_compaction_waits_for_the_host_and_stops_on_close(tmp_path):
    store = zstd_store(tmp_path / "s.db", cold_after=0.05, compaction=True)
    try:
        with store.host.call():  # a host call in flight: the compactor waits
            store.put_many([Put(("a",), k, v) for k, v in texts(5).items()])
            time.sleep(0.5)
            assert set(tiers(store).values()) == {HOT}
        deadline = time.time() + 10
        while set(tiers(store).values()) != {COLD}:
            assert time.time() < deadline, "background compaction did not run"
            time.sleep(0.05)
        assert store.background.reports and store.background.reports[0].memories == 5
    finally:
        t0 = time.perf_counter()
        store.close()
        assert time.perf_counter() - t0 < 2 and not store.background._thread.is_alive()


def test_the_pace_hook_abandons_a_batch_and_gives_its_claims_back(tmp_path):
    with zstd_store(tmp_path / "s.db", cold_after=0) as store:
        store.put_many([Put(("a",), k, v) for k, v in texts(3).items()])
        calls = []

        def pace():
            calls.append(1)
            if len(calls) == 1:
                raise Interrupted("stop")

        with pytest.raises(Interrupted):
            store.compact(pace=pace)
        assert store.core.db.read("SELECT COUNT(*) FROM semzip_memories WHERE claimed_until IS NOT NULL") == [(0,)]
        assert store.compact().memories == 3


def test_a_store_of_format_1_opens_reads_and_is_compacted_like_any_other(conn, lossless_engine, embedder):
    expected = [json.loads(line) for line in (FORMAT1 / "format1.jsonl").open(encoding="utf-8")]
    if conn.startswith("postgresql://"):
        _format1_into_postgres(conn)
    else:
        shutil.copy(FORMAT1 / "format1.db", conn)
    with MemoryStore(conn, engine=lossless_engine, embed=embedder.embed, dims=384, compaction=False,
                     cold_after=0) as store:
        assert store.core.db.read("SELECT value FROM semzip_meta WHERE key = 'format'") == [("3",)]
        got = store.get_many([(tuple(d["namespace"]), d["key"]) for d in expected])
        assert [(m.value, m.meta) for m in got] == [(d["value"], d["meta"]) for d in expected]
        assert store.search(("chat",), "moving to a flat in Lisbon", limit=1)[0].key == "json"
        store.put(("chat", "priya"), "new", "Priya starts her pottery class next Thursday at 7 pm. " * 3)
        report = store.compact()
        # the new one and the 5 rows format 1 coded alone are packed; the one with a TTL stays a row
        assert report.memories == 6 and not report.errors
        assert store.core.db.read("SELECT key FROM semzip_memories") == [("ttl",)]
        assert store.get(("chat", "priya"), "new").value.startswith("Priya starts")
        got = store.get_many([(tuple(d["namespace"]), d["key"]) for d in expected])
        assert [(m.value, m.meta) for m in got] == [(d["value"], d["meta"]) for d in expected]


def _format1_into_postgres(dsn: str) -> None:
    """The stored format-1 store's tables and rows, as format 1 created them on PostgreSQL."""
    import psycopg

    src = sqlite3.connect(FORMAT1 / "format1.db")
    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute("CREATE TABLE semzip_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        pg.execute('CREATE TABLE semzip_memories (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, ns TEXT '
                   'COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, kind SMALLINT NOT NULL, body BYTEA NOT NULL, '
                   'crc BIGINT NOT NULL, fields TEXT, text_bytes INTEGER NOT NULL, created_at DOUBLE PRECISION NOT '
                   'NULL, updated_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION, ttl DOUBLE PRECISION, '
                   'vecs BYTEA, UNIQUE (ns, key))')
        for row in src.execute("SELECT key, value FROM semzip_meta"):
            pg.execute("INSERT INTO semzip_meta VALUES (%s, %s)", row)
        for row in src.execute("SELECT ns, key, kind, body, crc, fields, text_bytes, created_at, updated_at, "
                               "expires_at, ttl, vecs FROM semzip_memories ORDER BY id"):
            pg.execute("INSERT INTO semzip_memories (ns, key, kind, body, crc, fields, text_bytes, created_at, "
                       "updated_at, expires_at, ttl, vecs) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                       row)
    src.close()


@pytest.mark.model
def test_end_to_end_with_the_model_background_compaction_cold_reads_and_a_close_mid_batch(tmp_path, lossless_engine):
    sessions = [json.loads(line)["text"] for line in (ROOT / "tests" / "data" / "dialogues.jsonl").open()]
    memories = {f"d{i}": s[:300] for i, s in enumerate(sessions[:3])}
    path = tmp_path / "s.db"
    store = MemoryStore(path, engine=lossless_engine, embed=None, index=False, cold_after=0.05)
    with store:  # background compaction codes them with the lossless model
        store.put_many([Put(("u",), k, v) for k, v in memories.items()])
        deadline = time.time() + 300
        while tiers(store):  # packed: no row left
            assert time.time() < deadline, "background compaction did not code them"
            time.sleep(0.1)
        store.compactor.cold_after = 3600  # nothing more to do for the background: the reads below stay kept
        assert [m.value for m in store.get_many([(("u",), k) for k in memories])] == list(memories.values())
        assert store.core.read_counts.cold == 3
        (s,) = store.stats()
        assert s.cold == 3 and s.cold_bytes * 2 < s.text_bytes  # one lossless pack
    # A close while the background codes a batch: abandoned at the model's next step, its claims given back.
    longer = {f"l{i}": s[:1500] for i, s in enumerate(sessions[3:6])}
    store = MemoryStore(path, engine=lossless_engine, embed=None, index=False, cold_after=0.05)
    store.put_many([Put(("u",), k, v) for k, v in longer.items()])
    deadline = time.time() + 60
    while lossless_engine.runner.pace is None:  # the background's batch is on the model
        assert time.time() < deadline, "the background compaction never started"
        time.sleep(0.01)
    t0 = time.perf_counter()
    store.close()
    assert time.perf_counter() - t0 < 5 and lossless_engine.runner.pace is None
    with zstd_store(path) as reopened:
        assert [tiers(reopened)[k] for k in longer] == [HOT] * 3
        assert reopened.core.db.read("SELECT COUNT(*) FROM semzip_memories WHERE claimed_until IS NOT NULL") == [(0,)]
        assert [m.value for m in reopened.get_many([(("u",), k) for k in longer])] == list(longer.values())


def test_metrics_show_each_tier_the_backlog_and_reads_by_tier(tmp_path):
    from prometheus_client import generate_latest

    from engine.observe.monitor import Monitor

    with zstd_store(tmp_path / "s.db", cold_after=3600) as store:
        monitor = Monitor(model="store")
        monitor.watch_store(store)
        store.put_many([Put(("a",), k, v) for k, v in texts(4).items()])
        store.get(("a",), "m0")
        body = generate_latest(monitor.registry).decode()
        assert 'semzip_store_memories{tier="hot"} 4.0' in body and 'semzip_store_memories{tier="cold"} 0.0' in body
        assert 'semzip_store_reads_total{tier="hot"} 1.0' in body
        assert "semzip_store_compaction_backlog_memories 0.0" in body  # written just now: not due
        store.compactor.cold_after = 0
        assert "semzip_store_compaction_backlog_memories 4.0" in generate_latest(monitor.registry).decode()
        store.compact()
        body = generate_latest(monitor.registry).decode()
        assert 'semzip_store_memories{tier="cold"} 4.0' in body and "semzip_store_compacted_memories_total 4.0" in body
        hot_bytes = next(line for line in body.splitlines() if line.startswith('semzip_store_bytes{tier="hot"}'))
        assert hot_bytes.endswith(" 0.0")


def test_background_compaction_without_a_model_keeps_serving_hot_and_says_why_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SEMZIP_CACHE", str(tmp_path / "no-models"))
    store = MemoryStore(tmp_path / "s.db", index=False, embed=None, cold_after=0.02)  # lossless: needs the model
    with caplog.at_level("WARNING", logger="semzip.store"), store:
        store.put_many([Put(("a",), k, v) for k, v in texts(3).items()])
        time.sleep(1.0)  # many wakes, each failing to open the model
        assert set(tiers(store).values()) == {HOT} and store.get(("a",), "m1").value == texts(3)["m1"]
    with zstd_store(tmp_path / "s.db") as reopened:  # each failed try gave its claims back (none left at close)
        assert reopened.core.db.read("SELECT COUNT(*) FROM semzip_memories WHERE claimed_until IS NOT NULL") == [(0,)]
    warnings = [r for r in caplog.records if "background compaction failed" in r.getMessage()]
    assert len(warnings) == 1 and "semzip models fetch" in warnings[0].getMessage()
