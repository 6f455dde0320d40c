"""Lossless mode with the real lossless model: exact for any text, and codes independent of the batch."""
import json
from types import SimpleNamespace

import pytest

from engine.cli.cli import main
from engine.codecs.container import Container
from engine.codecs.item import Item
from engine.codecs.lossless.codec import unpack_payload
from engine.codecs.lossless.errors import DecodeError, ProfileRefused
from engine.codecs.lossless.arithmetic import Decoder
from engine.codecs.lossless.stream import decode_all

from texts import LANDLORD

TRICKY = [
    "Plain ASCII: Ann meets Tom at 10:30 on Friday.",
    "emoji 😀👍🏽 and CJK 漢字, accents é e\u0301, zero\u200bwidth, BOM \ufeff.",
    "control\x00chars\x07here\x1b[0m and\ttabs\r\nwindows lines\r\n",
    "\u2581SentencePiece's own space mark\u2581 does not survive its tokenizer\u2581",
    "   leading and trailing blanks   \n\n\n",
    "x",
    LANDLORD,
]
NAMES = ["Ann", "Tom", "Priya", "Jon", "Mei", "Luis", "Sara", "Omar"]
PLACES = ["Leeds", "Kyoto", "Lima", "Oslo"]


def memories(n: int) -> list[str]:
    """n short chat memories written for these tests, all different (about 45 tokens: each is a decode step)."""
    out = []
    for i in range(n):
        a, b, place = NAMES[i % 8], NAMES[(i + 3) % 8], PLACES[i % 4]
        out.append(f"[{i % 12 + 1}:0{i % 6} pm on {i % 27 + 1} May, 2023]\n{a}: Hi {b}! I'm back from {place}, "
                   f"it rained {i + 2} days out of {i + 5}.\n{b}: Welcome back, {a}! Any honey for me?")
    return out


def _flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes([data[i] ^ 0x55]) + data[i + 1 :]


@pytest.fixture(scope="module")
def engine(lossless_engine):
    return lossless_engine


def test_any_text_comes_back_byte_for_byte(engine):
    records = engine.compress(TRICKY)
    assert [r.kind for r in records] == ["lossless"] * len(TRICKY)
    assert engine.reconstruct(records) == TRICKY
    assert engine.compressor.tokenizer.num_fallback_words >= 1  # the U+2581 text needed byte tokens
    long = records[-1]
    assert len(long.payload) * 5 < len(LANDLORD.encode())


def test_each_memory_is_reported_the_moment_its_code_is_complete(engine):
    """Short memories finish first: their events come before the long one's, each once, with the returned record."""
    from engine.codecs.lossless.selective_codec import SelectiveCodec

    items = [Item(str(k), t) for k, t in enumerate([LANDLORD, "x", TRICKY[0], memories(1)[0]])]
    events = []
    records = engine.compressor.compress(items, events.append)
    assert sorted(e.index for e in events) == [0, 1, 2, 3] and events[-1].index == 0
    assert all(e.record is records[e.index] for e in events) and events[0].latency_s < events[-1].latency_s
    events = []  # the knob: exact records that fit are reported during the lossless pass, before any re-cut one
    records = SelectiveCodec(engine.compressor, 4.0).compress(items, events.append)
    kinds = [e.record.kind for e in events]
    assert sorted(e.index for e in events) == [0, 1, 2, 3] and kinds == sorted(kinds, key=lambda k: k != "lossless")
    assert "lossless" in kinds and "kept" in kinds and all(e.record is records[e.index] for e in events)


@pytest.fixture(scope="module")
def coded32(engine):
    """32 memories coded in one batch: every lane of the session's engine."""
    texts = memories(32)
    return texts, engine.compress(texts)


def test_a_code_does_not_depend_on_the_batch_it_was_made_in(engine, coded32):
    texts, together = coded32
    alone = [engine.compress([t])[0] for t in texts[:3]] + [engine.compress([texts[-1]])[0]]
    assert [r.payload for r in alone] == [together[i].payload for i in (0, 1, 2, 31)]


def test_a_kept_priming_state_is_the_decoded_one_bit_for_bit(engine, coded32, tmp_path, monkeypatch):
    """The priming text is decoded once per build, CPU, model file and settings; later engines and processes put
    its KV and first distribution back from bytes: the distribution and the codes must be the decoded ones."""
    from engine.codecs.lossless.stream import PrimedRunner
    from engine.core import runner as runner_module
    from engine.core.prefix_states import PrefixStates

    codec = engine.compressor
    monkeypatch.setattr(runner_module, "_PREFIX_STATES", PrefixStates(tmp_path))  # nothing kept from other runs
    decoded = PrimedRunner(codec.runner, codec.regime, codec.primed.prime_tokens)
    monkeypatch.setattr(runner_module, "_PREFIX_STATES", PrefixStates(tmp_path))  # a new process: the disk alone
    kept = PrimedRunner(codec.runner, codec.regime, codec.primed.prime_tokens)
    assert decoded.prime_decoded and not kept.prime_decoded and len(list(tmp_path.glob("*.kv"))) == 1
    assert kept.first_logits.tobytes() == decoded.first_logits.tobytes()
    assert kept.first_hidden.tobytes() == decoded.first_hidden.tobytes()  # what coder s1 codes a first token under
    monkeypatch.setattr(codec, "primed", kept)
    texts, records = coded32
    assert [r.payload for r in engine.compress(texts[:2])] == [r.payload for r in records[:2]]
    assert engine.reconstruct(records[:2]) == texts[:2]


