"""Decorators for host code: @semzip_cached keeps a function's results in the engine's LRU/TTL cache, and
@semzip_timed records its latency; both report into a Monitor's Prometheus registry.

Without monitor=..., they report into the process's default monitor (default_monitor()), whose
registry a host serves with default_monitor().serve(port) or reads with its registry attribute.
"""
from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable

from cachetools.keys import hashkey

from engine.jobs.cache import LruTtlCache
from engine.observe.monitor import Monitor


@functools.cache
def default_monitor() -> Monitor:
    """The monitor host decorators report into when given none: one per process, created on first use."""
    return Monitor(model="host")


def semzip_timed(name: str, monitor: Monitor | None = None):
    """Record each call's wall time (raised exceptions included) in semzip_function_latency_seconds{function=name}."""

    def wrap(fn: Callable) -> Callable:
        def observe(t0: float) -> None:
            (monitor or default_monitor()).observe_function(name, time.perf_counter() - t0)

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def timed_async(*args, **kwargs):
                t0 = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    observe(t0)
            return timed_async

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                observe(t0)
        return timed

    return wrap


def semzip_cached(fn: Callable | None = None, *, maxsize: int = 10_000, ttl_s: float = 24 * 3600,
                  name: str | None = None, monitor: Monitor | None = None):
    """Cache a function's results by its (hashable) arguments, LRU with a TTL like the engine's record cache;
    hits, misses and size go to semzip_cache_{hits,misses}_total and semzip_cache_entries{cache=name}.

    Use bare (@semzip_cached) or with options (@semzip_cached(maxsize=100, ttl_s=60)). Exceptions are not
    cached. Two threads missing the same key at once both call the function; the later result is kept.
    The cache is the wrapper's .cache attribute.
    """

    def wrap(fn: Callable) -> Callable:
        cache = LruTtlCache(maxsize, ttl_s)
        label = name or f"{fn.__module__}.{fn.__qualname__}"
        if monitor is not None:
            monitor.metrics.init_cache(label)

        def report() -> None:
            (monitor or default_monitor()).on_cache(cache.stats(), label)

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def cached_async(*args, **kwargs):
                key = hashkey(*args, **kwargs)
                found, value = cache.lookup(key)
                if not found:
                    value = await fn(*args, **kwargs)
                    cache.put(key, value)
                report()
                return value
            cached_async.cache = cache
            return cached_async

        @functools.wraps(fn)
        def cached(*args, **kwargs):
            key = hashkey(*args, **kwargs)
            found, value = cache.lookup(key)
            if not found:
                value = fn(*args, **kwargs)
                cache.put(key, value)
            report()
            return value
        cached.cache = cache
        return cached

    return wrap(fn) if fn is not None else wrap
