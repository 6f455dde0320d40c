"""Monitor and report: exact percentiles, quality alerts, sampling without a GPU, /metrics scraping, charts."""
import socket
import time
import urllib.request

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.codecs.record import Record
from engine.core.sequence import Result
from engine.jobs.store import RunStore
from engine.observe.monitor import Monitor, percentiles
from engine.observe.report import format_report, load_run, write_plots


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200))
@settings(max_examples=100)
def test_percentiles_match_numpy(xs):
    got = percentiles(xs)
    for q in (50, 95, 99):
        assert got[f"p{q}"] == float(np.percentile(xs, q))


def _rec(q):
    return Record("x", "llm", summary="s", facts=["f"], quality=q)


def _res(total_s=1.0):
    return Result(None, [1, 2, 3], "stop", 10, 0, 0.1, 0.2, total_s)


def test_quality_drop_raises_one_alert_and_logs_an_event(tmp_path):
    with RunStore(tmp_path / "s.db") as store:
        m = Monitor(store=store, quality_window=10)
        m.on_records([(1000, _rec(0.9)) for _ in range(20)], [_res() for _ in range(20)])
        m.on_records([(1000, _rec(0.7)) for _ in range(10)])
        m.on_records([(1000, _rec(0.7)) for _ in range(5)])
        assert m.summary()["quality_alerts"] == 1
        assert [k for _, k, _ in store.events()] == ["quality_alert"]


def test_sampler_without_gpu_records_system_metrics_and_never_fails(tmp_path):
    with RunStore(tmp_path / "s.db") as store:
        m = Monitor(store=store)
        m.start_sampling(0.05)
        time.sleep(0.3)
        m.stop()
        names = store.sample_names()
        assert {"cpu_percent", "rss_bytes", "system_memory_used_bytes", "items_done"} <= set(names)
        assert not [n for n in names if n.startswith("gpu")]  # no GPU on this machine: nothing recorded
        assert store.series("rss_bytes")[0][1] > 1e6


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metrics_endpoint_serves_prometheus_text():
    m = Monitor(model="qwen")
    port = _free_port()
    m.serve(port)
    m.on_records([(3000, _rec(0.8))], [_res(2.5)])
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'semzip_operations_total{kind="llm",model="qwen",op="compress"} 1.0' in body
    assert 'semzip_latency_seconds_count{model="qwen",op="compress"} 1.0' in body
    assert "semzip_compression_ratio" in body


def test_report_and_plots_from_a_store(tmp_path):
    path = tmp_path / "out.jsonl.semzip.db"
    with RunStore(path) as store:
        m = Monitor(store=store)
        recs = [Record(str(i), "llm", summary="s" * 50, quality=0.8 + i / 100) for i in range(5)]
        store.commit_lines([(i, r.to_json(), 1000) for i, r in enumerate(recs)])
        m.on_records([(1000, r) for r in recs], [_res(t) for t in (1, 2, 3, 4, 5)])
        m.start_sampling(0.05)
        time.sleep(0.2)
        m.stop()
    run = load_run(str(tmp_path / "out.jsonl"))
    text = format_report(run)
    assert "records: 5 (llm 5" in text and "latency p50/p95/p99 (s): 3.00 / 4.80 / 4.96" in text
    assert "no GPU sampled" in text and "advice for the next run: --slots" in text
    pngs = write_plots(run, str(tmp_path / "plots"))
    assert len(pngs) == 4 and all(p.stat().st_size > 5000 for p in pngs)


def test_metrics_port_is_scraped_during_a_real_compress_run(tmp_path, model_path):
    import subprocess
    import sys

    from texts import LANDLORD

    src = tmp_path / "in.txt"
    src.write_text("\n".join([LANDLORD.replace("\n", " ")] * 4) + "\n")
    port = _free_port()
    cmd = [sys.executable, "-m", "engine.cli", "compress", str(src), "-o", str(tmp_path / "o.jsonl"), "--no-score",
           "--metrics-port", str(port), "--sample-interval", "0.2"]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    body = ""
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
                if "semzip_process_rss_bytes" in body and not body.count("semzip_process_rss_bytes 0.0"):
                    break
            except OSError:
                pass
            time.sleep(0.2)
    finally:
        proc.wait(timeout=300)
    assert "semzip_process_rss_bytes" in body and "semzip_items_per_minute" in body
    assert proc.returncode == 0
