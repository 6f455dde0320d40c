"""What the engine is doing and what it costs: Prometheus metrics, raw samples for percentiles, quality alerts.

Metrics live in a prometheus_client registry (ours by default, or the host's); raw latencies and
qualities are kept so percentiles are exact, and the system sampler writes a time series to the
run store for `semzip report`.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import psutil
from prometheus_client import CollectorRegistry, start_http_server

from engine.codecs.events import ItemDone
from engine.codecs.record import Record
from engine.jobs.store import RunStore
from engine.observe.gpu import GpuProbe
from engine.observe.metrics import DECODED_CACHE, RECORD_CACHE, Metrics

log = logging.getLogger(__name__)


def percentiles(samples, qs=(50, 95, 99)) -> dict[str, float]:
    """pNN of the raw samples, numpy's linear interpolation; NaN when there are none."""
    if len(samples) == 0:
        return {f"p{q}": float("nan") for q in qs}
    values = np.percentile(np.asarray(samples, dtype=np.float64), qs)
    return {f"p{q}": float(v) for q, v in zip(qs, values)}


@dataclass(frozen=True, slots=True)
class CostModel:
    cloud_usd_per_m_tokens: float = 0.50  # a small hosted model's blended price, user-configurable


class Monitor:
    def __init__(self, model: str = "default", registry: CollectorRegistry | None = None, store: RunStore | None = None,
                 quality_window: int = 20, alert_drop: float = 0.10, cost: CostModel = CostModel()):
        self.model = model
        self.registry = registry or CollectorRegistry()
        self.store = store
        self.cost = cost
        self.metrics = Metrics(self.registry, model)
        self._lock = threading.Lock()
        self.t_start = time.time()
        self.latencies: list[float] = []
        self.qualities: list[float] = []
        self.finish_times: deque[float] = deque()
        self.num_items = 0
        self.num_prompt_tokens = 0
        self.num_gen_tokens = 0
        self.total_in = 0  # our own totals: prometheus_client exposes no public read of a counter
        self.total_out = 0
        self.num_alerts = 0
        self.num_preemptions = 0
        self.energy_j = 0.0
        self._cache_seen: dict[str, tuple[int, int]] = {}  # cache name -> (hits, misses) already counted
        self._preemptions_seen = 0
        self._window = quality_window
        self._alert_drop = alert_drop
        self._baseline: float | None = None
        self._alerting = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.slots: int | None = None  # the run's --slots, for the advisor

    # events from the pipeline, one per item as its record is final
    def on_item(self, size_in: int, rec: Record, done: ItemDone | None = None) -> None:
        """One finished item: its original bytes and record, and the codec's event when the model made it now
        (none for cache hits, bad lines, and repeats of a text already counted in the batch)."""
        now = time.time()
        m = self.metrics
        with self._lock:
            self.num_items += 1
            self.finish_times.append(now)
            m.ops.labels("compress", rec.kind, self.model).inc()
            if rec.kind == "error":
                m.errors.labels("bad_input").inc()
            else:
                m.bytes_in.labels(self.model).inc(size_in)
                m.bytes_out.labels(self.model).inc(rec.stored_bytes)
                self.total_in += size_in
                self.total_out += rec.stored_bytes
                if rec.quality is not None:
                    self.qualities.append(rec.quality)
                    m.quality.labels(self.model).observe(rec.quality)
            if done is not None:
                if done.latency_s is not None:
                    self.latencies.append(done.latency_s)
                    m.latency.labels("compress", self.model).observe(done.latency_s)
                self.num_prompt_tokens += done.num_prompt_tokens
                self.num_gen_tokens += done.num_generated_tokens
                m.prompt_tokens.labels(self.model).inc(done.num_prompt_tokens)
                m.gen_tokens.labels(self.model).inc(done.num_generated_tokens)
            if self.total_out:
                m.ratio.labels(self.model).set(self.total_in / self.total_out)
            self._check_quality()
            self._update_throughput(now)

    def on_generation(self, stats) -> None:
        """The generator's running totals (KV-cache pressure shows up as preemptions)."""
        with self._lock:
            # A fallback brings a fresh generator whose totals start at zero again.
            new = stats.num_preemptions - self._preemptions_seen if stats.num_preemptions >= self._preemptions_seen \
                else stats.num_preemptions
            self._preemptions_seen = stats.num_preemptions
            self.num_preemptions += new
            self.metrics.preemptions.inc(new)

    def on_cache(self, stats: dict, name: str = RECORD_CACHE) -> None:
        """A cache's running hits, misses and size (the records cache, or a host function's)."""
        with self._lock:
            hits, misses = self._cache_seen.get(name, (0, 0))
            if stats["hits"] < hits or stats["misses"] < misses:  # a new cache object under the same name
                hits = misses = 0
            self.metrics.cache_hits.labels(name).inc(stats["hits"] - hits)
            self.metrics.cache_misses.labels(name).inc(stats["misses"] - misses)
            self.metrics.cache_entries.labels(name).set(stats["size"])
            self._cache_seen[name] = (stats["hits"], stats["misses"])

    def watch_reads(self, engine) -> None:
        """Count an Engine's reads: each decode's latency (semzip_reconstruct_seconds) and its decoded-text cache."""
        def on_read(seconds: float | None, decoded: int) -> None:
            if seconds is not None:
                self.metrics.reconstruct.labels(self.model).observe(seconds)
            self.on_cache(engine.read_cache.stats(), DECODED_CACHE)

        engine.on_read = on_read
        self.on_cache(engine.read_cache.stats(), DECODED_CACHE)

    def watch_store(self, store) -> None:
        """Export a MemoryStore's tiers, compaction backlog and reads by tier with this monitor's metrics."""
        from engine.observe.store_metrics import StoreCollector

        self.registry.register(StoreCollector(store))

    def on_plan(self, rungs: list[str], causes: tuple[str, ...]) -> None:
        """The fallback ladder's rungs, top first, and the causes a rung can fail for: their series start at zero."""
        self.metrics.init_rungs(rungs, causes)

    def on_fallback(self, rung: str, cause: str, detail: str) -> None:
        self.metrics.fallbacks.labels(rung, cause).inc()
        self._event("fallback", {"rung": rung, "cause": cause, "reason": detail})

    def observe_function(self, name: str, seconds: float) -> None:
        """A host function's latency (@semzip_timed)."""
        self.metrics.function_latency.labels(name).observe(seconds)

    def _check_quality(self) -> None:
        w = self._window
        if len(self.qualities) < 2 * w:
            return
        if self._baseline is None:
            self._baseline = float(np.mean(self.qualities[:w]))
        rolling = float(np.mean(self.qualities[-w:]))
        dropped = rolling < self._baseline * (1 - self._alert_drop)
        if dropped and not self._alerting:
            self.metrics.alerts.inc()
            self.num_alerts += 1
            log.warning("quality alert: rolling mean %.3f is over %d%% under the baseline %.3f",
                        rolling, round(self._alert_drop * 100), self._baseline)
            self._event("quality_alert", {"rolling": rolling, "baseline": self._baseline})
        self._alerting = dropped

    def _update_throughput(self, now: float) -> None:
        while self.finish_times and self.finish_times[0] < now - 60:
            self.finish_times.popleft()
        elapsed = max(now - self.t_start, 1e-9)
        self.metrics.throughput.labels("run").set(self.num_items / elapsed)
        self.metrics.throughput.labels("last_minute").set(len(self.finish_times) / min(elapsed, 60))

    def _event(self, kind: str, detail: dict) -> None:
        if self.store is not None:
            self.store.add_event(kind, detail)

    # system sampling
    def start_sampling(self, interval_s: float = 1.0) -> None:
        self._thread = threading.Thread(target=self._sample_loop, args=(interval_s,), name="semzip-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.snapshot_to_store()

    def _sample_loop(self, interval_s: float) -> None:
        proc = psutil.Process()
        proc.cpu_percent(None)
        cpu_seen = sum(proc.cpu_times()[:2])
        gpu = GpuProbe()
        if gpu.vendor is None:
            log.info("no GPU seen by NVML or ROCm SMI (%s): GPU metrics are not recorded", gpu.reason)
        for s in gpu.sample():
            self.metrics.init_gpu(f"gpu{s.index}")
        m = self.metrics
        last = time.time()
        while True:
            stopping = self._stop.wait(interval_s)  # one last sample after stop(), so the series ends at the end
            now = time.time()
            values = {"cpu_percent": proc.cpu_percent(None), "rss_bytes": proc.memory_info().rss,
                      "system_memory_used_bytes": psutil.virtual_memory().used}
            for s in gpu.sample():
                tag = f"gpu{s.index}"
                if s.utilization_pct is not None:
                    values[f"{tag}_util_percent"] = s.utilization_pct
                    m.gpu_util.labels(tag).set(s.utilization_pct / 100)
                if s.memory_used is not None:
                    values[f"{tag}_memory_used_bytes"] = s.memory_used
                    m.gpu_mem.labels(tag).set(s.memory_used)
                if s.power_w is not None:
                    values[f"{tag}_power_w"] = s.power_w
                    m.gpu_power.labels(tag).set(s.power_w)
                    m.gpu_energy.labels(tag).inc(s.power_w * (now - last))
                    self.energy_j += s.power_w * (now - last)
            last = now
            cpu_now = sum(proc.cpu_times()[:2])  # user + system
            m.cpu.inc(max(cpu_now - cpu_seen, 0.0))
            cpu_seen = cpu_now
            m.rss.set(values["rss_bytes"])
            m.sys_mem.set(values["system_memory_used_bytes"])
            with self._lock:
                values["items_done"] = self.num_items
            if self.store is not None:
                self.store.add_samples(now, values)
            if stopping:
                return

    def serve(self, port: int) -> None:
        """Serve /metrics on localhost for as long as the process runs."""
        start_http_server(port, addr="127.0.0.1", registry=self.registry)

    # summaries
    def summary(self) -> dict:
        with self._lock:
            wall = time.time() - self.t_start
            n = max(self.num_items, 1)
            tokens = self.num_prompt_tokens + self.num_gen_tokens
            return {
                "items": self.num_items,
                "wall_s": wall,
                "items_per_min": self.num_items / max(wall, 1e-9) * 60,
                "latency_s": {**percentiles(self.latencies), "mean": float(np.mean(self.latencies)) if self.latencies else float("nan")},
                "prompt_tokens": self.num_prompt_tokens,
                "generated_tokens": self.num_gen_tokens,
                "quality": percentiles(self.qualities),
                "device_hours_per_1k": wall / 3600 / n * 1000,
                "energy_wh_per_1k": self.energy_j / 3600 / n * 1000 if self.energy_j else None,
                "cloud_usd_saved_per_1k": tokens / 1e6 * self.cost.cloud_usd_per_m_tokens / n * 1000,
                "quality_alerts": self.num_alerts,
                "kv_preemptions": self.num_preemptions,
                "slots": self.slots,
            }

    def snapshot_to_store(self) -> None:
        if self.store is not None:
            import json

            self.store.set_meta("monitor_summary", json.dumps(self.summary()))
            self.store.set_meta("latencies", json.dumps(self.latencies))
            self.store.set_meta("qualities", json.dumps(self.qualities))
