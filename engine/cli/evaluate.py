"""`semzip eval`: compress a corpus, then measure ratio, fidelity, fact and answer retention against baselines."""
from __future__ import annotations

import json
import lzma
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import zstandard

from engine.codecs.container import FOOTER, MAGIC, record_size
from engine.codecs.facts import EXACT_KINDS, contains, extract_typed_facts, normalise
from engine.codecs.item import Item
from engine.codecs.quality import Fidelity, Scorer
from engine.codecs.record import CODED
from engine.errors import InputError


@dataclass(frozen=True, slots=True)
class EvalReport:
    mode: str
    records: int
    container: str  # where ratio and the per-record ratios are measured: .szr for coded records, else JSON lines
    ratio: float  # all original bytes / all stored bytes in that container
    ratio_szr: float
    ratio_jsonl: float
    ratio_mean: float
    ratio_median: float
    exact: int  # reconstructions identical to the original, byte for byte
    cosine: float
    fact_recall: float
    exact_facts_kept: float  # numbers, dates, times, amounts present in the reconstruction
    answers: int  # QA answers present in the originals
    answer_retention: float | None
    zstd_ratio: float
    xz_ratio: float
    truncation_answer_retention: float | None
    encode_per_min: float
    decode_per_min: float
    kinds: dict

    def table(self) -> str:
        pct = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
        rows = [
            ("mode", self.mode),
            ("records", f"{self.records} ({', '.join(f'{k} {v}' for k, v in sorted(self.kinds.items()))})"),
            ("honest ratio, aggregate: .szr container", f"{self.ratio_szr:.2f}x"),
            ("honest ratio, aggregate: JSON lines", f"{self.ratio_jsonl:.2f}x"),
            (f"honest ratio per record ({self.container}), mean / median",
             f"{self.ratio_mean:.2f}x / {self.ratio_median:.2f}x"),
            ("reconstructions identical to the original", f"{self.exact} of {self.records}"),
            ("mean cosine (MiniLM, chunked)", f"{self.cosine:.3f}"),
            ("fact recall", f"{self.fact_recall:.3f}"),
            ("numbers/dates/times/amounts kept", f"{self.exact_facts_kept:.3f}"),
            ("QA answers present in originals", str(self.answers)),
            ("answer retention", pct(self.answer_retention)),
            ("baseline: zstd -19 ratio (lossless)", f"{self.zstd_ratio:.2f}x"),
            ("baseline: xz -9e ratio (lossless)", f"{self.xz_ratio:.2f}x"),
            ("baseline: truncation to record size, answer retention", pct(self.truncation_answer_retention)),
            ("throughput: compress / reconstruct", f"{self.encode_per_min:.1f} / {self.decode_per_min:.1f} items/min"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"| {k.ljust(width)} | {v} |" for k, v in rows)


def load_corpus(path: str, limit: int | None) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"corpus {path} does not exist")
    rows = []
    for n, line in enumerate(p.open(encoding="utf-8"), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        text = row.get("text", row.get("dialogue"))
        if not isinstance(text, str):
            raise InputError(f"{path} line {n}: no string 'text' or 'dialogue' field")
        row["_text"] = text
        row["_id"] = str(row.get("id", row.get("fname", n)))
        rows.append(row)
        if limit and len(rows) >= limit:
            break
    return rows


def _cut_utf8(text: str, size: int) -> str:
    return text.encode("utf-8")[:size].decode("utf-8", "ignore")


def evaluate(engine, corpus: str, qa: str | None = None, limit: int | None = None, plot: str | None = None) -> EvalReport:
    rows = load_corpus(corpus, limit)
    texts = [r["_text"] for r in rows]
    t0 = time.perf_counter()
    records = engine.compress([Item(id=r["_id"], text=r["_text"]) for r in rows])  # id and text only: no metadata
    t1 = time.perf_counter()
    back = engine.decode(records)
    t2 = time.perf_counter()
    renders = [b if isinstance(b, str) else "" for b in back]
    framing = (len(MAGIC) + 2 + FOOTER.size) / max(len(records), 1)  # header and footer, spread over the records
    szr = [record_size(r) + framing for r in records]
    jsonl = [r.stored_bytes for r in records]
    coded = any(r.kind in CODED for r in records)
    sizes = szr if coded else jsonl
    in_bytes = [len(t.encode()) for t in texts]
    ratios = [b / s for b, s in zip(in_bytes, sizes)]
    same = [r == t for r, t in zip(renders, texts)]
    unscored = [i for i, s in enumerate(same) if not s]
    scorer = getattr(engine.compressor, "scorer", None) or (Scorer() if unscored else None)
    fids = {i: Fidelity(1.0, 1.0) for i, s in enumerate(same) if s}
    if unscored:
        fids.update(zip(unscored, scorer.score_many([texts[i] for i in unscored], [renders[i] for i in unscored])))
    exact_total = exact_kept = 0
    for text, rend, identical in zip(texts, renders, same):
        norm = normalise(rend)
        exact = [v for k, v in extract_typed_facts(text) if k in EXACT_KINDS]
        exact_total += len(exact)
        exact_kept += len(exact) if identical else sum(contains(norm, v) for v in exact)
    answers, kept, kept_trunc = answer_retention(rows, renders, sizes, qa) if qa else (0, None, None)
    raw = [t.encode() for t in texts]
    zstd = zstandard.ZstdCompressor(level=19)
    report = EvalReport(
        mode=getattr(engine, "mode", "summary"),
        records=len(records),
        container=".szr" if coded else "JSON lines",
        ratio=sum(in_bytes) / sum(sizes),
        ratio_szr=sum(in_bytes) / sum(szr),
        ratio_jsonl=sum(in_bytes) / sum(jsonl),
        ratio_mean=statistics.fmean(ratios),
        ratio_median=statistics.median(ratios),
        exact=sum(same),
        cosine=statistics.fmean(f.cosine for f in fids.values()),
        fact_recall=statistics.fmean(f.fact_recall for f in fids.values()),
        exact_facts_kept=exact_kept / exact_total if exact_total else 1.0,
        answers=answers,
        answer_retention=kept,
        zstd_ratio=sum(in_bytes) / sum(len(zstd.compress(b)) for b in raw),
        xz_ratio=sum(in_bytes) / sum(len(lzma.compress(b, preset=9 | lzma.PRESET_EXTREME)) for b in raw),
        truncation_answer_retention=kept_trunc,
        encode_per_min=len(records) / (t1 - t0) * 60,
        decode_per_min=len(records) / max(t2 - t1, 1e-9) * 60,
        kinds=dict(Counter(r.kind for r in records)),
    )
    if plot:
        _plot(ratios, [fids[i].score for i in range(len(records))], plot)
    return report


def answer_retention(rows, renders, sizes, qa_path):
    """Of the QA answers found (as whole words) in the original sessions, the share found in the reconstruction."""
    by_session = {(r.get("conversation"), r.get("session")): i for i, r in enumerate(rows)}
    present = kept = kept_trunc = 0
    for line in Path(qa_path).open(encoding="utf-8"):
        if not line.strip():
            continue
        q = json.loads(line)
        idx = [by_session.get((q.get("conversation"), s)) for s in q.get("sessions", [])]
        if not idx or any(i is None for i in idx):
            continue  # a session outside the evaluated rows
        answer = str(q.get("answer", ""))
        if not contains(normalise(" ".join(rows[i]["_text"] for i in idx)), answer):
            continue
        present += 1
        kept += contains(normalise(" ".join(renders[i] for i in idx)), answer)
        kept_trunc += contains(normalise(" ".join(_cut_utf8(rows[i]["_text"], int(sizes[i])) for i in idx)), answer)
    if not present:
        return 0, None, None
    return present, kept / present, kept_trunc / present


def _plot(ratios, scores, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.scatter(ratios, scores, s=14, alpha=0.7)
    ax.set_xlabel("honest compression ratio (original bytes / record bytes)")
    ax.set_ylabel("fidelity score (0.5 cosine + 0.5 fact recall)")
    ax.set_title(f"{len(ratios)} records")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
