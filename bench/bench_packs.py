"""Packs (issue 35) at the store's default settings: bytes at rest, cold reads in a fresh process, search quality.

Usage: python bench/bench_packs.py [--quick | --tiny] [--limit-sessions N] [--dialogues N] [--reads N]
                                   [--searches N] [--questions N] [--seed S] [--keep DIR]
                                   [--phases rest,recall,cold,speed] [--corpora sessions,turns,dialogsum]

Data: the first --limit-sessions LoCoMo dev sessions (default all 70; --quick 12, --tiny 2), their questions,
and the first --dialogues DialogSum dev dialogues (default all 500; --quick 40, --tiny 5). Three stores, each a
fresh SQLite file opened with the store's defaults (lossless policy, so every memory goes into a pack when
compacted; one engine and one embedder shared by the stores of a process, background compaction off):
  sessions   one LoCoMo session a memory (its whole text, date line included), namespace ("locomo", conversation),
             key "D<session>";
  turns      one LoCoMo turn a memory (line n >= 1 of a session; line 0, the date, stays out), namespace
             ("locomo", conversation), key "D<session>:<n>": the dialogue ids the questions' evidence names;
  dialogsum  one DialogSum dialogue a memory, namespace ("dialogsum",), key its fname.

1. At rest. All memories put hot (put_many, 1,000 a transaction), the store closed: the hot file's bytes. Reopened,
   compact(everything=True) (its seconds and memories/min are the CompactionReport's, after an untimed warm-up
   compaction of one memory in a throwaway store), closed: the file's bytes
   (database + -wal + -shm; a WAL left behind is checkpointed with TRUNCATE first). ratio = the texts' UTF-8
   bytes / the file's bytes, so every table, index, pack directory, window vector and free page counts.
2. Cold reads. For the turns and the sessions stores, one fresh Python process (this script, --child) loads the
   model and the embedder (one get of a memory not timed later, one embedding), then times each of --reads
   random gets, and a search (k = 5, within the question's conversation) for each of --searches random
   questions, twice: returning whole memories, and returning passages (passages=True). Every timed operation runs on a fresh byte copy of the compacted file, opened just before the
   clock starts (opening not timed), so no decoded text is kept in any pack and each read decodes from the
   model: the first read of a memory after compaction. The copy is in the OS page cache (no disk read).
3. Recall@5 over the turns store: for each question with evidence whose evidence turns were all stored, a
   search (k = 5) in its conversation's namespace; a question counts when its 5 hits hold an evidence turn.
   Measured twice in the same run on copies of the same store: before compaction (hot rows, each searched by
   its own stored vector: the layout before packs) and after it (packs searched by their windows' vectors, the
   best windows decoded and their memories ranked by embedding them at query time).
   The median search time of each pass is printed too: in one process, so after compaction the decoded text
   that earlier searches kept in the packs serves later ones (the cold figures are those of 2).
4. Speed. Each of the sessions and turns corpora put into a fresh store and compacted, then the same texts given
   to engine.compress (what `semzip compress` runs), in one process one after the other: compaction's speed as
   a share of compress's.
The phases run in the order rest, recall, cold, speed; --phases picks some (without rest, on the stores an earlier run
with --keep DIR left there). Each prints its table when done.
Every figure goes to bench/results (SEMZIP_BENCH_RESULTS=DIR elsewhere) with the data set and settings, and
the 1-minute load average at the start and end as its note: the timings assume the CPUs are otherwise idle.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED, machine, print_table  # noqa: E402
from bench.results import record  # noqa: E402

K = 5
DIMS = 384  # all-MiniLM-L6-v2's, the store's default embedder
MODES = {"full": (None, None), "quick": (12, 40), "tiny": (2, 5)}  # sessions, dialogues


# -- data
def load_locomo(limit: int | None) -> tuple[list[dict], list[dict]]:
    """The first limit dev sessions, and the questions with evidence whose evidence turns all lie in them."""
    sessions = [json.loads(line) for line in (SHARED / "locomo-dev-sessions.jsonl").open() if line.strip()]
    sessions = sessions[:limit]
    stored = {(c, k) for c, k, _ in turns_of(sessions)}
    qa = [q for q in (json.loads(line) for line in (SHARED / "locomo-dev-qa.jsonl").open() if line.strip())
          if q.get("evidence") and all((q["conversation"], e) in stored for e in q["evidence"])]
    return sessions, qa


def turns_of(sessions: list[dict]) -> list[tuple[str, str, str]]:
    """(conversation, "D<session>:<n>", text) of each turn: line n >= 1 of a session's text, as evidence ids name it."""
    return [(s["conversation"], f"D{s['session']}:{n}", line) for s in sessions
            for n, line in enumerate(s["text"].split("\n")) if n >= 1 and line]


