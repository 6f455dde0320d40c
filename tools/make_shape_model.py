"""Shape models: GGUFs with a real model's exact tensor shapes, types and tokenizer, and random weights.

A decode costs the same whatever the weights hold, so a shape model runs at the real model's speed;
its text is noise, so benches force the generation length (bench/bench_throughput.py --gen-tokens).

    # a real model's metadata (tokenizer, hyperparameters) and tensor list, without weights: a few MB
    python -m tools.make_shape_model meta REAL.gguf -o qwen0.5b.meta.gguf
    # a copy of a real model (or of its .meta.gguf) with random weights of the same types; --layers N keeps N blocks
    python -m tools.make_shape_model clone qwen0.5b.meta.gguf -o qwen0.5b-shape.gguf
    # Qwen2.5-7B-Instruct's shapes with the Qwen2 tokenizer of VOCAB (a qwen2 GGUF or .meta.gguf), Q4_K_M:
    python -m tools.make_shape_model qwen2.5-7b --vocab qwen0.5b.meta.gguf -o 7b-shape.gguf --quantize build/bin/llama-quantize
    # without --quantize the Q4_K_M types are written directly (llama.cpp's rule, below; no llama.cpp build needed)
    python -m tools.make_shape_model qwen2.5-7b --vocab ... -o tiny.gguf --layers 2 --hidden 256 --heads 4 --kv-heads 2 --ffn 512
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.models import gguf as g  # noqa: E402

TENSORS_KEY = "semzip.shape.tensors"  # a .meta.gguf's tensor list: JSON [[name, shape, type], ...]
FTYPE_F16, FTYPE_Q4_K_M = 1, 15  # llama_ftype
# Qwen2.5-7B-Instruct's config.json
QWEN25_7B = dict(layers=28, hidden=3584, heads=28, kv_heads=4, ffn=18944, vocab=152064, context=32768,
                 rope_theta=1_000_000.0, rms_eps=1e-6)

# Scales that give random blocks weights of about 0.02 standard deviation and zero mean; ggml-common.h
# layouts: (offset of each fp16 field in the block, its value). Any bytes are valid quants and scales.
_HALVES = {
    g.Q4_0: [(0, 2**-8)], g.Q4_1: [(0, 2**-8), (2, -7.5 * 2**-8)], g.Q5_0: [(0, 2**-9)],
    g.Q5_1: [(0, 2**-9), (2, -15.5 * 2**-9)], g.Q8_0: [(0, 2**-12)],
    g.Q4_K: [(0, 2**-14), (2, 7.5 * 2**-14)], g.Q5_K: [(0, 2**-15), (2, 15.5 * 2**-15)], g.Q6_K: [(208, 2**-16)],
}
_CHUNK = 1 << 26  # bytes generated per write


def export_meta(ref: g.GGUF) -> g.GGUF:
    """The reference's metadata plus its tensor list under TENSORS_KEY, and no tensors."""
    meta = dict(ref.metadata)
    meta[TENSORS_KEY] = g.Value(g.STRING, json.dumps([[t.name, list(t.shape), t.type] for t in ref.tensors]))
    return g.GGUF(meta, [])


def tensors_of(src: g.GGUF) -> list[g.TensorInfo]:
    if src.tensors:
        return [g.TensorInfo(t.name, t.shape, t.type) for t in src.tensors]
    if TENSORS_KEY not in src.metadata:
        raise SystemExit("the source has neither tensors nor a shape tensor list (make one with `meta`)")
    return [g.TensorInfo(n, tuple(s), t) for n, s, t in json.loads(src.metadata[TENSORS_KEY].value)]


def layer_of(name: str) -> int | None:
    return int(name.split(".")[1]) if name.startswith("blk.") else None


