"""Like for like: llama.cpp's own llama-server against semzip's full pipeline, on the same dialogues.

Usage: python bench/bench_server.py [--n 64] [--np 8] [--clients 8] [--repeat 3] [--server PATH] [--server-args "..."]

llama-server is built from the source vendored in the pinned llama-cpp-python sdist
(bench/build_llama_cpp.sh, about 9 min on 2 cores the first time) unless --server names a binary.
Both sides get the first N dialogues of dialogsum-dev.jsonl, the same model file, the same chat
prompt rendered by the GGUF's template, the same per-record grammar and the same output bound
(CompressConfig.max_tokens), greedy. The server runs with --np slots and continuous batching and
is driven by --clients concurrent local HTTP clients; its wall runs from the first request to the
last response (model already loaded). semzip runs `semzip compress` as a user would: checkpoint
journal, cache and similarity grouping on, no fidelity scoring (scoring would add retries the
server does not do); its wall is the pipeline's own, after the model load. Prints markdown tables.
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED, machine, print_table  # noqa: E402

HERE = Path(__file__).resolve().parent


def build_server() -> Path:
    done = subprocess.run(["bash", str(HERE / "build_llama_cpp.sh"), "cpu", "llama-server"], stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit("building llama-server failed (see the output above)")
    return Path(done.stdout.strip().splitlines()[-1]) / "llama-server"


def server_requests(texts: list[str], model_path: Path) -> list[dict]:
    """/completion bodies carrying exactly what the compressor would send for each text."""
    from bindings.model import Model, ModelParams
    from engine.codecs.item import clean_text
    from engine.codecs.summary import prompts
    from engine.codecs.summary.compressor import CompressConfig

    config = CompressConfig()
    vocab = Model(model_path, ModelParams(vocab_only=True))
    bodies = []
    for text in map(clean_text, texts):
        head, rest, grammar = prompts.model_request(vocab.apply_chat_template, text, config.target_ratio)
        bodies.append({
            "prompt": head + rest, "grammar": grammar, "n_predict": config.max_tokens,
            "samplers": ["top_k"], "top_k": 1, "cache_prompt": True,  # greedy, nothing else in the chain
        })
    vocab.close()
    return bodies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict) -> tuple[dict, float]:
    t0 = time.perf_counter()
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=1800) as r:
        out = json.loads(r.read())
    return out, time.perf_counter() - t0


def run_server(binary: Path, model_path: Path, bodies: list[dict], args) -> dict:
    port = free_port()
    cmd = [str(binary), "-m", str(model_path), "-np", str(args.np), "-c", str(args.np * 2048), "-t", str(args.threads),
           "-tb", str(args.threads), "--host", "127.0.0.1", "--port", str(port), "--no-webui", *args.server_args.split()]
    log = open(Path(args.workdir) / "llama-server.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    raise SystemExit(f"llama-server exited with {proc.returncode}; see {log.name}")
            time.sleep(0.5)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            answers = list(pool.map(lambda b: post(base + "/completion", b), bodies))
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    outs = [a["content"] for a, _ in answers]
    return {
        "wall": wall, "outs": outs, "latencies": [s for _, s in answers],
        "n_prompt": sum(a["timings"]["prompt_n"] for a, _ in answers),  # decoded; cached prompt parts excluded
        "n_gen": sum(a["tokens_predicted"] for a, _ in answers), "cmd": " ".join(cmd[:1] + cmd[3:]),
    }


def run_semzip(src: Path, out: Path, extra: list[str]) -> dict:
    summary = out.with_suffix(".summary.json")
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "engine.cli", "compress", str(src), "-o", str(out), "--mode", "summary", "--no-score",
                           "--summary-json", str(summary), *extra], capture_output=True, text=True)
    process_wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"semzip compress failed:\n{done.stderr[-3000:]}")
    return {**json.loads(summary.read_text()), "process_wall": process_wall}


def valid_json(outs: list[str]) -> int:
    from engine.codecs.summary.compressor import parse_record_json

    return sum(parse_record_json(o) is not None for o in outs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--np", type=int, default=8, help="llama-server parallel slots")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--server", type=Path, default=None, help="a llama-server binary (default: build it)")
    ap.add_argument("--server-args", default="", help="extra llama-server flags, e.g. '-kvu'")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of every configuration (medians reported)")
    args = ap.parse_args()
    import psutil

    from engine import models

    args.threads = args.threads or psutil.cpu_count(logical=False) or 1
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="semzip-server-bench-")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    binary = args.server or build_server()
    model_path, _ = models.resolve(None, mode="summary")
    rows = [json.loads(line) for line in (SHARED / "dialogsum-dev.jsonl").open()][: args.n]
    src = work / "in.jsonl"
    src.write_text("".join(json.dumps({"id": r["fname"], "text": r["dialogue"]}) + "\n" for r in rows))
    print(f"machine: {machine()}; {args.n} dialogues; {args.threads} threads; work in {work}", flush=True)

    bodies = server_requests([r["dialogue"] for r in rows], model_path)
    runs: dict[str, list[dict]] = {"server": [], "full": [], "plain": []}
    for k in range(args.repeat):  # interleaved, so that drift on a shared machine hits every configuration
        runs["server"].append(run_server(binary, model_path, bodies, args))
        runs["full"].append(run_semzip(src, work / f"full{k}.jsonl", ["--group", "0.85"]))
        runs["plain"].append(run_semzip(src, work / f"plain{k}.jsonl", ["--no-monitor", "--drop-store"]))
        print(f"round {k + 1}/{args.repeat}: items/min server {args.n / runs['server'][-1]['wall'] * 60:.1f}, "
              f"full {runs['full'][-1]['items_per_min']:.1f}, plain {runs['plain'][-1]['items_per_min']:.1f}", flush=True)
    cached = run_semzip(src, work / "cached.jsonl", ["--group", "0.85", "--store", str(work / "full0.jsonl.semzip.db")])
    print(f"llama-server: {runs['server'][0]['cmd']}")
    report(args, runs, cached, work)


def report(args, runs: dict[str, list[dict]], cached: dict, work: Path) -> None:
    walls = {"server": [r["wall"] for r in runs["server"]]}
    walls |= {name: [r["wall_s"] for r in runs[name]] for name in ("full", "plain")}
    ipm = {name: sorted(args.n / w * 60 for w in ws) for name, ws in walls.items()}
    med = {name: statistics.median(v) for name, v in ipm.items()}
    server, full = runs["server"][0], runs["full"][0]
    table = [[f"llama-server -np {args.np}, {args.clients} clients", med["server"], f"{ipm['server'][0]:.1f}-{ipm['server'][-1]:.1f}",
              "1.00x", server["n_prompt"], server["n_gen"], f"{valid_json(server['outs'])}/{args.n}"]]
    for name, label in [("full", "semzip compress: journal + cache + grouping + monitor"),
                        ("plain", "semzip compress: journal only (no monitor, no grouping)")]:
        r = runs[name][0]
        table.append([label, med[name], f"{ipm[name][0]:.1f}-{ipm[name][-1]:.1f}", f"{med[name] / med['server']:.2f}x",
                      r["prompt_tokens"], r["generated_tokens"], f"{r['kinds'].get('llm', 0)}/{args.n} llm"])
    print_table([f"run ({args.repeat} rounds)", "items/min, median", "range", "vs server", "prompt tokens decoded",
                 "generated tokens", "valid"], table)
    lat = sorted(server["latencies"])
    print(f"\nllama-server latency per request (round 1): p50 {statistics.median(lat):.1f} s, "
          f"p95 {lat[int(0.95 * (len(lat) - 1))]:.1f} s")
    share = [r["checkpoint_s"] / r["wall_s"] for r in runs["full"]]
    print(f"checkpoint journal: at most {max(share):.3%} of a full run's wall "
          f"({max(r['checkpoint_s'] for r in runs['full']) * 1000:.0f} ms)")
    print(f"re-run with the persistent cache: process wall {cached['process_wall']:.1f} s vs "
          f"{full['process_wall']:.1f} s ({full['process_wall'] / cached['process_wall']:.1f}x faster), "
          f"cache hits {cached['cache'].get('hits')}/{args.n}")
    same = (work / "full0.jsonl").read_bytes() == (work / "cached.jsonl").read_bytes()
    print(f"cached output identical to the first run's: {same}")


if __name__ == "__main__":
    main()
