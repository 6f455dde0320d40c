"""The compression prompt (system text + one worked example) and the per-record JSON-schema grammar.

The system text and example are the same for every memory, so they form one shared token prefix.
The length bounds differ per memory: they scale with its size and are enforced by the grammar alone.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from llama_cpp.llama_grammar import json_schema_to_gbnf

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

        Measured on LoCoMo sessions with the 0.5B default model (bench/RESULTS.md): its facts retain fewer
        answers per byte than key phrases do, so half the bytes go to the model and half to key phrases.
        Rounded to coarse steps so that a corpus needs only a handful of distinct grammars.
        """
        budget = max(num_bytes / target_ratio * scale - RECORD_OVERHEAD_BYTES, 120) * model_share
        summary = int(min(max(0.6 * budget, 80), 800) // 20 * 20)
        facts = int(min(max(0.4 * budget / 45, 2), 20))
        return cls(summary, facts)

    def schema(self) -> dict:
        return {
            "type": "object",
            "properties": {
                "s": {"type": "string", "maxLength": self.summary_chars},
                "f": {
                    "type": "array",
                    "items": {"type": "string", "maxLength": self.fact_chars},
                    "maxItems": self.num_facts,
                },
            },
            "required": ["s", "f"],
            "additionalProperties": False,
        }


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
DETAILED = Style("detailed", 1.8, _SYSTEM + " Be thorough: use all the space you have.")  # the retry under the bar

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


@lru_cache(maxsize=64)
def record_grammar(bounds: Bounds = Bounds(320, 8)) -> str:
    """GBNF for the bounds' schema, from llama-cpp-python's port of llama.cpp's json-schema-to-grammar."""
    return json_schema_to_gbnf(json.dumps(bounds.schema()), prop_order=["s", "f"])


def model_request(apply_template, memory: str, target_ratio: float, style: Style = COMPACT) -> tuple[str, str, str]:
    """(shared prefix text, per-memory text, GBNF grammar): everything the model is sent for one memory."""
    head, rest = split_prompt(apply_template, memory, style)
    bounds = Bounds.for_text(len(memory.encode()), target_ratio, style.scale)
    return head, rest, record_grammar(bounds)


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
