"""Smaller codes for a pack's window vectors: recall@5 of evidence turns against bytes a window.

Usage: python bench/bench_window_codes.py [--window-tokens 128] [--candidates 3]

Issue 35's at-rest arithmetic: a packed store of LoCoMo turns keeps 48 bytes (b1, 384 sign bits) for each window
of about 128 tokens, 39% of its packs. This measures what smaller window codes keep of search quality. Memories
are LoCoMo dev turns (line n >= 1 of a session), gathered per conversation in the order written into windows of
at most --window-tokens tokens (the store's plan, separators left out); one vector a window. A question (those of
locomo-dev-qa.jsonl with evidence) ranks its conversation's windows by the cosine of their stored code, the c best
are "decoded" and their turns ranked by embedding the turns' texts at query time, as the store's search does.
Codes, each trained where it needs training on the other conversations only (held out, leave one out):
  b1        the signs of the 384 dimensions (the store's today: 48 bytes)
  pca-k b1  the signs of the first k principal components (k/8 bytes)
  rot-k b1  the signs of k random directions (SimHash; k/8 bytes): no training
  pq-m      a product quantizer of m sub-vectors x 256 centroids (m bytes)
Then how much a principal-sign code's recall depends on what it was fitted on (k = 128 and 192): the other
conversations (held out, as above), all three conversations (the ones searched too), and the other conversations
with DialogSum dev's windows (each dialogue's lines gathered into windows the same way).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_packs import turns_of  # noqa: E402
from bench.common import SHARED, machine, print_table  # noqa: E402
from bench.results import record  # noqa: E402

K = 5


def signs(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, 1.0, -1.0).astype(np.float32)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def held_out(vecs: np.ndarray, conv: np.ndarray, code) -> np.ndarray:
    """code(train, test) -> test's stored vectors, per conversation trained on the others."""
    parts = {c: code(vecs[conv != c], vecs[conv == c]) for c in np.unique(conv)}
    out = np.zeros((len(vecs), next(iter(parts.values())).shape[1]), dtype=np.float32)
    for c, stored in parts.items():
        out[conv == c] = stored
    return out


def pca_code(k: int):
    def code(train, test):
        return fitted_pca(k, train, test)[0]
    return code


def fitted_pca(k: int, fit: np.ndarray, test: np.ndarray):
    """(test's sign codes, the mean, the k directions) of a PCA fitted on fit."""
    mean = fit.mean(axis=0)
    _, _, vt = np.linalg.svd(fit - mean, full_matrices=False)
    return signs((test - mean) @ vt[:k].T), mean, vt[:k]


def recall_at(stored: np.ndarray, qcodes: np.ndarray, qa, windows, turns, turn_vecs, queries, win_conv,
              candidates: int) -> float:
    """recall@K in percent: the c best windows by code decoded, their turns ranked by their own embeddings."""
    hits = 0
    for i, q in enumerate(qa):
        idx = np.flatnonzero(win_conv == q["conversation"])
        sims = unit(stored[idx]) @ (qcodes[i] / max(np.linalg.norm(qcodes[i]), 1e-12))
        best = idx[np.argsort(-sims, kind="stable")[:candidates]]
        members = [j for w in best for j in windows[w]]
        ranked = [turns[members[j]][1] for j in np.argsort(-(turn_vecs[members] @ queries[i]), kind="stable")]
        hits += bool(set(ranked[:K]) & set(q["evidence"]))
    return 100 * hits / len(qa)


def line_windows(texts: list[str], count_tokens, window_tokens: int) -> list[str]:
    """Each text's lines gathered in order into windows of at most window_tokens tokens."""
    out = []
    for text in texts:
        lines = [line for line in text.split("\n") if line.strip()]
        run, used = [], 0
        for line, n in zip(lines, count_tokens(lines)):
            if run and used + n > window_tokens:
                out.append("\n".join(run))
                run, used = [], 0
            run.append(line)
            used += n
        if run:
            out.append("\n".join(run))
    return out


def rot_code(k: int, seed: int = 0):
    def code(train, test):
        return signs(test @ np.random.default_rng(seed).standard_normal((test.shape[1], k)).astype(np.float32))
    return code


def pq_code(m: int):
    def code(train, test):
        from sklearn.cluster import KMeans

        dims = train.shape[1] // m
        parts = []
        for j in range(m):
            km = KMeans(256, n_init=1, random_state=0).fit(unit(train)[:, j * dims : (j + 1) * dims])
            parts.append(km.cluster_centers_[km.predict(unit(test)[:, j * dims : (j + 1) * dims])])
        return np.hstack(parts).astype(np.float32)
    return code


