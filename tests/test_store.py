"""MemoryStore on real SQLite and a real PostgreSQL server, with the real lossless model and all-MiniLM-L6-v2."""
from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest

from engine.codecs.container import decode_record
from engine.store import (
    CorruptMemoryError,
    Delete,
    DeleteNamespace,
    Get,
    InvalidMemoryError,
    ListKeys,
    ListNamespaces,
    MemoryStore,
    Policy,
    Put,
    Search,
    StoreError,
    StoreVersionError,
    vectors,
)
from engine.store.rows import crc

EXACT = [
    "Caroline: I went to a LGBTQ support group yesterday and it was so powerful.",
    "",
    "x",
    "naïve café, 日本語, emoji 🙂, tabs\tand\nnewlines, NUL \x00 and BEL \x07 kept",
    "  leading and trailing blanks  \n",
]
JSON = [
    {"text": "Melanie paints sunsets by the lake every Sunday.", "kind": "hobby", "n": 3, "ok": True, "none": None},
    {},
    {"nested": {"deep": [1, 2.5, {"x": "é"}], "empty": ""}, "list": [], "unicode": "Zürich ✓"},
]


def store_at(conn, engine, embedder, **kw) -> MemoryStore:
    """The lossless model on SQLite; on PostgreSQL zstd (the same records to the database, and no second model
    pass over the same texts: the suite's time is counted)."""
    if str(conn).startswith("postgresql://"):
        return MemoryStore(conn, mode="zstd", embed=embedder.embed, dims=384, **kw)
    return MemoryStore(conn, engine=engine, embed=embedder.embed, dims=384, **kw)


def coded_kind(conn) -> str:
    return "zstd" if str(conn).startswith("postgresql://") else "lossless"


def kinds(store: MemoryStore, ns: tuple[str, ...]) -> dict[str, str]:
    """key -> the kind of record the database holds for it ("pack" for a packed memory)."""
    rows = store.core.db.scan("\x1f".join(ns), 0)
    found = {r.key: decode_record(r.key, r.body, store.core.db.profiles(), "test").kind
             for r in store.core.db.by_ids([t[0] for t in rows])}
    slots, _ = store.core.pack_directory.live("\x1f".join(ns), exact=True)
    return {**{s.entry.key: "pack" for s in slots}, **found}


def test_values_come_back_exactly_and_coding_pays_or_is_skipped(conn, lossless_engine, embedder):
    with store_at(conn, lossless_engine, embedder, policies={("raw",): Policy("raw"), ("z",): Policy("zstd")}) as store:
        puts = [Put(("a", "b"), f"t{i}", v, meta={"i": i}) for i, v in enumerate(EXACT)]
        puts += [Put(("a",), f"j{i}", v) for i, v in enumerate(JSON)]
        puts += [Put(("raw",), "r", EXACT[0]), Put(("z",), "z", EXACT[0] * 3)]
        store.put_many(puts)
        hot = store.get_many([(p.namespace, p.key) for p in puts] + [(("a",), "absent")])
        assert [m.value for m in hot[:-1]] == [p.value for p in puts] and hot[-1] is None
        assert {kind for ns in (("a", "b"), ("raw",), ("z",)) for kind in kinds(store, ns).values()} <= {"zstd", "raw"}
        report = store.compact(everything=True)  # the hot tier coded with each namespace's policy
        assert report.memories == len(puts) and report.superseded == report.failed == 0
        got = store.get_many([(p.namespace, p.key) for p in puts] + [(("a",), "absent")])
        assert [m.value for m in got[:-1]] == [p.value for p in puts] and got[-1] is None
        assert [m.meta for m in got[: len(EXACT)]] == [{"i": i} for i in range(len(EXACT))]
        assert type(got[len(EXACT)].value) is dict
        k = kinds(store, ("a", "b"))
        if coded_kind(conn) == "lossless":  # the default policy packs every text, however short
            assert set(k.values()) == {"pack"}
        else:
            assert k["t0"] == "zstd" and k["t1"] == "raw" and k["t2"] == "raw"  # an empty or 1-byte text: raw pays
        assert kinds(store, ("raw",)) == {"r": "raw"} and kinds(store, ("z",)) == {"z": "zstd"}
        assert store.get(("a", "b"), "t0").created_at <= store.get(("a", "b"), "t0").updated_at
    with store_at(conn, lossless_engine, embedder) as again:  # reopened: nothing depends on the process
        assert again.get(("a", "b"), "t3").value == EXACT[3]


