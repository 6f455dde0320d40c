"""SemzipStore against LangGraph's own semantics (langgraph.store.base, InMemoryStore as the reference)."""
from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

pytest.importorskip("langgraph.store.base", reason="the LangGraph extra is not installed (pip install 'semzip[langgraph]')")

from langgraph.store.base import GetOp, InvalidNamespaceError, PutOp, SearchOp  # noqa: E402
from langgraph.store.memory import InMemoryStore  # noqa: E402

from engine.integrations.langgraph import SemzipStore  # noqa: E402
from engine.store import vectors  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"
DOCS = {
    "dog": {"text": "Caroline adopted a puppy and walks her dog every morning.", "kind": "pet", "n": 1},
    "paint": {"text": "Melanie painted a sunrise over the lake.", "kind": "art", "n": 2, "tags": ["a", {"b": 1}]},
    "job": {"text": "Caroline wants to work in counseling.", "kind": "work", "n": 3, "meta": {"level": 2}},
}


@pytest.fixture
def index(embedder):
    """LangGraph's IndexConfig with the caller's own embedding function (here all-MiniLM-L6-v2)."""
    return {"dims": 384, "embed": lambda texts: embedder.embed(list(texts)).tolist(), "fields": ["text"]}


def test_same_answers_as_langgraphs_in_memory_store(conn, index):
    """zstd records here (the lossless ones go through the README agent below): the semantics are the store's."""
    ours, ref = SemzipStore(conn, index=index, mode="zstd"), InMemoryStore(index=index)
    with ours:
        for store in (ours, ref):
            for key, value in DOCS.items():
                store.put(("docs", "u1"), key, value)
            store.put(("docs", "u2"), "plain", {"text": "an unindexed note", "n": 5}, index=False)
            store.put(("other",), "x", {"text": "elsewhere"})
        for store in (ours, ref):
            assert store.get(("docs", "u1"), "paint").value == DOCS["paint"]
        for kwargs in ({"query": "a dog", "limit": 2}, {"filter": {"kind": "art"}}, {"filter": {"n": {"$gte": 2}}},
                       {"filter": {"meta": {"level": 2}}}, {"filter": {"tags": ["a", {"b": 1}]}},
                       {"query": "painting", "filter": {"n": {"$ne": 1}}, "limit": 1, "offset": 1}):
            got = [(i.key, i.value) for i in ours.search(("docs",), **kwargs)]
            want = [(i.key, i.value) for i in ref.search(("docs",), **kwargs)]
            assert sorted(got) == sorted(want) if "query" not in kwargs else got == want, kwargs
        scored = ours.search(("docs",), query="a dog", limit=10)
        assert scored[0].key == "dog" and scored[-1].key == "plain" and scored[-1].score is None
        for kwargs in ({"prefix": ("docs",)}, {"suffix": ("u1",)}, {"prefix": ("*", "u2")}, {"max_depth": 1},
                       {"limit": 1, "offset": 1}):
            assert ours.list_namespaces(**kwargs) == ref.list_namespaces(**kwargs), kwargs
        ours.put(("docs", "u1"), "dog", None)  # put None deletes, as in LangGraph
        assert ours.get(("docs", "u1"), "dog") is None
        item = ours.get(("docs", "u1"), "job")
        assert item.namespace == ("docs", "u1") and item.created_at.tzinfo is not None


def test_one_batch_reads_before_it_writes_and_the_last_write_wins(tmp_path, index):
    with SemzipStore(tmp_path / "s.db", index=index, mode="zstd") as store:
        ops = [PutOp(("a",), "k", {"v": 1}), GetOp(("a",), "k"), PutOp(("a",), "k", {"v": 2}),
               SearchOp(("a",), query="v")]
        assert store.batch(ops) == [None, None, None, []]
        assert store.get(("a",), "k").value == {"v": 2}
        assert asyncio.run(store.abatch([GetOp(("a",), "k")]))[0].value == {"v": 2}


