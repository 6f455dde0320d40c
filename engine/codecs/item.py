"""The memory item: the unit every layer passes (read by jobs, batched by the api, compressed by a codec)."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field


@dataclass(slots=True)
class Item:
    """One memory to compress: its id, text, the input's other fields, and the line it came from."""

    id: str
    text: str
    meta: dict = field(default_factory=dict)
    line: int = 0


def clean_text(text: str) -> str:
    """Drop NUL and other control characters (newlines and tabs stay): they only confuse the model."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
