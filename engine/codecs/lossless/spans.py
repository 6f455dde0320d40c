"""Which spans of a memory the ratio knob keeps: cut the text into spans, weigh each, keep the best per bit,
verbatim and in order (selective_codec.py codes what is kept).

A memory is cut into spans: date lines, speaker labels, and clauses (sentences cut at commas,
semicolons and dashes). Each span costs the bits the model spent on its tokens in the lossless pass
and carries a value: the facts in it (names, dates, numbers: engine/codecs/facts.py) and its content
words (objects, places, activities, feelings: whatever is not a function word or chat filler).
Spans are kept by value per bit until the byte budget is spent; filler that carries nothing goes
first, densest last (Selective Context's self-information); date lines always stay. What was dropped
is marked with an ellipsis, so every word of the reconstruction is the original's, in its order.

Tuned on the dev sets as a whole (LoCoMo's 70 sessions with their QA, bench/HISTORY.md): clauses beat
sentences, facts weigh four content words, rarity beyond that did not help.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engine.codecs.facts import STOPWORDS, fact_positions

ELISION = "…"
FACT_WEIGHT = 4.0  # a name, date or number, in content words
CONTENT_WEIGHT = 1.0  # each word that is neither a function word nor chat filler
_HEADER = re.compile(r"\s*\[[^\]\n]{3,80}\]\s*$")
_SPEAKER = re.compile(r"([^\s:#][^:\n]{0,38}|#Person\d#): ")
_CLAUSE = re.compile(r".+?(?:(?:[.!?…]+[\"')\]]*|,|;| -+| –)(?=\s)|$)\s*", re.S)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


@dataclass(slots=True)
class Span:
    start: int  # character offsets; spans tile the text
    end: int
    turn: int  # the line it belongs to
    kind: str  # header (always kept), speaker (kept with the first kept sentence of its turn), text
    bits: float = 0.0
    tokens: int = 0
    value: float = 0.0  # what an answer could need from it: facts and content words; 0 for filler


def split_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    pos = 0
    for turn, line in enumerate(text.splitlines(keepends=True)):
        if not line.strip() or _HEADER.match(line):
            spans.append(Span(pos, pos + len(line), turn, "header"))
            pos += len(line)
            continue
        body = 0
        if m := _SPEAKER.match(line):
            spans.append(Span(pos, pos + m.end(), turn, "speaker"))
            body = m.end()
        for m in _CLAUSE.finditer(line, body):
            if m.end() > m.start():
                spans.append(Span(pos + m.start(), pos + m.end(), turn, "text"))
        pos += len(line)
    return spans


def weigh(text: str, spans: list[Span], pieces: list[bytes], bits: list[float]) -> None:
    """Give each span the bits of the tokens that start in it, and its value."""
    char_end = np.cumsum([len(c.encode()) for c in text])  # byte offset after each character
    token_start = np.concatenate([[0], np.cumsum([len(p) for p in pieces])[:-1]])
    span_end = [int(char_end[s.end - 1]) for s in spans]
    owner = np.searchsorted(span_end, token_start, side="right")
    owner = np.minimum(owner, len(spans) - 1)
    totals = np.bincount(owner, weights=bits, minlength=len(spans))
    counts = np.bincount(owner, minlength=len(spans))
    speakers = {text[s.start : s.end].rstrip(": ").lower() for s in spans if s.kind == "speaker"}
    # A speaker's own name adds nothing where the turn's label already says it ("Hey Caroline!").
    facts = [(start, value) for start, _, _, value in fact_positions(text) if value.lower() not in speakers]
    for span, total, count in zip(spans, totals, counts):
        span.bits, span.tokens = float(total), int(count)
        content = [w for w in _WORD.findall(text[span.start : span.end]) if w.lower() not in STOPWORDS]
        n_facts = sum(span.start <= f < span.end for f, _ in facts)
        span.value = FACT_WEIGHT * n_facts + CONTENT_WEIGHT * len(content)


def select(spans: list[Span], budget_bits: float) -> set[int]:
    """Indices of the spans to keep: headers, then the best value per bit that still fits."""
    keep = {i for i, s in enumerate(spans) if s.kind == "header"}
    spent = sum(spans[i].bits for i in keep) + 16  # an elision mark or two
    label = {s.turn: i for i, s in enumerate(spans) if s.kind == "speaker"}
    order = sorted((i for i, s in enumerate(spans) if s.kind == "text"), key=lambda i: _priority(spans[i]), reverse=True)
    for i in order:
        cost = spans[i].bits + 4  # a mark where its neighbours were dropped
        speaker = label.get(spans[i].turn)
        if speaker is not None and speaker not in keep:
            cost += spans[speaker].bits
        if spent + cost <= budget_bits:
            keep.add(i)
            spent += cost
            if speaker is not None:
                keep.add(speaker)
    return keep


def _priority(span: Span) -> tuple[float, float]:
    """Spans that carry something first, by value per bit; then filler, densest first (Selective Context's
    self-information: what the model could not predict is what the text says)."""
    return span.value / (span.bits + 8), span.bits / max(span.tokens, 1)


def kept_text(text: str, spans: list[Span], keep: set[int]) -> str:
    """The kept spans in order, an ellipsis where anything was dropped (one per gap)."""
    out: list[str] = []
    gap = False
    for i, span in enumerate(spans):
        piece = text[span.start : span.end]
        if i in keep:
            if gap:
                out.append(ELISION + ("\n" if span.kind in ("header", "speaker") or _starts_turn(spans, i) else " "))
                gap = False
            out.append(piece)
        elif piece.strip():
            gap = True
    if gap:
        out.append(ELISION + "\n")
    return "".join(out)


def _starts_turn(spans: list[Span], i: int) -> bool:
    return i == 0 or spans[i - 1].turn != spans[i].turn
