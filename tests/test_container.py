"""The binary container and coded records: round trips, random access, and clear errors for damaged files."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.codecs import varint
from engine.codecs.container import Container, is_container, record_size, write_container
from engine.codecs.item import Item
from engine.codecs.profiles import REFERENCES
from engine.codecs.record import Record, checksum, render
from engine.codecs.zstd import zstd_record
from engine.errors import InputError


@given(st.integers(min_value=0, max_value=2**63))
def test_varint_round_trip(n):
    data = varint.encode(n)
    assert varint.decode(data + b"tail") == (n, len(data))


def test_varint_rejects_truncation():
    with pytest.raises(ValueError, match="truncated"):
        varint.decode(b"\x80\x80")


def sample_records():
    return [
        Record("a", "lossless", payload=b"\x00\x01\xfe\xff" * 5, checksum=123, profile="p1", meta={"session": 3}),
        Record("b", "lossless", payload=b"", checksum=0, profile="p2", quality=0.5),
        Record("c", "raw", text="short note", meta={"k": [1, 2]}),
        Record("d", "llm", summary="Tom meets Ann.", facts=["Friday", "Leeds"], quality=0.87, flagged=True, rung="c"),
        Record("e", "error", error="line 5: not JSON", line=5),
        zstd_record(Item("f", "zstd keeps this exactly: \x00 😀\r\n")),
        Record("é", "kept", payload=b"xyz", checksum=9, profile="p1"),
    ]


def test_container_round_trip_and_random_access(tmp_path):
    path = str(tmp_path / "out.szr")
    records = sample_records()
    sizes = write_container(path, records)
    assert is_container(path) and not is_container(tmp_path / "missing")
    box = Container(path)
    assert len(box) == len(records)
    assert [r.to_json() for r in box] == [r.to_json() for r in records]
    assert box.get("é").to_json() == records[-1].to_json()
    assert box.profiles == ["p1", "p2"]  # stored once, in the header
    # record_size assumes the header's first profile; another costs its varint index
    assert [s - record_size(r) for s, r in zip(sizes, records)] == [0, 1, 0, 0, 0, 0, 0]
    header_and_footer = (tmp_path / "out.szr").stat().st_size - sum(sizes)
    assert header_and_footer < 64
    # Raw bytes beat base85 inside JSON lines.
    assert record_size(records[0]) < records[0].stored_bytes


def test_container_errors_name_the_file_and_problem(tmp_path):
    path = tmp_path / "out.szr"
    write_container(str(path), sample_records())
    data = path.read_bytes()
    (tmp_path / "cut.szr").write_bytes(data[:-7])
    with pytest.raises(InputError, match="cut.szr is truncated or corrupt"):
        Container(tmp_path / "cut.szr")
    (tmp_path / "other.szr").write_bytes(b"PK\x03\x04" + data[4:])
    with pytest.raises(InputError, match="not a semzip container"):
        Container(tmp_path / "other.szr")
    with pytest.raises(InputError, match="no record with id 'zz'"):
        Container(path).get("zz")


def test_coded_records_in_json_lines_name_a_registered_profile_by_its_number():
    rec = Record("a", "lossless", payload=bytes(range(256)) * 2, checksum=0xDEADBEEF, profile=REFERENCES[1])
    line = rec.to_json()
    d = json.loads(line)
    assert list(d) == ["id", "z1"]  # kind and profile in one key; checksum and payload in its value
    back = Record.from_json(line)
    assert (back.kind, back.payload, back.checksum, back.profile) == ("lossless", rec.payload, rec.checksum, rec.profile)
    # base 93 (1.227 characters a byte) and 19 bytes of id and keys: within 1.3x of the container's bytes
    assert rec.stored_bytes < 1.3 * record_size(rec)
    kept = Record("k", "kept", payload=b"\x00" * 7, checksum=1, profile=REFERENCES[2], meta={"session": 3})
    assert list(json.loads(kept.to_json())) == ["id", "k2", "m"] and Record.from_json(kept.to_json()) == kept


def test_an_unregistered_profile_is_written_out_and_a_newer_number_refused():
    rec = sample_records()[0]
    d = json.loads(rec.to_json())
    assert list(d) == ["id", "z", "p", "m"] and d["p"] == "p1"
    assert Record.from_json(rec.to_json()) == rec
    zstd = sample_records()[5]
    assert list(json.loads(zstd.to_json())) == ["id", "Z", "w"] and Record.from_json(zstd.to_json()) == zstd
    with pytest.raises(InputError, match="line 4: profile reference 99 is not known .* newer release"):
        Record.from_json('{"id":"a","z99":"!!!!!!!"}', where="line 4")
    assert json.loads(sample_records()[2].to_json())["v"] == 1  # version-1 kinds stay version 1


def test_format_2_lines_still_read():
    line = '{"v":2,"id":"a","k":"z","p":"a5fd3b62230aa5ec.r1.8625a2b7.c1.CPU","c":123,"b":"00I9000I90"}'
    rec = Record.from_json(line)
    assert (rec.kind, rec.checksum, rec.payload, rec.profile.endswith(".CPU")) == ("lossless", 123, b"\x00\x01\xfe\xff\x00\x01\xfe\xff", True)


def test_zstd_records_render_exactly_and_catch_damage():
    text = "zstd keeps this exactly: \x00 😀\r\n" * 20
    rec = zstd_record(Item("f", text))
    assert rec.flagged and rec.checksum == checksum(text.encode())
    assert render(rec) == text
    rec.checksum ^= 1
    with pytest.raises(ValueError, match="checksum"):
        render(rec)


def test_model_coded_records_do_not_render_without_the_model():
    with pytest.raises(ValueError, match="decode it"):
        render(sample_records()[0])
