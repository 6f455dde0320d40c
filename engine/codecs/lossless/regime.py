"""The canonical ubatch regime: the batch shapes inside which a row's logits depend on its own sequence alone.

An arithmetic decoder must see bit-identical probabilities to the encoder's, yet the encoder prefills
a memory in chunks while the decoder feeds one token at a time among other memories. What makes a
row's logits change with the batch, read from ggml's CPU dispatch (vendored llama.cpp of 0.3.36) and
measured with gemma-3-270m and Qwen2.5-Coder-0.5B (bench/HISTORY.md):

- repacked Q4_K weights run 4-row groups through a gemm kernel and the rest through gemv, and ggml's
  tiled K-quant kernel takes over at 8 rows: weights are loaded without repacking (use_extra_bufts
  off) and, in regime r2, the tiled kernel is off (GGML_CPU_TILED_MM=0, which bindings sets before
  llama.cpp loads: ggml reads it once per process), so every row count runs the same vec_dot kernel,
  one dot product per output. Regime r1 (the release before) forced the tiled kernel at every row count
  instead (GGML_CPU_TILED_MM_FORCE=1): the same invariance, but twice as slow for a decode step's few rows
  (bench/HISTORY.md); its records decode in a child process set up that way (legacy.py);
- flash attention switches to a tiled kernel at 64 query rows of one sequence, and to a split-KV
  reduction for a lone query row of a lone sequence over 512 or more cells: at most 63 tokens of a
  sequence per ubatch, and never one token of one sequence alone;
- in a unified KV cache a sequence's cells interleave with others' and the summation order follows
  the cells: each sequence gets a KV stream of its own (kv_unified off), filled in position order.

Inside those limits one row gives the same bits whatever else the ubatch holds (checked at start-up
by the self-test, and in tests/test_lossless.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing the runner loads llama.cpp; the regimes' names are read without it (semzip --version)
    from engine.core.runner import RunnerConfig

CAPTURE = "result_norm"  # ggml's name for the final hidden state of each output row (after the last norm)
REGIME_ID = "r2"  # this release's regime: bumps when the rules above change; part of every record's numerics profile
# ggml's matmul switches each regime needs when llama.cpp loads (bindings' KERNEL_ENV); every regime here decodes
KERNEL_ENV = {
    "r1": {"GGML_CPU_TILED_MM": "1", "GGML_CPU_TILED_MM_FORCE": "1"},
    "r2": {"GGML_CPU_TILED_MM": "0", "GGML_CPU_TILED_MM_FORCE": "0"},
}


def process_regime(env: dict[str, str] | None = None) -> str | None:
    """The regime this process's ggml runs, from its matmul switches (bindings.kernel_env); None for neither."""
    if env is None:
        from engine.core.runner import kernel_env

        env = kernel_env()
    if env.get("GGML_CPU_TILED_MM", "1") == "0":
        return "r2"
    if env.get("GGML_CPU_TILED_MM_FORCE", "0") == "1":
        return "r1"
    return None


def regime_env_hint(regime_id: str) -> str:
    return " ".join(f"{k}={v}" for k, v in KERNEL_ENV[regime_id].items())


@dataclass(frozen=True, slots=True)
class Regime:
    id: str = REGIME_ID  # which kernel set up (KERNEL_ENV); the shapes below are the same in every regime so far
    max_rows_per_stream: int = 63  # flash attention's tiled path starts at 64 query rows
    min_rows: int = 2  # fewest rows in a ubatch: a lone token of a lone stream takes flash attention's split path
    rows_per_decode: int = 128  # n_batch = n_ubatch, so one llama_decode is exactly one ubatch
    stream_tokens: int = 2048  # KV cells of each sequence's own stream

    def __post_init__(self):
        if self.id not in KERNEL_ENV:
            raise ValueError(f"unknown regime {self.id!r} (known: {', '.join(KERNEL_ENV)})")
        if not 2 <= self.min_rows <= self.max_rows_per_stream <= 63 or self.rows_per_decode < self.min_rows:
            raise ValueError(f"invalid regime {self}")

    def runner_config(self, num_slots: int, n_gpu_layers: int = 0, n_threads: int = 0) -> RunnerConfig:
        """Context settings that keep every decode inside the regime; one more stream holds the priming text."""
        from engine.core.runner import RunnerConfig

        return RunnerConfig(
            n_gpu_layers=n_gpu_layers, n_threads=n_threads, num_slots=num_slots,
            n_ctx=(num_slots + 1) * self.stream_tokens, n_batch=self.rows_per_decode, n_ubatch=self.rows_per_decode,
            kv_unified=False, flash_attn=1, use_extra_bufts=False, swa_full=False,
            capture=CAPTURE,  # final hidden states too: coder s1 projects them itself
        )

    def chunk_for(self, num_streams: int) -> int:
        """Tokens per stream in one prefill step when num_streams streams share it."""
        return max(1, min(self.max_rows_per_stream, self.rows_per_decode // max(num_streams, 1)))
