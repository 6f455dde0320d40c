"""The stored record: one compact, self-contained, versioned JSON line per memory (see docs/FORMAT.md).

Version 2 adds the coded kinds, whose payload is binary (base85 in a JSON line, raw bytes in the
binary container, engine/codecs/container.py). A record of a version-1 kind is still written as
version 1, so summary-mode output and its readers are unchanged.
"""
from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass, field

from engine.errors import InputError

FORMAT_VERSION = 2
KINDS = {"l": "llm", "x": "extractive", "r": "raw", "e": "error", "z": "lossless", "k": "kept", "Z": "zstd"}
CODED = frozenset({"lossless", "kept", "zstd"})  # payload + checksum of the text they give back
MODEL_CODED = frozenset({"lossless", "kept"})  # decoding them needs the model named by their profile
_CODES = {v: k for k, v in KINDS.items()}
FACT_SEP = "; "


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
        return 2 if self.kind in CODED else 1

    def to_json(self) -> str:
        """The stored line, without its newline. Keys are one letter; empty fields are left out."""
        d: dict = {"v": self.version, "id": self.id, "k": _CODES[self.kind]}
        if self.kind in CODED:
            if self.profile is not None:
                d["p"] = self.profile
            d["c"] = self.checksum
            d["b"] = base64.b85encode(self.payload).decode("ascii")
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
        if d.get("v") not in (1, FORMAT_VERSION):
            raise InputError(f"{where}: record format version {d.get('v')!r} is not supported (1 or {FORMAT_VERSION})")
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


def render(record: Record) -> str:
    """Readable text from a record alone: deterministic, no model. Coded kinds need their decoder (api.Engine)."""
    if record.kind == "raw":
        return record.text or ""
    if record.kind == "error":
        return ""
    if record.kind == "zstd":
        from engine.codecs.zstd import zstd_text  # imports this module

        return zstd_text(record)
    if record.kind in CODED:
        raise ValueError(f"record {record.id!r} is {record.kind}-coded: decode it (Engine.reconstruct), not render")
    # One fact a line: measured on LoCoMo, it embeds closer to the original than one joined list.
    return "\n".join(([record.summary] if record.summary else []) + record.facts)
