"""A memory store's tiers as Prometheus metrics, read from the store at each scrape.

Gauges: memories and bytes per tier (hot: hot records and kept hot copies; cold: cold records), and the
compaction backlog. Counters: reads served hot (no model) and cold (the model decoded them), and what this
process's compactions coded.
"""
from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


class StoreCollector(Collector):
    def __init__(self, store):
        self.store = store

    def collect(self):
        stats = self.store.stats()
        memories = GaugeMetricFamily("semzip_store_memories", "Memories in the store by tier", labels=["tier"])
        stored = GaugeMetricFamily("semzip_store_bytes", "Bytes stored by tier (hot: hot records and kept hot "
                                   "copies; cold: cold records)", labels=["tier"])
        for tier, n, size in (("hot", sum(s.hot for s in stats), sum(s.hot_bytes for s in stats)),
                              ("cold", sum(s.cold for s in stats), sum(s.cold_bytes for s in stats))):
            memories.add_metric([tier], n)
            stored.add_metric([tier], size)
        due, due_bytes = self.store.backlog()
        backlog = GaugeMetricFamily("semzip_store_compaction_backlog_memories", "Hot memories due for compaction",
                                    value=due)
        backlog_bytes = GaugeMetricFamily("semzip_store_compaction_backlog_bytes", "Hot bytes due for compaction",
                                          value=due_bytes)
        reads = CounterMetricFamily("semzip_store_reads", "Memories read, by the tier that served them (cold: "
                                    "decoded by the model)", labels=["tier"])
        reads.add_metric(["hot"], self.store.core.read_counts.hot)
        reads.add_metric(["cold"], self.store.core.read_counts.cold)
        totals = self.store.compactor.totals
        compacted = CounterMetricFamily("semzip_store_compacted_memories", "Memories this process compacted",
                                        value=totals.memories)
        compacted_bytes = CounterMetricFamily("semzip_store_compacted_text_bytes", "Text bytes this process "
                                              "compacted", value=totals.text_bytes)
        yield from (memories, stored, backlog, backlog_bytes, reads, compacted, compacted_bytes)

    def describe(self):
        return []  # collected fresh at each scrape: nothing to check at registration
