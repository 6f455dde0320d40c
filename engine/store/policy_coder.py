"""The store's bridge to the engines: a namespace's policy picks an engine, texts become record bytes and back.

One engine batch per call, raw where coding would not pay.

A policy is a mode and a ratio (and, for the packed lossless policy, a pack size). lossless (the default) keeps the exact text; zstd keeps it without a model;
raw keeps it as is; summary, and lossless with a ratio, are lossy and apply to text values only: a JSON value
under a lossy policy is stored zstd, so it always loads back equal.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from engine.codecs.container import decode_record, encode_record
from engine.codecs.item import Item
from engine.codecs.record import MODEL_CODED, Record, render
from engine.codecs.zstd import zstd_record
from engine.store.errors import InvalidMemoryError
from engine.store.pack_plan import MAX_PACK_TOKENS, MIN_PACK_TOKENS

POLICY_MODES = ("lossless", "summary", "zstd", "raw")


@dataclass(frozen=True, slots=True)
class Policy:
    mode: str = "lossless"
    ratio: float | None = None
    # The pack size B of the namespace's packs (None: the store's). Not part of spec: a row's coding is its
    # mode and ratio; B is read from its namespace's policy when it is packed.
    pack_tokens: int | None = field(default=None, compare=False)

    def __post_init__(self):
        if self.mode not in POLICY_MODES:
            raise InvalidMemoryError(f"store mode must be one of {', '.join(POLICY_MODES)}, got {self.mode!r}")
        if self.ratio is not None and (self.mode != "lossless" and self.mode != "summary" or self.ratio <= 1):
            raise InvalidMemoryError(f"a ratio ({self.ratio}) is above 1 and for the lossless or summary mode")
        if self.pack_tokens is not None and not (isinstance(self.pack_tokens, int) and
                                                 MIN_PACK_TOKENS <= self.pack_tokens <= MAX_PACK_TOKENS):
            raise InvalidMemoryError(f"pack_tokens: {MIN_PACK_TOKENS} to {MAX_PACK_TOKENS} tokens, got "
                                     f"{self.pack_tokens!r}")
        if self.pack_tokens is not None and not self.packs:
            raise InvalidMemoryError(f"pack_tokens is for the packed policy (lossless, no ratio), not {self.spec!r}")

    @property
    def packs(self) -> bool:
        """Its memories (those with no TTL) are packed: the default lossless policy; the others are coded alone."""
        return self.mode == "lossless" and self.ratio is None

    @property
    def spec(self) -> str:
        """"mode" or "mode:ratio", as a hot row keeps it for its compaction."""
        return self.mode if self.ratio is None else f"{self.mode}:{self.ratio!r}"

    @classmethod
    def parse(cls, spec: str) -> "Policy":
        mode, _, ratio = spec.partition(":")
        return cls(mode, float(ratio) if ratio else None)

    @property
    def is_exact(self) -> bool:
        return self.mode in ("zstd", "raw") or (self.mode == "lossless" and self.ratio is None)


class Policies:
    """The store's default policy and one per namespace prefix (the longest matching prefix wins)."""

    def __init__(self, default: Policy, by_prefix: dict[tuple[str, ...], Policy]):
        self.default, self.by_prefix = default, by_prefix

    def of(self, namespace: tuple[str, ...]) -> Policy:
        """The coding policy of a namespace: that of its longest configured prefix, else the default."""
        best = max((p for p in self.by_prefix if namespace[: len(p)] == p), key=len, default=None)
        return self.by_prefix[best] if best is not None else self.default


