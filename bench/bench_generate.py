"""Naive Llama.create_chat_completion loop vs semzip's batched generator: same dialogues, prompt, grammar, greedy.

Usage: python bench/bench_generate.py [--n 32] [--max-tokens 256] [--slots 8]
Each method runs in its own subprocess so peak RSS is its own. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import load_jsonl, machine, peak_rss_mib, print_table  # noqa: E402


def run_naive(texts, model_path, max_tokens, threads):
    from llama_cpp import Llama, LlamaGrammar

    from engine.codecs.summary import prompts

    llm = Llama(model_path=str(model_path), n_ctx=4096, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False)
    grammar = LlamaGrammar.from_string(prompts.record_grammar(), verbose=False)
    outs, n_prompt, n_gen = [], 0, 0
    t0 = time.perf_counter()
    for text in texts:
        r = llm.create_chat_completion(messages=prompts.messages(text), grammar=grammar, temperature=0.0, max_tokens=max_tokens)
        outs.append(r["choices"][0]["message"]["content"])
        n_prompt += r["usage"]["prompt_tokens"]
        n_gen += r["usage"]["completion_tokens"]
    return outs, n_prompt, n_gen, time.perf_counter() - t0


def run_batched(texts, model_path, max_tokens, threads, slots, **runner_overrides):
    from engine.codecs.summary import prompts
    from engine.core.generator import BatchedGenerator
    from engine.core.runner import ModelRunner, RunnerConfig
    from engine.core.sequence import Request

    runner = ModelRunner(model_path, RunnerConfig(**{"num_slots": slots, "n_ctx": 16384, "n_threads": threads, **runner_overrides}))
    grammar = prompts.record_grammar()
    t0 = time.perf_counter()
    prefix_text, _ = prompts.split_prompt(runner.model.apply_chat_template, texts[0])
    prefix = tuple(runner.model.tokenize(prefix_text))
    requests = []
    for text in texts:
        head, rest = prompts.split_prompt(runner.model.apply_chat_template, text)
        assert head == prefix_text
        requests.append(Request(tuple(runner.model.tokenize(rest)), max_tokens=max_tokens, grammar=grammar))
    results = BatchedGenerator(runner).generate_all(requests, prefix=prefix)
    wall = time.perf_counter() - t0
    outs = [runner.model.detokenize(r.tokens) for r in results]
    n_prompt = sum(r.num_prompt_tokens for r in results)
    n_gen = sum(len(r.tokens) + (r.finish_reason == "stop") for r in results)
    return outs, n_prompt, n_gen, wall


def child(args) -> None:
    from engine import models

    path, _ = models.resolve(args.model, mode="summary")
    texts = load_jsonl("dialogsum-dev.jsonl", "dialogue", args.n)
    if args.method == "naive":
        outs, n_prompt, n_gen, wall = run_naive(texts, path, args.max_tokens, args.threads)
    else:
        outs, n_prompt, n_gen, wall = run_batched(texts, path, args.max_tokens, args.threads, args.slots)
    json.dump({"outs": outs, "n_prompt": n_prompt, "n_gen": n_gen, "wall": wall, "rss": peak_rss_mib()}, sys.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--model", default=None)
    ap.add_argument("--methods", default="naive,batched")
    ap.add_argument("--method", help=argparse.SUPPRESS)
    ap.add_argument("--save", type=Path, help="write raw outputs and figures as JSON here")
    args = ap.parse_args()
    if args.method:
        return child(args)
    if not args.threads:
        import psutil

        args.threads = psutil.cpu_count(logical=False) or 1
    print(f"machine: {machine()}; {args.n} dialogues, max_tokens {args.max_tokens}, {args.threads} threads", flush=True)
    res = {}
    for method in args.methods.split(","):
        cmd = [sys.executable, __file__, "--method", method, "--n", str(args.n), "--max-tokens", str(args.max_tokens),
               "--slots", str(args.slots), "--threads", str(args.threads)] + (["--model", args.model] if args.model else [])
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{method} failed:\n{done.stderr[-3000:]}")
        res[method] = json.loads(done.stdout)
    rows = []
    base = res.get("naive")
    for method, r in res.items():
        same = sum(a == b for a, b in zip(r["outs"], base["outs"])) if base else "-"
        ipm = args.n / r["wall"] * 60
        speedup = ipm / (args.n / base["wall"] * 60) if base else 1.0
        rows.append([method, args.n, ipm, f"{speedup:.2f}x", r["n_prompt"] / r["wall"], r["n_gen"] / r["wall"], r["rss"],
                     f"{same}/{args.n}"])
    print_table(["method", "items", "items/min", "vs naive", "prompt tok/s", "gen tok/s", "peak RSS MiB", "same as naive"], rows)
    if args.save:
        args.save.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
