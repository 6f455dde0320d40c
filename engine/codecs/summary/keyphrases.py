"""Key phrases: the specific, rarely-said words of a text (objects, titles, activities), chosen without a model.

A phrase is a run of content words between function words and punctuation. It scores by how rare its
words are in English (wordfreq's Zipf scale) and how often the text repeats it: "Perseid meteor
shower" and "guinea pig" beat "really great day".
"""
from __future__ import annotations

import re
from collections import Counter
from engine.codecs.facts import STOPWORDS as _STOP
from engine.codecs.facts import contains, normalise, rarity

_CLAUSE = re.compile(r"[.,;:!?()\[\]\"“”\n]+|\s[-–—]\s")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]|\d[\d,.]*")
_SPEAKER = re.compile(r"^[A-Z][\w'’]*(?: [A-Z][\w'’]*)?:", re.M)


def candidates(text: str) -> Counter:
    """Phrase -> occurrences, phrases being runs of up to 3 content words inside one clause."""
    found: Counter = Counter()
    for clause in _CLAUSE.split(_SPEAKER.sub(" ", text)):
        run: list[str] = []
        for word in _WORD.findall(clause) + [""]:
            if word and word.lower().replace("’", "'") not in _STOP and len(run) < 3:
                run.append(word)
                continue
            if run:
                found[" ".join(run)] += 1
            run = [word] if word and word.lower().replace("’", "'") not in _STOP else []
    return found


def keyphrases(text: str, budget_bytes: int, already: str = "") -> list[str]:
    """The best phrases that fit budget_bytes (2 bytes of separator each), skipping what `already` contains."""
    counts = candidates(text)
    lowered: Counter = Counter()
    for phrase, n in counts.items():
        lowered[phrase.lower()] += n
    scored = []
    for phrase in counts:
        words = phrase.split()
        score = sum(rarity(w) for w in words) * (1 + 0.5 * (lowered[phrase.lower()] - 1))
        if score >= 2.0:
            scored.append((score, phrase))
    have = normalise(already)
    chosen: list[str] = []
    used = 0
    for _, phrase in sorted(scored, key=lambda x: (-x[0], x[1])):
        cost = len(phrase.encode()) + 2
        if used + cost > budget_bytes:
            continue
        if contains(have, phrase):
            continue
        chosen.append(phrase)
        have += normalise(phrase)
        used += cost
    return chosen
