"""The lossless codec: memories in, lossless records out, and back; exact text through the model's arithmetic code.

A record's payload is, per segment, varint(tokens * 2 + 1 if another segment follows) and, for all but
the last, varint(code bytes), then the code. Texts longer than one KV stream holds are cut into segments,
each coded after the priming text on its own. The record's checksum is the CRC-32 of the UTF-8 text:
a decode that does not reproduce it becomes an error naming the record, never wrong text.
"""
from __future__ import annotations

import dataclasses
import time

from engine.codecs import varint
from engine.codecs.events import ItemDone, OnItemDone, ignore
from engine.codecs.item import Item
from engine.codecs.lossless import legacy, shortlist
from engine.codecs.lossless.arithmetic import CODER_ID as LOGITS_CODER
from engine.codecs.lossless.arithmetic import CODERS as LOGITS_CODERS
from engine.codecs.lossless.arithmetic import numpy_targets_beyond_x86_64_v3
from engine.codecs.lossless.errors import DecodeError, ProfileRefused
from engine.codecs.lossless.priming import PRIMING_TEXT
from engine.codecs.lossless.profile import PORTABLE_KERNELS, Profile, refusal
from engine.codecs.lossless.regime import KERNEL_ENV, Regime
from engine.codecs.lossless.step_coding import LogitsCoding, ShortlistCoding
from engine.codecs.lossless.stream import PrimedRunner, decode_all, encode_all
from engine.codecs.lossless.tokens import ExactTokenizer
from engine.codecs.record import Record, checksum


def _parsed(profile: str | None) -> Profile | None:
    try:
        return Profile.parse(profile)
    except ValueError:
        return None


