"""`semzip report RUN`: a run's summary from its store, as text or JSON, and PNG charts with matplotlib."""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

from engine.codecs.record import Record
from engine.errors import InputError
from engine.jobs.store import RunStore
from engine.jobs.summary import MIN_RATE_WALL_S
from engine.observe.monitor import percentiles


def store_path_for(run: str) -> Path:
    """A store file, or an output file whose store sits beside it."""
    p = Path(run)
    if p.suffix == ".db" and p.is_file():
        return p
    beside = Path(run + ".semzip.db")
    if beside.is_file():
        return beside
    raise InputError(f"no run store at {run} or {beside}: pass the OUTPUT of a `semzip compress` run or its .semzip.db")


def load_run(run: str) -> dict:
    with RunStore(store_path_for(run)) as store:
        summary = json.loads(store.get_meta("monitor_summary") or "{}")
        latencies = json.loads(store.get_meta("latencies") or "[]")
        qualities = json.loads(store.get_meta("qualities") or "[]")
        rows = store.journal_rows()
        series = {name: store.series(name) for name in store.sample_names()}
        events = store.events()
        workers = json.loads(store.get_meta("workers") or "{}")
        plan = json.loads(store.get_meta("rungs") or "[]")  # [[name, code], ...], top rung first
    records = [(size, Record.from_json(line)) for _, line, size in rows]
    kept = [(s, r) for s, r in records if r.kind != "error"]
    names = {code: name for name, code in plan}
    rung_of = lambda code: names.get(code, code) if code else (plan[0][0] if plan else "cpu")  # noqa: E731
    ratios = [s / r.stored_bytes for s, r in kept]
    gpu_util = [v for name, pts in series.items() if name.endswith("_util_percent") for _, v in pts]
    return {
        "summary": summary,
        "records": len(records),
        "kinds": {k: sum(r.kind == k for _, r in records) for k in ("llm", "extractive", "raw", "error")},
        "rungs": dict(Counter(rung_of(r.rung) for _, r in kept).most_common()),
        "honest_ratio": sum(s for s, _ in kept) / sum(r.stored_bytes for _, r in kept) if kept else None,
        "ratio_percentiles": percentiles(ratios),
        "quality_percentiles": percentiles(qualities),
        "flagged": sum(r.flagged for _, r in kept),
        "latency_percentiles": percentiles(latencies),
        "gpu_util_mean": float(np.mean(gpu_util)) if gpu_util else None,
        "fallbacks": [e for _, k, e in events if k == "fallback"],
        "quality_alerts": [e for _, k, e in events if k == "quality_alert"],
        "workers": workers,
        "_latencies": latencies, "_qualities": qualities, "_ratios": ratios, "_series": series,
    }


