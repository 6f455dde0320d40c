"""A pack's bytes (store format 3): its index, its streams' records, the texts a read kept hot.

A pack holds memories of one namespace in the order they were written, laid end to end in streams of at most
B tokens (a newline between two memories of a stream); a memory longer than B is cut at line boundaries into
passages, each in a stream of its own. Each stream is one lossless record, decoded as one lane, and only as
far as the memory a read needs: every part (a memory, a passage, a separator) was tokenized on its own, so the
index knows the tokens up to each part's end.

The index says, for each memory (a slot): its key (None once deleted: its bytes stay in its stream until the
stream is coded again), kind, fields, times, CRC-32 and whether it is searched; for each stream, its memories'
parts (a separator, SEPARATOR of separator_tokens tokens, between two of them); for each window (about
WINDOW_TOKENS of a stream, whole memories), the parts it covers: the pack row keeps one vector per window.
Columns are stored one after another in one zstd frame with its checksum, so a damaged index fails to open
instead of misplacing memories. Times are exact: float64 bit patterns, each created_at as the difference from
the one before and each updated_at from its created_at (a few bytes for memories written close together).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import zstandard

from engine.codecs import varint

INDEX_VERSION = 1
SEPARATOR = "\n"  # between two memories of a stream: the model reads them as lines
ZSTD_LEVEL = 19


@dataclass(slots=True)
class Entry:
    """One memory of a pack."""

    key: str | None  # None: deleted (a dead filler)
    kind: int
    fields: str | None
    created_at: float
    updated_at: float
    text_bytes: int  # the sum of its parts' bytes (not stored: the index's parts say it)
    crc: int  # of its UTF-8 text
    indexed: bool  # has a place in its windows' vectors


@dataclass(frozen=True, slots=True)
class Part:
    slot: int  # the entry whose text (or passage of it) this is
    num_bytes: int
    num_tokens: int


@dataclass(frozen=True, slots=True)
class Span:
    """Where one part of a memory lies: its stream, its bytes there, the tokens a read must decode to reach its end."""

    stream: int
    start: int
    end: int
    tokens: int


@dataclass(frozen=True, slots=True)
class Window:
    stream: int
    first: int  # parts [first, end) of the stream
    end: int


@dataclass  # not slotted: spans and slot_of are cached on it
class PackIndex:
    entries: list[Entry]
    streams: list[list[Part]]
    windows: list[Window] = field(default_factory=list)
    separator_tokens: int = 1

    @cached_property
    def spans(self) -> list[list[Span]]:
        """Each slot's spans, in text order."""
        out: list[list[Span]] = [[] for _ in self.entries]
        sep = len(SEPARATOR.encode())
        for s, parts in enumerate(self.streams):
            pos = tokens = 0
            for k, p in enumerate(parts):
                if k:
                    pos, tokens = pos + sep, tokens + self.separator_tokens
                tokens += p.num_tokens
                out[p.slot].append(Span(s, pos, pos + p.num_bytes, tokens))
                pos += p.num_bytes
        return out

    @cached_property
    def slot_of(self) -> dict[str, int]:
        """Live key -> its slot."""
        return {e.key: i for i, e in enumerate(self.entries) if e.key is not None}

    def window_slots(self, w: Window) -> list[int]:
        return list(dict.fromkeys(p.slot for p in self.streams[w.stream][w.first : w.end]))

    @property
    def num_tokens(self) -> int:
        return sum(self.stream_tokens(s) for s in range(len(self.streams)))

    def stream_tokens(self, s: int) -> int:
        parts = self.streams[s]
        return sum(p.num_tokens for p in parts) + self.separator_tokens * max(len(parts) - 1, 0)


def encode_index(index: PackIndex) -> bytes:
    n = len(index.entries)
    out = bytearray(varint.encode(INDEX_VERSION) + varint.encode(n))
    for e in index.entries:
        out += _text(e.key)
    out += bytes(e.kind for e in index.entries)
    out += bytes(e.indexed for e in index.entries)
    for e in index.entries:
        out += _text(e.fields)
    created = np.array([e.created_at for e in index.entries], "<f8").view("<i8")
    updated = np.array([e.updated_at for e in index.entries], "<f8").view("<i8")
    for d in np.diff(created, prepend=np.int64(0)):
        out += varint.encode(_zigzag(int(d)))
    for d in updated - created:
        out += varint.encode(_zigzag(int(d)))
    out += _shuffled(np.array([e.crc for e in index.entries], "<u4"))
    out += varint.encode(index.separator_tokens) + varint.encode(len(index.streams))
    last = 0
    for parts in index.streams:
        out += varint.encode(len(parts))
        for p in parts:  # slots only go up through a pack: each as the step from the one before
            out += varint.encode(p.slot - last) + varint.encode(p.num_bytes) + varint.encode(p.num_tokens)
            last = p.slot
    out += varint.encode(len(index.windows))
    for w in index.windows:
        out += varint.encode(w.stream) + varint.encode(w.first) + varint.encode(w.end - w.first)
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True).compress(bytes(out))