def load_dialogsum(limit: int | None) -> list[dict]:
    rows = [json.loads(line) for line in (SHARED / "dialogsum-dev.jsonl").open() if line.strip()]
    return rows[:limit]


# -- files
def file_bytes(path: Path) -> int:
    """Bytes of a closed store: the database, its WAL and shared memory (a WAL left is checkpointed first)."""
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size:
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    return sum(p.stat().st_size for p in (path, wal, Path(f"{path}-shm")) if p.exists())


def copy_store(src: Path, dst: Path) -> Path:
    """A byte copy of a closed store (checkpointed, so the database file holds all of it)."""
    file_bytes(src)
    for p in (dst, Path(f"{dst}-wal"), Path(f"{dst}-shm")):
        p.unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    return dst


def pack_parts(path: Path) -> tuple[int, int, int, int]:
    """(index, streams, window vectors, SQLite page size) bytes of a closed plain store's packs."""
    with sqlite3.connect(path) as db:
        idx, body, vecs = db.execute("SELECT COALESCE(SUM(LENGTH(idx)), 0), COALESCE(SUM(LENGTH(body)), 0), "
                                     "COALESCE(SUM(LENGTH(vecs)), 0) FROM semzip_packs").fetchone()
        (page,) = db.execute("PRAGMA page_size").fetchone()
    return idx, body, vecs, page


def remove_store(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)


# -- stores
def open_store(path: Path, engine, emb):
    from engine.store import MemoryStore

    return MemoryStore(path, engine=engine, embed=emb.embed, dims=DIMS, compaction=False,
                       **({"pack_tokens": PACK_SIZE[0]} if PACK_SIZE else {}))


PACK_SIZE: list[int] = []  # --pack-tokens: another pack size than the store's default (its figures say so)


def build(path: Path, puts: list, engine, emb) -> int:
    """The memories put hot into a fresh store at path, closed; its file bytes."""
    with open_store(path, engine, emb) as st:
        for start in range(0, len(puts), 1000):
            st.put_many(puts[start : start + 1000])
    return file_bytes(path)


def compact(path: Path, engine, emb):
    """compact(everything=True) on the store at path, closed; (the report, the file bytes)."""
    with open_store(path, engine, emb) as st:
        report = st.compact(everything=True)
    if report.errors:
        print(f"{path.name}: compaction reported errors:\n  " + "\n  ".join(report.errors), file=sys.stderr)
    return report, file_bytes(path)


def recall(path: Path, qa: list[dict], engine, emb) -> tuple[float, float]:
    """(recall@K in percent, median search seconds) of the questions over the turns store at path."""
    hits, seconds = 0, []
    with open_store(path, engine, emb) as st:
        for q in qa:
            t0 = time.perf_counter()
            found = st.search(("locomo", q["conversation"]), query=q["question"], limit=K)
            seconds.append(time.perf_counter() - t0)
            hits += bool({m.key for m in found} & set(q["evidence"]))
    print(f"{path.name}: {len(qa)} searches in {sum(seconds):.1f} s (slowest {max(seconds):.1f} s)", flush=True)
    return 100 * hits / len(qa), float(np.median(seconds))


