"""The binary record container (.szr): records as raw bytes, an index by id, random access to any record.

    file   = MAGIC header record* index footer
    header = varint(n) JSON(n)       {"profiles": [...]}: the numerics profiles coded records refer to
    record = head [profile] [checksum] [meta] [rung] [quality] body
    index  = (varint(len id) id varint(len record))* in record order
    footer = u64 offset of the index, u64 number of records, b"SZRi"

head's low 3 bits are the kind (its place in record.KINDS), the others say which optional fields
follow. Coded kinds carry a little-endian u32 checksum and, unless it is the header's first, a varint
profile index, and their body is the payload; the other kinds' body is their JSON line's fields. Against JSON lines the payload saves base85's 25% and each record its
keys and id quoting (bench/HISTORY.md has the measured difference).
"""
from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from engine.codecs import varint
from engine.codecs.record import _CODES, CODED, KINDS, MODEL_CODED, Record
from engine.errors import InputError

MAGIC = b"SZR2"
FOOTER = struct.Struct("<QQ4s")
FOOTER_MAGIC = b"SZRi"
_KIND_CODES = list(KINDS)  # a kind's place in this list is the low 3 bits of a record's first byte
_META, _FLAGGED, _QUALITY, _RUNG, _PROFILE = 8, 16, 32, 64, 128


