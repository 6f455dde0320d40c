"""Split a text that is too long for one prompt at turn, then sentence, boundaries."""
from __future__ import annotations

import re
from collections.abc import Callable

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _units(text: str) -> list[str]:
    """Lines (dialogue turns) keep their newline; a line is the smallest unit unless it is huge."""
    return text.splitlines(keepends=True)


def split_text(text: str, max_tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    """Pieces of text, in order, each counted at most max_tokens (a single oversized word is cut by bytes)."""
    if count_tokens(text) <= max_tokens:
        return [text]
    pieces: list[str] = []
    for unit in _units(text):
        if count_tokens(unit) <= max_tokens:
            pieces.append(unit)
            continue
        for sent in _SENTENCE_END.split(unit):
            while count_tokens(sent) > max_tokens:  # no boundary left: cut where the count fits
                cut = max_tokens * 3
                while cut > 1 and count_tokens(sent[:cut]) > max_tokens:
                    cut //= 2
                pieces.append(sent[:cut])
                sent = sent[cut:]
            pieces.append(sent + " ")
    chunks, current, size = [], "", 0
    for piece in pieces:
        n = count_tokens(piece)
        if current and size + n > max_tokens:
            chunks.append(current)
            current, size = "", 0
        current += piece
        size += n
    if current.strip():
        chunks.append(current)
    return chunks