def test_bad_input_is_refused_by_name_and_nothing_changes(tmp_path, embedder):
    path = tmp_path / "s.db"
    with MemoryStore(path, mode="zstd", embed=embedder.embed, dims=384, index=False) as store:
        store.put(("ok",), "k", "kept")
        bad = [((), "k", "v"), (("",), "k", "v"), ("ok", "k", "v"), ((1,), "k", "v"), (("a\x00b",), "k", "v"),
               (("ok",), "", "v"), (("ok",), None, "v"), (("ok",), "a\nb", "v"), (("ok",), "k", {1, 2}),
               (("ok",), "k", {"t": (1, 2)}), (("ok",), "k", {1: "int key"}), (("ok",), "k", {"x": float("nan")}),
               (("ok",), "k", "lone \ud800 surrogate"), (("ok",), "k", 42), (("ok",), "k", {"o": object()})]
        for ns, key, value in bad:
            with pytest.raises(InvalidMemoryError) as err:
                store.put_many([Put(("ok",), "first", "would be written"), Put(ns, key, value)])
            assert repr(key) in str(err.value) or str(ns) in str(err.value) or "namespace" in str(err.value)
        with pytest.raises(InvalidMemoryError, match="ttl"):
            store.put(("ok",), "k", "v", ttl=-1)
        with pytest.raises(InvalidMemoryError, match="operator"):
            store.search(("ok",), filter={"n": {"$regex": "x"}})
        assert store.list(("ok",)) == ["k"] and store.get(("ok",), "k").value == "kept"


def test_a_store_of_a_newer_format_is_refused_unchanged(tmp_path, embedder):
    path = tmp_path / "s.db"
    with MemoryStore(path, mode="raw", embed=embedder.embed, dims=384) as store:
        store.put(("a",), "k", "v")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE semzip_meta SET value = '99' WHERE key = 'format'")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(StoreVersionError, match=r"s\.db was written by store format 99.*upgrade"):
        MemoryStore(path, mode="raw", embed=embedder.embed, dims=384)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    (tmp_path / "junk.db").write_bytes(b"not a database at all, " * 100)
    with pytest.raises(StoreError, match="junk.db"):
        MemoryStore(tmp_path / "junk.db", mode="raw", embed=embedder.embed, dims=384)


def test_a_new_store_has_small_pages_and_an_older_one_keeps_its_own(tmp_path, embedder):
    with MemoryStore(tmp_path / "new.db", mode="raw", embed=embedder.embed, dims=384) as store:
        store.put(("a",), "k", "a value longer than one page: " + "x" * 900)
        assert store.get(("a",), "k").value.endswith("x" * 900)
    assert sqlite3.connect(tmp_path / "new.db").execute("PRAGMA page_size").fetchone() == (512,)
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:  # a store's file as releases before 512-byte pages created it
        db.execute("PRAGMA page_size=2048")
        db.execute("CREATE TABLE t (x)")
        db.execute("DROP TABLE t")
    with MemoryStore(old, mode="raw", embed=embedder.embed, dims=384) as store:
        store.put(("a",), "k", "v")
    assert sqlite3.connect(old).execute("PRAGMA page_size").fetchone() == (2048,)


def test_a_corrupt_row_is_named_and_the_others_still_read(tmp_path, lossless_engine, embedder):
    path = tmp_path / "s.db"
    texts = {f"m{i}": f"Memory {i}: Melanie took the kids camping at lake {i} in June." for i in range(3)}
    with store_at(path, lossless_engine, embedder) as store:
        store.put_many([Put(("team", "x"), k, v, ttl=86400) for k, v in texts.items()])  # a TTL: coded alone, a row each
        store.compact(everything=True)
        with sqlite3.connect(path) as db:
            (body,) = db.execute("SELECT body FROM semzip_memories WHERE key = 'm1'").fetchone()
            flipped = body[:-3] + bytes([body[-3] ^ 0x40]) + body[-2:]
            db.execute("UPDATE semzip_memories SET body = ? WHERE key = 'm1'", (flipped,))  # crc now wrong
            (raw,) = db.execute("SELECT body FROM semzip_memories WHERE key = 'm2'").fetchone()
            forged = raw[:1] + bytes([raw[1] ^ 0x01]) + raw[2:]  # the record's text checksum (bytes 1-4)
            db.execute("UPDATE semzip_memories SET body = ?, crc = ? WHERE key = 'm2'", (forged, crc(forged)))
        for key, why in (("m1", "checksum"), ("m2", "decoded text does not match")):
            with pytest.raises(CorruptMemoryError, match=rf"memory '{key}' in namespace 'team/x' is corrupt.*{why}"):
                store.get(("team", "x"), key)
        assert store.get(("team", "x"), "m0").value == texts["m0"]
        with pytest.raises(CorruptMemoryError, match="'m1'"):
            store.get_many([(("team", "x"), "m0"), (("team", "x"), "m1")])


