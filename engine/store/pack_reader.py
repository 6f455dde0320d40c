"""Packed memories back to texts: each pack's needed streams decoded side by side, each only as far as needed.

A stream's bytes come from the pack's kept copy when a read decoded that far before, else from the model:
every stream any of the memories asked for needs is one lane of one decode call, cut at the last token the
furthest of them ends at. Each memory's text is checked against the CRC-32 its pack keeps for it: a damaged
stream fails its own memories, named, and nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.codecs.container import decode_record
from engine.codecs.record import checksum
from engine.store.pack_directory import Slot
from engine.store.pack_format import decode_kept, decode_streams, encode_kept
from engine.store.pack_sql import PackTable


@dataclass(slots=True)
class PackRead:
    texts: dict[int, str] = field(default_factory=dict)  # by the slot's index in the slots read
    bad: dict[int, str] = field(default_factory=dict)
    copies: dict[int, bytes] = field(default_factory=dict)  # pack id -> its new kept copy
    num_decoded: int = 0  # memories the model decoded (the others came from kept copies)


def read_slots(slots: list[Slot], indexes: dict, table: PackTable, decoder, profiles: list[str],
               where: str) -> PackRead:
    """The text of each slot (or why not). indexes: pack id -> PackIndex; decoder: a lossless engine, opened
    only when some stream must be decoded (a callable returning it)."""
    out = PackRead()
    bodies = table.bodies(sorted({s.pack_id for s in slots}))
    have: dict[int, dict[int, bytes]] = {}  # pack -> stream -> decoded bytes
    streams: dict[int, list[bytes] | str] = {}
    for pack_id, (body, kept) in bodies.items():
        have[pack_id] = decode_kept(kept) if kept is not None else {}
        try:
            if isinstance(body, ValueError):
                raise body
            streams[pack_id] = decode_streams(body)
        except ValueError as exc:
            streams[pack_id] = f"its pack {pack_id} is damaged ({exc})"
    want: dict[tuple[int, int], int] = {}  # (pack, stream) -> tokens to decode
    for n, s in enumerate(slots):
        if s.pack_id not in bodies:
            out.bad[n] = f"its pack {s.pack_id} is gone (rebuilt since it was listed: read it again)"
            continue
        index = indexes[s.pack_id]
        for span in spans_read(index, s):
            if len(have[s.pack_id].get(span.stream, b"")) < span.end:
                # one passage of several is checked by its whole stream's record (no CRC covers it alone)
                tokens = span.tokens if s.stream is None else index.stream_tokens(span.stream)
                want[(s.pack_id, span.stream)] = max(want.get((s.pack_id, span.stream), 0), tokens)
    jobs, records, failed = [], [], {}
    for (pack_id, stream), tokens in sorted(want.items()):
        found = streams[pack_id]
        try:
            if isinstance(found, str):
                raise ValueError(found)
            if stream >= len(found):
                raise ValueError(f"its pack {pack_id} has no stream {stream}")
            records.append(decode_record(f"pack {pack_id} stream {stream}", found[stream], profiles, where))
            jobs.append((pack_id, stream, tokens))
        except ValueError as exc:
            failed[(pack_id, stream)] = str(exc)
    if jobs:
        decoded = decoder().decode_prefixes(records, [t for _, _, t in jobs])
        for (pack_id, stream, _), data in zip(jobs, decoded):
            if isinstance(data, bytes):
                if len(data) > len(have[pack_id].get(stream, b"")):
                    have[pack_id][stream] = data
                    out.copies[pack_id] = b""  # rewritten below
            else:
                failed[(pack_id, stream)] = str(data)
    decoded_streams = {(p, s) for p, s, _ in jobs}
    for n, s in enumerate(slots):
        if n in out.bad:
            continue
        spans = spans_read(indexes[s.pack_id], s)
        whole = len(spans) == len(indexes[s.pack_id].spans[s.slot])
        why = next((failed[(s.pack_id, sp.stream)] for sp in spans if (s.pack_id, sp.stream) in failed), None)
        if why is not None:
            out.bad[n] = why
            continue
        data = b"".join(have[s.pack_id].get(sp.stream, b"")[sp.start : sp.end] for sp in spans)
        if whole and (len(data) != s.entry.text_bytes or checksum(data) != s.entry.crc):
            out.bad[n] = f"its text in pack {s.pack_id} does not match its checksum (a damaged pack)"
            continue
        try:
            out.texts[n] = data.decode("utf-8")
        except UnicodeDecodeError:
            out.bad[n] = f"its text in pack {s.pack_id} is not UTF-8 (a damaged pack)"
            continue
        out.num_decoded += any((s.pack_id, sp.stream) in decoded_streams for sp in spans)
    for pack_id in out.copies:
        out.copies[pack_id] = encode_kept(have[pack_id])
    return out


def spans_read(index, s: Slot) -> list:
    """The spans of a slot a read returns: all of them, or those of its one stream (a passage)."""
    spans = index.spans[s.slot]
    return spans if s.stream is None else [sp for sp in spans if sp.stream == s.stream]
