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
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from engine.jobs.store import RunStore
from engine.observe.gpu import GpuProbe

log = logging.getLogger(__name__)
_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


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
        r, m = self.registry, ["model"]
        self.ops = Counter("semzip_operations", "Records produced", ["op", "kind", "model"], registry=r)
        self.latency = Histogram("semzip_latency_seconds", "Per-item latency", ["op", "model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.prompt_tokens = Counter("semzip_prompt_tokens", "Prompt tokens", m, registry=r)
        self.gen_tokens = Counter("semzip_generated_tokens", "Generated tokens", m, registry=r)
        self.bytes_in = Counter("semzip_original_bytes", "Original UTF-8 bytes", m, registry=r)
        self.bytes_out = Counter("semzip_stored_bytes", "Stored record bytes", m, registry=r)
        self.ratio = Gauge("semzip_compression_ratio", "Honest ratio so far", m, registry=r)
        self.quality = Histogram("semzip_quality", "Fidelity score", m, buckets=[i / 20 for i in range(21)], registry=r)
        self.cache_hits = Gauge("semzip_cache_hits", "Cache hits this run", registry=r)
        self.cache_misses = Gauge("semzip_cache_misses", "Cache misses this run", registry=r)
        self.fallbacks = Counter("semzip_fallbacks", "Fallback ladder steps", ["rung", "reason"], registry=r)
        self.errors = Counter("semzip_errors", "Errors by kind", ["kind"], registry=r)
        self.alerts = Counter("semzip_quality_alerts", "Rolling quality fell under the baseline", registry=r)
        self.preemptions = Gauge("semzip_kv_preemptions", "Sequences preempted because the KV cache was full", registry=r)
        self.items_per_min = Gauge("semzip_items_per_minute", "Throughput", ["window"], registry=r)
        self.cpu = Gauge("semzip_process_cpu_percent", "Process CPU %", registry=r)
        self.rss = Gauge("semzip_process_rss_bytes", "Process RSS", registry=r)
        self.sys_mem = Gauge("semzip_system_memory_used_bytes", "System memory used", registry=r)
        self.gpu_util = Gauge("semzip_gpu_utilization_percent", "GPU utilisation", ["gpu"], registry=r)
        self.gpu_mem = Gauge("semzip_gpu_memory_used_bytes", "GPU memory used", ["gpu"], registry=r)
        self.gpu_power = Gauge("semzip_gpu_power_watts", "GPU power", ["gpu"], registry=r)
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
        self._window = quality_window
        self._alert_drop = alert_drop
        self._baseline: float | None = None
        self._alerting = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.slots: int | None = None  # the run's --slots, for the advisor

    # events from the pipeline
    def on_records(self, rows: list[tuple[int, object]], results=()) -> None:
        """rows: (original bytes, Record) per item; results: generator Results behind them."""
        now = time.time()
        with self._lock:
            for size, rec in rows:
                self.num_items += 1
                self.finish_times.append(now)
                self.ops.labels("compress", rec.kind, self.model).inc()
                if rec.kind == "error":
                    self.errors.labels("bad_input").inc()
                    continue
                self.bytes_in.labels(self.model).inc(size)
                self.bytes_out.labels(self.model).inc(rec.stored_bytes)
                self.total_in += size
                self.total_out += rec.stored_bytes
                if rec.quality is not None:
                    self.qualities.append(rec.quality)
                    self.quality.labels(self.model).observe(rec.quality)
            for res in results:
                self.latencies.append(res.total_s)
                self.latency.labels("compress", self.model).observe(res.total_s)
                self.num_prompt_tokens += res.num_prompt_tokens
                self.num_gen_tokens += len(res.tokens)
                self.prompt_tokens.labels(self.model).inc(res.num_prompt_tokens)
                self.gen_tokens.labels(self.model).inc(len(res.tokens))
            if self.total_out:
                self.ratio.labels(self.model).set(self.total_in / self.total_out)
            self._check_quality()
            self._update_throughput(now)

    def on_generation(self, stats) -> None:
        """The generator's running totals (KV-cache pressure shows up as preemptions)."""
        self.num_preemptions = stats.num_preemptions
        self.preemptions.set(stats.num_preemptions)

    def on_cache(self, stats: dict) -> None:
        self.cache_hits.set(stats["hits"])
        self.cache_misses.set(stats["misses"])

    def on_fallback(self, rung: str, reason: str) -> None:
        self.fallbacks.labels(rung, reason[:60]).inc()
        self._event("fallback", {"rung": rung, "reason": reason})

    def _check_quality(self) -> None:
        w = self._window
        if len(self.qualities) < 2 * w:
            return
        if self._baseline is None:
            self._baseline = float(np.mean(self.qualities[:w]))
        rolling = float(np.mean(self.qualities[-w:]))
        dropped = rolling < self._baseline * (1 - self._alert_drop)
        if dropped and not self._alerting:
            self.alerts.inc()
            self.num_alerts += 1
            log.warning("quality alert: rolling mean %.3f is over %d%% under the baseline %.3f",
                        rolling, round(self._alert_drop * 100), self._baseline)
            self._event("quality_alert", {"rolling": rolling, "baseline": self._baseline})
        self._alerting = dropped

    def _update_throughput(self, now: float) -> None:
        while self.finish_times and self.finish_times[0] < now - 60:
            self.finish_times.popleft()
        elapsed = max(now - self.t_start, 1e-9)
        self.items_per_min.labels("run").set(self.num_items / elapsed * 60)
        self.items_per_min.labels("last_minute").set(len(self.finish_times) * 60 / min(elapsed, 60))

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
        gpu = GpuProbe()
        if gpu.vendor is None:
            log.info("no GPU seen by NVML or ROCm SMI (%s): GPU metrics are not recorded", gpu.reason)
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
                    self.gpu_util.labels(tag).set(s.utilization_pct)
                if s.memory_used is not None:
                    values[f"{tag}_memory_used_bytes"] = s.memory_used
                    self.gpu_mem.labels(tag).set(s.memory_used)
                if s.power_w is not None:
                    values[f"{tag}_power_w"] = s.power_w
                    self.gpu_power.labels(tag).set(s.power_w)
                    self.energy_j += s.power_w * (now - last)
            last = now
            self.cpu.set(values["cpu_percent"])
            self.rss.set(values["rss_bytes"])
            self.sys_mem.set(values["system_memory_used_bytes"])
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