def test_namespaces_are_validated_as_langgraph_does(tmp_path, index):
    with SemzipStore(tmp_path / "s.db", index=index, mode="zstd") as store:
        for bad in [(), ("langgraph", "x"), ("a.b",), ("",), ("a", 1)]:
            with pytest.raises(InvalidNamespaceError):
                store.put(bad, "k", {"v": 1})
        with pytest.raises(InvalidNamespaceError):
            store.batch([GetOp(("a.b",), "k")])
        with pytest.raises(ValueError, match="JSON"):
            store.put(("a",), "k", {"v": {1, 2}})
        assert store.list_namespaces() == []
        # batch() takes what LangGraph's own stores take there: its records rooted at "langgraph"
        reference = InMemoryStore()
        for s in (store, reference):
            s.batch([PutOp(("langgraph", "x"), "k", {"v": 1})])
            assert s.get(("langgraph", "x"), "k").value == {"v": 1}
        with pytest.raises(InvalidNamespaceError):
            store.batch([PutOp((), "k", {"v": 1})])


def test_index_per_put_and_array_paths(tmp_path, index):
    with SemzipStore(tmp_path / "s.db", index=index, mode="zstd") as store:
        store.put(("a",), "chapters", {"title": "x", "chapters": [{"c": "dogs and puppies"}, {"c": "tax law"}]},
                  index=["chapters[*].c"])
        store.put(("a",), "title", {"title": "a story about dogs"}, index=["title"])
        store.put(("a",), "none", {"text": "dogs dogs dogs"}, index=False)
        (stored,) = store.store.core.db.read("SELECT SUM(LENGTH(vecs)) FROM semzip_memories")
        # two array elements, one title, nothing for index=False
        assert stored == (3 * vectors.size_of(store.store.scheme, 384),)
        hits = store.search(("a",), query="puppies", limit=3)
        assert [h.key for h in hits][:1] == ["chapters"] and hits[-1].key == "none" and hits[-1].score is None


def test_ttl_in_minutes_refreshes_on_read_and_sweeps(tmp_path, index):
    with SemzipStore(tmp_path / "s.db", index=index, ttl={"default_ttl": 0.01, "refresh_on_read": True},
                     mode="zstd") as store:
        store.put(("t",), "k", {"v": 1})  # 0.6 s
        store.put(("t",), "forever", {"v": 2}, ttl=None)
        time.sleep(0.4)
        assert store.get(("t",), "k") is not None  # refreshed for another 0.6 s
        time.sleep(0.4)
        assert store.get(("t",), "k", refresh_ttl=False) is not None
        time.sleep(0.4)
        assert store.get(("t",), "k") is None and store.sweep_ttl() == 1
        assert store.get(("t",), "forever").value == {"v": 2}


def test_async_methods(tmp_path, index):
    async def run(store):
        await store.aput(("a",), "k", {"text": "hello there"})
        found = await store.asearch(("a",), query="hello")
        got = await store.aget(("a",), "k")
        await store.adelete(("a",), "k")
        return found, got, await store.aget(("a",), "k"), await store.alist_namespaces()

    with SemzipStore(tmp_path / "s.db", index=index, mode="zstd") as store:
        found, got, gone, spaces = asyncio.run(run(store))
    assert found[0].key == "k" and got.value == {"text": "hello there"} and gone is None and spaces == []


def test_the_readme_agent_runs_on_the_store(tmp_path, monkeypatch, lossless_engine, embedder):
    """The README's LangGraph example, run as written (the engine and embedder handed in: loaded once per run)."""
    import functools

    import engine.integrations.langgraph as face

    code = re.search(r"### A LangGraph agent.*?```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(face, "SemzipStore", functools.partial(_with_shared_models, engine=lossless_engine,
                                                               embedder=embedder))
    printed = []
    exec(compile(code, "README.md", "exec"), {"print": printed.append, "__name__": "readme"})
    (recalled,) = printed
    assert any("Biscuit" in text for text in recalled) and all("pottery" not in text for text in recalled)
    assert (tmp_path / "agent-memory.db").exists()


def _with_shared_models(conn, *, index=None, ttl=None, engine, embedder):
    index = dict(index, embed=lambda texts: embedder.embed(list(texts)).tolist())
    return SemzipStore(conn, index=index, ttl=ttl, engine=engine)
