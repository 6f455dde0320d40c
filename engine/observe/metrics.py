"""The Prometheus metrics semzip exports, in one place: names, types, units and label sets.

Conventions (checked by `promtool check metrics` in tests/test_monitor.py): counters end in `_total`,
units are in the names (`_seconds`, `_bytes`, `_joules`, `_watts`; ratios are 0-1), every labelled
series whose labels are known at start exists from the start (at zero), and prometheus_client's
`_created` samples are left out.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import Collector

from engine.codecs.decoded import DECODED_CACHE  # the read side's cache of decoded texts
from engine.codecs.record import KINDS

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
QUALITY_BUCKETS = tuple(i / 20 for i in range(21))
FUNCTION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)  # host calls: ms to 1 min

RECORD_CACHE = "records"  # the batch processor's cache; host functions under @semzip_cached add their own names


class _WithoutCreated(Collector):
    """A private registry's metrics without their `_created` samples.

    prometheus_client adds a `_created` timestamp to every counter and histogram, which the text format
    exports as a separate gauge family; it is a process-wide switch (disable_created_metrics) that would
    also change a host's own metrics, so it is filtered here, for ours only.
    """

    def __init__(self, inner: CollectorRegistry):
        self._inner = inner

    def collect(self):
        for family in self._inner.collect():  # fresh Metric objects on every collect: safe to trim
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family

    def describe(self):
        return self.collect()


class Metrics:
    """Every metric semzip exports, registered (through the filter above) in the given registry."""

    def __init__(self, registry: CollectorRegistry, model: str):
        own = CollectorRegistry()
        m = ["model"]
        self.ops = Counter("semzip_operations", "Records produced", ["op", "kind", "model"], registry=own)
        self.latency = Histogram("semzip_latency_seconds", "Per-item latency: first model request to final record",
                                 ["op", "model"], buckets=LATENCY_BUCKETS, registry=own)
        self.prompt_tokens = Counter("semzip_prompt_tokens", "Prompt tokens", m, registry=own)
        self.gen_tokens = Counter("semzip_generated_tokens", "Generated tokens", m, registry=own)
        self.bytes_in = Counter("semzip_original_bytes", "Original UTF-8 bytes", m, registry=own)
        self.bytes_out = Counter("semzip_stored_bytes", "Stored record bytes", m, registry=own)
        self.ratio = Gauge("semzip_compression_ratio", "Honest ratio so far (original bytes / stored bytes)", m,
                           registry=own)
        self.quality = Histogram("semzip_quality", "Fidelity score of a record (0-1)", m, buckets=QUALITY_BUCKETS,
                                 registry=own)
        self.cache_hits = Counter("semzip_cache_hits", "Cache hits", ["cache"], registry=own)
        self.cache_misses = Counter("semzip_cache_misses", "Cache misses", ["cache"], registry=own)
        self.cache_entries = Gauge("semzip_cache_entries", "Entries in the in-memory cache", ["cache"], registry=own)
        self.fallbacks = Counter("semzip_fallbacks", "Fallback ladder steps", ["rung", "cause"], registry=own)
        self.errors = Counter("semzip_errors", "Errors by kind", ["kind"], registry=own)
        self.alerts = Counter("semzip_quality_alerts", "Rolling quality fell under the baseline", registry=own)
        self.preemptions = Counter("semzip_kv_preemptions", "Sequences preempted because the KV cache was full",
                                   registry=own)
        self.throughput = Gauge("semzip_throughput_items_per_second", "Items finished per second", ["window"],
                                registry=own)
        self.cpu = Counter("semzip_process_cpu_seconds", "Process CPU time, user and system", registry=own)
        self.rss = Gauge("semzip_process_resident_memory_bytes", "Process resident memory", registry=own)
        self.sys_mem = Gauge("semzip_system_memory_used_bytes", "System memory used", registry=own)
        self.gpu_util = Gauge("semzip_gpu_utilization_ratio", "GPU utilisation (0-1)", ["gpu"], registry=own)
        self.gpu_mem = Gauge("semzip_gpu_memory_used_bytes", "GPU memory used", ["gpu"], registry=own)
        self.gpu_power = Gauge("semzip_gpu_power_watts", "GPU power draw", ["gpu"], registry=own)
        self.gpu_energy = Counter("semzip_gpu_energy_joules", "GPU energy used", ["gpu"], registry=own)
        self.reconstruct = Histogram("semzip_reconstruct_seconds", "One decode of model-coded records (a read that "
                                     "missed the decoded-text cache)", m, buckets=LATENCY_BUCKETS, registry=own)
        self.function_latency = Histogram("semzip_function_latency_seconds", "Host functions under @semzip_timed",
                                          ["function"], buckets=FUNCTION_BUCKETS, registry=own)
        registry.register(_WithoutCreated(own))
        # The series whose labels are known now exist from the first scrape, at zero.
        for kind in KINDS.values():
            self.ops.labels("compress", kind, model)
        self.latency.labels("compress", model)
        for metric in (self.prompt_tokens, self.gen_tokens, self.bytes_in, self.bytes_out, self.ratio, self.quality):
            metric.labels(model)
        self.init_cache(RECORD_CACHE)
        self.init_cache(DECODED_CACHE)
        self.reconstruct.labels(model)
        self.errors.labels("bad_input")
        for window in ("run", "last_minute"):
            self.throughput.labels(window)

    def init_cache(self, name: str) -> None:
        for metric in (self.cache_hits, self.cache_misses, self.cache_entries):
            metric.labels(name)

    def init_rungs(self, rungs: list[str], causes: tuple[str, ...]) -> None:
        """A zero fallback series for every rung that can fail and every cause."""
        for rung in rungs[:-1]:  # the last rung (no model) does not fail
            for cause in causes:
                self.fallbacks.labels(rung, cause)

    def init_gpu(self, tag: str) -> None:
        for metric in (self.gpu_util, self.gpu_mem, self.gpu_power, self.gpu_energy):
            metric.labels(tag)
