"""Deterministic fact extraction: the spans a summary must never lose (numbers, dates, times, money, names...)."""
from __future__ import annotations

import re
from functools import lru_cache

from wordfreq import zipf_frequency

_MONTHS = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
_DAYS = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_NUM = r"\d+(?:[.,]\d+)*"

# Order matters: longer, more specific patterns first; a span claimed by one is not matched again.
PATTERNS: list[tuple[str, re.Pattern]] = [
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("url", re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+")),
    ("date", re.compile(rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\.?,?\s+\d{{4}}|{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}})\b")),
    ("date", re.compile(rf"\b(?:{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}|{_MONTHS}\s+\d{{4}})\b")),
    ("time", re.compile(r"\b\d{1,2}(?::\d{2})?\s*(?:[ap]\.?m\.?)(?![\w])|\b\d{1,2}:\d{2}(?:-\d{1,2}:\d{2})?\b", re.I)),
    ("money", re.compile(rf"(?:[$€£¥]\s?{_NUM}(?:\s?(?:million|billion|thousand|k|m|bn))?|\b(?:USD|EUR|GBP|JPY|CHF)\s?{_NUM}|\b{_NUM}\s?(?:dollars|euros|pounds|yuan|yen)\b)", re.I)),
    ("percent", re.compile(rf"\b{_NUM}\s?(?:%|percent\b)")),
    ("day", re.compile(rf"\b{_DAYS}\b")),
    ("year", re.compile(r"\b(?:19|20)\d{2}\b")),
    ("number", re.compile(rf"\b{_NUM}(?:\s+(?:[a-z]+))?", re.I)),
]
_NAME = re.compile(r"\b(?:(?:St|Dr|Mr|Mrs|Ms|Mt)\.\s)?[A-Z][a-zA-Z'’]+(?:[ -](?:[A-Z][a-zA-Z'’]+|of|de|van|von|the))*(?<![ -]of)(?<![ -]the)\b|\b[A-Z]{2,}[+]?")
# Capitalised words that are not names: sentence openers, pronouns, fillers. Kept short on purpose:
# a name mentioned mid-sentence anywhere still counts even if it also opens a sentence.
_SPEAKER = re.compile(r"^([A-Z][\w'’]+(?: [A-Z][\w'’]+)?):", re.M)  # "Caroline: ..." opens a dialogue turn
_COMMON = set(
    "I I'm I'll I've I'd Im A An The This That These Those It It's Its He She We They You Your My Our His Her Their "
    "Yes No Not Oh Hi Hey Hello Wow Ok Okay OK Sure Thanks Thank Well So But And Or If When What Where Why How Who "
    "Which Also Just Maybe Please Great Good Nice Cool Awesome Sounds Let Let's There Here Then Now Do Does Did Is "
    "Are Was Were Have Has Had Can Could Would Should Will Don't Can't Didn't Really Totally Definitely That's "
    "Person1 Person2 Person3 Absolutely Haha Lol Aw Aww Ah Yeah Yep Nope Anyway Sorry Congrats Congratulations "
    "Mon Tue Wed Thu Fri Sat Sun".split()
)
_NUMBER_UNITS_STOP = set("and or but the a an to of in on at for with is was are were it i".split())


def _clean_number(span: str) -> str:
    parts = span.split()
    if len(parts) == 2 and parts[1].lower() in _NUMBER_UNITS_STOP:
        return parts[0]
    return span


EXACT_KINDS = frozenset({"date", "time", "money", "percent", "day", "year", "number"})


def extract_facts(text: str) -> list[str]:
    """Fact spans in order of first appearance, each once (case-insensitive)."""
    return [value for _, value in extract_typed_facts(text)]


def extract_typed_facts(text: str) -> list[tuple[str, str]]:
    """(kind, span) pairs in order of first appearance; kind is a PATTERNS kind or "name"."""
    seen, out = set(), []
    for _, _, kind, value in fact_positions(text):
        key = value.lower()
        if value and key not in seen:
            seen.add(key)
            out.append((kind, value))
    return out


def fact_positions(text: str) -> list[tuple[int, int, str, str]]:
    """Every fact occurrence as (start, end, kind, value), in text order (character offsets)."""
    claimed = [False] * len(text)
    found: list[tuple[int, int, str, str]] = []

    def take(start: int, end: int, value: str, kind: str) -> None:
        if any(claimed[start:end]):
            return
        for i in range(start, end):
            claimed[i] = True
        found.append((start, end, kind, value.strip(" .,")))

    for kind, pat in PATTERNS:
        for m in pat.finditer(text):
            take(m.start(), m.end(), _clean_number(m.group()) if kind == "number" else m.group(), kind)
    names_mid = {m.group() for m in _NAME.finditer(text) if not _opens_sentence(text, m.start())}
    names_mid |= {m.group(1) for m in _SPEAKER.finditer(text)}
    for m in _NAME.finditer(text):
        name, start = m.group(), m.start()
        if _opens_sentence(text, start) and name not in names_mid:
            # "Met Priya Raman": the sentence opener is not part of the name; the rest may be.
            first, _, rest = name.partition(" ")
            if not rest:
                continue
            name, start = rest, start + len(first) + 1
        if name in _COMMON:
            continue
        take(start, start + len(name), name, "name")
    return sorted(found)


_ABBREVIATIONS = ("St.", "Dr.", "Mr.", "Mrs.", "Ms.", "Prof.", "Mt.")


def _opens_sentence(text: str, start: int) -> bool:
    before = text[max(0, start - 8) : start].rstrip(" \t\"'(#[")
    if before.endswith(_ABBREVIATIONS):
        return False
    return not before or before[-1] in ".!?:\n]"


# Function words and chat filler: never content on their own (key phrases, the ratio knob's span values).
STOPWORDS = frozenset(
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


@lru_cache(maxsize=65536)
def rarity(word: str) -> float:
    """0 for the commonest words, up to 4 for rare ones (and unknown words, names, typos)."""
    return min(max(6.0 - zipf_frequency(word.lower(), "en"), 0.0), 4.0)


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, single spaces, padded: for whole-word containment tests."""
    return " " + " ".join(re.sub(r"[^\w%$€£]+", " ", text.lower()).split()) + " "


def contains(haystack_norm: str, needle: str) -> bool:
    """Whether needle occurs as whole words in a normalise()d haystack."""
    n = normalise(needle)
    return n.strip() != "" and n in haystack_norm
