"""Key phrases: the specific, rarely-said words of a text (objects, titles, activities), chosen without a model.

A phrase is a run of content words between function words and punctuation. It scores by how rare its
words are in English (wordfreq's Zipf scale) and how often the text repeats it: "Perseid meteor
shower" and "guinea pig" beat "really great day".
"""
from __future__ import annotations

import re
from collections import Counter
from engine.codecs.facts import contains, normalise, rarity

_STOP = set(
    """a an the and or but nor so yet for of in on at to from by with about into onto over under after before
    during since until than then as if when while because though although whether that this these those there here
    i me my mine we us our you your yours he him his she her hers it its they them their what which who whom whose
    am is are was were be been being have has had having do does did doing will would shall should can could may
    might must not no yes oh hey hi hello wow yeah ok okay sure thanks thank please just really very so too also
    all any some more most much many such only own same other again still even ever never always often
    i'm i've i'd i'll you're you've you'd you'll he's she's it's we're we've they're they've that's there's
    what's let's don't doesn't didn't can't couldn't won't wouldn't isn't aren't wasn't weren't haven't hasn't
    get got go going went gone make made know knew think thought feel felt like love loved want wanted
    say said tell told see saw look looked thing things lot lots way time good great nice cool awesome amazing
    glad happy sounds sound sure totally definitely absolutely kind sort bit one ones something anything""".split()
)
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