def pack_payload(segments: list[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    for i, (num_tokens, code) in enumerate(segments):
        more = i < len(segments) - 1
        out += varint.encode(num_tokens * 2 + more)
        if more:
            out += varint.encode(len(code))
        out += code
    return bytes(out)


def unpack_payload(payload: bytes) -> list[tuple[int, bytes]]:
    segments, pos, more = [], 0, True
    while more:
        head, pos = varint.decode(payload, pos)
        num_tokens, more = head >> 1, bool(head & 1)
        size = len(payload) - pos
        if more:
            size, pos = varint.decode(payload, pos)
        if pos + size > len(payload):
            raise ValueError("payload is truncated")
        segments.append((num_tokens, payload[pos : pos + size]))
        pos += size
    return segments


CODERS = (*LOGITS_CODERS, shortlist.CODER_ID)  # every coder this release decodes


def default_coder(model_sha: str) -> str:
    """s1 for a model this release ships a shortlist for, c2 (the whole vocabulary's logits) for any other."""
    return shortlist.CODER_ID if shortlist.has_shortlist(model_sha) else LOGITS_CODER


class LosslessCodec:
    """Codes many memories at once over one runner built with Regime.runner_config."""

    def __init__(self, runner, model_sha: str, kernels: str = PORTABLE_KERNELS, regime: Regime = Regime(),
                 lane_tokens: int | None = None, coder: str | None = None):
        """kernels: the numerics profile's name for what runs the model (cpu-x86-64-v3, or a GPU's).
        lane_tokens: cut memories longer than this into about that many tokens per segment (lanes).
        coder: the coder new records are made with, default_coder's by default (an older one only to write its
        records for tests and benches)."""
        coder = coder or default_coder(model_sha)
        if coder not in CODERS:
            raise ValueError(f"unknown coder {coder!r} (known: {', '.join(CODERS)})")
        if coder == shortlist.CODER_ID and not shortlist.has_shortlist(model_sha):
            raise ValueError(f"coder s1 needs a shortlist for the model, and this release ships none for {model_sha[:16]}")
        self.runner = runner
        self.model_sha = model_sha
        self._codings: dict = {}
        self.regime = regime
        self.tokenizer = ExactTokenizer(runner.model)
        prime = runner.model.tokenize(PRIMING_TEXT, add_special=True, parse_special=False)
        self.primed = PrimedRunner(runner, regime, prime)
        self.profile = Profile(model_sha, kernels, regime.id, coder=coder)
        self.config = regime  # what the batch processor's cache keys and resume checks fingerprint
        # Room in a stream after the priming text, less a chunk of padding at the end of a prefill.
        self.segment_tokens = regime.stream_tokens - len(prime) - regime.max_rows_per_stream - 1
        self.lane_tokens = lane_tokens

    def coding(self, coder: str):
        """The coding object of one coder over this codec's primed runner (made once)."""
        if coder not in self._codings:
            if coder == shortlist.CODER_ID:
                if not self.primed.captures:
                    raise ValueError("coder s1 needs a runner that captures hidden states (Regime.runner_config)")
                model = shortlist.ShortlistModel(self.runner.model.path, self.model_sha)
                self._codings[coder] = ShortlistCoding(self.primed, model)
            else:
                self._codings[coder] = LogitsCoding(self.primed, coder)
        return self._codings[coder]

    def segments(self, tokens: list[int]) -> list[list[int]]:
        """Balanced pieces of at most segment_tokens (a KV stream's room) and, with lane_tokens, of about that
        many: a record's segments decode as parallel streams, so k of them read back in 1/k of the steps."""
        n = len(tokens)
        k = max(-(-n // self.segment_tokens), -(-n // self.lane_tokens) if self.lane_tokens else 1, 1)
        bounds = [n * i // k for i in range(k + 1)]
        return [tokens[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def compress(self, items: list[Item], on_done: OnItemDone = ignore, with_bits: bool = False,
                 tokens: list[list[int]] | None = None):
        """One record per item, in order (with_bits: also each item's per-token surprisal, for the ratio knob).

        on_done fires for each item the moment its last segment is coded (memories finish in any order).
        tokens: each item's tokens, already made (parts.py tokenizes a pack's parts one by one).
        """
        t0 = time.perf_counter()
        records: list[Record | None] = [None] * len(items)
        jobs: list[tuple[int, list[int]]] = []
        for i, item in enumerate(items):
            try:
                data = item.text.encode("utf-8")
                item_tokens = tokens[i] if tokens is not None else self.tokenizer.encode(item.text)
            except (UnicodeEncodeError, ValueError) as exc:
                records[i] = Record(item.id, "error", error=f"{item.id}: cannot be coded exactly ({exc})",
                                    line=item.line, meta=item.meta)
                on_done(ItemDone(i, records[i], None))
                continue
            records[i] = Record(item.id, "lossless", checksum=checksum(data), profile=self.profile.key, meta=item.meta)
            jobs += [(i, seg) for seg in self.segments(item_tokens)]
        parts: dict[int, list] = {}  # item -> its segments' (tokens, code, bits), filled as streams finish
        place = []  # job -> its position among its item's segments
        for i, _ in jobs:
            parts.setdefault(i, []).append(None)
            place.append(len(parts[i]) - 1)
        surprisal: list[list[float]] = [[] for _ in items]

        def stream_done(j: int, code: bytes, bits: list[float]) -> None:
            i, seg = jobs[j]
            parts[i][place[j]] = (len(seg), code, bits)
            if all(p is not None for p in parts[i]):
                records[i].payload = pack_payload([(n, c) for n, c, _ in parts[i]])
                surprisal[i] = [x for _, _, b in parts[i] for x in b]
                num_tokens = sum(n for n, _, _ in parts[i])
                on_done(ItemDone(i, records[i], time.perf_counter() - t0, num_tokens, 0))

        encode_all(self.primed, [seg for _, seg in jobs], self.coding(self.profile.coder), with_bits,
                   on_stream=stream_done)
        return (records, surprisal) if with_bits else records

    def decompress(self, records: list[Record]) -> list[str | DecodeError]:
        """The text of each record, or a DecodeError naming it; records decode together, each only once."""
        out: list[str | DecodeError | None] = [None] * len(records)
        jobs: list[tuple[int, tuple[str, int, bytes]]] = []  # record -> (its coder, a segment's tokens and code)
        elsewhere: dict[str, list[int]] = {}  # another regime this release knows -> its records (legacy.py)
        for i, rec in enumerate(records):
            theirs = _parsed(rec.profile)
            known = theirs is not None and theirs.coder in CODERS
            here = dataclasses.replace(self.profile, coder=theirs.coder) if known else self.profile
            if known and theirs.regime != self.regime.id and theirs.regime in KERNEL_ENV and \
                    refusal(rec.profile, dataclasses.replace(here, regime=theirs.regime)) is None:
                elsewhere.setdefault(theirs.regime, []).append(i)
                continue
            why = refusal(rec.profile, here)
            if why is not None:  # refused before any decoding: its numerics cannot be reproduced here
                out[i] = ProfileRefused(f"record {rec.id!r} cannot be decoded by this engine: {why}")
                continue
            try:
                jobs += [(i, (here.coder, *seg)) for seg in unpack_payload(rec.payload)]
            except ValueError as exc:
                out[i] = DecodeError(f"record {rec.id!r}: corrupt payload ({exc})")
        limit = self.segment_tokens
        bad = {i for i, (_, n, _) in jobs if n > limit}
        for i in bad:
            out[i] = DecodeError(f"record {records[i].id!r}: corrupt payload (a segment of more than {limit} tokens)")
        jobs = [(i, seg) for i, seg in jobs if i not in bad]
        # A segment's tokens are a function of its code alone here: the same code twice (a memory stored twice, a
        # key asked for twice, one memory's records in two formats) is decoded once, each record's checksum still
        # checked on its own. Each coder's segments decode as one batch.
        decoded_once: dict[tuple[str, int, bytes], list[int]] = {}
        for coder in CODERS:
            unique = list(dict.fromkeys(seg for _, seg in jobs if seg[0] == coder))
            if unique:
                decoded_once.update(zip(unique, decode_all(self.primed, [seg[1:] for seg in unique], self.coding(coder))))
        decoded = [decoded_once[seg] for _, seg in jobs]
        pieces: dict[int, list[bytes]] = {}
        coder_of = {i: seg[0] for i, seg in jobs}
        for (i, _), tokens in zip(jobs, decoded):
            pieces.setdefault(i, []).append(self.tokenizer.pieces(tokens))
        wide_numpy = numpy_targets_beyond_x86_64_v3()
        for i, parts in pieces.items():
            data = b"".join(parts)
            rec = records[i]
            matches = checksum(data) == rec.checksum
            if not matches and coder_of[i] == "c1" and wide_numpy:
                elsewhere.setdefault(self.regime.id, []).append(i)  # perhaps coded where numpy ran AVX2 code
                continue
            if not matches:
                out[i] = DecodeError(f"record {rec.id!r}: the decoded text does not match its checksum (corrupt record, "
                                     f"or numerics differ from the encoder's: profile {rec.profile})")
                continue
            try:
                out[i] = data.decode("utf-8")
            except UnicodeDecodeError:
                out[i] = DecodeError(f"record {rec.id!r}: decoded bytes are not UTF-8")
        for regime_id, which in elsewhere.items():
            env = {"NPY_DISABLE_CPU_FEATURES": " ".join(wide_numpy)} if regime_id == self.regime.id else None
            texts = legacy.decode_elsewhere([records[i] for i in which], regime_id, self.runner.model.path,
                                            self.profile.model_sha, self.profile.kernels, self.runner.config.n_threads,
                                            env)
            for i, text in zip(which, texts):
                out[i] = text
        return out  # type: ignore[return-value]