def query_side(name: str, queries: np.ndarray, qa: list[dict], win_vecs: np.ndarray, win_conv: np.ndarray):
    """The questions in a code's space: projected as the windows were (trained on the same other conversations),
    without the sign (the query keeps its magnitudes: an asymmetric distance); raw for b1 and pq."""
    if not name.startswith(("pca", "rot")):
        return queries
    k = int(name.split("-")[1].split()[0])
    out = np.zeros((len(qa), k), dtype=np.float32)
    for c in np.unique(win_conv):
        mine = np.array([q["conversation"] == c for q in qa])
        train = win_vecs[win_conv != c]
        if name.startswith("pca"):
            _, mean, directions = fitted_pca(k, train, train[:0])
            out[mine] = (queries[mine] - mean) @ directions.T
        else:
            out[mine] = queries[mine] @ np.random.default_rng(0).standard_normal((queries.shape[1], k)).astype(
                np.float32)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--window-tokens", type=int, default=128)
    ap.add_argument("--candidates", type=int, default=3)
    args = ap.parse_args()
    from engine.api import Engine
    from engine.codecs.quality import Embedder

    sessions = [json.loads(line) for line in (SHARED / "locomo-dev-sessions.jsonl").open() if line.strip()]
    qa = [q for q in (json.loads(line) for line in (SHARED / "locomo-dev-qa.jsonl").open() if line.strip())
          if q.get("evidence")]
    turns = turns_of(sessions)
    dialogues = [json.loads(line)["dialogue"] for line in (SHARED / "dialogsum-dev.jsonl").open() if line.strip()]
    with Engine(mode="lossless", read_cache_bytes=0) as engine:
        counts = engine.count_tokens([t for _, _, t in turns])
        dialogue_windows = line_windows(dialogues, engine.count_tokens, args.window_tokens)
    windows: list[list[int]] = []
    for i, (conv, _, _) in enumerate(turns):
        if (not windows or turns[windows[-1][0]][0] != conv
                or sum(counts[j] for j in windows[-1]) + counts[i] > args.window_tokens):
            windows.append([])
        windows[-1].append(i)
    emb = Embedder()
    turn_vecs = emb.embed([t for _, _, t in turns])
    win_vecs = emb.embed(["\n".join(turns[j][2] for j in w) for w in windows])
    queries = emb.embed([q["question"] for q in qa])
    win_conv = np.array([turns[w[0]][0] for w in windows])
    codes = {"b1 (today's)": (48, lambda: signs(win_vecs))}
    for k in (64, 96, 128, 192):
        codes[f"pca-{k} b1"] = (k // 8, lambda k=k: held_out(win_vecs, win_conv, pca_code(k)))
        codes[f"rot-{k} b1"] = (k // 8, lambda k=k: held_out(win_vecs, win_conv, rot_code(k)))
    for m in (8, 16, 24):
        codes[f"pq-{m}"] = (m, lambda m=m: held_out(win_vecs, win_conv, pq_code(m)))
    rows, found = [], {}
    for name, (size, make) in codes.items():
        stored = make()
        qcodes = query_side(name, queries, qa, win_vecs, win_conv)
        r = recall_at(stored, qcodes, qa, windows, turns, turn_vecs, queries, win_conv, args.candidates)
        rows.append([name, size, len(windows) * size, f"{r:.1f}"])
        found[name] = (r, size)
    print(f"{machine()}; {len(qa)} questions over {len(turns)} turns, {len(windows)} windows of at most "
          f"{args.window_tokens} tokens, {args.candidates} decoded")
    print_table(["window code", "bytes a window", "bytes, all windows", f"recall@{K}, %"], rows)
    dataset = (f"LoCoMo dev QA: {len(qa)} questions with evidence over {len(turns)} turns in {len(windows)} windows "
               f"of at most {args.window_tokens} tokens")
    for name, (r, size) in found.items():
        record(f"search recall@5 of evidence turns, a window code of {size} bytes, {name}", r, "%", area="packs",
               dataset=dataset, settings=f"all-MiniLM-L6-v2; {args.candidates} windows decoded, their turns ranked "
                                         f"by embedding them at query time; trained codes held out by conversation")
    dialogue_vecs = emb.embed(dialogue_windows)
    fits = {"the other conversations (held out)": lambda c: win_vecs[win_conv != c],
            "all three conversations (not held out)": lambda c: win_vecs,
            f"the other conversations and DialogSum dev's {len(dialogue_windows)} windows":
                lambda c: np.vstack([win_vecs[win_conv != c], dialogue_vecs])}
    rows = []
    for k in (128, 192):
        for label, fit_on in fits.items():
            stored, qcodes = np.zeros((len(windows), k), np.float32), np.zeros((len(qa), k), np.float32)
            for c in np.unique(win_conv):
                codes_c, mean, directions = fitted_pca(k, fit_on(c), win_vecs[win_conv == c])
                stored[win_conv == c] = codes_c
                mine = np.array([q["conversation"] == c for q in qa])
                qcodes[mine] = (queries[mine] - mean) @ directions.T
            r = recall_at(stored, qcodes, qa, windows, turns, turn_vecs, queries, win_conv, args.candidates)
            rows.append([f"pca-{k} b1", label, f"{r:.1f}"])
            record(f"search recall@5 of evidence turns, a window code of {k // 8} bytes, pca-{k} b1 fitted on {label}",
                   r, "%", area="packs", dataset=dataset,
                   settings=f"all-MiniLM-L6-v2; {args.candidates} windows decoded, their turns ranked by embedding "
                            f"them at query time")
    print_table(["window code", "fitted on", f"recall@{K}, %"], rows)


if __name__ == "__main__":
    main()
