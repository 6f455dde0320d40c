"""Throughput as users run it, with pytest-benchmark: `pytest bench/ --benchmark-json=out.json`.

Each round is one pass over a bundled corpus (tests/data) with the default model: compress in every
mode, then reconstruct the records. 3 rounds each, about 10 minutes on 2 CPU cores. Save a baseline
with --benchmark-save=NAME (or --benchmark-autosave) and compare a later run against it with
--benchmark-compare (add --benchmark-compare-fail=median:10% to fail on a regression).
"""
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
CORPORA = {
    "dialogues": DATA / "dialogues.jsonl",  # 8 two-person dialogues, about 1 KB each
    "sessions": DATA / "conversations.jsonl",  # 8 multi-session chat sessions, about 2 KB each (LoCoMo layout)
}
COMPRESS_MODES = ["summary", "lossless"]  # a codec adds its mode here (and its OPERATIONS in engine/cli/pytest_plugin.py)


@pytest.mark.parametrize("corpus", sorted(CORPORA))
@pytest.mark.parametrize("mode", COMPRESS_MODES)
def test_compress(semzip_bench, mode, corpus):
    records = semzip_bench(CORPORA[corpus], op="compress", mode=mode)
    assert len(records) == 8 and all(r.kind != "error" for r in records)


@pytest.fixture(scope="module")
def records(semzip_engine):
    """The dialogues' records, made once outside the timings."""
    from engine.cli.pytest_plugin import load_items

    return semzip_engine.compress_direct(load_items(CORPORA["dialogues"]))


@pytest.mark.parametrize("mode", ["render", "expand"])
def test_reconstruct(semzip_bench, records, mode):
    texts = semzip_bench(records, op="reconstruct", mode=mode)
    assert len(texts) == len(records) and all(texts)


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_decode_lossless(semzip_bench, semzip_engines, corpus):
    """Decoding is a token-by-token walk, the slow direction: timed on records made outside the timing."""
    from engine.cli.pytest_plugin import load_items

    items = load_items(CORPORA[corpus])
    coded = semzip_engines("lossless").compress_direct(items)
    texts = semzip_bench(coded, op="reconstruct", mode="lossless")
    assert texts == [it.text for it in items]