def clone(src: g.GGUF, layers: int | None = None) -> tuple[dict, list[g.TensorInfo]]:
    """Metadata and tensor list of a random-weight copy; with layers, only the first `layers` blocks."""
    meta = {k: v for k, v in src.metadata.items() if k != TENSORS_KEY}
    arch = meta["general.architecture"].value
    tensors = tensors_of(src)
    if layers is not None:
        meta[f"{arch}.block_count"] = g.Value(g.UINT32, layers)
        tensors = [t for t in tensors if layer_of(t.name) is None or layer_of(t.name) < layers]
    name = meta.get("general.name", g.Value(g.STRING, arch)).value
    meta["general.name"] = g.Value(g.STRING, f"{name} (random-weight shape model)")
    return meta, tensors


def use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def q4_k_m_types(tensors: list[g.TensorInfo], n_layer: int, tied: bool) -> list[int]:
    """The types llama-quantize's Q4_K_M gives a dense model's tensors (src/llama-quant.cpp, non-Falcon).

    attn_v and ffn_down get Q6_K by a counter over those tensors in the order the quantizer visits them,
    which is the order it writes them: this llama.cpp sorts by layer, older ones (which made the real
    0.5B) went by name, so blk.10 came before blk.2. Counting in file order reproduces both.
    """
    types, seen = [], Counter()
    for t in tensors:
        if len(t.shape) < 2:
            types.append(g.F32)
            continue
        if t.name == "output.weight" or (tied and t.name == "token_embd.weight"):
            types.append(g.Q8_0 if t.shape[0] % 256 else g.Q6_K)
            continue
        kind = t.name.split(".")[-2]
        ttype = g.Q4_K
        if kind in ("attn_v", "ffn_down"):
            if use_more_bits(seen[kind], n_layer):
                ttype = g.Q6_K
            seen[kind] += 1
        if t.shape[0] % 256:  # tensor_type_fallback
            ttype = {g.Q4_K: g.Q5_0, g.Q6_K: g.Q8_0}[ttype]
        types.append(ttype)
    return types


def qwen2(vocab_src: g.GGUF, hp: dict, file_type: int) -> tuple[dict, list[g.TensorInfo]]:
    """A Qwen2 model of the hyperparameters hp with vocab_src's tokenizer, padded to hp['vocab'] tokens."""
    if vocab_src.metadata["tokenizer.ggml.pre"].value != "qwen2":
        raise SystemExit("--vocab must be a GGUF (or .meta.gguf) with the Qwen2 tokenizer")
    L, E, V, F = hp["layers"], hp["hidden"], hp["vocab"], hp["ffn"]
    kv = E // hp["heads"] * hp["kv_heads"]
    meta = {
        "general.architecture": g.Value(g.STRING, "qwen2"),
        "general.name": g.Value(g.STRING, f"Qwen2.5 {L}x{E} (random-weight shape model)"),
        "qwen2.block_count": g.Value(g.UINT32, L),
        "qwen2.context_length": g.Value(g.UINT32, hp["context"]),
        "qwen2.embedding_length": g.Value(g.UINT32, E),
        "qwen2.feed_forward_length": g.Value(g.UINT32, F),
        "qwen2.attention.head_count": g.Value(g.UINT32, hp["heads"]),
        "qwen2.attention.head_count_kv": g.Value(g.UINT32, hp["kv_heads"]),
        "qwen2.rope.freq_base": g.Value(g.FLOAT32, hp["rope_theta"]),
        "qwen2.attention.layer_norm_rms_epsilon": g.Value(g.FLOAT32, hp["rms_eps"]),
        "general.file_type": g.Value(g.UINT32, file_type),
    }
    for key, v in vocab_src.metadata.items():
        if key.startswith("tokenizer."):
            meta[key] = v
    tokens, types = list(meta["tokenizer.ggml.tokens"].value), np.asarray(meta["tokenizer.ggml.token_type"].value)
    if len(tokens) > V:
        raise SystemExit(f"the tokenizer has {len(tokens)} tokens, more than the vocab size {V}")
    # convert_hf_to_gguf pads to the embedding size with unused [PAD] tokens; Qwen2.5-7B has 152064 rows
    pad = V - len(tokens)
    meta["tokenizer.ggml.tokens"] = g.Value(g.ARRAY, tokens + [f"[PAD{i}]" for i in range(len(tokens), V)], g.STRING)
    meta["tokenizer.ggml.token_type"] = g.Value(g.ARRAY, np.concatenate([types, np.full(pad, 5, types.dtype)]), g.INT32)
    if file_type != FTYPE_F16:
        meta["general.quantization_version"] = g.Value(g.UINT32, 2)
    shapes = [("token_embd.weight", (E, V))]
    for i in range(L):
        b = f"blk.{i}."
        shapes += [(b + "attn_norm.weight", (E,)), (b + "attn_q.weight", (E, E)), (b + "attn_q.bias", (E,)),
                   (b + "attn_k.weight", (E, kv)), (b + "attn_k.bias", (kv,)), (b + "attn_v.weight", (E, kv)),
                   (b + "attn_v.bias", (kv,)), (b + "attn_output.weight", (E, E)), (b + "ffn_norm.weight", (E,)),
                   (b + "ffn_gate.weight", (E, F)), (b + "ffn_up.weight", (E, F)), (b + "ffn_down.weight", (F, E))]
    shapes += [("output_norm.weight", (E,)), ("output.weight", (E, V))]
    f16 = [g.TensorInfo(n, s, g.F32 if len(s) < 2 else g.F16) for n, s in shapes]
    if file_type == FTYPE_F16:
        return meta, f16
    return meta, [g.TensorInfo(t.name, t.shape, q) for t, q in zip(f16, q4_k_m_types(f16, L, tied=False))]