def advise(run: dict, total_memory: int | None = None) -> dict:
    """Batch size and concurrency for the next run, from memory headroom and KV-cache pressure."""
    import psutil

    s = run["summary"]
    slots = s.get("slots") or 16
    rss = max((v for _, v in run["_series"].get("rss_bytes", [])), default=0)
    total = total_memory or psutil.virtual_memory().total
    if s.get("kv_preemptions", 0) > 0:
        return {"slots": max(1, slots // 2), "why": f"{s['kv_preemptions']} preemptions: the KV cache was full; "
                "halve --slots (or raise n_ctx)"}
    if rss and rss * 2 > total:
        return {"slots": max(1, slots // 2), "why": f"peak RSS {rss / 2**30:.1f} GiB is over half of memory"}
    if rss and rss * 4 < total:
        return {"slots": min(slots * 2, 64), "why": "no KV pressure and memory to spare: larger batches decode "
                "more tokens per second (bench/HISTORY.md)"}
    return {"slots": slots, "why": "keep: memory and KV cache are in balance"}


def format_report(run: dict) -> str:
    s = run["summary"]
    lat, q, ratio = run["latency_percentiles"], run["quality_percentiles"], run["ratio_percentiles"]
    rate = s.get("items_per_min")
    fallbacks = "; ".join(f"{e['rung']} ({e.get('cause', e.get('reason', '?'))})" for e in run["fallbacks"])
    lines = [
        f"records: {run['records']} ({', '.join(f'{k} {v}' for k, v in run['kinds'].items())})",
        f"records by ladder rung: {', '.join(f'{k} {v}' for k, v in run['rungs'].items()) or 'n/a (no records)'}",
        f"fallbacks: {len(run['fallbacks'])}{': ' + fallbacks if fallbacks else ''}; "
        f"quality alerts: {len(run['quality_alerts'])}",
        "throughput: " + (f"{rate:.1f} items/min over {s.get('wall_s', 0):.0f} s"
                          if rate is not None and s.get("wall_s", 0) >= MIN_RATE_WALL_S else "n/a"),
        f"latency p50/p95/p99 (s): {_triple(lat)}",
        f"honest ratio: {run['honest_ratio']:.2f}x (per record p50/p95/p99: {_triple(ratio)})"
        if run["honest_ratio"] is not None else "honest ratio: n/a (no records)",
        f"quality p50/p95/p99: {_triple(q)}; flagged under threshold: {run['flagged']}",
        f"tokens: {s.get('prompt_tokens', 0)} prompt, {s.get('generated_tokens', 0)} generated",
        f"GPU utilisation: {'%.0f%%' % run['gpu_util_mean'] if run['gpu_util_mean'] is not None else 'no GPU sampled'}",
        f"cost per 1,000 memories: {s.get('device_hours_per_1k', float('nan')):.3f} device-hours, "
        + (f"{s['energy_wh_per_1k']:.1f} Wh, " if s.get("energy_wh_per_1k") else "energy not sampled, ")
        + f"${s.get('cloud_usd_saved_per_1k', 0):.3f} saved against the cloud price"
        if s.get("items") else "cost per 1,000 memories: n/a (no items)",
        "advice for the next run: --slots {slots} ({why})".format(**advise(run)),
    ]
    for name, w in sorted(run.get("workers", {}).items()):
        if name != "local":  # Ray actors: what each engine did, and how often its process was restarted
            lines.append(f"{name}: {w['batches']} batches, {w['items']} texts, {w['prompt_tokens']} prompt + "
                         f"{w['generated_tokens']} generated tokens, {w['compute_s']:.1f} s computing, peak RSS "
                         f"{w['peak_rss_bytes'] / 2**20:.0f} MiB, {len(w['pids']) - 1} restart(s)")
    return "\n".join(lines) + "\n"


def _triple(d: dict) -> str:
    """p50 / p95 / p99, or n/a when there were no samples."""
    if any(math.isnan(d[k]) for k in ("p50", "p95", "p99")):
        return "n/a"
    return " / ".join(f"{d[k]:.2f}" for k in ("p50", "p95", "p99"))


def write_plots(run: dict, out_dir: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name):
        fig.tight_layout()
        path = out / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    series = run["_series"]
    done = series.get("items_done", [])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if len(done) > 1:
        t = np.array([p[0] for p in done]) - done[0][0]
        n = np.array([p[1] for p in done])
        # Items finish one by one, unevenly: a rate over the trailing minute reads better than a derivative.
        back = np.searchsorted(t, t - 60)
        rate = (n - n[back]) / np.maximum(t - t[back], 1e-9) * 60
        ax.plot(t, n, label="items done")
        ax2 = ax.twinx()
        ax2.plot(t, rate, color="tab:orange", alpha=0.8, label="items/min (last 60 s)")
        ax2.set_ylabel("items/min, trailing 60 s", color="tab:orange")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("items done")
    ax.set_title("Throughput over time")
    save(fig, "throughput.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(run["_latencies"] or [0], bins=30, color="tab:blue")
    ax.set_xlabel("per-item latency (s)")
    ax.set_ylabel("items")
    ax.set_title("Latency histogram")
    save(fig, "latency_histogram.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    scored = bool(run["_qualities"]) and len(run["_qualities"]) == len(run["_ratios"])
    if scored:
        ax.scatter(run["_ratios"], run["_qualities"], s=12, alpha=0.7)
    else:
        ax.hist(run["_ratios"] or [0], bins=30)
    ax.set_xlabel("honest compression ratio")
    ax.set_ylabel("quality score" if scored else "records")
    ax.set_title("Ratio vs quality" if scored else "Ratio distribution (run without quality scoring)")
    save(fig, "ratio_vs_quality.png")

    fig, ax = plt.subplots(figsize=(7, 3.5))
    gpu = {k: v for k, v in series.items() if k.endswith("_util_percent")}
    for name, pts in gpu.items():
        ax.plot([p[0] - pts[0][0] for p in pts], [p[1] for p in pts], label=name)
    if not gpu:
        ax.text(0.5, 0.5, "no GPU sampled on this machine", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("GPU utilisation %")
    ax.set_title("GPU utilisation over time")
    save(fig, "gpu_utilisation.png")
    return written
