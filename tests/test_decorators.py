"""@semzip_cached and @semzip_timed on host functions: results cached like the engine's, counted in its metrics."""
import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from engine.observe.decorators import default_monitor, semzip_cached, semzip_timed
from engine.observe.monitor import Monitor


@pytest.fixture
def monitor():
    return Monitor(registry=CollectorRegistry())


def _body(monitor) -> str:
    return generate_latest(monitor.registry).decode()


def test_cached_calls_once_per_argument_and_counts_hits_and_misses(monitor):
    calls = []

    @semzip_cached(monitor=monitor, name="lookup")
    def lookup(user, *, field="name"):
        calls.append((user, field))
        return None if user == "ghost" else f"{user}:{field}"

    assert 'semzip_cache_hits_total{cache="lookup"} 0.0' in _body(monitor)  # there from the start
    assert [lookup("ann"), lookup("ann"), lookup("ann", field="age"), lookup("ghost"), lookup("ghost")] == \
        ["ann:name", "ann:name", "ann:age", None, None]
    assert calls == [("ann", "name"), ("ann", "age"), ("ghost", "name")]  # a cached None is a hit too
    body = _body(monitor)
    assert 'semzip_cache_hits_total{cache="lookup"} 2.0' in body
    assert 'semzip_cache_misses_total{cache="lookup"} 3.0' in body
    assert 'semzip_cache_entries{cache="lookup"} 3.0' in body
    assert lookup.__name__ == "lookup" and lookup.cache.stats()["size"] == 3


def test_cached_entries_expire_after_their_ttl_and_the_lru_keeps_maxsize(monitor):
    calls = []

    @semzip_cached(maxsize=2, ttl_s=0.2, monitor=monitor)
    def square(x):
        calls.append(x)
        return x * x

    square(1), square(2), square(3)  # 1 is evicted: least recently used
    square(3)
    square(1)
    assert calls == [1, 2, 3, 1]
    time.sleep(0.3)
    square(3)
    assert calls == [1, 2, 3, 1, 3]
    assert f'cache="{__name__}.test_cached_entries_expire_after_their_ttl_and_the_lru_keeps_maxsize.<locals>.square"' \
        in _body(monitor)


def test_exceptions_are_not_cached(monitor):
    calls = []

    @semzip_cached(monitor=monitor)
    def flaky(x):
        calls.append(x)
        if len(calls) == 1:
            raise ValueError("first call fails")
        return x

    with pytest.raises(ValueError):
        flaky(1)
    assert flaky(1) == 1 and flaky(1) == 1 and calls == [1, 1]


def test_timed_records_latency_failures_included(monitor):
    @semzip_timed("embed", monitor=monitor)
    def embed(fail=False):
        time.sleep(0.05)
        if fail:
            raise RuntimeError("boom")
        return "ok"

    assert embed() == "ok"
    with pytest.raises(RuntimeError):
        embed(fail=True)
    body = _body(monitor)
    assert 'semzip_function_latency_seconds_count{function="embed"} 2.0' in body
    assert 'semzip_function_latency_seconds_bucket{function="embed",le="0.1"} 2.0' in body
    assert 'semzip_function_latency_seconds_bucket{function="embed",le="0.025"} 0.0' in body


def test_async_functions_and_the_default_monitor():
    calls = []

    @semzip_timed("async_fetch")
    @semzip_cached
    async def fetch(key):
        calls.append(key)
        await asyncio.sleep(0.01)
        return key.upper()

    async def run():
        return [await fetch("a"), await fetch("a"), await fetch("b")]

    assert asyncio.run(run()) == ["A", "A", "B"] and calls == ["a", "b"]
    body = _body(default_monitor())
    assert 'semzip_function_latency_seconds_count{function="async_fetch"} 3.0' in body
    assert 'semzip_cache_hits_total{cache="test_decorators.test_async_functions_and_the_default_monitor.<locals>.fetch"} 1.0' \
        in body