def is_container(path: str | Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


def encode_record(rec: Record, profiles: dict[str, int]) -> bytes:
    """A record's bytes in the container (its id lives in the index); profiles: profile -> index, grown here."""
    if rec.kind in MODEL_CODED and not rec.profile:
        raise ValueError(f"record {rec.id!r} is {rec.kind}-coded but names no numerics profile")
    profile = profiles.setdefault(rec.profile, len(profiles)) if rec.kind in MODEL_CODED else 0
    head = _KIND_CODES.index(_CODES[rec.kind]) | (_META if rec.meta else 0) | (_FLAGGED if rec.flagged else 0)
    head |= (_QUALITY if rec.quality is not None else 0) | (_RUNG if rec.rung else 0) | (_PROFILE if profile else 0)
    out = bytearray([head])
    if profile:
        out += varint.encode(profile)
    if rec.kind in CODED:
        out += struct.pack("<I", rec.checksum)
    for present, field in ((rec.meta, json.dumps(rec.meta, ensure_ascii=False, separators=(",", ":")).encode()),
                           (rec.rung, (rec.rung or "").encode())):
        if present:
            out += varint.encode(len(field)) + field
    if rec.quality is not None:
        out.append(round(rec.quality * 100))
    if rec.kind in CODED:
        out += rec.payload
    else:
        d = json.loads(rec.to_json())
        for key in ("v", "id", "k", "m", "q", "w", "r"):
            d.pop(key, None)
        out += json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode()
    return bytes(out)


def decode_record(ident: str, data: bytes, profiles: list[str], where: str) -> Record:
    try:
        flags, pos = data[0], 1
        kind = KINDS[_KIND_CODES[flags & 7]]
        rec = Record(ident, kind)
        index = 0
        if flags & _PROFILE:
            index, pos = varint.decode(data, pos)
        if kind in MODEL_CODED:
            rec.profile = profiles[index]
        if kind in CODED:
            (rec.checksum,) = struct.unpack_from("<I", data, pos)
            pos += 4
        if flags & _META:
            n, pos = varint.decode(data, pos)
            rec.meta = json.loads(data[pos : pos + n])
            pos += n
        if flags & _RUNG:
            n, pos = varint.decode(data, pos)
            rec.rung = data[pos : pos + n].decode()
            pos += n
        if flags & _QUALITY:
            rec.quality = data[pos] / 100
            pos += 1
        rec.flagged = bool(flags & _FLAGGED)
        if kind in CODED:
            rec.payload = data[pos:]
            return rec
        body = json.loads(data[pos:])
    except (IndexError, KeyError, ValueError, struct.error, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: record {ident!r} is corrupt ({exc})") from None
    line = json.dumps({"v": 1, "id": ident, "k": _CODES[kind], **body}, ensure_ascii=False)
    full = Record.from_json(line, where=where)
    full.meta, full.quality, full.flagged, full.rung = rec.meta, rec.quality, rec.flagged, rec.rung
    return full


def write_container(path: str, records: Iterable[Record]) -> list[int]:
    """Write records to path (atomically: path + ".tmp", then rename); returns each record's stored bytes
    (its body and its index entry; the header and footer are the file's, counted in its size)."""
    profiles: dict[str, int] = {}
    bodies = [(rec.id, encode_record(rec, profiles)) for rec in records]
    header = json.dumps({"profiles": sorted(profiles, key=profiles.get)}, separators=(",", ":")).encode()
    index = bytearray()
    sizes = []
    for ident, body in bodies:
        entry = varint.encode(len(ident.encode())) + ident.encode() + varint.encode(len(body))
        index += entry
        sizes.append(len(body) + len(entry))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(MAGIC + varint.encode(len(header)) + header)
        for _, body in bodies:
            f.write(body)
        offset = f.tell()
        f.write(index)
        f.write(FOOTER.pack(offset, len(bodies), FOOTER_MAGIC))
    Path(tmp).replace(path)
    return sizes


def record_size(rec: Record) -> int:
    """Bytes rec takes in a container: body plus index entry (its profile the header's first)."""
    body = len(encode_record(rec, {rec.profile: 0} if rec.profile else {}))
    ident = len(rec.id.encode())
    return body + len(varint.encode(ident)) + ident + len(varint.encode(body))


class Container:
    """Random access to a container's records by id; only the index and the asked-for records are read."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        with open(self.path, "rb") as f:
            data_head = f.read(4)
            if data_head != MAGIC:
                raise InputError(f"{self.path} is not a semzip container (starts with {data_head!r})")
            f.seek(0, 2)
            size = f.tell()
            if size < 4 + FOOTER.size:
                raise InputError(f"{self.path} is truncated ({size} bytes)")
            f.seek(size - FOOTER.size)
            offset, count, magic = FOOTER.unpack(f.read(FOOTER.size))
            if magic != FOOTER_MAGIC or offset > size - FOOTER.size:
                raise InputError(f"{self.path} is truncated or corrupt: no index footer at its end")
            f.seek(4)
            head = f.read(min(offset, 1 << 20))
            try:
                n, pos = varint.decode(head)
                self.profiles = json.loads(head[pos : pos + n])["profiles"]
            except (ValueError, KeyError) as exc:
                raise InputError(f"{self.path}: corrupt header ({exc})") from None
            f.seek(offset)
            index = f.read(size - FOOTER.size - offset)
        self.entries: list[tuple[str, int, int]] = []  # id, offset, length
        where, pos = 4 + pos + n, 0
        try:
            for _ in range(count):
                k, pos = varint.decode(index, pos)
                ident = index[pos : pos + k].decode()
                pos += k
                length, pos = varint.decode(index, pos)
                self.entries.append((ident, where, length))
                where += length
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{self.path}: corrupt index ({exc})") from None
        if where != offset:
            raise InputError(f"{self.path}: the index does not add up to the records section (corrupt file)")
        self._by_id: dict[str, int] = {}
        for i, (ident, _, _) in enumerate(self.entries):
            self._by_id.setdefault(ident, i)  # ids need not be unique: get() returns the first

    def __len__(self) -> int:
        return len(self.entries)

    def read(self, i: int) -> Record:
        ident, offset, length = self.entries[i]
        with open(self.path, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        return decode_record(ident, data, self.profiles, f"{self.path} record {i + 1}")

    def get(self, ident: str) -> Record:
        if ident not in self._by_id:
            raise InputError(f"{self.path} has no record with id {ident!r}")
        return self.read(self._by_id[ident])

    def __iter__(self) -> Iterator[Record]:
        with open(self.path, "rb") as f:
            for i, (ident, offset, length) in enumerate(self.entries):
                f.seek(offset)
                yield decode_record(ident, f.read(length), self.profiles, f"{self.path} record {i + 1}")
