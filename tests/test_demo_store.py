"""`semzip demo`'s store part, with the real lossless model and all-MiniLM-L6-v2 on the bundled memories."""
from __future__ import annotations

import pytest

from engine.cli.demo import bundled
from engine.cli.demo_store import QUERY, memories_of, run_store_demo

pytestmark = pytest.mark.model


def test_the_store_demo_puts_searches_compacts_and_reads_every_memory_back(lossless_engine):
    items = [it for it, _ in bundled()]
    got = run_store_demo(items, engine=lossless_engine)
    assert got.memories == len(memories_of(items)) == 3 + sum(len([x for x in it.text.split("\n") if x])
                                                              for it in items)
    assert got.exact == got.memories  # read back after compaction, through the model
    assert got.hits[0] == "chat-session" and "moving day" in QUERY  # the chat names its moving day
    assert got.text_bytes == sum(len(t.encode()) for *_, t in memories_of(items))
    assert 0 < got.cold_file_bytes < got.hot_file_bytes and got.zstd_bytes > 0
    lines = got.lines()
    assert f"{got.cold_file_bytes:,} bytes compacted" in lines[-1] and f"{got.zstd_bytes:,} bytes" in lines[-1]