DAY = 86400.0


def test_search_ranks_filters_pages_and_decodes_only_the_hits(conn, lossless_engine, embedder, monkeypatch):
    notes = {"dog": "Caroline adopted a puppy and walks her dog in the park every morning.",
             "paint": "Melanie painted a sunrise over the lake with watercolours.",
             "job": "Caroline wants a career in counseling and mental health.",
             "trip": "They drove to the mountains for a camping trip with the kids."}
    with store_at(conn, lossless_engine, embedder) as store:
        # A TTL keeps them out of packs (test_packs.py searches those): each a row, ranked by its own vector
        store.put_many([Put(("u", "1"), k, v, meta={"topic": k, "n": i}, ttl=DAY) for i, (k, v) in enumerate(notes.items())])
        store.put(("u", "1"), "quiet", "an unembedded note", index=False, ttl=DAY)
        store.put(("u", "2"), "doc", {"title": "pets", "body": "A long JSON field about a dog. " * 4, "n": 9}, ttl=DAY)
        store.compact(everything=True)  # cold: a read decodes them
        decoded = []
        real = lossless_engine.decode
        monkeypatch.setattr(lossless_engine, "decode", lambda recs: decoded.append(len(recs := list(recs))) or real(recs))
        lossless = coded_kind(conn) == "lossless"
        hits = store.search(("u", "1"), "a pet dog", limit=2)
        assert [h.key for h in hits] == ["dog", hits[1].key] and hits[0].score > hits[1].score
        assert hits[0].value == notes["dog"] and decoded == ([2] if lossless else [])  # one batch: the page only
        assert [h.key for h in store.search(("u",), "painting art", limit=1, offset=1, decode=False)] != ["paint"]
        assert [h.key for h in store.search(("u",), "painting art", limit=1, decode=False)] == ["paint"]
        last = store.search(("u", "1"), "x", limit=10, decode=False)[-1]
        assert last.key == "quiet" and last.score is None  # unembedded ones fill the page, unscored
        assert {h.key for h in store.search(("u", "1"), filter={"n": {"$gte": 2}}, decode=False)} == {"job", "trip"}
        assert [h.key for h in store.search(("u",), "dog", filter={"topic": {"$ne": "dog"}, "n": {"$lt": 2}},
                                            decode=False)] == ["paint"]
        decoded.clear()
        assert [h.key for h in store.search(("u",), filter={"body": {"$ne": None}}, decode=False)] == ["doc"]
        assert decoded == ([1] if lossless else [])  # the large field needed its value: only that one was decoded
        nodecode = store.search(("u", "1"), "dog", limit=4, decode=False)
        assert [h.key for h in nodecode][:1] == ["dog"] and all(h.value is None for h in nodecode)
        assert [h.key for h in store.search(("u", "1"), limit=2, decode=False)] == ["quiet", "trip"]  # newest first


def test_ttl_hides_refreshes_and_sweeps(tmp_path, embedder):
    import time

    with MemoryStore(tmp_path / "s.db", mode="zstd", embed=embedder.embed, dims=384, index=False) as store:
        # Lifetimes with 0.8 s of slack either way, for a loaded 2-core machine.
        store.put(("t",), "short", "gone soon", ttl=2.0)
        store.put(("t",), "long", "stays")
        time.sleep(1.2)
        assert store.get(("t",), "short").value == "gone soon"  # refreshes: 2 s more from now
        time.sleep(1.2)
        assert store.get(("t",), "short", refresh_ttl=False) is not None
        time.sleep(1.2)
        assert store.get(("t",), "short") is None and [m.key for m in store.search(("t",))] == ["long"]
        assert store.list_namespaces() == [("t",)] and store.sweep() == 1
        assert store.get(("t",), "long").value == "stays"