class RandomFill:
    """Writes valid random data of each tensor's type: norms 1, biases and weights about N(0, 0.02)."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.pool = (self.rng.standard_normal(1 << 22) * 0.02).astype(np.float16)  # reused for F16 weights

    def __call__(self, t: g.TensorInfo, f) -> None:
        n = t.num_bytes
        if t.type == g.F32:
            vals = np.ones(n // 4, np.float32) if "norm" in t.name else (self.rng.standard_normal(n // 4) * 0.02).astype(np.float32)
            f.write(vals.tobytes())
        elif t.type in (g.F16, g.BF16):
            if t.type == g.BF16:
                raise SystemExit(f"{t.name}: BF16 tensors are not supported")
            while n > 0:  # the pool, from a random start: fast, and random enough for a shape
                k = min(n // 2, self.pool.size)
                start = int(self.rng.integers(0, self.pool.size - k + 1))
                f.write(self.pool[start : start + k].tobytes())
                n -= 2 * k
        elif t.type in _HALVES:
            block = g.BLOCKS[t.type][1]
            per_chunk = max(_CHUNK // block, 1) * block
            while n > 0:
                k = min(n, per_chunk)
                blocks = self.rng.integers(0, 256, size=k, dtype=np.uint8).reshape(-1, block)
                for off, val in _HALVES[t.type]:
                    blocks[:, off : off + 2] = np.frombuffer(np.float16(val).tobytes(), np.uint8)
                f.write(blocks.tobytes())
                n -= k
        else:
            raise SystemExit(f"{t.name}: no random fill for type {g.TYPE_NAMES.get(t.type, t.type)}")


def write_model(path: Path, meta: dict, tensors: list[g.TensorInfo], seed: int) -> None:
    tmp = path.with_name(path.name + ".part")
    g.write(tmp, meta, tensors, RandomFill(seed))
    os.replace(tmp, path)  # a killed run never leaves a half-written model under the final name


def quantize(binary: Path, src: Path, out: Path, threads: int) -> None:
    """llama.cpp's own llama-quantize, Q4_K_M; a non-zero exit raises with its output."""
    done = subprocess.run([str(binary), str(src), str(out), "Q4_K_M", str(threads)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"llama-quantize failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")


def describe(path: Path, rule_layers: int | None = None) -> str:
    """Size and type counts of a written model; with rule_layers, whether its types follow q4_k_m_type."""
    f = g.read(path)
    counts = Counter(g.TYPE_NAMES[t.type] for t in f.tensors)
    line = f"{path}: {path.stat().st_size / 2**20:.1f} MiB, {len(f.tensors)} tensors, " + \
        ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    if rule_layers is not None:
        tied = all(t.name != "output.weight" for t in f.tensors)
        bad = [t.name for t, q in zip(f.tensors, q4_k_m_types(f.tensors, rule_layers, tied)) if t.type != q]
        line += f"; types as llama.cpp's Q4_K_M rule: {'yes' if not bad else 'NO, ' + ', '.join(bad[:5])}"
    return line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("meta", help="metadata and tensor list of a real GGUF, no weights")
    m.add_argument("ref")
    c = sub.add_parser("clone", help="random weights in a real model's (or .meta.gguf's) shapes and types")
    c.add_argument("src")
    c.add_argument("--layers", type=int, default=None)
    q = sub.add_parser("qwen2.5-7b", help="Qwen2.5-7B-Instruct's shapes (each overridable), Q4_K_M")
    q.add_argument("--vocab", required=True, help="a GGUF or .meta.gguf with the Qwen2 tokenizer and chat template")
    for key in ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab_size"):
        q.add_argument(f"--{key.replace('_', '-')}", type=int, default=None)
    q.add_argument("--quantize", type=Path, default=None, help="llama-quantize binary: write F16, then quantize")
    q.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    q.add_argument("--tmp", type=Path, default=None, help="folder for the F16 intermediate (default: beside -o)")
    for p in (m, c, q):
        p.add_argument("-o", "--output", type=Path, required=True)
        p.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.cmd == "meta":
        meta = export_meta(g.read(args.ref))
        g.write(args.output, meta.metadata, [], lambda t, f: None)
        print(f"{args.output}: {args.output.stat().st_size / 2**20:.1f} MiB of metadata, "
              f"{len(tensors_of(meta))} tensors listed ({time.perf_counter() - t0:.1f} s)")
        return 0
    if args.cmd == "clone":
        meta, tensors = clone(g.read(args.src), args.layers)
        write_model(args.output, meta, tensors, args.seed)
        print(describe(args.output) + f" ({time.perf_counter() - t0:.1f} s)")
        return 0
    hp = dict(QWEN25_7B)
    hp.update({k: v for k, v in [("layers", args.layers), ("hidden", args.hidden), ("heads", args.heads),
                                 ("kv_heads", args.kv_heads), ("ffn", args.ffn), ("vocab", args.vocab_size)] if v})
    vocab = g.read(args.vocab)
    if args.quantize is None:
        meta, tensors = qwen2(vocab, hp, FTYPE_Q4_K_M)
        write_model(args.output, meta, tensors, args.seed)
    else:
        meta, tensors = qwen2(vocab, hp, FTYPE_F16)
        # One fixed name for the 15 GB intermediate, removed on the way out (SIGTERM from `timeout` included)
        # and before starting: a killed run must not leave copies that fill the GPU machine's disk.
        f16 = (args.tmp or args.output.parent) / (args.output.name + ".f16")
        part = args.output.with_name(args.output.name + ".part")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            for stale in (f16, f16.with_name(f16.name + ".part"), part):
                stale.unlink(missing_ok=True)
            write_model(f16, meta, tensors, args.seed)
            t1 = time.perf_counter()
            print(f"F16 written: {f16.stat().st_size / 2**30:.2f} GiB in {t1 - t0:.1f} s", flush=True)
            quantize(args.quantize, f16, part, args.threads)
            os.replace(part, args.output)
            print(f"llama-quantize Q4_K_M: {time.perf_counter() - t1:.1f} s")
        finally:
            for stale in (f16, f16.with_name(f16.name + ".part"), part):
                stale.unlink(missing_ok=True)
    print(describe(args.output, rule_layers=hp["layers"]) + f" ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
