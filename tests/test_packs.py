"""Packs (store format 3): compaction writes a namespace's memories into packs; reads, deletes and vacuum on them.

Real model (the bundled lossless engine), short texts: each test codes a few hundred tokens.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from engine.store import MemoryStore, Policy, Put
from engine.store.errors import CorruptMemoryError, InvalidMemoryError
from engine.store.pack_format import Entry, PackIndex, Part, Span, Window, decode_index, encode_index
from engine.store.pack_plan import plan_streams, plan_windows
from compactor_child import PACKER

TURNS = [f"Speaker {'AB'[i % 2]}: turn {i} about {topic}." for i, topic in
         enumerate(["the lake house", "a red bicycle", "grandmother's recipes", "the marathon in May", "a new puppy",
                    "painting classes", "the job interview", "a trip to Lisbon", "learning the violin", "a garden"])]
LONG = "\n".join(f"Line {i}: the committee discussed budget item {i} and agreed to revisit it later." for i in range(40))


def packed_store(path, engine, embedder, pack_tokens: int = 64) -> MemoryStore:
    store = MemoryStore(path, engine=engine, embed=embedder.embed, dims=384, compaction=False)
    store.compactor.pack_tokens = pack_tokens  # small packs: several streams from few memories
    return store


def test_the_index_round_trips_and_a_damaged_one_is_refused():
    index = PackIndex([Entry("k", 0, '{"m":{"a":1}}', 1.5, 2.25, 3, 7, True), Entry(None, 1, None, 0.0, 0.0, 4, 9, False)],
                      [[Part(0, 3, 2), Part(1, 4, 3)]], [Window(0, 0, 2)], separator_tokens=1)
    blob = encode_index(index)
    back = decode_index(blob)
    assert back.entries == index.entries and back.streams == index.streams and back.windows == index.windows
    assert back.spans[1][0] == Span(0, 4, 8, 6) and back.slot_of == {"k": 0}  # after the separator's byte and token
    assert back.entries[1].updated_at == 0.0 and back.entries[0].updated_at == 2.25  # times exact
    with pytest.raises(ValueError, match="damaged"):
        decode_index(blob[:-3] + bytes([blob[-3] ^ 1]) + blob[-2:])


def test_the_plan_fills_streams_to_the_pack_size_and_cuts_long_memories_at_lines():
    texts = ["a" * 10, "b" * 10, "c" * 10, "x\n" * 30]
    streams = plan_streams(texts, [10, 10, 10, 60], lambda lines: [2] * len(lines), 1, pack_tokens=25)
    assert [[p.slot for p in s] for s in streams] == [[0, -1, 1], [2], [3], [3], [3]]
    assert "".join(p.text for s in streams[2:] for p in s) == texts[3]
    assert all(sum(p.tokens for p in s) <= 25 for s in streams)
    windows = plan_windows(0, [(0, 10), (1, 10), (2, 10)], window_tokens=20)
    assert [(w.first, w.end) for w in windows] == [(0, 2), (2, 3)]


def test_compaction_packs_and_every_memory_reads_back_in_a_fresh_store(tmp_path, lossless_engine, embedder):
    path = tmp_path / "s.db"
    with packed_store(path, lossless_engine, embedder) as store:
        for i, t in enumerate(TURNS):
            store.put(("u", "c1"), f"t{i}", t, meta={"n": i})
        store.put(("u", "c1"), "long", LONG)
        store.put(("u", "c2"), "j", {"title": "a JSON value", "n": 3})
        report = store.compact(everything=True)
        assert report.memories == len(TURNS) + 2 and not report.errors
    rows = sqlite3.connect(path).execute("SELECT COUNT(*) FROM semzip_memories").fetchone()[0]
    packs = sqlite3.connect(path).execute("SELECT COUNT(*), SUM(num_memories) FROM semzip_packs").fetchone()
    assert rows == 0 and packs == (2, len(TURNS) + 2)  # a row per pack, none per memory
    with packed_store(path, lossless_engine, embedder) as store:
        got = store.get_many([(("u", "c1"), f"t{i}") for i in range(len(TURNS))])
        assert [m.value for m in got] == TURNS and [m.meta for m in got] == [{"n": i} for i in range(len(TURNS))]
        assert store.get(("u", "c1"), "long").value == LONG
        assert store.get(("u", "c2"), "j").value == {"title": "a JSON value", "n": 3}
        assert sorted(store.list(("u", "c1"), limit=100)) == sorted([f"t{i}" for i in range(len(TURNS))] + ["long"])
        hits = store.search(("u",), query="a trip to Lisbon", limit=3)
        assert hits[0].key == "t7" and hits[0].value == TURNS[7]
        assert [s.memories for s in store.stats()] == [len(TURNS) + 1, 1]


def test_a_trickle_of_compactions_merges_into_the_open_pack(tmp_path, lossless_engine, embedder):
    with packed_store(tmp_path / "s.db", lossless_engine, embedder, pack_tokens=256) as store:
        for i, t in enumerate(TURNS):
            store.put(("u",), f"t{i}", t)
            store.compact(everything=True)
        (count,) = store.core.db.read("SELECT COUNT(*) FROM semzip_packs")[0]
        assert count == 1  # each compaction reopened the last stream instead of starting a pack
        assert [m.value for m in store.get_many([(("u",), f"t{i}") for i in range(len(TURNS))])] == TURNS


def test_put_supersedes_delete_hides_and_vacuum_leaves_no_deleted_bytes(tmp_path, lossless_engine, embedder):
    path = tmp_path / "s.db"
    secret = "Speaker C: my passport number is QX-774-SECRET-19."
    with packed_store(path, lossless_engine, embedder) as store:
        for i, t in enumerate(TURNS):
            store.put(("u",), f"t{i}", t)
        store.put(("u",), "secret", secret)
        store.compact(everything=True)
        store.put(("u",), "t1", "replaced")
        assert store.get(("u",), "t1").value == "replaced"
        assert store.get(("u",), "t2").value == TURNS[2]  # the pack's kept copy now holds the decoded texts
        assert store.delete(("u",), "secret") and store.get(("u",), "secret") is None
        assert "secret" not in store.list(("u",), limit=100)
        assert all(h.key != "secret" for h in store.search(("u",), query="passport number", limit=20))
        store.vacuum()
        assert [m.value for m in store.get_many([(("u",), f"t{i}") for i in (0, 2, 9)])] == [TURNS[0], TURNS[2], TURNS[9]]
    data = b"".join(Path(str(path) + s).read_bytes() for s in ("", "-wal") if Path(str(path) + s).exists())
    assert b"QX-774" not in data and b"secret" not in data


def test_a_damaged_stream_fails_its_memories_by_name_and_the_other_packs_read(tmp_path, lossless_engine, embedder):
    path = tmp_path / "s.db"
    with packed_store(path, lossless_engine, embedder) as store:
        for i, t in enumerate(TURNS):
            store.put(("a",), f"t{i}", t)
            store.put(("b",), f"t{i}", t)
        store.compact(everything=True)
    db = sqlite3.connect(path, isolation_level=None)
    (pack_id, body), = db.execute("SELECT id, body FROM semzip_packs WHERE ns = 'a'").fetchall()
    body = bytearray(body)
    body[len(body) // 2] ^= 0x55
    db.execute("UPDATE semzip_packs SET body = ? WHERE id = ?", (bytes(body), pack_id))
    db.close()
    with packed_store(path, lossless_engine, embedder) as store:
        bad = 0
        for i in range(len(TURNS)):
            try:
                assert store.get(("a",), f"t{i}").value == TURNS[i]
            except CorruptMemoryError as exc:
                assert f"t{i}" in str(exc)
                bad += 1
        assert bad > 0
        assert [m.value for m in store.get_many([(("b",), f"t{i}") for i in range(len(TURNS))])] == TURNS


def test_a_store_of_format_2_opens_reads_and_is_packed_at_its_next_compaction(tmp_path, lossless_engine, embedder):
    stored = Path(__file__).parent / "data" / "stores"
    expected = [json.loads(line) for line in (stored / "format2.jsonl").open(encoding="utf-8")]
    path = tmp_path / "s.db"
    shutil.copy(stored / "format2.db", path)
    with MemoryStore(path, engine=lossless_engine, embed=embedder.embed, dims=384, compaction=False,
                     policies={("notes",): Policy("zstd")}) as store:
        assert store.core.db.read("SELECT value FROM semzip_meta WHERE key = 'format'") == [("3",)]
        pairs = [(tuple(d["namespace"]), d["key"]) for d in expected]
        assert [(m.value, m.meta) for m in store.get_many(pairs)] == [(d["value"], d["meta"]) for d in expected]
        report = store.compact(everything=True)
        assert report.memories == 4 and not report.errors  # the cold, kept and hot ones of the default policy
        assert sorted(store.core.db.read("SELECT key FROM semzip_memories")) == [("ttl",), ("z1",)]
        assert [(m.value, m.meta) for m in store.get_many(pairs)] == [(d["value"], d["meta"]) for d in expected]


def test_packs_on_either_database_put_compact_read_delete(conn, lossless_engine, embedder):
    with MemoryStore(conn, engine=lossless_engine, embed=embedder.embed, dims=384, compaction=False,
                     pack_tokens=64) as store:
        store.put_many([Put(("p",), f"t{i}", t) for i, t in enumerate(TURNS)])
        assert store.compact(everything=True).memories == len(TURNS)
        assert store.core.db.read("SELECT COUNT(*) FROM semzip_memories") == [(0,)]
        assert store.delete(("p",), "t4") and store.get(("p",), "t4") is None
        assert [m.value for m in store.get_many([(("p",), f"t{i}") for i in (0, 5, 9)])] == [TURNS[0], TURNS[5], TURNS[9]]
        assert store.search(("p",), query="learning the violin", limit=1)[0].key == "t8"
        assert store.delete_namespace(("p",)) == len(TURNS) - 1 and store.list(("p",)) == []


KILLED = """
import sys, time
from engine.store import MemoryStore, packing
store = MemoryStore(sys.argv[1], embed=None, index=False, compaction=False, pack_tokens=64)
store.compactor.lease_s = 1.0
where = sys.argv[2]
real, swaps = packing.Packer._swap, []
def swap(self, job, result):
    if where.endswith("before") and not swaps:
        print("coded, not swapped", flush=True); time.sleep(600)
    real(self, job, result)
    swaps.append(job.ns)
    if where == "between" and len(swaps) == 1 or where.endswith("after") and len(swaps) == 2:
        print("committed", len(swaps), flush=True); time.sleep(600)