# -- cold reads, in a fresh process
def child(spec_path: str) -> None:
    """Run in a fresh process: load the models, then time each get and search of the spec on a fresh copy."""
    spec = json.loads(Path(spec_path).read_text())
    from engine.api import Engine
    from engine.codecs.quality import Embedder

    store, folder = Path(spec["store"]), Path(spec["folder"])
    out = {"gets": [], "searches": [], "passages": []}
    with Engine(mode="lossless") as engine:
        emb = Embedder()
        emb.embed(["load the embedder"])
        warm = copy_store(store, folder / "warm.db")
        with open_store(warm, engine, emb) as st:
            st.get(tuple(spec["warm"][0]), spec["warm"][1])  # loads the model: not timed
        remove_store(warm)
        for n, (ns, key) in enumerate(spec["gets"]):
            fresh = copy_store(store, folder / f"get{n}.db")
            with open_store(fresh, engine, emb) as st:
                t0 = time.perf_counter()
                mem = st.get(tuple(ns), key)
                out["gets"].append((time.perf_counter() - t0, mem.value if mem else None))
            print(f"{store.name}: cold get of {key} in {out['gets'][-1][0]:.2f} s", file=sys.stderr, flush=True)
            remove_store(fresh)
        for n, (ns, query) in enumerate(spec["searches"]):
            fresh = copy_store(store, folder / f"search{n}.db")
            with open_store(fresh, engine, emb) as st:
                t0 = time.perf_counter()
                found = st.search(tuple(ns), query=query, limit=K)
                out["searches"].append((time.perf_counter() - t0, [m.key for m in found]))
            print(f"{store.name}: cold search {n} in {out['searches'][-1][0]:.2f} s", file=sys.stderr, flush=True)
            remove_store(fresh)
            fresh = copy_store(store, folder / f"passages{n}.db")
            with open_store(fresh, engine, emb) as st:
                t0 = time.perf_counter()
                found = st.search(tuple(ns), query=query, limit=K, passages=True)
                out["passages"].append((time.perf_counter() - t0, [m.key for m in found]))
            print(f"{store.name}: cold search {n}, passages, in {out['passages'][-1][0]:.2f} s", file=sys.stderr,
                  flush=True)
            remove_store(fresh)
    Path(spec["out"]).write_text(json.dumps(out))


def cold_reads(store: Path, memories: list[tuple[tuple, str, str]], queries: list[tuple[tuple, str]], reads: int,
               rng: random.Random, folder: Path) -> tuple[list[float], list[float], list[float]]:
    """(get seconds, search seconds, search seconds returning passages) from one fresh process over store; each
    get's value checked against its text."""
    warm, rest = memories[0], memories[1:]
    picks = rng.sample(rest, min(reads, len(rest)))
    spec = {"store": str(store), "folder": str(folder), "out": str(folder / "out.json"),
            "warm": [list(warm[0]), warm[1]], "gets": [[list(ns), key] for ns, key, _ in picks],
            "searches": [[list(ns), q] for ns, q in queries]}
    (folder / "spec.json").write_text(json.dumps(spec))
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(folder / "spec.json")], check=True)
    out = json.loads((folder / "out.json").read_text())
    for (ns, key, text), (_, value) in zip(picks, out["gets"]):
        if value != text:
            raise SystemExit(f"{store.name}: get of {ns}/{key} did not read back exactly")
    return [s for s, _ in out["gets"]], [s for s, _ in out["searches"]], [s for s, _ in out["passages"]]


