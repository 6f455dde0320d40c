"""The compression prompt (system text + one worked example) and the per-record grammar.

The system text and example are the same for every memory, so they form one shared token prefix.
The length bounds differ per memory: they scale with its size, are stated in the memory's own turn,
and are enforced by the grammar, which lets the summary end only where a sentence ends: a summary is
never cut after the fact.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

RECORD_OVERHEAD_BYTES = 60  # {"v":1,"id":...,"k":"l","s":"","f":"","q":0.87} around the content


@dataclass(frozen=True, slots=True)
class Bounds:
    """Hard limits on what the model may write for one record."""

    summary_chars: int
    num_facts: int
    fact_chars: int = 60

    @classmethod
    def for_text(cls, num_bytes: int, target_ratio: float, scale: float = 1.0, model_share: float = 0.5) -> "Bounds":
        """The model's part of a record of about num_bytes / target_ratio: model_share of the content bytes,
        three fifths of it summary, two fifths facts. The deterministic layers fill the rest.

        Measured on LoCoMo sessions with the 0.5B default model (bench/HISTORY.md): its facts retain fewer
        answers per byte than key phrases do, so half the bytes go to the model and half to key phrases.
        Rounded to coarse steps so that a corpus needs only a handful of distinct grammars.
        """
        budget = max(num_bytes / target_ratio * scale - RECORD_OVERHEAD_BYTES, 120) * model_share
        summary = int(min(max(0.6 * budget, 80), 800) // 20 * 20)
        facts = int(min(max(0.4 * budget / 45, 2), 20))
        return cls(summary, facts)

    @property
    def sentences(self) -> int:
        return max(1, min(6, round(self.summary_chars / 120)))

    @property
    def sentence_chars(self) -> int:
        """Longest sentence the grammar allows: the summary's share per sentence, with room to finish it."""
        return max(80, self.summary_chars // self.sentences + 40)


@dataclass(frozen=True, slots=True)
class Style:
    """One way of asking; scale multiplies the byte budget (the retry asks for more)."""

    name: str
    scale: float
    system: str


_SYSTEM = (
    "You compress memories for an AI agent. Read the memory and answer with JSON only.\n"
    '"s": one or two short sentences in your own words: who, what, when, where, and what was decided.\n'
    '"f": key facts as short phrases. Prefer the specific things the agent could be asked about later: names, '
    "places, dates, numbers, titles of books or songs, objects, pets, hobbies, plans, feelings and reasons."
)
COMPACT = Style("compact", 1.0, _SYSTEM)
# The retry for records scored under the threshold: another way of asking, within the same byte budget, so
# that a retried record keeps the stated ratio.
FACTUAL = Style("factual", 1.0, _SYSTEM + " Keep \"s\" to one sentence and spend the rest on facts: every name, "
                "place, date, number, object and plan, each with who it belongs to.")

EXAMPLE_MEMORY = (
    "[10:05 am on 3 April, 2022]\n"
    "Anna: Guess what, Jon! I finally adopted a cat from the shelter on Elm Road. She's called Miso.\n"
    "Jon: No way! What made you go for it?\n"
    "Anna: I've been lonely since moving to Kyoto, and cats calm me down. She loves my old guitar case.\n"
    "Jon: Ha, cute. I'm still training for the Osaka half marathon, 21 km in under 2 hours is the goal.\n"
    "Anna: You'll make it. Let's celebrate with ramen at Ichiran after your race on May 8."
)
EXAMPLE_RECORD = {
    "s": "Anna tells Jon she adopted a shelter cat to ease loneliness after moving; Jon trains for a half "
    "marathon and they plan to celebrate after it.",
    "f": [
        "Anna adopted cat Miso from Elm Road shelter",
        "Anna lonely since moving to Kyoto",
        "Miso loves Anna's old guitar case",
        "Jon: Osaka half marathon, goal 21 km under 2 hours",
        "ramen at Ichiran after race on May 8",
    ],
}


def messages(memory: str, style: Style = COMPACT) -> list[dict[str, str]]:
    """Chat messages for one memory: the fixed part first, so it forms a shared token prefix."""
    return [
        {"role": "system", "content": style.system},
        {"role": "user", "content": EXAMPLE_MEMORY},
        {"role": "assistant", "content": json.dumps(EXAMPLE_RECORD, ensure_ascii=False)},
        {"role": "user", "content": memory},
    ]


# Scripts a summary of a text written in none of them may not use (the 0.5B model drifts into CJK now and then).
_FOREIGN = r"\u0370-\u1DFF\u2E80-\uA4CF\uA640-\uA8FF\uAC00-\uD7FF\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFFEF"
_FOREIGN_RE = re.compile("[" + _FOREIGN.replace("\\\\", "\\") + "]")


def is_latin(text: str) -> bool:
    """Whether text is written in Latin script only (symbols and punctuation aside)."""
    return _FOREIGN_RE.search(text) is None


@lru_cache(maxsize=64)
def record_grammar(bounds: Bounds = Bounds(320, 8), latin: bool = True) -> str:
    """GBNF for {"s": sentences, "f": [facts]}: the summary is 1..n sentences, each closed by . ! or ?, no longer
    than the bound; facts are short strings. latin: no characters of other scripts."""
    foreign = _FOREIGN if latin else ""
    return "\n".join([
        'root ::= "{" sp "\\"s\\":" sp summary "," sp "\\"f\\":" sp facts sp "}"',
        'sp ::= " "?',
        f'summary ::= "\\"" sentence (" " sentence){{0,{bounds.sentences - 1}}} "\\""',
        f"sentence ::= char{{2,{bounds.sentence_chars}}} [.!?]",
        f'char ::= [^"\\\\\\x00-\\x1f.!?{foreign}] | "." [0-9]',
        f'facts ::= "[" sp ( fact ( "," sp fact ){{0,{bounds.num_facts - 1}}} )? sp "]"',
        f'fact ::= "\\"" fchar{{1,{bounds.fact_chars}}} "\\""',
        f'fchar ::= [^"\\\\\\x00-\\x1f{foreign}]',
    ])


def model_request(apply_template, memory: str, target_ratio: float, style: Style = COMPACT) -> tuple[str, str, str]:
    """(shared prefix text, per-memory text, GBNF grammar): everything the model is sent for one memory."""
    bounds = Bounds.for_text(len(memory.encode()), target_ratio, style.scale)
    n = bounds.sentences
    hint = f"\n\n(\"s\": at most {n} short sentence{'s' if n > 1 else ''}; \"f\": at most {bounds.num_facts} facts.)"
    head, rest = split_prompt(apply_template, memory + hint, style)
    return head, rest, record_grammar(bounds, is_latin(memory))


def split_prompt(apply_template, memory: str, style: Style = COMPACT) -> tuple[str, str]:
    """(shared prefix text, per-memory text) such that prefix + rest is the full rendered prompt.

    The split falls just before the final user turn's opening marker, a special token in chat
    templates, so tokenizing the two halves apart gives the same tokens as tokenizing the whole.
    """
    msgs = messages(memory, style)
    full = apply_template(msgs, add_assistant=True)
    head = apply_template(msgs[:-1], add_assistant=False)
    if not full.startswith(head):  # a template that rewrites history: no shared prefix
        return "", full
    return head, full[len(head) :]
