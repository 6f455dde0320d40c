"""The store's two tiers on LoCoMo dev sessions: hot latencies in-process and as whole processes, compaction's
throughput against `semzip compress`'s batches on the same texts, the files after compaction, a cold get.

Usage: python bench/bench_store_tiers.py [--sections hot,cli,compact] [--n 70] [--keep DIR] [--skip-compress]
                                         [--json FILE]

hot: each session put on its own (put_many of one; its embedding timed alone on the same text, before), then a
get of each (hot, p50/p95) and a search with k = 5 per dev question over its conversation's hot memories.
cli: `semzip store put/get/search` as whole processes on a hot store (median of 5 runs each), with an empty
model cache, so a process that loaded the model would fail.
compact: in one process on one engine: the sessions coded as `semzip compress` codes them (compress_direct over
batches of 64, in input order), then the same store compacted (compact(everything=True)); the files before and
after, and a cold get (first read of a compacted memory) against format 1's read (fetch + decode, no copy kept).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED, machine, print_table  # noqa: E402
from bench.results import record  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def load(n: int):
    sessions = [json.loads(line) for line in (SHARED / "locomo-dev-sessions.jsonl").open() if line.strip()][:n]
    qa = [json.loads(line) for line in (SHARED / "locomo-dev-qa.jsonl").open() if line.strip()]
    convs = {s["conversation"] for s in sessions}
    return sessions, [q for q in qa if q["conversation"] in convs]


def ms(xs: list[float], p: float) -> float:
    return float(np.percentile(xs, p)) * 1000


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def hot_section(sessions, qa, folder: Path) -> dict:
    from engine.codecs.quality import Embedder
    from engine.store import MemoryStore, Put

    emb, alone = Embedder(), Embedder()  # the store's, and one that times each embedding first (its own memo)
    emb.embed(["warm up"])
    alone.embed(["warm up"])
    embed_s, put_s, get_s, search_s = [], [], [], []
    with MemoryStore(folder / "hot.db", embed=emb.embed, dims=384, compaction=False) as store:
        store.search(("warm",), "warm up the query path", decode=False)
        for s in sessions:
            t0 = time.perf_counter()
            alone.embed([s["text"]])
            embed_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            store.put_many([Put(("locomo", s["conversation"]), f"s{s['session']}", s["text"])])
            put_s.append(time.perf_counter() - t0)
        exact = 0
        for s in sessions:
            t0 = time.perf_counter()
            mem = store.get(("locomo", s["conversation"]), f"s{s['session']}")
            get_s.append(time.perf_counter() - t0)
            exact += mem.value == s["text"]
        for q in qa:
            t0 = time.perf_counter()
            store.search(("locomo", q["conversation"]), q["question"], limit=5)
            search_s.append(time.perf_counter() - t0)
    bare = []
    with MemoryStore(folder / "bare.db", index=False, embed=emb.embed, dims=384, compaction=False) as store:
        for s in sessions:
            t0 = time.perf_counter()
            store.put_many([Put(("locomo", s["conversation"]), f"s{s['session']}", s["text"])])
            bare.append(time.perf_counter() - t0)
    return {"put_ms": (ms(put_s, 50), ms(put_s, 95)), "put_unembedded_ms": (ms(bare, 50), ms(bare, 95)), "embed_ms": (ms(embed_s, 50), ms(embed_s, 95)),
            "put_minus_embed_ms": ms([p - e for p, e in zip(put_s, embed_s)], 50),
            "get_ms": (ms(get_s, 50), ms(get_s, 95)), "search_ms": (ms(search_s, 50), ms(search_s, 95)),
            "searches": len(search_s), "exact": f"{exact}/{len(sessions)}"}


def cli_section(sessions, folder: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "SEMZIP_CACHE": str(folder / "no-models")}
    store = str(folder / "cli.db")
    src = folder / "one.jsonl"

    def run(*args) -> float:
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "engine.cli", "store", *args], env=env, capture_output=True)
        if r.returncode != 0:
            raise SystemExit(f"semzip store {args[0]} failed: {r.stderr.decode()[-500:]}")
        return time.perf_counter() - t0

    put, get, search = [], [], []
    for s in sessions[:5]:
        src.write_text(json.dumps({"id": f"s{s['session']}", "text": s["text"]}) + "\n")
        put.append(run("put", store, str(src), "--namespace", "locomo"))
        get.append(run("get", store, f"s{s['session']}", "--namespace", "locomo"))
        search.append(run("search", store, "video game tournament", "--limit", "5"))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import engine.store"], env=env, check=True)
    bare = time.perf_counter() - t0
    return {"put_s": statistics.median(put), "get_s": statistics.median(get), "search_s": statistics.median(search),
            "python_import_s": bare}


def compact_section(sessions, folder: Path, keep: Path | None, compress: bool = True) -> dict:
    from engine.api import Engine
    from engine.codecs.item import Item
    from engine.codecs.quality import Embedder
    from engine.store import MemoryStore, Put
    from engine.store.policy_coder import PolicyCoder

    emb = Embedder()
    path = folder / "locomo.db"
    text_bytes = sum(len(s["text"].encode()) for s in sessions)
    out: dict = {"text_bytes": text_bytes}
    with Engine(mode="lossless", read_cache_bytes=0) as engine:
        engine.compress_direct([Item("warm", "warm up the model")])
        t0 = time.perf_counter()
        for k in range(0, len(sessions) if compress else 0, 64):  # `semzip compress`'s batches: 64 in input order
            engine.compress_direct([Item(f"s{i}", s["text"]) for i, s in enumerate(sessions[k : k + 64], k)])
        out["compress_s"] = time.perf_counter() - t0 if compress else None
        with MemoryStore(path, engine=engine, embed=emb.embed, dims=384, compaction=False) as store:
            store.put_many([Put(("locomo", s["conversation"]), f"s{s['session']}", s["text"]) for s in sessions])
        out["hot_file_bytes"] = file_bytes(path)
        with MemoryStore(path, engine=engine, embed=emb.embed, dims=384, compaction=False) as store:
            report = store.compact(everything=True)
            out["compact_s"], out["compact_line"] = report.seconds, report.line()
            out["records_bytes"] = report.cold_bytes
            out["stats"] = [(("/".join(s.namespace)), s.memories, s.text_bytes, s.stored_bytes) for s in store.stats()]
        out["cold_file_bytes"] = file_bytes(path)
        if keep:
            shutil.copy(path, keep / "locomo-compacted.db")
        with MemoryStore(path, engine=engine, embed=emb.embed, dims=384, compaction=False) as store:
            cold, old = [], []
            coder = PolicyCoder(engine)
            for s in sessions[:6]:
                ns, key = ("locomo", s["conversation"]), f"s{s['session']}"
                (row,) = store.core.db.fetch("\x1f".join(ns), [key], time.time())
                t0 = time.perf_counter()  # format 1's get: fetch, decode; nothing written
                (row,) = store.core.db.fetch("\x1f".join(ns), [key], time.time())
                (text,), _ = coder.decode([(row.key, row.body)], store.core.db.profiles(), store.where)
                old.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                mem = store.get(ns, key)  # the tiers' first read: decode, then the copy kept hot
                cold.append(time.perf_counter() - t0)
                assert mem.value == text == s["text"]
        out["cold_get_s"], out["format1_get_s"] = statistics.median(cold), statistics.median(old)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sections", default="hot,cli,compact")
    ap.add_argument("--n", type=int, default=70, help="LoCoMo dev sessions (all 70 by default)")
    ap.add_argument("--keep", default=None, help="copy the compacted store into this folder")
    ap.add_argument("--skip-compress", action="store_true", help="compaction alone (no compress run to compare)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    sessions, qa = load(args.n)
    sections = args.sections.split(",")
    print(f"# {machine()}; {len(sessions)} LoCoMo dev sessions, {len(qa)} questions")
    report: dict = {"machine": machine()}
    text_bytes = sum(len(s["text"].encode()) for s in sessions)
    dataset = f"LoCoMo dev, {len(sessions)} sessions ({text_bytes:,} bytes)"
    hot = "default settings (lossless cold policy, i2 embeddings, 2 KiB pages), all hot"
    with tempfile.TemporaryDirectory() as tmp:
        if "hot" in sections:
            f = report["hot"] = hot_section(sessions, qa, Path(tmp))
            print_table(["in-process, hot", "p50", "p95"], [
                ["put (with its embedding), ms", f["put_ms"][0], f["put_ms"][1]],
                ["the embedding alone, ms", f["embed_ms"][0], f["embed_ms"][1]],
                ["put minus its embedding (paired), ms", f["put_minus_embed_ms"], ""],
                ["put with nothing to embed (index=False), ms", f["put_unembedded_ms"][0], f["put_unembedded_ms"][1]],
                ["get, ms", f["get_ms"][0], f["get_ms"][1]],
                [f"search k=5 ({f['searches']} questions), ms", f["search_ms"][0], f["search_ms"][1]],
                ["values back exactly", f["exact"], ""]])
            for metric, key, what in [
                    ("put of one session, its embedding included, p50", "put_ms", "a put_many of one"),
                    ("the embedding alone, p50", "embed_ms", "all-MiniLM-L6-v2, 160-word windows"),
                    ("put with nothing to embed, p50", "put_unembedded_ms", "index=False: the put's own cost"),
                    ("get, hot, p50", "get_ms", f"{f['exact']} values back exactly"),
                    ("search k=5, hot, p50", "search_ms", f"decoded, over the question's conversation; "
                                                           f"{f['searches']} questions")]:
                record(metric, f[key][0], "ms", area="hot", dataset=f"{dataset}, {len(qa)} dev questions",
                       settings=f"{hot}; {what}", note=f"p95 {f[key][1]:.1f} ms")
        if "cli" in sections:
            f = report["cli"] = cli_section(sessions, Path(tmp))
            print_table(["whole process (no model present), median of 5", "seconds"], [
                ["semzip store put (one session)", f["put_s"]], ["semzip store get", f["get_s"]],
                ["semzip store search --limit 5", f["search_s"]], ["python -c 'import engine.store'",
                                                                   f["python_import_s"]]])
            for metric, key, what in [
                    ("semzip store put, whole process", "put_s", "one session"),
                    ("semzip store get, whole process", "get_s", "one session"),
                    ("semzip store search --limit 5, whole process", "search_s", "one query"),
                    ("python -c 'import engine.store'", "python_import_s", "the store's import alone")]:
                record(metric, f[key], "s", area="hot", dataset="one LoCoMo dev session",
                       settings=f"a hot store, no model present; median of 5; {what}")
        if "compact" in sections:
            f = report["compact"] = compact_section(sessions, Path(tmp), Path(args.keep) if args.keep else None,
                                                    not args.skip_compress)
            n = len(sessions)
            print(f["compact_line"])
            print_table(["compaction", "value"], [
                ["semzip compress's batches, memories/min", n / f["compress_s"] * 60 if f["compress_s"] else "-"],
                ["compaction, memories/min", n / f["compact_s"] * 60],
                ["compaction's speed / compress's", f"{f['compress_s'] / f['compact_s']:.3f}" if f["compress_s"] else "-"],
                ["texts, bytes", f["text_bytes"]],
                ["store files hot, bytes (x the text)", f"{f['hot_file_bytes']} ({f['text_bytes'] / f['hot_file_bytes']:.2f}x)"],
                ["store files compacted, bytes (x the text)",
                 f"{f['cold_file_bytes']} ({f['text_bytes'] / f['cold_file_bytes']:.2f}x)"],
                ["cold records alone, bytes (x the text)", f"{f['records_bytes']} ({f['text_bytes'] / f['records_bytes']:.2f}x)"],
                ["cold get (tiers: decode + copy kept), s", f["cold_get_s"]],
                ["format 1's get (fetch + decode), s", f["format1_get_s"]]])
            lossless = "lossless, the default lossless model and coder"
            if f["compress_s"]:
                record("compaction's speed against semzip compress's", 100 * f["compress_s"] / f["compact_s"], "%",
                       area="compaction", dataset=dataset,
                       settings="one process, one engine: `semzip compress`'s batches (compress_direct, 64 in input "
                                "order), then the same texts put into a store and compacted",
                       note=f"{n / f['compact_s'] * 60:.2f} against {n / f['compress_s'] * 60:.2f} sessions/min "
                            f"({f['compact_s']:.1f} s against {f['compress_s']:.1f} s)")
            record("compaction speed", n / f["compact_s"] * 60, "sessions/min", area="compaction", dataset=dataset,
                   settings=f"compact(everything=True): batches of 64, {lossless}, one process",
                   note=f"{f['compact_s']:.1f} s")
            record("cold records against the texts", f["text_bytes"] / f["records_bytes"], "x", area="compaction",
                   dataset=dataset, settings=f"the records compaction wrote (container bytes), {lossless}",
                   note=f"{f['records_bytes']:,} bytes")
            record("store file after compaction, against the texts", f["text_bytes"] / f["cold_file_bytes"], "x",
                   area="compaction", dataset=dataset, settings="default settings; embeddings and indexes included",
                   note=f"{f['cold_file_bytes']:,} bytes; hot (all just put) {f['hot_file_bytes']:,} "
                        f"({f['text_bytes'] / f['hot_file_bytes']:.2f}x)")
            record("cold get of a compacted session", f["cold_get_s"], "s", area="cold",
                   dataset="LoCoMo dev: median of 6 compacted sessions",
                   settings=f"{lossless}; decode, then the text kept hot beside its record",
                   note=f"format 1's read (fetch + decode, nothing kept) {f['format1_get_s']:.2f} s in the same run")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
