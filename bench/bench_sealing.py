"""Encrypted stores (issue 36) against plain ones, in one process on the same data: hot paths, compaction and cold
reads, and shred.

Usage: python bench/bench_sealing.py [--sections hot,names,cold,shred] [--quick] [--json FILE]

hot: LoCoMo dev turns, one memory each (namespace = its conversation), put one at a time into a plain store and
    an encrypted one (default settings, key depth 1; an embedder each), the two in turn and in alternating order; then a get of each
    turn from both, then a search (k = 5) per dev question over its conversation, the same way. p50 of each, and
    the encrypted store's p50 against the plain one's (goal: within 5%).
names: the same with the encrypted store created with seal_names (its namespace labels and keys sealed too):
    what sealing the names costs lookups.
cold: the turns of the first 12 (--quick: 4) dev sessions compacted into packs in each store (twice each, in
    the order plain, encrypted, encrypted, plain; the mean of each pair), then cold
    gets: each read on a fresh copy of the compacted file, the engine's decoded-text cache off, plain and encrypted
    in turn (goal: within noise).
shred: 10,000 memories (dev turns, embedded) in one namespace of an encrypted store beside 1,000 in another;
    `shred` of the first, whole (its data key destroyed, then its rows deleted), against delete_namespace of the
    same on a plain store (goal: under 100 ms).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_packs import DIMS, copy_store, file_bytes, load_locomo, remove_store, turns_of  # noqa: E402
from bench.common import print_table  # noqa: E402
from bench.results import record  # noqa: E402

K = 5


def p50_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def open_store(path: Path, emb, key=None, engine=None, seal_names: bool = False):
    from engine.store import MemoryStore

    return MemoryStore(path, engine=engine, embed=emb.embed, dims=DIMS, compaction=False, key=key,
                       seal_names=seal_names)


def timed_pair(fn_plain, fn_sealed, n: int) -> tuple[list[float], list[float]]:
    """Each op on both stores, the order alternating so neither always runs second."""
    plain, sealed = [], []
    for i in range(n):
        order = [(fn_plain, plain), (fn_sealed, sealed)]
        for fn, out in order if i % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            fn(i)
            out.append(time.perf_counter() - t0)
    return plain, sealed


def hot(folder: Path, key: Path, emb, quick: bool, seal_names: bool = False) -> dict:
    from engine.codecs.quality import Embedder
    from engine.store import Put

    sessions, qa = load_locomo(12 if quick else None)
    turns = turns_of(sessions)
    # an embedder each: the embedder remembers recent texts, so a shared one would embed each text for one store only
    embs = [emb, Embedder()]
    tag = "_names" if seal_names else ""
    stores = [open_store(folder / f"plain{tag}.db", embs[0]),
              open_store(folder / f"sealed{tag}.db", embs[1], key, seal_names=seal_names)]
    for e in embs:
        e.embed(["warm the embedder"])
    puts = [Put(("locomo", c), k, t) for c, k, t in turns]
    put_p, put_s = timed_pair(lambda i: stores[0].put_many([puts[i]]), lambda i: stores[1].put_many([puts[i]]),
                              len(puts))
    get_p, get_s = timed_pair(lambda i: stores[0].get(puts[i].namespace, puts[i].key),
                              lambda i: stores[1].get(puts[i].namespace, puts[i].key), len(puts))
    qs = [(("locomo", q["conversation"]), q["question"]) for q in qa]
    search_p, search_s = timed_pair(lambda i: stores[0].search(qs[i][0], qs[i][1], limit=K),
                                    lambda i: stores[1].search(qs[i][0], qs[i][1], limit=K), len(qs))
    same = all(a.key == b.key for i in range(0, len(qs), 7)
               for a, b in zip(stores[0].search(*qs[i], limit=K), stores[1].search(*qs[i], limit=K)))
    for s in stores:
        s.close()
    return {"turns": len(puts), "questions": len(qs), "same_hits": same,
            "put": (p50_ms(put_p), p50_ms(put_s)), "get": (p50_ms(get_p), p50_ms(get_s)),
            "search": (p50_ms(search_p), p50_ms(search_s)),
            "file": (file_bytes(folder / f"plain{tag}.db"), file_bytes(folder / f"sealed{tag}.db"))}


def cold(folder: Path, key: Path, emb, quick: bool) -> dict:
    from engine.api import Engine
    from engine.store import Put

    sessions, _ = load_locomo(4 if quick else 12)
    turns = turns_of(sessions)
    puts = [Put(("locomo", c), k, t) for c, k, t in turns]
    out = {"turns": len(puts)}
    with Engine(mode="lossless", read_cache_bytes=0) as engine:
        hot = [folder / "hot_plain.db", folder / "hot_sealed.db"]
        paths = [folder / "cold_plain.db", folder / "cold_sealed.db"]
        for path, k in zip(hot, (None, key)):
            with open_store(path, emb, k, engine) as st:
                st.put_many(puts)
        with open_store(copy_store(hot[0], folder / "warm.db"), emb, None, engine) as st:
            st.compact(everything=True)  # loads the model: not timed
        for name in ("plain", "sealed", "sealed", "plain"):  # each twice, in an order neither always leads
            k, n = (None, 0) if name == "plain" else (key, 1)
            with open_store(copy_store(hot[n], paths[n]), emb, k, engine) as st:
                t0 = time.perf_counter()
                report = st.compact(everything=True)
                out.setdefault(f"compact_{name}", []).append(time.perf_counter() - t0)
                assert not report.errors, report.errors
            out[f"file_{name}"] = file_bytes(paths[n])
        for name in ("plain", "sealed"):
            out[f"compact_{name}_s"] = statistics.median(out[f"compact_{name}"])
        picks = puts[:: max(1, len(puts) // 16)][:16]

        def read(path, k):
            def one(i):
                fresh = copy_store(path, folder / "fresh.db")
                with open_store(fresh, emb, k, engine) as st:
                    assert st.get(picks[i].namespace, picks[i].key).value == picks[i].value
                remove_store(fresh)
            return one

        plain, sealed = timed_pair(read(paths[0], None), read(paths[1], key), len(picks))
    out["get"] = (p50_ms(plain), p50_ms(sealed))
    out["gets"] = len(picks)
    return out


def shred(folder: Path, key: Path, emb, n: int = 10_000) -> dict:
    from engine.store import Put

    sessions, _ = load_locomo(None)
    texts = [t for _, _, t in turns_of(sessions)]
    victim = [Put(("victim",), f"m{i}", texts[i % len(texts)]) for i in range(n)]
    other = [Put(("other",), f"m{i}", texts[i % len(texts)]) for i in range(n // 10)]
    out = {}
    for name, k in (("plain", None), ("sealed", key)):
        with open_store(folder / f"shred_{name}.db", emb, k) as st:
            for start in range(0, n, 500):
                st.put_many(victim[start : start + 500])
            st.put_many(other)
            t0 = time.perf_counter()
            gone = st.shred(("victim",)) if k else st.delete_namespace(("victim",))
            out[name] = (time.perf_counter() - t0) * 1000
            assert gone == n and st.get(("other",), "m1").value == other[1].value
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sections", default="hot,names,cold,shred")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    from engine.codecs.quality import Embedder
    from engine.store.key_file import generate

    emb = Embedder()
    found: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        key = generate(folder / "store.key")
        sections = args.sections.split(",")
        for section, names in (("hot", False), ("names", True)):
            if section not in sections:
                continue
            found[section] = f = hot(folder, key, emb, args.quick, names)
            print_table([f"{section} p50", "plain ms", "encrypted ms", "encrypted / plain"],
                        [[op, f[op][0], f[op][1], f"{f[op][1] / f[op][0]:.3f}"] for op in ("put", "get", "search")])
            dataset = f"LoCoMo dev turns, one a memory ({f['turns']} turns; {f['questions']} dev questions)"
            which = "encrypted store with sealed names" if names else "encrypted store"
            for op, what in (("put", "put of one turn (embedded)"), ("get", "get of a hot turn"),
                             ("search", "search k = 5 over a conversation's hot turns")):
                record(f"{which}'s {what}, p50 against a plain store's", 100 * f[op][1] / f[op][0], "%",
                       area="sealing", dataset=dataset,
                       settings=f"default settings, key depth 1, AES-256-GCM{', seal_names (AES-SIV)' if names else ''}"
                                f"; the two stores in one process, in turn, an embedder each; plain {f[op][0]:.3f} "
                                f"ms, encrypted {f[op][1]:.3f} ms"
                                f"{'; the same hits' if op == 'search' and f['same_hits'] else ''}")
            record(f"{which}'s file, hot turns, against a plain store's", 100 * f["file"][1] / f["file"][0], "%",
                   area="sealing", dataset=f"LoCoMo dev turns, one a memory ({f['turns']} turns), hot, after a "
                                           f"checkpoint", settings=f"{f['file'][0]:,} against {f['file'][1]:,} bytes")
        if "cold" in sections:
            found["cold"] = f = cold(folder, key, emb, args.quick)
            print_table(["cold", "plain", "encrypted"],
                        [["compaction s", f["compact_plain_s"], f["compact_sealed_s"]],
                         ["cold get p50 ms", f["get"][0], f["get"][1]], ["file bytes", f["file_plain"],
                                                                        f["file_sealed"]]])
            dataset = f"LoCoMo dev turns, one a memory ({f['turns']} turns), compacted into packs"
            runs = ", ".join(f"{x:.1f}" for x in f["compact_plain"] + f["compact_sealed"])
            record("encrypted store's compaction time against a plain store's", 100 * f["compact_sealed_s"] /
                   f["compact_plain_s"], "%", area="sealing", dataset=dataset,
                   settings=f"compact --all, default settings, each twice (plain, encrypted, encrypted, plain); "
                            f"mean plain {f['compact_plain_s']:.1f} s, encrypted {f['compact_sealed_s']:.1f} s (runs "
                            f"{runs} s); files {f['file_plain']:,} against {f['file_sealed']:,} bytes")
            record("encrypted store's cold get, p50 against a plain store's", 100 * f["get"][1] / f["get"][0], "%",
                   area="sealing", dataset=dataset,
                   settings=f"{f['gets']} turns, each on a fresh copy of the file, decoded-text cache off, in turn; "
                            f"plain {f['get'][0]:.0f} ms, encrypted {f['get'][1]:.0f} ms")
        if "shred" in sections:
            found["shred"] = f = shred(folder, key, emb)
            print_table(["10,000 memories", "ms"], [["shred (encrypted)", f["sealed"]],
                                                    ["delete_namespace (plain)", f["plain"]]])
            record("shred of a namespace of 10,000 memories", f["sealed"], "ms", area="sealing",
                   dataset="10,000 LoCoMo dev turns (embedded) in one namespace, 1,000 in another",
                   settings=f"MemoryStore.shred: the data key destroyed (key file rewritten, fsynced), then the rows "
                            f"deleted and the log written back; delete_namespace of the same on a plain store "
                            f"{f['plain']:.0f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(found, indent=1))


if __name__ == "__main__":
    main()