packing.Packer._swap = swap
if where.startswith("rewrite"):
    for ns in ("a", "b"):
        store.delete((ns,), "t0")
    store.vacuum()
else:
    store.compact(everything=True)
"""


@pytest.mark.parametrize("where", ["before", "between", "after", "rewrite-before", "rewrite-after"])
def test_kill_9_during_packing_or_a_pack_rewrite_loses_nothing(conn, where, lossless_engine):
    import os
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[1]
    expected = {(ns, f"t{i}"): f"{ns}: {t}" for ns in ("a", "b") for i, t in enumerate(TURNS)}
    with MemoryStore(conn, engine=lossless_engine, embed=None, index=False, compaction=False, pack_tokens=64) as store:
        store.put_many([Put((ns,), k, v) for (ns, k), v in expected.items()])
        if where.startswith("rewrite"):
            store.compact(everything=True)
            expected = {k: v for k, v in expected.items() if k[1] != "t0"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED, conn, where], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # the child says where it stands, then waits to be killed there
    assert line, proc.stderr.read()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    pairs = [((ns,), k) for ns, k in expected]
    with MemoryStore(conn, engine=lossless_engine, embed=None, index=False, compaction=False, pack_tokens=64) as store:
        assert [m.value if m else None for m in store.get_many(pairs)] == list(expected.values())
        time.sleep(1.1)  # the killed run's leases run out
        store.compact(everything=True)
        store.vacuum()
        assert store.core.db.read("SELECT COUNT(*) FROM semzip_memories") == [(0,)]
        assert [m.value if m else None for m in store.get_many(pairs)] == list(expected.values())


def test_search_can_return_the_passage_that_matched(tmp_path, lossless_engine, embedder):
    with packed_store(tmp_path / "s.db", lossless_engine, embedder) as store:
        store.put(("u",), "minutes", LONG + "\nLine 40: the puppy Biscuit chewed the committee's violin case.")
        store.put(("u",), "short", TURNS[4])
        store.compact(everything=True)
        (hit,) = store.search(("u",), query="a puppy chewed a violin case", limit=1, passages=True)
        assert hit.key == "minutes" and hit.passage is not None and hit.passage > 0
        assert "Biscuit" in hit.value and hit.value in store.get(("u",), "minutes").value
        assert len(hit.value) < len(LONG) // 2
        (whole,) = store.search(("u",), query="a puppy chewed a violin case", limit=1)
        assert whole.passage is None and whole.value.startswith(LONG)


def test_a_read_keeps_the_decoded_text_and_compaction_drops_it(tmp_path, lossless_engine, embedder):
    with packed_store(tmp_path / "s.db", lossless_engine, embedder) as store:
        store.put_many([Put(("u",), f"t{i}", t) for i, t in enumerate(TURNS)])
        store.compact(everything=True)
        assert store.get(("u",), "t5").value == TURNS[5] and store.core.read_counts.cold == 1
        assert store.get(("u",), "t5").value == TURNS[5] and store.core.read_counts.hot == 1  # kept: no model
        assert store.compact(everything=True).evicted >= 1
        assert store.core.db.read("SELECT COUNT(*) FROM semzip_packs WHERE hot IS NOT NULL") == [(0,)]


def test_a_put_or_a_delete_racing_packing_or_a_rewrite_wins(tmp_path, lossless_engine, embedder, monkeypatch):
    from engine.store import packing

    with packed_store(tmp_path / "s.db", lossless_engine, embedder) as store:
        store.put_many([Put(("u",), f"t{i}", t) for i, t in enumerate(TURNS)])
        real = packing.Packer._code
        racing = {"writes": [(("u",), "t1", "put meanwhile"), (("u",), "t2", None)]}

        def code_then_race(self, jobs, engine, pace):
            real(self, jobs, engine, pace)  # coded, not yet swapped in: the writes land in between
            for ns, key, value in racing.pop("writes", []):
                store.put(ns, key, value) if value is not None else store.delete(ns, key)

        monkeypatch.setattr(packing.Packer, "_code", code_then_race)
        report = store.compact(everything=True)
        assert report.superseded == 2 and report.memories == len(TURNS) - 2
        assert store.get(("u",), "t1").value == "put meanwhile" and store.get(("u",), "t2") is None
        store.delete(("u",), "t3")
        racing["writes"] = [(("u",), "t4", None), (("u",), "t5", "put during the rewrite")]
        store.vacuum()  # rewrites the pack without t3; t4's delete and t5's put land before its swap
        got = store.get_many([(("u",), f"t{i}") for i in range(len(TURNS))])
        assert [m.value if m else None for m in got] == [TURNS[0], "put meanwhile", None, None, None,
                                                        "put during the rewrite", *TURNS[6:]]


def test_two_compactors_pack_each_memory_once(conn, tmp_path, lossless_engine):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    expected = {f"t{i}": t for i, t in enumerate(TURNS)}
    with MemoryStore(conn, engine=lossless_engine, embed=None, index=False, compaction=False) as store:
        store.put_many([Put(("a",), k, v) for k, v in expected.items()])
    (tmp_path / "meet").mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", PACKER, conn, str(tmp_path / "meet")], cwd=root,
                              env={**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        reports.append(json.loads(out))
    assert sum(r["memories"] for r in reports) == len(TURNS) and all(r["superseded"] == 0 for r in reports)
    assert all(r["batches"] > 0 for r in reports)  # both held claims at once, on disjoint batches
    with MemoryStore(conn, engine=lossless_engine, embed=None, index=False, compaction=False) as store:
        assert store.core.db.read("SELECT COUNT(*) FROM semzip_memories") == [(0,)]
        assert [m.value for m in store.get_many([(("a",), k) for k in expected])] == list(expected.values())


def test_a_namespace_policy_sets_its_own_pack_size(tmp_path, lossless_engine, embedder):
    with MemoryStore(tmp_path / "s.db", engine=lossless_engine, embed=embedder.embed, dims=384, compaction=False,
                     pack_tokens=64, policies={("wide",): Policy(pack_tokens=256)}) as store:
        store.put_many([Put((ns,), f"t{i}", t) for ns in ("narrow", "wide") for i, t in enumerate(TURNS)])
        assert store.compact(everything=True).memories == 2 * len(TURNS)
        found = store.core.packs.in_namespaces("")
        indexes = store.core.pack_directory.indexes(found)
        tokens = {ns: [indexes[i].stream_tokens(s) for s in range(len(indexes[i].streams))] for i, ns, _ in found}
        assert max(tokens["narrow"]) <= 64 < max(tokens["wide"]) <= 256  # B = 64 for the store, 256 for "wide"
        assert len(tokens["narrow"]) > len(tokens["wide"])
        assert [m.value for m in store.get_many([(("wide",), f"t{i}") for i in range(len(TURNS))])] == TURNS
    with pytest.raises(InvalidMemoryError, match="pack_tokens is for the packed policy"):
        Policy("zstd", pack_tokens=128)
    with pytest.raises(InvalidMemoryError, match="16 to 1536"):
        Policy(pack_tokens=8)
