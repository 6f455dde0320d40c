"""Compression without a model: pick the most informative sentences under a byte budget, plus the extracted facts.

The last rung of the fallback ladder, and the answer for texts too large to send through the model.
"""
from __future__ import annotations

import re
from collections import Counter

from engine.codecs.facts import extract_facts

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")
_WORD = re.compile(r"[a-zA-Z]{3,}")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if len(s.strip()) > 2]


def summarise(text: str, budget_bytes: int) -> str:
    """Sentences scored by word salience (frequency across the text) and fact count, kept in text order."""
    sents = sentences(text)
    if not sents:
        return text[:budget_bytes]
    freq = Counter(w.lower() for w in _WORD.findall(text))
    top = {w for w, _ in freq.most_common(50)}

    def score(s: str) -> float:
        words = [w.lower() for w in _WORD.findall(s)]
        salient = sum(1 for w in words if w in top) / (len(words) + 3)
        return salient + 0.5 * len(extract_facts(s))

    ranked = sorted(range(len(sents)), key=lambda i: -score(sents[i]))
    chosen, used = [], 0
    for i in ranked:
        size = len(sents[i].encode()) + 1
        if used + size > budget_bytes and chosen:
            continue
        chosen.append(i)
        used += size
        if used >= budget_bytes:
            break
    return " ".join(sents[i][:budget_bytes] for i in sorted(chosen))


def compress_extractive(text: str, target_ratio: float = 8.0, max_facts: int = 24) -> tuple[str, list[str]]:
    """(summary, facts) aiming at about 1/target_ratio of the input's bytes."""
    budget = max(120, int(len(text.encode()) / target_ratio))
    facts = extract_facts(text)[:max_facts]
    fact_bytes = sum(len(f.encode()) + 2 for f in facts)
    return summarise(text, max(60, budget - fact_bytes)), facts
