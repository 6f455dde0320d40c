"""The compression prompt (system text + one worked example) and the JSON schema records are decoded under."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from llama_cpp.llama_grammar import json_schema_to_gbnf



@dataclass(frozen=True, slots=True)
class Style:
    """One way of asking: the bounds the grammar enforces and the words that ask for them."""

    name: str
    sentences: int
    max_summary_chars: int
    max_facts: int
    max_fact_chars: int = 100

    def schema(self) -> dict:
        return {
            "type": "object",
            "properties": {
                "s": {"type": "string", "maxLength": self.max_summary_chars},
                "f": {
                    "type": "array",
                    "items": {"type": "string", "maxLength": self.max_fact_chars},
                    "maxItems": self.max_facts,
                },
            },
            "required": ["s", "f"],
            "additionalProperties": False,
        }

    def system(self) -> str:
        return (
            "You compress memories for an AI agent. Read the memory and answer with JSON only:\n"
            f'"s": a summary in your own words, at most {self.sentences} sentences: who did what, when, where, '
            "and what was decided.\n"
            f'"f": up to {self.max_facts} key facts, each a short phrase that keeps exact names, dates, times, '
            "numbers, amounts, places and the specific things mentioned."
        )


COMPACT = Style("compact", sentences=2, max_summary_chars=300, max_facts=8)
DETAILED = Style("detailed", sentences=4, max_summary_chars=600, max_facts=14)  # the retry under the quality bar
RECORD_SCHEMA = COMPACT.schema()

SYSTEM = (
    "You compress memories for an AI agent. Read the memory and answer with JSON only:\n"
    '"s": a summary in your own words, at most 3 sentences: who did what, when, where, and what was decided.\n'
    '"f": up to 12 key facts, each a short phrase that keeps exact names, dates, times, numbers, amounts and places.'
)

EXAMPLE_MEMORY = (
    "#Person1#: Hi Tom, are we still on for the budget review on Friday?\n"
    "#Person2#: Yes, 10:30 at the Leeds office. Maria will bring the Q3 numbers.\n"
    "#Person1#: Good. Sales were up 12% to $4.2 million, so I want to discuss hiring two engineers.\n"
    "#Person2#: Fine, but we agreed to keep travel spending under $15,000."
)
EXAMPLE_RECORD = {
    "s": "Tom and a colleague confirm Friday's budget review in Leeds, where Maria brings Q3 numbers. "
    "After sales rose, they will discuss hiring two engineers while keeping travel spending capped.",
    "f": [
        "budget review Friday 10:30, Leeds office",
        "Maria brings Q3 numbers",
        "sales up 12% to $4.2 million",
        "plan: hire two engineers",
        "travel spending under $15,000",
    ],
}


def messages(memory: str, style: Style = COMPACT) -> list[dict[str, str]]:
    """Chat messages for one memory: the fixed part first, so it forms a shared token prefix."""
    return [
        {"role": "system", "content": style.system()},
        {"role": "user", "content": EXAMPLE_MEMORY},
        {"role": "assistant", "content": json.dumps(EXAMPLE_RECORD, ensure_ascii=False)},
        {"role": "user", "content": memory},
    ]


@lru_cache(maxsize=None)
def record_grammar(style: Style = COMPACT) -> str:
    """GBNF for the style's schema, from llama-cpp-python's port of llama.cpp's json-schema-to-grammar."""
    return json_schema_to_gbnf(json.dumps(style.schema()), prop_order=["s", "f"])


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