def test_a_record_decodes_alone_among_31_others_and_after_a_preemption(engine, coded32):
    texts, records = coded32
    assert engine.reconstruct(records) == texts  # all 32 lanes at once
    assert engine.reconstruct([records[7]]) == [texts[7]]  # alone: one stream beside a padding stream
    # Preempted: record 7 decodes 12 tokens on slot 5 while slots 0-4 decode others, loses its KV, and is
    # decoded again from the start, alone on slot 0: the same tokens, and the whole text checks out.
    primed = engine.compressor.primed
    coding = engine.compressor.coding(engine.compressor.profile.coder)
    segments = [unpack_payload(records[i].payload)[0] for i in (0, 1, 2, 3, 4, 7)]
    lanes = [SimpleNamespace(coder=Decoder(code), state=coding.new_state()) for _, code in segments]
    tokens = [[coding.decode_first(lane)] for lane in lanes]
    for slot in range(6):
        primed.start(slot)
    for _ in range(12):
        out = primed.step({s: (tokens[s][-1:], primed.prime_len + len(tokens[s]) - 1) for s in range(6)}, 1,
                          hidden=coding.hidden)
        jobs = [(lanes[s], primed.last_plan.rows[s].start) for s in range(6)]
        for s, token in enumerate(coding.decode(out, jobs)):
            tokens[s].append(token)
    for slot in range(6):
        primed.release(slot)
    (again,) = decode_all(primed, [segments[5]], coding)
    assert again[:13] == tokens[5] and engine.reconstruct([records[7]]) == [texts[7]]


def test_damaged_or_foreign_records_are_errors_naming_the_record(engine):
    (rec,) = engine.compress([TRICKY[0]])
    flipped = type(rec)(**{**{f: getattr(rec, f) for f in rec.__slots__}, "payload": _flip(rec.payload, 3)})
    foreign = type(rec)(**{**{f: getattr(rec, f) for f in rec.__slots__}, "profile": "0" * 16 + rec.profile[16:]})
    truncated = type(rec)(**{**{f: getattr(rec, f) for f in rec.__slots__}, "payload": rec.payload[:1]})
    out = engine.decode([flipped, foreign, truncated, rec])
    assert isinstance(out[0], DecodeError) and "checksum" in str(out[0]) and repr(rec.id) in str(out[0])
    assert isinstance(out[1], ProfileRefused) and "sha256 starts 0000000000000000" in str(out[1])
    assert isinstance(out[2], DecodeError)
    assert out[3] == TRICKY[0]


def test_cli_lossless_round_trip_in_both_containers(tmp_path, lossless_model_path, capsys):
    src = tmp_path / "in.jsonl"
    rows = [{"id": f"m{i}", "text": t, "session": i} for i, t in enumerate(TRICKY[:4] + memories(3))]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\nnot json\n")
    for out in ("out.szr", "out.jsonl"):
        assert main(["compress", str(src), "-o", str(tmp_path / out), "--mode", "lossless", "--batch", "4",
                     "--no-fallback", "--slots", "8"]) == 1  # the bad line
        back = tmp_path / (out + ".back")
        assert main(["reconstruct", str(tmp_path / out), "-o", str(back)]) == 1  # its error record reads back failed
        got = [json.loads(line) for line in back.read_text().splitlines()]
        assert [g["text"] for g in got[:-1]] == [r["text"] for r in rows]
        assert got[-1]["line"] == len(rows) + 1 and "not JSON" in got[-1]["error"] and "text" not in got[-1]
    box = Container(tmp_path / "out.szr")
    assert box.get("m2").meta == {"session": 2}
    one = tmp_path / "one.jsonl"
    assert main(["reconstruct", str(tmp_path / "out.szr"), "--id", "m5", "-o", str(one)]) == 0
    assert json.loads(one.read_text())["text"] == rows[5]["text"]
    assert "to decode" in capsys.readouterr().err


def test_the_same_code_in_several_records_is_decoded_once(engine, coded32, monkeypatch):
    import dataclasses

    from engine.codecs.lossless import codec as codec_module

    texts, records = coded32
    seen = []
    real = codec_module.decode_all
    monkeypatch.setattr(codec_module, "decode_all", lambda primed, segs, coder: seen.append(len(segs)) or
                        real(primed, segs, coder))
    twice = [records[4], dataclasses.replace(records[4], id="again"), records[5]]
    assert engine.reconstruct(twice) == [texts[4], texts[4], texts[5]]
    assert seen == [2]
    broken = dataclasses.replace(records[4], id="bad sum", checksum=records[4].checksum ^ 1)
    got = engine.decode([records[4], broken])  # shared tokens, each record's own checksum
    assert got[0] == texts[4] and isinstance(got[1], DecodeError) and "'bad sum'" in str(got[1])


def test_concurrent_reads_decode_together_and_each_gets_its_own_text(engine, coded32):
    from threads import call_from_threads

    texts, records = coded32
    picks = [3, 11, 19, 27]
    before = engine._decode_batcher.num_batches
    got, errors = call_from_threads(lambda i: engine.decode([records[i]])[0], picks)
    assert not errors and got == {i: texts[i] for i in picks}
    assert engine._decode_batcher.num_batches - before < len(picks)  # the waiting readers shared a batch


def test_a_batch_abandoned_midway_leaves_the_next_one_working(engine):
    class Abandon(Exception):
        pass

    steps = []

    def pace():
        steps.append(1)
        if len(steps) > 2:  # a few model steps in: its lanes hold KV cells when the batch is given up
            raise Abandon()

    texts = memories(3)
    coded = engine.compress_parts([[t] for t in texts])
    with pytest.raises(Abandon):
        engine.compress_parts([["\n".join(memories(8)[k:])] for k in range(3)], pace=pace)
    # the next batch uses those slots, some as padding streams (a lane alone is padded with a second stream)
    for rec, counts in coded:
        assert engine.decode_prefixes([rec], [sum(counts)])[0] == texts[coded.index((rec, counts))].encode()
