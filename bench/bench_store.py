"""The memory store on LoCoMo dev: retrieval@5 per embedding precision, size against the texts and LangGraph's
SqliteStore once compacted, put/compaction/get throughput, search latency with and without decoding.

Usage: python bench/bench_store.py [--scheme i8] [--get 10] [--decode-queries 10] [--skip-store] [--json FILE]

Retrieval: each QA's top 5 sessions of its own conversation (the store's namespace) by cosine to the question;
a hit when the top 5 hold an evidence session (any; "all" when they hold every one). A second set, DialogSum
dev: each human summary's own dialogue among all 500 (in the top 5; first). The float32 rows are the reference
the stored precisions are held to; "agree" is the share of float32's top 5 (LoCoMo) the scheme keeps.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED, machine, print_table  # noqa: E402
from bench.results import record  # noqa: E402

K = 5


def load():
    sessions = [json.loads(line) for line in (SHARED / "locomo-dev-sessions.jsonl").open() if line.strip()]
    qa = [json.loads(line) for line in (SHARED / "locomo-dev-qa.jsonl").open() if line.strip()]
    return sessions, [q for q in qa if q.get("sessions")]


def hits(top: dict[int, list[int]], qa) -> tuple[float, float]:
    """(share of questions whose top K hold an evidence session, share holding all of them), in percent."""
    any_ = [bool(set(q["sessions"]) & set(top[i])) for i, q in enumerate(qa)]
    all_ = [set(q["sessions"]) <= set(top[i]) for i, q in enumerate(qa)]
    return 100 * sum(any_) / len(qa), 100 * sum(all_) / len(qa)


def offline_top(sessions, qa, doc_vecs, q_vecs) -> dict[int, list[int]]:
    """Top-K session numbers within each question's conversation, by cosine."""
    from engine.store.vectors import cosine

    top = {}
    for i, q in enumerate(qa):
        idx = [j for j, s in enumerate(sessions) if s["conversation"] == q["conversation"]]
        sims = cosine(q_vecs[i], doc_vecs[idx])
        top[i] = [sessions[idx[j]]["session"] for j in np.argsort(-sims, kind="stable")[:K]]
    return top


def dialogsum_hits(dialogues: np.ndarray, summaries: np.ndarray) -> tuple[float, float]:
    """(share of summaries whose own dialogue is in the top K of all dialogues, share where it is first), %."""
    from engine.store.vectors import cosine

    ranks = []
    for i, q in enumerate(summaries):
        sims = cosine(q, dialogues)
        ranks.append(int((sims > sims[i]).sum()))
    ranks = np.asarray(ranks)
    return 100 * float(np.mean(ranks < K)), 100 * float(np.mean(ranks == 0))


def agreement(sessions, qa, stored, queries, reference: dict) -> float:
    """Share of float32's top K (per question) that the stored vectors' top K keep, in percent."""
    top = offline_top(sessions, qa, stored, queries)
    return 100 * float(np.mean([len(set(top[i]) & set(reference[i])) / len(reference[i]) for i in top]))


def retrieval_table(sessions, qa, docs, queries, ds_docs, ds_queries) -> dict:
    """name -> (bytes a vector, LoCoMo hit any, hit all, agree with f32, DialogSum in top K, first)."""
    from engine.store import vectors

    reference = offline_top(sessions, qa, docs, queries)
    variants = [(scheme, 384, None) for scheme in vectors.SCHEMES]
    variants += [("i2", 384, t) for t in (0.5, 1.0)]  # i2's threshold, against the committed one
    variants += [(s, d, None) for d in (256, 192) for s in ("f32", "i8")]
    out = {}
    committed = vectors.I2_THRESHOLD
    try:
        for scheme, dims, threshold in variants:
            vectors.I2_THRESHOLD = threshold or committed
            d, q = docs[:, :dims], queries[:, :dims]
            stored = vectors.unpack(vectors.pack(d, scheme), scheme, dims)
            ds_stored = vectors.unpack(vectors.pack(ds_docs[:, :dims], scheme), scheme, dims)
            name = f"{scheme}/{dims}" + (f" t={threshold}" if threshold else "")
            out[name] = (vectors.size_of(scheme, dims), *hits(offline_top(sessions, qa, stored, q), qa),
                         agreement(sessions, qa, stored, q, reference),
                         *dialogsum_hits(ds_stored, ds_queries[:, :dims]))
    finally:
        vectors.I2_THRESHOLD = committed
    return out


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(xs, p)) * 1000 if xs else float("nan")


