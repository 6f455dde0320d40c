"""The stored record: one compact, self-contained, versioned JSON line per memory (see docs/FORMAT.md)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from engine.errors import InputError

FORMAT_VERSION = 1
KINDS = {"l": "llm", "x": "extractive", "r": "raw", "e": "error"}
_CODES = {v: k for k, v in KINDS.items()}
FACT_SEP = "; "


@dataclass(slots=True)
class Record:
    """kind: llm (model summary + facts), extractive (no model), raw (text kept as is), error (input unusable)."""

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

    def __post_init__(self):
        if self.kind not in _CODES:
            raise ValueError(f"unknown record kind {self.kind!r}")

    def to_json(self) -> str:
        """The stored line, without its newline. Keys are one letter; empty fields are left out."""
        d: dict = {"v": FORMAT_VERSION, "id": self.id, "k": _CODES[self.kind]}
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
        if d.get("v") != FORMAT_VERSION:
            raise InputError(f"{where}: record format version {d.get('v')!r} is not supported (expected {FORMAT_VERSION})")
        kind = KINDS.get(d.get("k"))
        if kind is None:
            raise InputError(f"{where}: unknown record kind {d.get('k')!r}")
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
        )


def render(record: Record) -> str:
    """Readable text from a record alone: deterministic, no model."""
    if record.kind == "raw":
        return record.text or ""
    if record.kind == "error":
        return ""
    # One fact a line: measured on LoCoMo, it embeds closer to the original than one joined list.
    return "\n".join(([record.summary] if record.summary else []) + record.facts)