def decode_index(blob: bytes) -> PackIndex:
    """ValueError when the bytes are damaged or not an index this release reads."""
    try:
        data = zstandard.ZstdDecompressor().decompress(blob)
    except zstandard.ZstdError as exc:
        raise ValueError(f"its index is damaged ({exc})") from None
    r = _Reader(data)
    version = r.int()
    if version != INDEX_VERSION:
        raise ValueError(f"its index is version {version}; this release reads {INDEX_VERSION}")
    n = r.int()
    keys = [r.text() for _ in range(n)]
    kinds, indexed = r.raw(n), r.raw(n)
    fields = [r.text() for _ in range(n)]
    created = np.cumsum(np.array([_unzigzag(r.int()) for _ in range(n)], dtype=np.int64))
    updated = created + np.array([_unzigzag(r.int()) for _ in range(n)], dtype=np.int64)
    created_f, updated_f, crcs = created.view("<f8"), updated.view("<f8"), r.uints(n)
    separator_tokens = r.int()
    streams, last, sizes = [], 0, [0] * n
    for _ in range(r.int()):
        parts = []
        for _ in range(r.int()):
            last += r.int()
            if last >= n:
                raise ValueError("its index names a slot past its memories")
            parts.append(Part(last, r.int(), r.int()))
            sizes[last] += parts[-1].num_bytes
        streams.append(parts)
    windows = []
    for _ in range(r.int()):
        s, first = r.int(), r.int()
        windows.append(Window(s, first, first + r.int()))
    if not r.done():
        raise ValueError("its index has bytes past its end")
    entries = [Entry(keys[i], kinds[i], fields[i], float(created_f[i]), float(updated_f[i]), sizes[i], int(crcs[i]),
                     bool(indexed[i])) for i in range(n)]
    return PackIndex(entries, streams, windows, separator_tokens)


def encode_streams(records: list[bytes]) -> bytes:
    """The pack's body: its streams' records (container bytes), each with its length."""
    out = bytearray(varint.encode(len(records)))
    for rec in records:
        out += varint.encode(len(rec)) + rec
    return bytes(out)


def decode_streams(body: bytes) -> list[bytes]:
    r = _Reader(body)
    out = [r.raw(r.int()) for _ in range(r.int())]
    if not r.done():
        raise ValueError("its body has bytes past its streams")
    return out


def encode_kept(texts: dict[int, bytes]) -> bytes:
    """A pack's kept copy: the decoded bytes of each stream read so far (a prefix of it), zstd-framed."""
    out = bytearray(varint.encode(len(texts)))
    for s, data in sorted(texts.items()):
        out += varint.encode(s) + varint.encode(len(data)) + data
    return zstandard.ZstdCompressor(level=3, write_checksum=True).compress(bytes(out))


def decode_kept(blob: bytes) -> dict[int, bytes]:
    """{} for a damaged copy: the streams are still there to decode."""
    try:
        r = _Reader(zstandard.ZstdDecompressor().decompress(blob))
        out = {}
        for _ in range(r.int()):
            s = r.int()
            out[s] = r.raw(r.int())
        return out
    except (zstandard.ZstdError, ValueError):
        return {}


def _text(s: str | None) -> bytes:
    if s is None:
        return varint.encode(0)
    data = s.encode("utf-8")
    return varint.encode(len(data) + 1) + data


def _zigzag(d: int) -> int:
    return d * 2 if d >= 0 else -d * 2 - 1


def _unzigzag(z: int) -> int:
    return z >> 1 if not z & 1 else -((z + 1) >> 1)


def _shuffled(a: np.ndarray) -> bytes:
    """The array's bytes grouped by byte position (the high bytes of nearby times repeat: zstd finds them)."""
    return a.view(np.uint8).reshape(len(a), a.itemsize).T.tobytes()


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def int(self) -> int:
        value, self.pos = varint.decode(self.data, self.pos)
        return value

    def raw(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def text(self) -> str | None:
        n = self.int()
        return None if n == 0 else self.raw(n - 1).decode("utf-8")

    def uints(self, n: int) -> np.ndarray:
        return np.frombuffer(self.raw(4 * n), np.uint8).reshape(4, n).T.copy().view("<u4").reshape(n)

    def done(self) -> bool:
        return self.pos == len(self.data)
