"""Numerics profiles: a record whose profile this engine cannot reproduce is refused before decoding, with the fix."""
import json

import pytest

from engine.cli.cli import main
from engine.codecs.lossless.errors import ProfileRefused
from engine.codecs.lossless.priming import PRIMING_ID
from engine.codecs.lossless.profile import Profile, refusal
from engine.codecs.profiles import PORTABLE_KERNELS, REFERENCES
from engine.codecs.record import Record

GEMMA = "a5fd3b62230aa5ec6818"  # the lossless default: only its first 16 hex go into a profile
ENGINE = Profile(GEMMA, PORTABLE_KERNELS)


def test_the_registered_profiles_are_this_release_s_numerics():
    # A priming, regime or coder change must come with new numbers: the old ones keep their meaning forever.
    assert REFERENCES[5] == ENGINE.key and f".{PRIMING_ID}." in REFERENCES[6]
    assert Profile.parse(REFERENCES[6]).kernels == PORTABLE_KERNELS
    assert REFERENCES[3] == ENGINE.key.replace(".c2.", ".c1.")  # the release before's (numpy's exp), still read
    assert REFERENCES[1] == REFERENCES[3].replace(".r2.", ".r1.")  # the one before that's (legacy.py)


@pytest.mark.parametrize("stored, needs", [
    (ENGINE.key, None),
    (ENGINE.key.rsplit(".", 1)[0] + ".CPU", None),  # format 2's CPU records: tried, the checksum decides
    ("0" * 16 + ENGINE.key[16:], "sha256 starts 0000000000000000"),
    (ENGINE.key.replace(".r2.", ".r9."), "regime r9"),
    (ENGINE.key.replace(".c2.", ".c9."), "coder c9"),
    (ENGINE.key.replace(PORTABLE_KERNELS, "cpu-avx+avx2+avx512+fma"), "a llama.cpp built with exactly the CPU kernels"),
    (ENGINE.key.replace(PORTABLE_KERNELS, "cuda-nvidia-h200"), "a GPU of that backend and model (cuda-nvidia-h200)"),
    ("garbage", "is not a numerics profile"),
    (None, "names no numerics profile"),
])
def test_refusal_names_the_profile_and_what_it_needs(stored, needs):
    why = refusal(stored, ENGINE)
    assert (why is None) if needs is None else (needs in why)


def test_a_gpu_engine_refuses_portable_records_with_the_way_to_read_them():
    why = refusal(ENGINE.key, Profile(GEMMA, "cuda-nvidia-h200"))
    assert "semzip's own llama.cpp build" in why and "no GPU layers" in why


def test_the_engine_refuses_a_foreign_kernel_record_before_decoding(lossless_engine):
    (rec,) = lossless_engine.compress(["Ann: see you at 10:30 on Friday!"])
    foreign = Record(rec.id, rec.kind, payload=rec.payload, checksum=rec.checksum,
                     profile=rec.profile.replace(PORTABLE_KERNELS, "cpu-avx2+avx512"))
    out = lossless_engine.decode([foreign, rec])
    assert isinstance(out[0], ProfileRefused) and "cpu-avx2+avx512" in str(out[0]) and repr(rec.id) in str(out[0])
    assert out[1] == "Ann: see you at 10:30 on Friday!"


def test_an_error_record_reads_back_as_its_error_and_counts_as_failed(tmp_path, capsys):
    src = tmp_path / "records.jsonl"
    src.write_text(Record("1", "raw", text="a short note").to_json() + "\n"
                   + Record("2", "error", error="line 2: no 'text' field", line=2).to_json() + "\n")
    out = tmp_path / "back.jsonl"
    assert main(["reconstruct", str(src), "-o", str(out)]) == 1  # as compress: the count of failed lines
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert got == [{"id": "1", "text": "a short note"}, {"id": "2", "line": 2, "error": "line 2: no 'text' field"}]
    assert "2 records, 1 failed" in capsys.readouterr().err


def test_a_regime_child_that_fails_gives_errors_naming_each_record(tmp_path):
    from engine.codecs.lossless.errors import DecodeError
    from engine.codecs.lossless.legacy import decode_elsewhere

    records = [Record(i, "lossless", payload=b"\x01", checksum=1, profile=REFERENCES[1]) for i in ("a", "b")]
    out = decode_elsewhere(records, "r1", tmp_path / "missing.gguf", GEMMA, PORTABLE_KERNELS)
    assert all(isinstance(e, DecodeError) for e in out)
    assert "'a'" in str(out[0]) and "'b'" in str(out[1]) and "regime r1" in str(out[0])
