"""Memories in, records out: the model writes summary + facts under a grammar; the fact layer and checks finish it."""
from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from engine.codecs.events import ItemWork, OnItemDone, ignore
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

    def compress(self, items: list[Item], on_done: OnItemDone = ignore) -> list[Record]:
        """One record per item, in order; on_done(ItemDone) fires for each item as soon as its record is final.

        A record is final once scored at or over the threshold, or after its one retry: records under the
        bar wait for the retry pass, which starts when the first pass has finished.
        """
        self.runner.reset()  # same batch, same records: whatever ran before
        texts = [clean_text(it.text) for it in items]
        records: list[Record | None] = [None] * len(items)
        work = [ItemWork() for _ in items]

        def finish(i: int, rec: Record) -> None:
            records[i] = self._not_larger(items[i], texts[i], rec)
            on_done(work[i].event(i, records[i]))

        todo = []
        for i, (item, text) in enumerate(zip(items, texts)):
            if len(text.strip()) < self.config.raw_below_chars:
                finish(i, Record(item.id, "raw", text=text, meta=item.meta))
            elif len(text.encode()) > self.config.max_llm_bytes:
                summary, facts = compress_extractive(text)
                rec = Record(item.id, "extractive", summary=summary, facts=facts, meta=item.meta)
                finish(i, self._scored(rec, text))
            else:
                todo.append(i)
        low = []
        for i, rec in self._llm_records(todo, items, texts, work, prompts.COMPACT):
            self._scored(rec, texts[i])
            if rec.kind == "llm" and rec.quality is not None and rec.quality < self.config.quality_threshold:
                records[i] = rec  # kept until its retry is in
                low.append(i)
            else:
                finish(i, rec)
        for i, rec in self._llm_records(sorted(low), items, texts, work, prompts.FACTUAL):
            self._scored(rec, texts[i])
            best = rec if rec.quality > records[i].quality else records[i]
            best.flagged = best.quality < self.config.quality_threshold
            finish(i, best)
        return records  # type: ignore[return-value]

    def _llm_records(self, todo: list[int], items: list[Item], texts: list[str], work: list[ItemWork],
                     style: prompts.Style) -> Iterator[tuple[int, Record]]:
        """(index, record) for each item of todo, as soon as the model has finished every chunk of it."""
        count = lambda s: len(self.runner.model.tokenize(s, parse_special=False))  # noqa: E731
        # The model reads "yesterday (7 May 2023)": relative dates resolved against the memory's own date.
        dated = {i: dates.annotate(texts[i], items[i].meta) for i in todo}
        jobs = [(i, k, chunk) for i in todo
                for k, chunk in enumerate(split_text(dated[i][0], self.config.chunk_tokens, count))]
        if not jobs:
            return
        parts: dict[int, list[tuple[str, list[str]] | None]] = {i: [] for i in todo}
        for i, _, _ in jobs:
            parts[i].append(None)
        pending = Counter(i for i, _, _ in jobs)
        prefix, requests = self._requests([chunk for _, _, chunk in jobs], style)
        model = self.runner.model
        for res in self.generator.generate(requests, prefix=prefix):
            i, k, _ = jobs[res.tag]
            work[i].add_result(res, time.perf_counter())
            parts[i][k] = parse_record_json(model.detokenize(res.tokens) if res.finish_reason == "stop" else "")
            pending[i] -= 1
            if not pending[i]:
                yield i, self._record(items[i], texts[i], dated[i], parts[i], style)

    def _record(self, item: Item, text: str, dated: tuple[str, list[str]], chunk_parts: list,
                style: prompts.Style) -> Record:
        """One item's record from the model's output for each of its chunks; dated: (annotated text, resolved dates)."""
        if any(p is None for p in chunk_parts):  # the model ran out of tokens mid-JSON: do without it
            summary, facts = compress_extractive(text)
            return Record(item.id, "extractive", summary=summary, facts=facts, meta=item.meta)
        summary = " ".join(p[0] for p in chunk_parts)
        facts = add_dropped_facts(dated[0], summary, [f for p in chunk_parts for f in p[1]], dated[1])
        rec = Record(item.id, "llm", summary=summary, facts=facts, meta=item.meta)
        return self._fill_keyphrases(rec, text, style.scale)

    def _fill_keyphrases(self, rec: Record, text: str, scale: float) -> Record:
        """Spend what is left of the record's byte budget on key phrases the text has and the record lacks."""
        # 4% under the target: records whose model part alone overshoots would otherwise pull the aggregate under it
        room = int(len(text.encode()) / self.config.target_ratio * scale * 0.96) - rec.stored_bytes
        if room > 0:
            rec.facts += keyphrases(text, room, render(rec))
        return rec

    def _requests(self, texts: list[str], style: prompts.Style) -> tuple[tuple[int, ...], list[Request]]:
        """(shared prefix tokens, one request per text tagged with its position)."""
        model = self.runner.model
        prefix_text, _ = prompts.split_prompt(model.apply_chat_template, "x", style)
        requests = []
        for n, text in enumerate(texts):
            head, rest, grammar = prompts.model_request(model.apply_chat_template, text, self.config.target_ratio,
                                                        style)
            if head != prefix_text:  # cannot share the prefix: send the whole prompt
                rest = head + rest
            requests.append(Request(tuple(model.tokenize(rest)), max_tokens=self.config.max_tokens, grammar=grammar,
                                    tag=n))
        return (tuple(model.tokenize(prefix_text)) if prefix_text else ()), requests

    def _scored(self, rec: Record, text: str) -> Record:
        """rec with its fidelity score, when scoring is on and the record is not the text itself."""
        if self.scorer is not None and rec.kind in ("llm", "extractive"):
            rec.quality = self.scorer.score_many([text], [render(rec)])[0].score
        return rec

    def _not_larger(self, item: Item, text: str, rec: Record) -> Record:
        """A record no smaller than its input is worthless: store the input instead."""
        if rec.kind in ("llm", "extractive") and rec.stored_bytes >= len(text.encode()):
            return Record(item.id, "raw", text=text, meta=item.meta)
        return rec