def ms(xs: list[float], p: float) -> float:
    return float(np.percentile(xs, p)) * 1000 if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="12 sessions, 40 DialogSum dialogues")
    size.add_argument("--tiny", action="store_true",
                      help="2 sessions, 5 dialogues, 3 reads and searches (a smoke test)")
    ap.add_argument("--limit-sessions", type=int, default=None, help="first N LoCoMo dev sessions (default all)")
    ap.add_argument("--dialogues", type=int, default=None, help="first N DialogSum dev dialogues (default all)")
    ap.add_argument("--reads", type=int, default=None, help="timed cold gets per store (default 10; --tiny 3)")
    ap.add_argument("--searches", type=int, default=None, help="timed cold searches per store (default 10; --tiny 3)")
    ap.add_argument("--questions", type=int, default=None, help="at most N questions for recall (default all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="build the stores in DIR and keep them")
    ap.add_argument("--pack-tokens", type=int, help="the pack size B, when not the store's default (figures named so)")
    ap.add_argument("--corpora", default="sessions,turns,dialogsum",
                    help="the stores the rest phase builds (the other phases need sessions and turns)")
    ap.add_argument("--phases", default="rest,recall,cold,speed",
                    help="which of rest, recall, cold to run; without rest, the stores of an earlier --keep DIR run "
                         "of the same sizes are read")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    phases = set(args.phases.split(","))
    if args.pack_tokens:
        PACK_SIZE.append(args.pack_tokens)
    if phases - {"rest", "recall", "cold", "speed"} or ("rest" not in phases and not args.keep):
        ap.error("--phases is a list of rest, recall, cold, speed; without rest, --keep names the stores' folder")
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    n_sessions = args.limit_sessions if args.limit_sessions is not None else MODES[mode][0]
    n_dialogues = args.dialogues if args.dialogues is not None else MODES[mode][1]
    reads = args.reads if args.reads is not None else 3 if args.tiny else 10
    searches = args.searches if args.searches is not None else 3 if args.tiny else 10

    from engine.store.pack_plan import PACK_TOKENS, WINDOW_TOKENS

    sessions, qa = load_locomo(n_sessions)
    turns = turns_of(sessions)
    dialogues = load_dialogsum(n_dialogues)
    corpora = {
        "sessions": [(("locomo", s["conversation"]), f"D{s['session']}", s["text"]) for s in sessions],
        "turns": [(("locomo", c), key, text) for c, key, text in turns],
        "dialogsum": [(("dialogsum",), d["fname"], d["dialogue"]) for d in dialogues],
    }
    convs = sorted({s["conversation"] for s in sessions})
    names = {
        "sessions": f"LoCoMo dev, first {len(sessions)} sessions ({', '.join(convs)}), one session a memory",
        "turns": f"LoCoMo dev, first {len(sessions)} sessions cut into {len(turns)} turns, one turn a memory",
        "dialogsum": f"DialogSum dev, first {len(dialogues)} dialogues, one a memory",
    }
    settings = (f"store defaults (format 3, lossless policy: packs of {PACK_TOKENS} tokens, windows of "
                f"{WINDOW_TOKENS} tokens), default engine (lossless), all-MiniLM-L6-v2; compact(everything=True)")
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-packs-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{machine()}; stores in {folder}", flush=True)
    if "rest" in phases:
        # the at-rest figures are the whole dev sets': a run on fewer names its figures by its size
        subset = "" if args.limit_sessions is None and args.dialogues is None and mode == "full" else f", {mode} run"
        at_rest({k: v for k, v in corpora.items() if k in args.corpora.split(",")}, names, settings, folder, subset)
    if "recall" in phases:
        qa_recall = qa[: args.questions] if args.questions else qa
        recall_phase(qa_recall, names["turns"], settings, folder)
    if "cold" in phases:
        cold_phase(corpora, names, settings, qa, reads, searches, random.Random(args.seed), folder)
    if "speed" in phases:
        speed_phase(corpora, names, settings, folder)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


def report_figures(figures: list[tuple], load_at_start: float) -> None:
    """Record a phase's figures: (metric, value, unit, the nearest older area, dataset, settings) each."""
    load = f"load average {load_at_start:.1f} at the phase's start, {os.getloadavg()[0]:.1f} at its end (1 min)"
    print(load, end="\n\n", flush=True)
    for metric, value, unit, _, dataset, settings in figures:
        if PACK_SIZE:  # a point of the pack-size curve, not the default's figure
            metric, settings = f"{metric}, B = {PACK_SIZE[0]}", settings + f"; pack_tokens={PACK_SIZE[0]}"
        record(metric, value, unit, area="packs", dataset=dataset, settings=settings, note=load)


def engines():
    """One lossless engine and one embedder for every store this process opens."""
    from engine.api import Engine
    from engine.codecs.quality import Embedder

    return Engine(mode="lossless"), Embedder()


def at_rest(corpora: dict, names: dict, settings: str, folder: Path, subset: str = "") -> None:
    """Phase 1: each corpus put hot into a fresh store (a copy of the turns one kept hot), compacted; bytes, speed.
    subset: appended to the metrics' names when the corpora are not the whole dev sets."""
    from engine.store import Put

    load, rows, figures = os.getloadavg()[0], [], []
    engine, emb = engines()
    with engine:
        warm = folder / "warm.db"  # the model's first batch (its prompt primed and the like) is not timed
        remove_store(warm)
        build(warm, [Put(("warm",), "up", "A memory compacted first, so that no timed batch is the model's first.")],
              engine, emb)
        compact(warm, engine, emb)
        remove_store(warm)
        for name, memories in corpora.items():
            path = folder / f"{name}.db"
            remove_store(path)
            text_bytes = sum(len(text.encode()) for *_, text in memories)
            hot = build(path, [Put(ns, key, text) for ns, key, text in memories], engine, emb)
            if name == "turns":  # the layout before packs, for the recall phase
                copy_store(path, folder / "turns-hot.db")
            report, cold = compact(path, engine, emb)
            print(f"{name}: {report.line()}", flush=True)
            if report.memories != len(memories) or report.failed:
                raise SystemExit(f"{name}: {report.memories} of {len(memories)} memories compacted, "
                                 f"{report.failed} failed: {report.errors}")
            rate = report.memories / report.seconds * 60
            rows.append([name, len(memories), text_bytes, hot, cold, f"{text_bytes / cold:.2f}x", report.cold_bytes,
                         f"{report.seconds:.1f}", f"{rate:.0f}", "yes" if report.packed else "no"])
            s = settings + ("; file rewritten packed (VACUUM) by compaction" if report.packed else "")
            idx, body, vecs, page = pack_parts(path)
            figures += [(f"packs at rest, {name}: text bytes / store file bytes{subset}", text_bytes / cold, "x",
                         "compaction", names[name], s + f"; {text_bytes} text bytes, {cold} file bytes ({hot} "
                                                        f"hot, before compaction; the packs {report.cold_bytes}: "
                                                        f"index {idx}, streams {body}, window vectors {vecs}; "
                                                        f"{page}-byte pages)"),
                        (f"packs streams alone, {name}: text bytes / stream bytes{subset}", text_bytes / body, "x",
                         "compaction", names[name], s),
                        (f"packs compaction time, {name}{subset}", report.seconds, "s", "compaction", names[name], s),
                        (f"packs compaction speed, {name}{subset}", rate, "memories/min", "compaction", names[name], s)]
    print_table(["store", "memories", "text bytes", "hot file bytes", "packed file bytes", "ratio", "pack bytes",
                 "compaction s", "memories/min", "vacuumed"], rows)
    report_figures(figures, load)


def speed_phase(corpora: dict, names: dict, settings: str, folder: Path) -> None:
    """Phase 4: compaction against `semzip compress`'s engine call on the same texts, in one process, one after the
    other (compaction first): memories a minute of each, and their ratio."""
    from engine.codecs.item import Item
    from engine.store import Put

    load, rows, figures = os.getloadavg()[0], [], []
    engine, emb = engines()
    with engine:
        engine.compress(["A memory coded first, so that no timed batch is the model's first."])
        for name in ("sessions", "turns"):
            memories = corpora[name]
            path = folder / f"speed-{name}.db"
            remove_store(path)
            build(path, [Put(ns, key, text) for ns, key, text in memories], engine, emb)
            report, _ = compact(path, engine, emb)
            remove_store(path)
            t0 = time.perf_counter()
            engine.compress([Item(str(i), text) for i, (*_, text) in enumerate(memories)])
            compress_s = time.perf_counter() - t0
            share = compress_s / report.seconds
            rows.append([name, len(memories), f"{report.seconds:.1f}", f"{compress_s:.1f}", f"{share * 100:.0f}%"])
            figures.append((f"packs compaction speed against compress, {name}", share * 100, "%", "compaction",
                            names[name], settings + f"; compaction {report.seconds:.1f} s, engine.compress of the "
                                                    f"same texts {compress_s:.1f} s, one process"))
    print_table(["store", "memories", "compaction s", "compress s", "compaction speed / compress speed"], rows)
    report_figures(figures, load)


def recall_phase(qa: list[dict], dataset: str, settings: str, folder: Path) -> None:
    """Phase 3: recall@K over the turns store before compaction (its hot copy) and after it (a copy of it)."""
    load, rows, figures = os.getloadavg()[0], [], []
    engine, emb = engines()
    with engine:
        for label, source in (("before compaction (hot rows, a vector per turn)", "turns-hot.db"),
                              ("after compaction (packs, window vectors)", "turns.db")):
            value, seconds = recall(copy_store(folder / source, folder / "recall.db"), qa, engine, emb)
            remove_store(folder / "recall.db")
            rows.append([label, len(qa), f"{value:.1f}", f"{seconds * 1000:.0f}"])
            figures.append((f"packs search recall@5 of evidence turns, {label}", value, "%", "hot",
                            f"{dataset}; {len(qa)} LoCoMo dev questions whose evidence turns are all stored",
                            settings + f"; search within the question's conversation; median search {seconds:.2f} s "
                                       f"in one process"))
    print_table(["turns store", "questions", f"recall@{K}, %", "median search in-process, ms"], rows)
    report_figures(figures, load)


def cold_phase(corpora: dict, names: dict, settings: str, qa: list[dict], reads: int, searches: int,
               rng: random.Random, folder: Path) -> None:
    """Phase 2: cold gets and searches over the compacted turns and sessions stores, in a fresh process each."""
    load, rows, figures = os.getloadavg()[0], [], []
    queries = [(("locomo", q["conversation"]), q["question"]) for q in rng.sample(qa, min(searches, len(qa)))]
    s = (settings + "; a fresh process, model loaded by an untimed get; each operation on a fresh copy of the "
         "compacted file (no kept decoded text), opening not timed")
    for name in ("turns", "sessions"):
        sub = folder / f"cold-{name}"
        sub.mkdir(exist_ok=True)
        gets, found, passages = cold_reads(folder / f"{name}.db", corpora[name], queries, reads, rng, sub)
        rows.append([name, len(gets), f"{ms(gets, 50):.0f}", f"{ms(gets, 90):.0f}", len(found), f"{ms(found, 50):.0f}",
                     f"{ms(passages, 50):.0f}"])
        if not gets:  # a store of one memory: the warm-up read it
            continue
        figures += [(f"packs cold get p50, {name}", ms(gets, 50), "ms", "cold", names[name], s + f"; {len(gets)} gets"),
                    (f"packs cold get p90, {name}", ms(gets, 90), "ms", "cold", names[name], s + f"; {len(gets)} gets"),
                    (f"packs cold search k=5 p50, {name}", ms(found, 50), "ms", "cold",
                     names[name] + f"; {len(found)} LoCoMo dev questions", s + f"; {len(found)} searches"),
                    (f"packs cold search k=5 returning passages p50, {name}", ms(passages, 50), "ms", "cold",
                     names[name] + f"; {len(passages)} LoCoMo dev questions",
                     s + f"; {len(passages)} searches, passages=True")]
    print_table(["store", "cold gets", "get p50, ms", "get p90, ms", "cold searches k=5", "search p50, ms",
                 "passages p50, ms"], rows)
    report_figures(figures, load)


if __name__ == "__main__":
    main()
