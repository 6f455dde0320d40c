"""The stored record: one compact, self-contained, versioned JSON line per memory (see docs/FORMAT.md).

Version 2 added the coded kinds, whose payload is binary (raw bytes in the binary container,
engine/codecs/container.py). Version 3 writes a coded record's JSON line in one field whose key is its kind and
profile reference (`"z1"`: lossless under registered profile 1) and whose value is the checksum and payload in
base 93; version 2 lines (`"v":2`, base85) still read. A record of a version-1 kind is still written as version 1,
so summary-mode output and its readers are unchanged.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import struct
import zlib
from dataclasses import dataclass, field

import zstandard

from engine.codecs import base93
from engine.codecs.profiles import reference, registered
from engine.errors import InputError

FORMAT_VERSION = 3
KINDS = {"l": "llm", "x": "extractive", "r": "raw", "e": "error", "z": "lossless", "k": "kept", "Z": "zstd"}
CODED = frozenset({"lossless", "kept", "zstd"})  # payload + checksum of the text they give back
MODEL_CODED = frozenset({"lossless", "kept"})  # decoding them needs the model named by their profile
_CODES = {v: k for k, v in KINDS.items()}
FACT_SEP = "; "
_CODED_KEY = re.compile(r"^([zkZ])([1-9][0-9]*)?$")  # version 3: kind, then the profile's registered number


def checksum(data: bytes) -> int:
    """CRC-32 of a text's UTF-8 bytes: what a coded record's decode must reproduce before it is returned."""
    return zlib.crc32(data) & 0xFFFFFFFF


@dataclass(slots=True)
class Record:
    """kind: llm (model summary + facts), extractive (no model), raw (text kept as is), error (input unusable),
    lossless (the text, arithmetic-coded under the model), kept (the text's most informative spans, coded the
    same way), zstd (the text, zstd-compressed: the fallback when no model can run)."""

    id: str
    kind: str
    summary: str = ""
    facts: list[str] = field(default_factory=list)
    text: str | None = None  # raw records only
    meta: dict = field(default_factory=dict)  # the input's other fields, kept untouched
    quality: float | None = None
    flagged: bool = False  # quality stayed under the threshold after the retry
    error: str | None = None
    line: int | None = None  # error records: the input line
    rung: str | None = None  # set when a fallback rung produced the record (engine/jobs/ladder.py)
    payload: bytes = b""  # coded kinds: the code (see engine/codecs/lossless/codec.py for its layout)
    checksum: int | None = None  # coded kinds: CRC-32 of the UTF-8 text decoding must give back
    profile: str | None = None  # model-coded kinds: the numerics profile the code was made under

    def __post_init__(self):
        if self.kind not in _CODES:
            raise ValueError(f"unknown record kind {self.kind!r}")

    @property
    def version(self) -> int:
        return FORMAT_VERSION if self.kind in CODED else 1

    def to_json(self) -> str:
        """The stored line, without its newline. Keys are one letter; empty fields are left out."""
        if self.kind in CODED:
            number = reference(self.profile) if self.profile else None
            d: dict = {"id": self.id, _CODES[self.kind] + (str(number) if number else ""):
                       base93.encode(struct.pack("<I", self.checksum) + self.payload)}
            if self.profile is not None and number is None:
                d["p"] = self.profile
        else:
            d = {"v": self.version, "id": self.id, "k": _CODES[self.kind]}
        if self.kind == "raw":
            d["t"] = self.text
        if self.summary:
            d["s"] = self.summary
        if self.facts:
            d["f"] = FACT_SEP.join(f.replace(";", ",") for f in self.facts)
        if self.meta:
            d["m"] = self.meta
        if self.quality is not None:
            d["q"] = round(self.quality, 2)
        if self.flagged:
            d["w"] = 1
        if self.rung is not None:
            d["r"] = self.rung
        if self.error is not None:
            d["err"] = self.error
            d["line"] = self.line
        return json.dumps(d, ensure_ascii=False, separators=(",", ":"))

    @property
    def stored_bytes(self) -> int:
        """What this record costs on disk: its line, newline included."""
        return len(self.to_json().encode("utf-8")) + 1

    @classmethod
    def from_json(cls, line: str, where: str = "record") -> "Record":
        try:
            d = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(d, dict):
            raise InputError(f"{where}: a record is a JSON object, got {type(d).__name__}")
        if "v" not in d:
            return cls._from_v3(d, where)
        if d.get("v") not in (1, 2):
            raise InputError(f"{where}: record format version {d.get('v')!r} is not supported (1 to {FORMAT_VERSION})")
        kind = KINDS.get(d.get("k"))
        if kind is None or (kind in CODED) != (d["v"] == 2):
            raise InputError(f"{where}: unknown record kind {d.get('k')!r} for format version {d['v']}")
        payload = b""
        if kind in CODED:
            if not isinstance(d.get("b"), str) or not isinstance(d.get("c"), int):
                raise InputError(f"{where}: a coded record needs its payload 'b' and checksum 'c'")
            try:
                payload = base64.b85decode(d["b"])
            except (ValueError, binascii.Error):
                raise InputError(f"{where}: payload 'b' is not base85") from None
        if kind == "raw" and not isinstance(d.get("t"), str):
            raise InputError(f"{where}: raw record without its text 't'")
        facts = d.get("f", "")
        if not isinstance(facts, str) or not isinstance(d.get("s", ""), str):
            raise InputError(f"{where}: 's' and 'f' must be strings")
        return cls(
            id=str(d.get("id", "")),
            kind=kind,
            summary=d.get("s", ""),
            facts=[f for f in facts.split(FACT_SEP) if f] if facts else [],
            text=d.get("t"),
            meta=d.get("m") or {},
            quality=d.get("q"),
            flagged=bool(d.get("w")),
            error=d.get("err"),
            line=d.get("line"),
            rung=d.get("r"),
            payload=payload,
            checksum=d.get("c"),
            profile=d.get("p"),
        )

    @classmethod
    def _from_v3(cls, d: dict, where: str) -> "Record":
        """A version-3 coded line: {"id", "<kind><profile number>": base93(u32 checksum + payload), ...}."""
        coded = [(k, m) for k in d if (m := _CODED_KEY.match(k))]
        if len(coded) != 1 or not isinstance(d[coded[0][0]], str):
            raise InputError(f"{where}: a record needs its version 'v', or (version 3) one coded field such as 'z1'")
        key, match = coded[0]
        profile = d.get("p")
        if match.group(2):
            try:
                profile = registered(int(match.group(2)))
            except ValueError as exc:
                raise InputError(f"{where}: {exc}") from None
        try:
            blob = base93.decode(d[key])
        except ValueError as exc:
            raise InputError(f"{where}: field {key!r} is not a coded payload ({exc})") from None
        if len(blob) < 4:
            raise InputError(f"{where}: field {key!r} is too short for its checksum")
        if profile is not None and not isinstance(profile, str):
            raise InputError(f"{where}: profile 'p' must be a string")
        return cls(id=str(d.get("id", "")), kind=KINDS[match.group(1)], meta=d.get("m") or {}, quality=d.get("q"),
                   flagged=bool(d.get("w")), rung=d.get("r"), payload=blob[4:],
                   checksum=struct.unpack("<I", blob[:4])[0], profile=profile)


class StoredError(ValueError):
    """An error record read back: its input line could not be stored, so there is no memory to give back."""


def zstd_text(rec: Record) -> str:
    """A zstd record's text; ValueError when the payload is corrupt or does not match its checksum."""
    try:
        data = zstandard.ZstdDecompressor().decompress(rec.payload)
    except zstandard.ZstdError as exc:
        raise ValueError(f"record {rec.id!r}: corrupt zstd payload ({exc})") from None
    if checksum(data) != rec.checksum:
        raise ValueError(f"record {rec.id!r}: the decompressed text does not match its checksum")
    return data.decode("utf-8")


def render(record: Record) -> str:
    """Readable text from a record alone: deterministic, no model. Coded kinds need their decoder (api.Engine);
    an error record raises StoredError, so a line that was never stored cannot pass for an empty memory."""
    if record.kind == "raw":
        return record.text or ""
    if record.kind == "error":
        raise StoredError(f"record {record.id!r} holds no memory: input line {record.line} was not stored "
                          f"({record.error})")
    if record.kind == "zstd":
        return zstd_text(record)
    if record.kind in CODED:
        raise ValueError(f"record {record.id!r} is {record.kind}-coded: decode it (Engine.reconstruct), not render")
    # One fact a line: measured on LoCoMo, it embeds closer to the original than one joined list.
    return "\n".join(([record.summary] if record.summary else []) + record.facts)
