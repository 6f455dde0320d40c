"""The GPU run's tables, from the row JSONs tools/gpu_matrix.py leaves in its results folder."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np


def _load(results: Path, key: str) -> dict | None:
    f = results / f"{key}.json"
    return json.loads(f.read_text()) if f.exists() else None


def _num(x, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _status(row: dict | None) -> str | None:
    """None when the row ran and succeeded; else what the table shows instead of figures."""
    if row is None:
        return "not run"
    if row["rc"] == 0:
        return None
    return {"missing": "missing", "timeout": "TIMEOUT"}.get(row["rc"], f"FAILED rc={row['rc']}")


def _gpu(row: dict | None) -> list[str]:
    if not row or not row.get("gpu_util"):
        return ["-", "-"]
    u = row["gpu_util"]
    return [f"{np.median(u):.0f} / {max(u):.0f}", _num(row.get("gpu_mem_peak_mib"), 0)]


def batched_bench(row: dict | None) -> dict[int, dict]:
    """llama-batched-bench's JSONL lines by parallel sequence count."""
    out = {}
    for line in (row or {}).get("output", "").splitlines():
        if line.startswith('{"n_kv_max"'):
            d = json.loads(line)
            out[d["pl"]] = d
    return out


def mix_rate(fig: dict, bb: dict | None) -> float | None:
    """llama-batched-bench's tokens/s for this row's own mix of prompt and generated tokens: its prefill and
    generation rates at the same sequence count, weighted by the tokens the engine decoded of each kind."""
    if not bb or not fig:
        return None
    p, g = fig["prompt_tokens"], fig["generated_tokens"]
    return (p + g) / (p / bb["speed_pp"] + g / bb["speed_tg"])


def md_tables(text: str) -> list[dict[str, str]]:
    """Data rows of the markdown tables in a script's output, as {header: cell}."""
    rows, header = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set("".join(cells)) <= set("-: "):
            rows.append(dict(zip(header, cells)))
    return rows


def lossless_figures(text: str) -> dict[str, str]:
    """encode/decode memories/min and tokens/s from bench_lossless.py's table, as printed (best effort)."""
    found = {}
    for r in md_tables(text):
        label = " ".join(r.values()).lower()
        for side in ("encode", "decode"):
            for h, v in r.items():
                hl = h.lower()
                rate = "min" if "/min" in hl else "tok" if "tok" in hl and "/s" in hl else None
                if rate and (side[:3] in hl or side[:3] in label):
                    found.setdefault(f"{side} {rate}", v)
    return found


def selftest_lines(row: dict | None) -> list[str]:
    text = (row or {}).get("output", "")
    return [ln.strip() for ln in text.splitlines() if re.search(r"same bits|DIFFERENT|self-test", ln)]


def render(results: Path, models: list[str], slots: list[int], header: str = "") -> str:
    out = [header] if header else []
    out += ["", "Summary mode (forced generation length, shared prompt prefix decoded once and copied) beside "
            "llama-batched-bench on the same build (-npp the mean per-memory prompt, -ntg the forced length, -kvu): "
            "its prefill and generation rates at the same sequence count, applied to the tokens the engine decoded. "
            "Host CPU %: the bench process's CPU time over its wall time (100 = one core busy). GPU columns: the "
            "monitor's NVML samples every 0.25 s over the row's whole process, model load included:", "",
            "| model | seqs | memories | memories/min | tokens/s | gen tok/s | batched-bench tok/s (same mix) "
            "| vs batched-bench | host CPU % | GPU util % p50 / max | GPU MiB peak |", "|" + "---|" * 11]
    for m in models:
        bb = batched_bench(_load(results, f"{m}__batched-bench"))
        for s in slots:
            row = _load(results, f"{m}__summary@{s}")
            bad = _status(row)
            fig = json.loads((results / f"{m}__summary@{s}.out.json").read_text()) if bad is None else {}
            ref = mix_rate(fig, bb.get(s))
            cells = [m, s, fig.get("n", "-"), _num(fig.get("memories_per_min")) if not bad else bad,
                     _num(fig.get("tokens_per_s")), _num(fig.get("gen_tokens_per_s")), _num(ref),
                     f"{fig['tokens_per_s'] / ref:.2f}" if ref else "-",
                     _num(100 * fig["cpu_s"] / fig["wall_s"], 0) if "cpu_s" in fig else "-", *_gpu(row)]
            out.append("| " + " | ".join(map(str, cells)) + " |")
    out += ["", "Lossless mode (bench/bench_lossless.py), encode and decode:", "",
            "| model | seqs | encode memories/min | encode tok/s | decode memories/min | decode tok/s "
            "| GPU util % p50 / max | GPU MiB peak |", "|" + "---|" * 8]
    for m in models:
        for s in slots:
            row = _load(results, f"{m}__lossless@{s}")
            bad = _status(row)
            fig = lossless_figures(row["output"]) if bad is None else {}
            first = bad or fig.get("encode min", "see log")
            cells = [m, s, first, fig.get("encode tok", "-"), fig.get("decode min", "-"), fig.get("decode tok", "-"),
                     *_gpu(row)]
            out.append("| " + " | ".join(map(str, cells)) + " |")
    out += ["", "Lossless determinism self-test on this backend (which ubatch row counts agree bit for bit):"]
    for m in models:
        row = _load(results, f"{m}__selftest")
        bad = _status(row)
        lines = selftest_lines(row)
        out.append(f"- {m}: {bad or 'passed'}" + ("" if lines else f" ({(row or {}).get('output', '')[-200:].strip()})"))
        out += [f"    {ln}" for ln in lines]
    out += _targets(results, models, slots) + _failures(results)
    return "\n".join(out)


def _targets(results: Path, models: list[str], slots: list[int]) -> list[str]:
    big = [m for m in models if "7b" in m]
    if not big:
        return []
    m = big[0]
    lines = ["", f"Targets ({m}):"]
    bb = batched_bench(_load(results, f"{m}__batched-bench"))
    figs = {}
    for s in slots:
        f = results / f"{m}__summary@{s}.out.json"
        if f.exists():
            figs[s] = json.loads(f.read_text())
    if figs:
        best = max(figs.values(), key=lambda d: d["memories_per_min"])
        lines.append(f"- summary mode: best {best['memories_per_min']:,.0f} memories/min at {best['slots']} seqs "
                     f"(target >= 1,000 on an H100)")
    ratios = {s: figs[s]["tokens_per_s"] / mix_rate(figs[s], bb[s]) for s in figs if s in bb}
    if ratios:
        lines.append("- tokens/s vs llama-batched-bench: " + ", ".join(f"{s} seqs {r:.0%}" for s, r in ratios.items())
                     + " (target >= 80%)")
    return lines


def _failures(results: Path) -> list[str]:
    out = []
    for f in sorted(results.glob("*.json")):
        if f.name.endswith(".out.json"):
            continue
        row = json.loads(f.read_text())
        if row["rc"] not in (0, "missing"):
            tail = "\n".join(row["output"].strip().splitlines()[-12:])
            out += ["", f"{row['row']}: {_status(row)} after {row.get('wall_s', 0):.0f} s: {' '.join(row['cmd'])}",
                    "```", tail, "```"]
    return (["", "Failures (last lines of output):"] + out) if out else []
