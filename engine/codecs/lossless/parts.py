"""Streams made of parts, and reads of a stream's first tokens: what a store's packs need from the lossless codec.

A pack's stream is several memories' texts end to end. Each part is tokenized on its own, so every part ends on
a token boundary and the number of tokens up to each part's end is known when it is coded: a read then decodes
the stream only as far as the part it needs (the arithmetic decoder stops after any token). The stream's record
is an ordinary lossless record (its checksum covers the whole stream); a read of a prefix is checked by its
caller, against the checksums it keeps for each part.
"""
from __future__ import annotations

import dataclasses

from engine.codecs.item import Item
from engine.codecs.lossless.codec import CODERS, LosslessCodec, unpack_payload
from engine.codecs.lossless.errors import DecodeError, ProfileRefused
from engine.codecs.lossless.profile import Profile, refusal
from engine.codecs.lossless.stream import decode_all
from engine.codecs.record import Record, checksum


def compress_parts(codec: LosslessCodec, streams: list[list[str]]) -> list[tuple[Record, list[int]]]:
    """For each stream (its parts in order): its record, and the number of tokens of each part.

    A part that cannot be coded exactly makes its stream's record an error record (kind "error")."""
    out: list[tuple[Record, list[int]] | None] = [None] * len(streams)
    todo, items, tokens, counts = [], [], [], []
    for i, parts in enumerate(streams):
        try:
            each = [codec.tokenizer.encode(p) for p in parts]
        except ValueError as exc:
            out[i] = (Record(str(i), "error", error=f"stream {i}: cannot be coded exactly ({exc})"), [])
            continue
        todo.append(i)
        items.append(Item(str(i), "".join(parts)))
        tokens.append([t for part in each for t in part])
        counts.append([len(t) for t in each])
    for i, rec, n in zip(todo, codec.compress(items, tokens=tokens), counts):
        out[i] = (rec, n)
    return out  # type: ignore[return-value]


def decode_prefixes(codec: LosslessCodec, records: list[Record], num_tokens: list[int]) -> list[bytes | DecodeError]:
    """The bytes of each record's first num_tokens tokens (or more: a record of another regime decodes whole, in
    its own process), or the DecodeError naming it. Prefixes decode together, one lane each."""
    out: list[bytes | DecodeError | None] = [None] * len(records)
    jobs: list[tuple[int, str, int, bytes]] = []  # (record, coder, tokens wanted of a segment, its code)
    whole: list[int] = []
    for i, (rec, want) in enumerate(zip(records, num_tokens)):
        theirs = _parsed(rec.profile)
        known = theirs is not None and theirs.coder in CODERS
        here = dataclasses.replace(codec.profile, coder=theirs.coder) if known else codec.profile
        if known and theirs.regime != codec.regime.id:
            whole.append(i)  # decompress knows how to run another regime's records
            continue
        why = refusal(rec.profile, here)
        if why is not None:
            out[i] = ProfileRefused(f"record {rec.id!r} cannot be decoded by this engine: {why}")
            continue
        try:
            segments = unpack_payload(rec.payload)
        except ValueError as exc:
            out[i] = DecodeError(f"record {rec.id!r}: corrupt payload ({exc})")
            continue
        if any(n > codec.segment_tokens for n, _ in segments):
            out[i] = DecodeError(f"record {rec.id!r}: corrupt payload (a segment of more than {codec.segment_tokens} "
                                 f"tokens)")
            continue
        for n, code in segments:  # segments are independent streams: only those the prefix reaches are decoded
            if want <= 0:
                break
            jobs.append((i, here.coder, min(n, want), code))
            want -= n
    pieces: dict[int, list[bytes]] = {}
    for coder in CODERS:
        mine = [j for j in jobs if j[1] == coder]
        if mine:
            for (i, *_), tokens in zip(mine, decode_all(codec.primed, [(n, c) for _, _, n, c in mine],
                                                         codec.coding(coder))):
                pieces.setdefault(i, []).append(codec.tokenizer.pieces(tokens))
    for i, parts in pieces.items():
        data = b"".join(parts)
        read_to_end = num_tokens[i] >= sum(n for n, _ in unpack_payload(records[i].payload))
        if read_to_end and checksum(data) != records[i].checksum:  # read to its end: the record's own check applies
            out[i] = DecodeError(f"record {records[i].id!r}: the decoded text does not match its checksum")
        else:
            out[i] = data
    if whole:
        for i, text in zip(whole, codec.decompress([records[i] for i in whole])):
            out[i] = text.encode("utf-8") if isinstance(text, str) else text
    return [b"" if o is None else o for o in out]  # None: nothing was wanted of it  # type: ignore[return-value]


def _parsed(profile: str | None) -> Profile | None:
    try:
        return Profile.parse(profile)
    except ValueError:
        return None
