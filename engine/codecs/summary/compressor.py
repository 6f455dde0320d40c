"""Memories in, records out: the model writes summary + facts under a grammar; the fact layer and checks finish it."""
from __future__ import annotations

import json
from dataclasses import dataclass

from engine.codecs.facts import contains, extract_facts, normalise
from engine.codecs.item import Item, clean_text
from engine.codecs.quality import Scorer
from engine.codecs.record import Record, render
from engine.codecs.summary import dates, prompts
from engine.codecs.summary.chunking import split_text
from engine.codecs.summary.extractive import compress_extractive
from engine.codecs.summary.keyphrases import keyphrases
from engine.core.generator import BatchedGenerator
from engine.core.runner import ModelRunner
from engine.core.sequence import Request


@dataclass(frozen=True, slots=True)
class CompressConfig:
    raw_below_chars: int = 100  # shorter texts are stored as they are
    max_tokens: int = 384  # generation bound per record (the grammar bounds the fields too)
    chunk_tokens: int = 2048  # longer texts are split at turn/sentence boundaries and merged
    max_llm_bytes: int = 256 * 1024  # larger texts get extractive compression instead of thousands of chunks
    quality_threshold: float = 0.85
    score: bool = True
    target_ratio: float = 8.0  # sizes the grammar's bounds for each record


def parse_record_json(text: str) -> tuple[str, list[str]] | None:
    """The model's JSON as (summary, facts), or None when generation stopped before the JSON closed."""
    try:
        d = json.loads(text, strict=False)
    except json.JSONDecodeError:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("s"), str) or not isinstance(d.get("f"), list):
        return None
    return " ".join(d["s"].split()), [" ".join(str(f).split()) for f in d["f"] if str(f).strip()]


def add_dropped_facts(original: str, summary: str, facts: list[str], resolved: list[str] = ()) -> list[str]:
    """Facts as the model wrote them, deduplicated, then every resolved date and extracted fact it left out."""
    out, seen = [], set()
    for f in facts:
        if f.lower() not in seen:
            seen.add(f.lower())
            out.append(f)
    have = normalise(summary + " " + " ".join(out))
    for f in list(resolved) + extract_facts(original):
        if not contains(have, f):
            out.append(f)
            have += normalise(f)
    return out


class Compressor:
    """Compresses batches of items with one model; every item yields exactly one record, in order."""

    def __init__(self, runner: ModelRunner, config: CompressConfig = CompressConfig(), scorer: Scorer | None = None):
        self.runner = runner
        self.config = config
        self.scorer = scorer if scorer is not None else (Scorer() if config.score else None)
        self.generator = BatchedGenerator(runner)
        self.last_results: list = []  # generator Results of the latest compress() call, for the monitor

    def compress(self, items: list[Item]) -> list[Record]:
        self.runner.reset()  # same batch, same records: whatever ran before
        self.last_results = []
        texts = [clean_text(it.text) for it in items]
        records: list[Record | None] = [None] * len(items)
        todo = []
        for i, (item, text) in enumerate(zip(items, texts)):
            if len(text.strip()) < self.config.raw_below_chars:
                records[i] = Record(item.id, "raw", text=text, meta=item.meta)
            elif len(text.encode()) > self.config.max_llm_bytes:
                summary, facts = compress_extractive(text)
                records[i] = Record(item.id, "extractive", summary=summary, facts=facts, meta=item.meta)
            else:
                todo.append(i)
        for i, rec in zip(todo, self._llm_records([items[i] for i in todo], [texts[i] for i in todo], prompts.COMPACT)):
            records[i] = rec
        if self.scorer is not None:
            self._score_and_retry(items, texts, records)
        return [self._not_larger(it, t, r) for it, t, r in zip(items, texts, records)]

    def _llm_records(self, items: list[Item], texts: list[str], style: prompts.Style) -> list[Record]:
        count = lambda s: len(self.runner.model.tokenize(s, parse_special=False))  # noqa: E731
        # The model reads "yesterday (7 May 2023)": relative dates resolved against the memory's own date.
        dated = [dates.annotate(t, it.meta) for it, t in zip(items, texts)]
        jobs = [(k, chunk) for k, (t, _) in enumerate(dated) for chunk in split_text(t, self.config.chunk_tokens, count)]
        outputs = self._generate([c for _, c in jobs], style)
        parts: list[list[tuple[str, list[str]] | None]] = [[] for _ in items]
        for (k, _), out in zip(jobs, outputs):
            parts[k].append(parse_record_json(out))
        records = []
        for item, text, chunk_parts, (annotated, when) in zip(items, texts, parts, dated):
            if any(p is None for p in chunk_parts):  # the model ran out of tokens mid-JSON: do without it
                summary, facts = compress_extractive(text)
                records.append(Record(item.id, "extractive", summary=summary, facts=facts, meta=item.meta))
                continue
            summary = " ".join(p[0] for p in chunk_parts)
            facts = add_dropped_facts(annotated, summary, [f for p in chunk_parts for f in p[1]], when)
            rec = Record(item.id, "llm", summary=summary, facts=facts, meta=item.meta)
            records.append(self._fill_keyphrases(rec, text, style.scale))
        return records

    def _fill_keyphrases(self, rec: Record, text: str, scale: float) -> Record:
        """Spend what is left of the record's byte budget on key phrases the text has and the record lacks."""
        # 4% under the target: records whose model part alone overshoots would otherwise pull the aggregate under it
        room = int(len(text.encode()) / self.config.target_ratio * scale * 0.96) - rec.stored_bytes
        if room > 0:
            rec.facts += keyphrases(text, room, render(rec))
        return rec

    def _generate(self, texts: list[str], style: prompts.Style) -> list[str]:
        if not texts:
            return []
        model = self.runner.model
        prefix_text, _ = prompts.split_prompt(model.apply_chat_template, "x", style)
        requests = []
        for text in texts:
            head, rest, grammar = prompts.model_request(model.apply_chat_template, text, self.config.target_ratio, style)
            if head != prefix_text:  # cannot share the prefix: send the whole prompt
                rest = head + rest
            requests.append(Request(tuple(model.tokenize(rest)), max_tokens=self.config.max_tokens, grammar=grammar))
        prefix = tuple(model.tokenize(prefix_text)) if prefix_text else ()
        results = self.generator.generate_all(requests, prefix=prefix)
        self.last_results += results
        return [model.detokenize(r.tokens) if r.finish_reason == "stop" else "" for r in results]

    def _score_and_retry(self, items: list[Item], texts: list[str], records: list[Record]) -> None:
        scored = [i for i, r in enumerate(records) if r.kind in ("llm", "extractive")]
        fids = self.scorer.score_many([texts[i] for i in scored], [render(records[i]) for i in scored])
        for i, fid in zip(scored, fids):
            records[i].quality = fid.score
        low = [i for i in scored if records[i].quality < self.config.quality_threshold and records[i].kind == "llm"]
        if not low:
            return
        retried = self._llm_records([items[i] for i in low], [texts[i] for i in low], prompts.FACTUAL)
        fids = self.scorer.score_many([texts[i] for i in low], [render(r) for r in retried])
        for i, rec, fid in zip(low, retried, fids):
            rec.quality = fid.score
            best = rec if fid.score > records[i].quality else records[i]
            best.flagged = best.quality < self.config.quality_threshold
            records[i] = best

    def _not_larger(self, item: Item, text: str, rec: Record) -> Record:
        """A record no smaller than its input is worthless: store the input instead."""
        if rec.kind in ("llm", "extractive") and rec.stored_bytes >= len(text.encode()):
            return Record(item.id, "raw", text=text, meta=item.meta)
        return rec
