"""Where a packed store keeps its vectors: one per memory against one per pack, by search quality and bytes.

Usage: python bench/bench_pack_vectors.py [--sizes 256,512] [--candidates 1,2,3,5] [--no-packs]

Memories are LoCoMo dev turns (line n >= 1 of a session; line 0, the date, stays out), each question of
locomo-dev-qa.jsonl searched over its own conversation's turns. A hit is right when it is an evidence turn;
recall@5 is the share of questions whose 5 hits hold one. Per memory: the turns ranked by the cosine of their
own stored vector (float32, the store's i2 and b1, and a product quantizer of 8, 16 or 32 bytes whose codebooks
are trained, for each conversation, on the other two's turns). Per pack: the conversation's turns gathered into packs
of at most B tokens in the order written, a vector per pack; the c best packs are the candidates (what a read
would decode), and their turns are ranked by embedding the decoded texts at query time. Bytes: the vectors a
store would hold for the 3 conversations.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED, machine, print_table  # noqa: E402
from bench.results import record  # noqa: E402

K = 5


def recall(ranked: dict[int, list[str]], qa: list[dict]) -> float:
    """Share of questions whose top K turn ids hold an evidence turn, in percent."""
    return 100 * sum(bool(set(ranked[i][:K]) & set(q["evidence"])) for i, q in enumerate(qa)) / len(qa)


def pq_stored(vecs: np.ndarray, conv_of: np.ndarray, m: int) -> np.ndarray:
    """vecs (unit length) as a product quantizer of m sub-vectors of 256 centroids (m bytes a vector) rebuilds
    them; each conversation's codebooks trained on the other conversations' turns only (held out)."""
    from sklearn.cluster import KMeans

    unit = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    out = np.empty_like(unit)
    for conv in sorted(set(conv_of)):
        train, test = unit[conv_of != conv], np.flatnonzero(conv_of == conv)
        for cols in np.array_split(np.arange(unit.shape[1]), m):
            km = KMeans(n_clusters=256, n_init=1, max_iter=50, random_state=0).fit(train[:, cols])
            out[np.ix_(test, cols)] = km.cluster_centers_[km.predict(unit[np.ix_(test, cols)])]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--candidates", default="1,2,3,5")
    ap.add_argument("--no-packs", action="store_true", help="the per-memory schemes only")
    args = ap.parse_args()

    from engine.api import Engine
    from engine.codecs.quality import Embedder
    from engine.store import vectors

    sessions = [json.loads(line) for line in (SHARED / "locomo-dev-sessions.jsonl").open() if line.strip()]
    qa = [q for q in (json.loads(line) for line in (SHARED / "locomo-dev-qa.jsonl").open() if line.strip())
          if q.get("evidence")]
    turns = [(s["conversation"], f"D{s['session']}:{n}", line) for s in sessions
             for n, line in enumerate(s["text"].split("\n")) if n >= 1 and line]
    emb = Embedder()
    turn_vecs = emb.embed([t for _, _, t in turns])
    queries = emb.embed([q["question"] for q in qa])
    conv_of = np.array([c for c, _, _ in turns])
    rows, figures = [], {}

    def per_memory(stored: np.ndarray) -> dict[int, list[str]]:
        out = {}
        for i, q in enumerate(qa):
            idx = np.flatnonzero(conv_of == q["conversation"])
            sims = vectors.cosine(queries[i], stored[idx])
            out[i] = [turns[idx[j]][1] for j in np.argsort(-sims, kind="stable")]
        return out

    for scheme in ("f32", "i2", "b1"):
        stored = vectors.unpack(vectors.pack(turn_vecs, scheme), scheme, turn_vecs.shape[1])
        r = recall(per_memory(stored), qa)
        size = len(turns) * vectors.size_of(scheme, turn_vecs.shape[1])
        rows.append([f"a vector per turn, {scheme}", "-", len(turns), size, f"{r:.1f}"])
        figures[f"a vector per turn, {scheme}"] = (r, size)
    for m in (8, 16, 32):
        r = recall(per_memory(pq_stored(turn_vecs, conv_of, m)), qa)
        name = f"a vector per turn, product quantizer {m} x 8 bits (codebooks held out by conversation)"
        rows.append([name, "-", len(turns), len(turns) * m, f"{r:.1f}"])
        figures[name] = (r, len(turns) * m)

    if not args.no_packs:
        with Engine(mode="lossless", read_cache_bytes=0) as engine:
            counts = [len(engine.runner.model.tokenize(t)) for _, _, t in turns]
    for budget in [] if args.no_packs else map(int, args.sizes.split(",")):
        packs: list[list[int]] = []  # turn indices of each pack
        for i, (conv, _, _) in enumerate(turns):
            if not packs or turns[packs[-1][0]][0] != conv or sum(counts[j] for j in packs[-1]) + counts[i] > budget:
                packs.append([])
            packs[-1].append(i)
        pack_vecs = emb.embed(["\n".join(turns[j][2] for j in p) for p in packs])
        pack_conv = np.array([turns[p[0]][0] for p in packs])
        for scheme in ("f32", "i2", "b1"):
            stored = vectors.unpack(vectors.pack(pack_vecs, scheme), scheme, pack_vecs.shape[1])
            size = len(packs) * vectors.size_of(scheme, pack_vecs.shape[1])
            for c in map(int, args.candidates.split(",")):
                ranked = {}
                for i, q in enumerate(qa):
                    idx = np.flatnonzero(pack_conv == q["conversation"])
                    best = idx[np.argsort(-vectors.cosine(queries[i], stored[idx]), kind="stable")[:c]]
                    members = [j for p in best for j in packs[p]]
                    sims = vectors.cosine(queries[i], turn_vecs[members])  # the decoded turns, embedded at query time
                    ranked[i] = [turns[members[j]][1] for j in np.argsort(-sims, kind="stable")]
                r = recall(ranked, qa)
                name = f"a vector per pack, B = {budget}, {scheme}, {c} decoded"
                rows.append([name, c, len(packs), size, f"{r:.1f}"])
                figures[name] = (r, size)
    print(f"{machine()}; {len(qa)} LoCoMo dev questions with evidence over {len(turns)} turns of "
          f"{len(sessions)} sessions; recall@{K} of an evidence turn")
    print_table(["vectors", "packs decoded", "vectors stored", "vector bytes", f"recall@{K}, %"], rows)
    dataset = f"LoCoMo dev QA: {len(qa)} questions with evidence, over {len(turns)} turns (one a memory)"
    for name, (r, size) in figures.items():
        record(f"search recall@5 of evidence turns, {name}", r, "%", area="hot", dataset=dataset,
               settings=f"all-MiniLM-L6-v2; {size} vector bytes for the 3 conversations; a pack's turns ranked "
                        f"by embedding them at query time")


if __name__ == "__main__":
    main()