class PolicyCoder:
    """Holds the engines (one per model mode and ratio, opened on first use) and codes with them."""

    def __init__(self, engine=None, engine_ratio: float | None = None, open_engine=None):
        self._engines: dict[tuple[str, float | None], object] = {}
        if engine is not None:
            self._engines[(engine.mode, engine_ratio)] = engine
        self._own: list = []  # engines this coder opened, closed with it
        self._open = open_engine or _open_engine
        self._lock = threading.Lock()

    def engine(self, mode: str, ratio: float | None):
        with self._lock:
            if (mode, ratio) not in self._engines:
                self._engines[(mode, ratio)] = engine = self._open(mode, ratio)
                self._own.append(engine)
            return self._engines[(mode, ratio)]

    def decoder(self):
        """A lossless engine (any ratio: kept records decode the same way), opened if none is."""
        with self._lock:
            found = [e for (mode, _), e in self._engines.items() if mode == "lossless"]
        return found[0] if found else self.engine("lossless", None)

    def encode(self, texts: list[str], policies: list[Policy], is_json: list[bool], pace=None) -> list[Record]:
        """One record per text; the model-coded ones of a policy go to its engine as one batch (with pace: exactly
        this batch, pace() called between the model's steps: it may wait, or raise to stop the batch)."""
        records: list[Record | None] = [None] * len(texts)
        batches: dict[Policy, list[int]] = {}
        for i, (text, policy, js) in enumerate(zip(texts, policies, is_json)):
            if js and not policy.is_exact:
                policy = Policy("zstd")
            if policy.mode == "raw" or not text:
                records[i] = Record(str(i), "raw", text=text)
            elif policy.mode == "zstd":
                records[i] = zstd_record(Item(str(i), text))
            else:
                batches.setdefault(policy, []).append(i)
        for policy, idx in batches.items():
            engine, items = self.engine(policy.mode, policy.ratio), [Item(str(i), texts[i]) for i in idx]
            coded = engine.compress(items) if pace is None else engine.compress_direct(items, pace=pace)
            for i, rec in zip(idx, coded):
                records[i] = rec
        for i, rec in enumerate(records):
            rec.meta, rec.flagged = {}, False  # the store keeps metadata in its own column
            raw = Record(str(i), "raw", text=texts[i])
            if rec.kind == "error" or len(encode_record(rec, {rec.profile: 0})) >= len(encode_record(raw, {})):
                records[i] = raw
        return records  # type: ignore[return-value]

    def decode(self, bodies: list[tuple[str, bytes]], profiles: list[str],
               where: str) -> tuple[list[str | ValueError], set[int]]:
        """(the text of each (key, body) or the ValueError saying why not, the indices the model decoded); each
        record is parsed once, the model-coded ones decoded together."""
        records: list[Record | ValueError] = []
        for key, body in bodies:
            try:
                records.append(decode_record(key, body, profiles, where))
            except ValueError as exc:
                records.append(exc)
        out: list[str | ValueError] = list(records)  # type: ignore[arg-type]
        coded = [i for i, r in enumerate(records) if isinstance(r, Record) and r.kind in MODEL_CODED]
        if coded:
            for i, text in zip(coded, self.decoder().decode([records[i] for i in coded])):
                out[i] = text
        for i, rec in enumerate(records):
            if isinstance(rec, Record) and rec.kind not in MODEL_CODED:
                try:
                    out[i] = render(rec)
                except ValueError as exc:
                    out[i] = exc
        return out, set(coded)

    def forget(self, bodies: list[bytes], profiles: list[str], where: str) -> None:
        """Drop these records' texts from every engine's decoded-text cache (their memories were deleted)."""
        with self._lock:
            engines = list(self._engines.values())
        for body in bodies:
            try:
                rec = decode_record("", body, profiles, where)
            except ValueError:
                continue
            if rec.kind in MODEL_CODED:
                for engine in engines:
                    engine.read_cache.forget(rec)

    def forget_all(self) -> None:
        """Drop every engine's decoded texts."""
        with self._lock:
            engines = list(self._engines.values())
        for engine in engines:
            engine.read_cache.clear()

    def is_waited_on(self) -> bool:
        """True while a caller waits for one of these engines' model (a compaction batch then yields to it)."""
        with self._lock:
            engines = list(self._engines.values())
        return any(getattr(e, "num_waiting", 0) for e in engines)

    def close(self) -> None:
        for engine in self._own:
            engine.close()
        self._own.clear()


def _open_engine(mode: str, ratio: float | None):
    from engine.api import Engine

    return Engine(mode=mode, ratio=ratio)
