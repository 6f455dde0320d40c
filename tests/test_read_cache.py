"""The read side: texts decoded once are served again from the decoded-text cache, and reads show in /metrics."""
from __future__ import annotations

import time

import pytest
from prometheus_client import generate_latest

from engine.codecs.decoded import DecodedCache
from engine.codecs.record import Record


def _rec(payload: bytes, checksum: int = 7, profile: str = "p") -> Record:
    return Record("x", "lossless", payload=payload, checksum=checksum, profile=profile)


def test_the_cache_is_keyed_by_what_fixes_the_text_and_bounded_in_bytes():
    cache = DecodedCache(max_bytes=100, ttl_s=60)
    a = _rec(b"abc")
    cache.put(a, "hello")
    assert cache.get(_rec(b"abc")) == "hello"  # another Record object, same content: a hit
    assert cache.get(_rec(b"abd")) is None and cache.get(_rec(b"abc", checksum=8)) is None
    assert cache.get(_rec(b"abc", profile="q")) is None
    for i in range(20):  # 20 entries of 13 bytes: only the most recent few fit in 100 bytes
        cache.put(_rec(bytes([i]) * 3), "0123456789")
    stats = cache.stats()
    assert stats["bytes"] <= 100 and 0 < stats["size"] < 20
    assert cache.get(_rec(bytes([19]) * 3)) == "0123456789" and cache.get(a) is None  # least recent went first
    cache.put(_rec(b"big"), "x" * 200)  # larger than the whole cache: not kept
    assert cache.get(_rec(b"big")) is None
    assert stats["hits"] == 1 and cache.stats()["misses"] >= 4


def test_entries_expire_and_zero_bytes_turns_it_off():
    cache = DecodedCache(max_bytes=1000, ttl_s=0.05)
    cache.put(_rec(b"a"), "t")
    assert cache.get(_rec(b"a")) == "t"
    time.sleep(0.1)
    assert cache.get(_rec(b"a")) is None
    off = DecodedCache(max_bytes=0)
    off.put(_rec(b"a"), "t")
    assert off.get(_rec(b"a")) is None
    with pytest.raises(ValueError, match="max_bytes"):
        DecodedCache(max_bytes=-1)


def test_a_second_read_is_served_from_the_cache_and_both_show_in_metrics(lossless_engine):
    from engine.observe.monitor import Monitor

    engine = lossless_engine
    saved = engine.read_cache
    engine.read_cache = DecodedCache(1 << 20, 60)
    monitor = Monitor(model="test")
    try:
        monitor.watch_reads(engine)
        (rec,) = engine.compress(["Nate: I adopted a turtle named Tank last week."])
        assert engine.decode([rec]) == ["Nate: I adopted a turtle named Tank last week."]
        assert engine.decode([rec]) == ["Nate: I adopted a turtle named Tank last week."]
        stats = engine.read_cache.stats()
        assert (stats["hits"], stats["misses"]) == (1, 1)
        text = generate_latest(monitor.registry).decode()
        assert 'semzip_reconstruct_seconds_count{model="test"} 1.0' in text  # the model decoded once
        assert 'semzip_cache_hits_total{cache="decoded"} 1.0' in text
        assert 'semzip_cache_misses_total{cache="decoded"} 1.0' in text
    finally:
        engine.read_cache, engine.on_read = saved, None
