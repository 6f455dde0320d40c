"""How memories are laid out in a pack's streams and windows (no model, no database: token counts in, layout out).

Memories go end to end in the order given, a separator between two of a stream, a new stream when the next one
would pass the pack size B; a memory longer than B is cut at line boundaries into passages of at most B tokens
(a single line longer than B is a passage of its own), each in a stream of its own. A stream's windows are
runs of whole parts of about WINDOW_TOKENS, each searched by one vector.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.store.pack_format import SEPARATOR, Window

# Measured on LoCoMo dev (bench/bench_pack_size.py, bench_pack_vectors.py): 256-token packs code 8.04x (512: 9.08x)
# and a read decodes at most 256 steps (about 3.5 s alone on 2 cores); 128-token windows searched by one vector each
# found an evidence turn more often than a vector per turn (50.8% against 42.4% at k = 5).
SEPARATOR_SLOT = -1  # a planned part that is the separator between two memories (the index leaves it implicit)
PACK_TOKENS = 256
MIN_PACK_TOKENS = 16
MAX_PACK_TOKENS = 1536  # a stream's room in a lossless segment (regime r2's 2,048 cells less priming and a chunk)
WINDOW_TOKENS = 128


@dataclass(frozen=True, slots=True)
class Planned:
    slot: int  # SEPARATOR_SLOT for a separator
    text: str
    tokens: int


def plan_streams(texts: list[str], counts: list[int], line_counts, separator_tokens: int,
                 pack_tokens: int = PACK_TOKENS) -> list[list[Planned]]:
    """Streams of parts for the memories texts (slot i is texts[i]); counts: each text's tokens;
    line_counts(lines) -> each line's tokens, asked only for memories longer than pack_tokens."""
    streams: list[list[Planned]] = []
    current: list[Planned] = []
    used = 0
    for slot, (text, n) in enumerate(zip(texts, counts)):
        if n > pack_tokens:
            if current:
                streams.append(current)
                current, used = [], 0
            streams += [[Planned(slot, p, k)] for p, k in _passages(text, line_counts, pack_tokens)]
            continue
        if current and used + separator_tokens + n > pack_tokens:
            streams.append(current)
            current, used = [], 0
        if current:
            current.append(Planned(SEPARATOR_SLOT, SEPARATOR, separator_tokens))
            used += separator_tokens
        current.append(Planned(slot, text, n))
        used += n
    if current:
        streams.append(current)
    return streams


def _passages(text: str, line_counts, pack_tokens: int) -> list[tuple[str, int]]:
    lines = text.splitlines(keepends=True)
    out, current, used = [], [], 0
    for line, n in zip(lines, line_counts(lines)):
        if current and used + n > pack_tokens:
            out.append(("".join(current), used))
            current, used = [], 0
        current.append(line)
        used += n
    if current:
        out.append(("".join(current), used))
    return out


def plan_windows(stream: int, parts: list[tuple[int, int]], window_tokens: int = WINDOW_TOKENS) -> list[Window]:
    """Windows over one stream's memory parts ((slot, tokens) each, separators left out): runs of whole parts of
    about window_tokens."""
    out = []
    first, used = None, 0
    for k, (slot, n) in enumerate(parts):
        if first is not None and used + n > window_tokens:
            out.append(Window(stream, first, k))
            first, used = None, 0
        if first is None:
            first = k
        used += n
    if first is not None:
        out.append(Window(stream, first, len(parts)))
    return out
