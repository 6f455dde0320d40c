"""Golden records: coded once under the portable profile (bench/make_golden_records.py), decoded here bit for bit.

These files are the format's promise (docs/FORMAT.md): a record read back on any x86-64 machine with AVX2, years
later. If they stop decoding, something changed the numerics (the build's kernels, the regime, the coder) and every
stored memory is at risk: CI fails. Format 2 records, written by the release before (v2/), decode too.
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


@pytest.fixture(scope="module")
def golden() -> list[Record]:
    lines = [Record.from_json(line) for line in _lines(GOLDEN / "records.jsonl")]
    boxed = list(Container(GOLDEN / "records.szr"))
    assert [r.to_json() for r in boxed] == [r.to_json() for r in lines]  # the same records in both forms
    return lines


def test_golden_records_cover_what_the_format_promises(golden):
    kinds = {r.id: r.kind for r in golden}
    assert kinds == {"chat-ascii": "lossless", "non-latin-emoji": "lossless", "two-segments": "lossless",
                     "ratio-16": "kept"}
    assert {r.profile for r in golden} == {REFERENCES[1]}  # the portable CPU profile, by its number
    assert [r.to_json() for r in golden] == _lines(GOLDEN / "records.jsonl")  # this release writes the same bytes
    texts = _texts(GOLDEN / "texts.jsonl")
    assert texts["chat-ascii"].isascii() and not texts["non-latin-emoji"].isascii()


def test_golden_and_format_2_records_decode_bit_for_bit(golden, lossless_engine):
    v2 = [Record.from_json(line) for line in _lines(GOLDEN / "v2" / "records.jsonl")]
    v2_boxed = list(Container(GOLDEN / "v2" / "records.szr"))
    assert all(r.profile.endswith(".CPU") for r in v2)
    assert [(r.id, r.payload, r.checksum, r.profile) for r in v2_boxed] == \
        [(r.id, r.payload, r.checksum, r.profile) for r in v2]  # the same codes in both forms: decoded once
    records = golden + v2
    got = lossless_engine.decode(records)  # one batch: the two-segment record's streams beside the others
    want = _texts(GOLDEN / "texts.jsonl")
    for rec, text in zip(records, got):
        assert not isinstance(text, Exception), text
        assert text.encode("utf-8") == want[rec.id].encode("utf-8"), rec.id
