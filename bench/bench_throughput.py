"""Summary-mode throughput of one model at one slot count: DialogSum memories through the batched generator.

Usage: python bench/bench_throughput.py --model PATH --slots 32 --n 64 [--gen-tokens 53] [--gpu-layers -1] [--json F]

Each memory gets the compressor's chat prompt (system text and worked example as a shared prefix decoded
once and copied, then the dialogue). --gen-tokens G forces exactly G generated tokens per memory, end of
text ignored and no grammar: what a random-weight shape model needs so that runs compare. --gen-tokens 0
runs as the compressor does (JSON grammar, up to 384 tokens), for real models. Prints one table row.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import load_jsonl, print_table  # noqa: E402
from bench.results import record  # noqa: E402

# Mean generated tokens per DialogSum record by the 0.5B default (3,378 tokens for 64 dialogues, RESULTS.md)
DIALOGSUM_GEN_TOKENS = 53


def gemma_turns(messages: list[dict[str, str]], add_assistant: bool = True) -> str:
    """Gemma's turn format (llama.cpp's built-in "gemma" template), for GGUFs that carry no chat template."""
    out, system = "", ""
    for m in messages:
        if m["role"] == "system":
            system = m["content"] + "\n\n"
            continue
        role = "model" if m["role"] == "assistant" else "user"
        out += f"<start_of_turn>{role}\n{system if role == 'user' else ''}{m['content']}<end_of_turn>\n"
        system = "" if role == "user" else system
    return out + ("<start_of_turn>model\n" if add_assistant else "")


def requests_for(model, texts: list[str], gen_tokens: int):
    """(prefix tokens, requests, template used) for the memories, as the compressor builds them."""
    from engine.codecs.summary import prompts
    from engine.core.sequence import Request

    render, template = model.apply_chat_template, "gguf"
    if model.chat_template() is None:
        render, template = gemma_turns, "gemma turns (none in the GGUF)"
    prefix_text, _ = prompts.split_prompt(render, "x")
    requests = []
    for text in texts:
        head, rest, grammar = prompts.model_request(render, text, target_ratio=8.0)
        assert head == prefix_text, "the chat template does not keep a shared prefix"
        tokens = tuple(model.tokenize(rest))
        if gen_tokens:
            requests.append(Request(tokens, max_tokens=gen_tokens, ignore_eos=True))
        else:
            requests.append(Request(tokens, max_tokens=384, grammar=grammar))
    return tuple(model.tokenize(prefix_text)), requests, template


def run(args) -> dict:
    from bindings import Model, ModelParams
    from engine.core.generator import BatchedGenerator
    from engine.core.runner import ModelRunner, RunnerConfig, backend_report
    from engine.core.sequence import Request

    texts = load_jsonl("dialogsum-dev.jsonl", "dialogue")
    texts = [texts[i % len(texts)] for i in range(args.n)]
    with Model(args.model, ModelParams(vocab_only=True)) as vocab:
        prefix, requests, template = requests_for(vocab, texts, args.gen_tokens)
    longest = max(len(r.prompt) for r in requests) + max(r.max_tokens for r in requests)
    # Unified KV: the prefix's cells are shared by every sequence; each slot adds its own prompt and output.
    n_ctx = (len(prefix) + min(args.slots, args.n) * (longest + 8) + 255) // 256 * 256
    config = RunnerConfig(num_slots=args.slots, n_gpu_layers=args.gpu_layers, n_ctx=n_ctx, n_threads=args.threads)
    t_load = time.perf_counter()
    with ModelRunner(args.model, config) as runner:
        t_load = time.perf_counter() - t_load
        gen = BatchedGenerator(runner)
        gen.generate_all([Request(requests[0].prompt, max_tokens=4, ignore_eos=True)], prefix=prefix)  # warm-up
        runner.reset()
        gen = BatchedGenerator(runner)
        t0, cpu0 = time.perf_counter(), _cpu_s()
        results = gen.generate_all(requests, prefix=prefix)
        wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
        stats, desc, n_layer = gen.stats, runner.model.description(), runner.model.n_layer
    rep = backend_report()
    return {
        "model": str(args.model), "desc": desc, "n_layer": n_layer, "slots": args.slots, "n": args.n,
        "gen_tokens": args.gen_tokens, "template": template, "n_ctx": n_ctx, "gpu_layers": args.gpu_layers,
        "backends": rep.backends, "gpus": [d.description for d in rep.gpus], "load_s": t_load,
        "prefix_tokens": len(prefix), "mean_prompt_tokens": sum(len(r.prompt) for r in requests) / len(requests),
        "prompt_tokens": stats.num_prompt_tokens, "generated_tokens": stats.num_generated_tokens,
        "decode_calls": stats.num_decode_calls, "preemptions": stats.num_preemptions,
        "finished": {r: sum(x.finish_reason == r for x in results) for r in {x.finish_reason for x in results}},
        "wall_s": wall, "cpu_s": cpu, "memories_per_min": args.n / wall * 60,
        "tokens_per_s": (stats.num_prompt_tokens + stats.num_generated_tokens) / wall,
        "gen_tokens_per_s": stats.num_generated_tokens / wall,
    }


def _cpu_s() -> float:
    """This process's CPU seconds, all threads: the work done, whatever else shares the cores (and on a GPU,
    the host's part)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="GGUF path")
    ap.add_argument("--slots", type=int, default=16)
    ap.add_argument("--n", type=int, default=32, help="memories (the corpus repeats past its 500 dialogues)")
    ap.add_argument("--gen-tokens", type=int, default=DIALOGSUM_GEN_TOKENS, help="forced length; 0: grammar, as compress")
    ap.add_argument("--gpu-layers", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args(argv)
    res = run(args)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    print_table(["model", "slots", "memories", "wall s", "CPU s", "memories/min", "tokens/s", "gen tok/s", "preempted"],
                [[Path(res["model"]).name, res["slots"], res["n"], res["wall_s"], res["cpu_s"], res["memories_per_min"],
                  res["tokens_per_s"], res["gen_tokens_per_s"], res["preemptions"]]])
    name = Path(res["model"]).name
    gen = f"{args.gen_tokens} forced tokens each" if args.gen_tokens else "JSON grammar, up to 384 tokens"
    record(f"summary-mode throughput, {name}, {args.slots} slots", res["memories_per_min"], "memories/min",
           area="scale", dataset=f"DialogSum dev, {args.n} dialogues, {gen}",
           settings=f"{res['desc']}; {args.slots} slots, n_ctx {res['n_ctx']}, gpu layers {args.gpu_layers}, "
                    f"backends {', '.join(res['backends']) or 'CPU'}; the prompt's prefix decoded once and copied",
           note=f"{res['tokens_per_s']:.1f} tokens/s, {res['gen_tokens_per_s']:.1f} generated tokens/s; host CPU "
                f"{100 * res['cpu_s'] / res['wall_s']:.0f}% of one core; {res['preemptions']} preempted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