def test_list_namespaces_follows_langgraph_rules(tmp_path, embedder):
    with MemoryStore(tmp_path / "s.db", mode="raw", embed=embedder.embed, dims=384, index=False) as store:
        for ns in [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f"), ("a", "c", "f")]:
            store.put(ns, "k", "v")
        assert store.list_namespaces(prefix=("a", "b"), max_depth=3) == [("a", "b", "c"), ("a", "b", "d"),
                                                                          ("a", "b", "f")]
        assert store.list_namespaces(suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f")]
        assert store.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
        assert store.list_namespaces(limit=2, offset=1) == [("a", "b", "d", "e"), ("a", "b", "d", "i")]
        assert store.list(("a", "b")) == [] and store.delete(("a", "c", "f"), "k") and not store.delete(("a",), "k")
        assert ("a", "c", "f") not in store.list_namespaces()


def test_abatch_is_the_async_entry(tmp_path, embedder):
    async def run(store):
        await store.abatch([Put(("a",), "k", {"x": 1}), Put(("a",), "j", "text")])
        got = await asyncio.gather(store.abatch([Get(("a",), "k")]), store.abatch([Get(("a",), "j")]),
                                   store.abatch([Search(("a",), "text"), ListKeys(("a",)), ListNamespaces()]))
        await store.abatch([Delete(("a",), "k")])
        return got, (await store.abatch([Get(("a",), "k")]))[0]

    with MemoryStore(tmp_path / "s.db", mode="zstd", embed=embedder.embed, dims=384) as store:
        ([one], [many], [found, keys, spaces]), gone = asyncio.run(run(store))
    assert one.value == {"x": 1} and many.value == "text" and found[0].key == "j"
    assert sorted(keys) == ["j", "k"] and spaces == [("a",)] and gone is None


def test_a_batch_reads_before_its_writes_and_commits_them_together(tmp_path, embedder):
    with MemoryStore(tmp_path / "s.db", mode="zstd", embed=embedder.embed, dims=384) as store:
        store.put_many([Put(("a",), "old", "was here"), Put(("a", "b"), "x", "under a")])
        got = store.batch([Get(("a",), "new"), Put(("a",), "new", "first"), Put(("a",), "new", "second"),
                           Delete(("a",), "old"), Get(("a",), "old"), Put(("a",), "gone", "put, then deleted"),
                           Delete(("a",), "gone"), Delete(("a",), "never"), ListKeys(("a",))])
        assert got[0] is None and got[4].value == "was here" and sorted(got[8]) == ["old"]  # reads: the state before
        assert got[3] is True and got[6] is False and got[7] is False  # "gone" was dropped before it was written
        assert store.list(("a",)) == ["new"] and store.get(("a",), "new").value == "second"
        assert store.batch([DeleteNamespace(("a",)), Put(("a", "c"), "k", "after the delete")]) == [2, None]
        assert store.list_namespaces() == [("a", "c")]
        with pytest.raises(InvalidMemoryError, match="operation 1"):
            store.batch([Put(("a",), "z", "not written"), "not an op"])
        with pytest.raises(InvalidMemoryError):  # a bad put fails the batch: the delete before it is not done
            store.batch([Delete(("a", "c"), "k"), Put(("a",), "bad", object())])
        assert store.list(("a",)) == [] and store.get(("a", "c"), "k").value == "after the delete"


def test_file_size_and_stats_count_the_embeddings(tmp_path, embedder):
    with MemoryStore(tmp_path / "s.db", mode="raw", embed=embedder.embed, dims=384) as store:
        store.put(("n",), "k", "a memory of some length " * 4)
        (s,) = store.stats()
        assert s.namespace == ("n",) and s.memories == 1 and s.text_bytes == 96
        assert store.scheme == vectors.DEFAULT_SCHEME
        assert s.hot == 1 and s.stored_bytes == s.hot_bytes + vectors.size_of(store.scheme, 384)  # zstd'd, hot
        store.compact(everything=True)
        (s,) = store.stats()
        assert s.cold == 1 and s.stored_bytes > 96 + vectors.size_of(store.scheme, 384)  # the raw record and its vector
        assert store.file_bytes() >= Path(tmp_path / "s.db").stat().st_size
