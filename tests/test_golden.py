"""Golden records: coded once under the portable profile (tests/data/golden), decoded here bit for bit.

These files are the format's promise (docs/FORMAT.md): a record read back on any x86-64 machine with AVX2, years
later. If they stop decoding, something changed the numerics (the build's kernels, the regime, the coder) and every
stored memory is at risk: CI fails. p7/ holds this release's (profile 7: regime r2, coder s1, our projection onto a
shortlist); p5/, coder c2's (profile 5, the release before); p3/, coder c1's (profile 3, the one before); the folder
above, regime r1's (profile 1, the one before that); v2/, format 2 records by the release before that.
"""
import json
from pathlib import Path

import pytest

from engine.codecs.container import Container
from engine.codecs.profiles import REFERENCES
from engine.codecs.record import Record

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"


def _texts(path: Path) -> dict[str, str]:
    return {row["id"]: row["text"] for row in map(json.loads, path.open(encoding="utf-8"))}


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _golden(folder: Path) -> list[Record]:
    lines = [Record.from_json(line) for line in _lines(folder / "records.jsonl")]
    boxed = list(Container(folder / "records.szr"))
    assert [r.to_json() for r in boxed] == [r.to_json() for r in lines]  # the same records in both forms
    assert [r.to_json() for r in lines] == _lines(folder / "records.jsonl")  # this release writes the same bytes
    return lines


@pytest.fixture(scope="module")
def golden() -> list[Record]:
    return _golden(GOLDEN)


@pytest.fixture(scope="module")
def golden_c1() -> list[Record]:
    return _golden(GOLDEN / "p3")


@pytest.fixture(scope="module")
def golden_c2() -> list[Record]:
    return _golden(GOLDEN / "p5")


@pytest.fixture(scope="module")
def golden_s1() -> list[Record]:
    return _golden(GOLDEN / "p7")


@pytest.mark.parametrize("which, folder, number", [("golden", "", 1), ("golden_c1", "p3", 3), ("golden_c2", "p5", 5),
                                                   ("golden_s1", "p7", 7)])
def test_golden_records_cover_what_the_format_promises(which, folder, number, request):
    records = request.getfixturevalue(which)
    kinds = {r.id: r.kind for r in records}
    assert kinds == {"chat-ascii": "lossless", "non-latin-emoji": "lossless", "two-segments": "lossless",
                     "ratio-16": "kept"}
    assert {r.profile for r in records} == {REFERENCES[number]}  # the portable CPU profile, by its number
    texts = _texts(GOLDEN / folder / "texts.jsonl")
    assert texts["chat-ascii"].isascii() and not texts["non-latin-emoji"].isascii()


def _decode_exactly(engine, records: list[Record], folder: Path) -> None:
    got = engine.decode(records)
    want = _texts(folder / "texts.jsonl")
    for rec, text in zip(records, got):
        assert not isinstance(text, Exception), text
        assert text.encode("utf-8") == want[rec.id].encode("utf-8"), rec.id


def test_this_release_s_records_decode_bit_for_bit(golden_s1, lossless_engine):
    _decode_exactly(lossless_engine, golden_s1, GOLDEN / "p7")  # one batch: the two segments beside the others


def test_coder_c2_records_decode_bit_for_bit(golden_c2, lossless_engine):
    """The release before's records (coder c2: llama.cpp's logits), all but the two-segment one: segments are this
    release's decoder, which p7's two-segment record proves above."""
    _decode_exactly(lossless_engine, [r for r in golden_c2 if r.id != "two-segments"], GOLDEN / "p5")


def test_coder_c1_records_decode_bit_for_bit(golden_c1, lossless_engine):
    """Coder c1's records (numpy's exp), all but the two-segment one: segments are this release's decoder, which
    p7's two-segment record proves above; c1's probabilities are proven by the other three."""
    _decode_exactly(lossless_engine, [r for r in golden_c1 if r.id != "two-segments"], GOLDEN / "p3")


def test_regime_r1_and_format_2_records_decode_bit_for_bit(golden, lossless_engine):
    """The release before's records (regime r1) decode in a child process set up for r1 (legacy.py).

    All but r1's two-segment record: its 1,716-token segment alone is 80 s of r1's one-stream steps, and what it
    adds over the others (segments) is this release's decoder, which p3's two-segment record proves above; the r1
    numerics, the child and format 2 are proven by the other five."""
    v2 = [Record.from_json(line) for line in _lines(GOLDEN / "v2" / "records.jsonl")]
    v2_boxed = list(Container(GOLDEN / "v2" / "records.szr"))
    assert all(r.profile.endswith(".CPU") for r in v2)
    assert [(r.id, r.payload, r.checksum, r.profile) for r in v2_boxed] == \
        [(r.id, r.payload, r.checksum, r.profile) for r in v2]  # the same codes in both forms: decoded once
    _decode_exactly(lossless_engine, [r for r in golden if r.id != "two-segments"] + v2, GOLDEN)