def store_figures(sessions, qa, scheme: str, n_get: int, n_decode: int, folder: Path) -> dict:
    from engine.store import MemoryStore, Put

    path = folder / "locomo.db"
    text_bytes = sum(len(s["text"].encode()) for s in sessions)
    f: dict = {"text_bytes": text_bytes}
    with MemoryStore(path, scheme=scheme) as store:
        t0 = time.perf_counter()
        # the texts alone, as LangGraph's store below holds them (each session's date is in its text)
        store.put_many([Put(("locomo", s["conversation"]), f"s{s['session']}", s["text"]) for s in sessions])
        f["put_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()  # the sizes and reads below are of the compacted (cold) store
        store.compact(everything=True)
        f["compact_s"] = time.perf_counter() - t0
        store.search(("locomo",), "warm up the embedder", decode=False)
        lat, top = [], {}
        for i, q in enumerate(qa):
            t0 = time.perf_counter()
            found = store.search(("locomo", q["conversation"]), q["question"], limit=K, decode=False)
            lat.append(time.perf_counter() - t0)
            top[i] = [int(m.key[1:]) for m in found]
        f["search_nodecode_ms"] = (pct(lat, 50), pct(lat, 95))
        f["store_hit_any"], f["store_hit_all"] = hits(top, qa)
        lat = []
        for q in qa[:n_decode]:
            t0 = time.perf_counter()
            store.search(("locomo", q["conversation"]), q["question"], limit=1)
            lat.append(time.perf_counter() - t0)
        f["search_decode_ms"] = (pct(lat, 50), pct(lat, 95))
        lat, exact = [], 0
        for s in sessions[:n_get]:
            t0 = time.perf_counter()
            mem = store.get(("locomo", s["conversation"]), f"s{s['session']}")
            lat.append(time.perf_counter() - t0)
            exact += mem.value == s["text"]
        f["get_ms"] = (pct(lat, 50), pct(lat, 95))
        t0 = time.perf_counter()
        many = store.get_many([(("locomo", s["conversation"]), f"s{s['session']}") for s in sessions[:n_get]])
        f["get_many_s"] = time.perf_counter() - t0
        exact += sum(m.value == s["text"] for m, s in zip(many, sessions))
        f["exact"] = f"{exact}/{2 * min(n_get, len(sessions))}"
        f["stats"] = [(("/".join(s.namespace)), s.memories, s.text_bytes, s.stored_bytes) for s in store.stats()]
    f["file_bytes"] = sum(p.stat().st_size for p in folder.glob("locomo.db*"))  # after close: no WAL left
    return f


def langgraph_sqlite_bytes(sessions, docs, folder: Path) -> int | None:
    """Bytes of LangGraph's SqliteStore holding the same texts with float32 embeddings: its own schema and put for
    the texts, its store_vectors table and rows for the vectors (written as its put writes them: sqlite-vec,
    which this Python may not be able to load, only adds the distance functions)."""
    try:
        import sqlite_vec
        from langgraph.store.sqlite import SqliteStore
        from langgraph.store.sqlite import base as lg_sqlite
    except ImportError:
        return None
    import sqlite3

    path = folder / "langgraph.db"
    with SqliteStore.from_conn_string(str(path)) as store:
        store.setup()
        for s in sessions:
            store.put(("locomo", s["conversation"]), f"s{s['session']}", {"text": s["text"]})
    with sqlite3.connect(path) as db:
        db.executescript("CREATE TABLE IF NOT EXISTS vector_migrations (v INTEGER PRIMARY KEY)")
        for v, sql in enumerate(lg_sqlite.VECTOR_MIGRATIONS):
            db.executescript(sql)
            db.execute("INSERT INTO vector_migrations (v) VALUES (?)", (v,))
        db.executemany("INSERT INTO store_vectors (prefix, key, field_name, embedding) VALUES (?, ?, ?, ?)",
                       [(f"locomo.{s['conversation']}", f"s{s['session']}", "text",
                         sqlite_vec.serialize_float32(v.tolist())) for s, v in zip(sessions, docs)])
    return sum(p.stat().st_size for p in folder.glob("langgraph.db*"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scheme", default=None, help="the stored precision (default: the store's DEFAULT_SCHEME)")
    ap.add_argument("--get", type=int, default=10, help="sessions read back one by one, then in one get_many")
    ap.add_argument("--decode-queries", type=int, default=10, help="searches timed with their top hit decoded")
    ap.add_argument("--skip-store", action="store_true", help="only the retrieval table (no model)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from engine.codecs.quality import Embedder
    from engine.store import vectors

    sessions, qa = load()
    dialogsum = [json.loads(line) for line in (SHARED / "dialogsum-dev.jsonl").open() if line.strip()]
    emb = Embedder()
    docs = emb.embed([s["text"] for s in sessions])
    queries = emb.embed([q["question"] for q in qa])
    ds_docs = emb.embed([d["dialogue"] for d in dialogsum])
    ds_queries = emb.embed([d["summary"] for d in dialogsum])
    print(f"# {machine()}; LoCoMo: {len(sessions)} sessions, {len(qa)} questions with evidence; DialogSum: "
          f"{len(dialogsum)} summaries; k = {K}")
    table = retrieval_table(sessions, qa, docs, queries, ds_docs, ds_queries)
    ref, ds_ref = table["f32/384"][1], table["f32/384"][4]
    print_table(["vectors", "bytes each", "LoCoMo hit@5 any %", "vs f32", "hit@5 all %", "agree %",
                 "DialogSum @5 %", "vs f32", "first %"],
                [[k, b, a, a - ref, al, ag, ds, ds - ds_ref, first]
                 for k, (b, a, al, ag, ds, first) in table.items()])
    report = {"machine": machine(), "retrieval": table}
    default = vectors.DEFAULT_SCHEME
    size, hit, hit_all, agree, ds_hit, ds_first = table[f"{default}/384"]
    embedder = "all-MiniLM-L6-v2, 160-word windows mean-pooled"
    record(f"retrieval hit@5, LoCoMo dev QA, {default}", hit, "%", area="hot",
           dataset=f"LoCoMo dev QA: {len(qa)} questions with evidence sessions, each over its own conversation's "
                   "sessions", settings=f"{embedder}; {default}: {size} bytes a vector",
           note=f"float32 {ref:.1f} ({hit - ref:+.1f}); hit@5 all {hit_all:.1f} (f32 {table['f32/384'][2]:.1f}); "
                f"keeps {agree:.1f}% of float32's top 5")
    record(f"retrieval @5, DialogSum dev summary to dialogue, {default}", ds_hit, "%", area="hot",
           dataset=f"DialogSum dev: each of the {len(dialogsum)} human summaries against all {len(dialogsum)} "
                   "dialogues", settings=f"{embedder}; {default}: {size} bytes a vector",
           note=f"float32 {ds_ref:.1f} ({ds_hit - ds_ref:+.1f}); ranked first {ds_first:.1f} "
                f"(f32 {table['f32/384'][5]:.1f})")
    if not args.skip_store:
        scheme = args.scheme or vectors.DEFAULT_SCHEME
        with tempfile.TemporaryDirectory() as tmp:
            f = store_figures(sessions, qa, scheme, args.get, args.decode_queries, Path(tmp))
            f["langgraph_bytes"] = langgraph_sqlite_bytes(sessions, docs, Path(tmp))
        report["store"] = f
        n = len(sessions)
        lg = f["langgraph_bytes"]
        print_table(["figure", "value"], [
            ["scheme", scheme],
            ["texts (bytes)", f["text_bytes"]],
            ["store files (bytes)", f["file_bytes"]],
            ["texts / store files", round(f["text_bytes"] / f["file_bytes"], 2)],
            ["LangGraph SqliteStore f32 (bytes)", lg if lg else "not installed"],
            ["LangGraph / store files", round(lg / f["file_bytes"], 2) if lg else "-"],
            ["records + vectors (bytes)", sum(s[3] for s in f["stats"])],
            ["put_many: sessions/s", round(n / f["put_s"], 3)],
            ["put_many: text KB/s", round(f["text_bytes"] / 1024 / f["put_s"], 2)],
            ["compaction of all of them: sessions/s", round(n / f["compact_s"], 3)],
            ["get p50 / p95 (ms)", "%.0f / %.0f" % f["get_ms"]],
            ["get_many: sessions/s", round(min(args.get, n) / f["get_many_s"], 3)],
            ["search, no decode p50 / p95 (ms)", "%.1f / %.1f" % f["search_nodecode_ms"]],
            ["search, top 1 decoded p50 / p95 (ms)", "%.0f / %.0f" % f["search_decode_ms"]],
            ["hit@5 through the store any / all %", "%.1f / %.1f" % (f["store_hit_any"], f["store_hit_all"])],
            ["values back exactly", f["exact"]],
        ])
        dataset = f"LoCoMo dev, {n} sessions ({f['text_bytes']:,} bytes)"
        settings = f"default settings but {scheme} vectors; the texts alone, put in one put_many, then compacted"
        record("store file after compaction, against the texts", f["text_bytes"] / f["file_bytes"], "x",
               area="compaction", dataset=dataset, settings=settings + "; embeddings and indexes included",
               note=f"{f['file_bytes']:,} bytes; records + vectors {sum(s[3] for s in f['stats']):,}")
        record("compaction speed", n / f["compact_s"] * 60, "sessions/min", area="compaction", dataset=dataset,
               settings=settings, note=f"{f['compact_s']:.1f} s")
        if lg:
            record("LangGraph SqliteStore's bytes against semzip's store", lg / f["file_bytes"], "x", area="peers",
                   dataset=dataset, settings=f"the same texts; LangGraph's SqliteStore with float32 embeddings "
                                             f"against semzip's store ({settings})",
                   note=f"{lg:,} against {f['file_bytes']:,} bytes")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
