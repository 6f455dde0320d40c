"""The only module that touches llama.cpp: owns model, context and batch, and runs one decode per step."""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.core.cpu import cpu_info, require_portable_build_cpu
from engine.core.prefix_states import PrefixStates
from engine.models import cache_dir

require_portable_build_cpu()  # before llama.cpp is loaded: a CPU without AVX2 gets this error, never SIGILL

from bindings import (  # noqa: E402
    Batch, Context, ContextError, ContextParams, KVCacheFull, LlamaError, Model, ModelLoadError, ModelParams, Sampler,
    SamplingParams, backend_report, kernel_env,
)

__all__ = [
    "ContextError", "KVCacheFull", "LlamaError", "ModelLoadError", "ModelRunner", "RunnerConfig", "SamplingParams",
    "backend_report", "build_identity", "kernel_env",
]


# Prefixes' KV bytes for every runner of this process, and on disk for the next process (prefix_states).
_PREFIX_STATES = PrefixStates(cache_dir() / "prefix-kv")


def build_identity() -> tuple:
    """What a computed float depends on besides the model and the settings: the native build, its CPU kernels and
    matmul switches, and this CPU (keys of kept results: prefix states, the self-test's verdict)."""
    rep, cpu = backend_report(), cpu_info()
    return (rep.library, rep.system_info, tuple(sorted(rep.kernel_env.items())), cpu.model, tuple(sorted(cpu.flags)))


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """Load and context settings. num_slots sequences run at once; one more KV sequence holds the shared prefix."""

    n_gpu_layers: int = 0
    use_mmap: bool = True
    n_ctx: int = 32768  # shared by all slots (unified KV): 16 LoCoMo-sized sessions fit without preemption
    n_batch: int = 2048
    n_ubatch: int = 512
    num_slots: int = 16  # measured on 2 CPU cores: 8 -> 22.9, 16 -> 25.1, 32 -> 27.5 items/min (bench/HISTORY.md)
    kv_unified: bool = True
    n_threads: int = 0
    flash_attn: int = -1  # -1 auto, 0 off, 1 on
    grammar_check_first: bool = True  # see Sampler.sample; False is the slow reference path
    use_extra_bufts: bool = True  # weight repacking; off where logits must not depend on the ubatch's shape
    swa_full: bool = False
    warm_up: bool = True  # each run starts with one sequence, one more per finish: results come early (Scheduler)
    capture: str | None = None  # forward() keeps this graph node's rows (the hidden state), or returns only them

    def __post_init__(self):
        if not 1 <= self.num_slots <= 256:
            raise ValueError(f"num_slots must be in 1..256, got {self.num_slots}")
        if self.n_batch < 1 or self.n_ubatch < 1:  # llama.cpp itself clamps n_ubatch to n_batch
            raise ValueError(f"the token budget (n_batch) and n_ubatch must be >= 1, got {self.n_batch}, {self.n_ubatch}")


class ModelRunner:
    """Feeds scheduled steps to llama_decode and samples one token for each step that asked for logits."""

    def __init__(self, model_path: str | Path, config: RunnerConfig = RunnerConfig()):
        self.config = config
        self.model = Model(model_path, ModelParams(n_gpu_layers=config.n_gpu_layers, use_mmap=config.use_mmap,
                                                   use_extra_bufts=config.use_extra_bufts))
        try:
            self.ctx = Context(
                self.model,
                ContextParams(
                    n_ctx=config.n_ctx,
                    n_batch=config.n_batch,
                    n_ubatch=config.n_ubatch,
                    n_seq_max=config.num_slots + 1,
                    kv_unified=config.kv_unified,
                    n_threads=config.n_threads,
                    flash_attn=config.flash_attn,
                    swa_full=config.swa_full,
                    capture=config.capture,
                ),
            )
        except Exception:
            self.model.close()
            raise
        self.batch = Batch(self.ctx.n_batch)
        self.prefix_seq = config.num_slots  # the extra sequence id that keeps the shared prefix's KV
        self.prefix: tuple[int, ...] = ()
        # Everything a prefix's KV bits depend on: the build and this CPU, the model file, the settings and the thread
        # count. A kept state is put back only where this process would decode the same one.
        stat = os.stat(model_path)
        self._states_key = (*build_identity(), str(Path(model_path).resolve()), stat.st_size, stat.st_mtime_ns,
                            config, self.ctx.n_threads)
        self.prefix_decodes = 0  # prefixes this runner prefilled itself (the others came from _PREFIX_STATES)
        self._samplers: dict[int, Sampler] = {}
        # Grammar rejections of finished sequences: answered by the few-candidate rescue or the full pass.
        self.grammar_work: Counter = Counter()
        self.pace = None  # called before each batch of steps (run, forward): a caller's chance to wait or stop

    @property
    def token_budget(self) -> int:
        return self.ctx.n_batch

    @property
    def max_seq_len(self) -> int:
        return self.ctx.n_ctx

    def set_prefix(self, tokens: tuple[int, ...]) -> None:
        """Put the shared prefix's KV in its own sequence; later slots copy it instead of recomputing it.

        A prefix is decoded once per build, CPU, model file and settings, and its KV kept as bytes (_PREFIX_STATES,
        in memory and on disk): after a reset (every summary batch), in a new runner or in the next process it is
        put back in a copy, not a prefill. The decoded KV is put back the same way at once, so every batch starts
        from the same cells and bits whichever came first.
        """
        tokens = tuple(tokens)
        if tokens == self.prefix:
            return
        self.ctx.seq_rm(self.prefix_seq)
        self.prefix = ()
        if not tokens:
            return
        name = ("prefix", tokens)
        if self.restore_sequence(name, self.prefix_seq) is not None:
            self.prefix = tokens
            return
        for start in range(0, len(tokens), self.batch.capacity):
            chunk = tokens[start : start + self.batch.capacity]
            self.batch.clear()
            self.batch.add_sequence(list(chunk), start, self.prefix_seq, logits_last=False)
            self.ctx.decode(self.batch)
        self.prefix_decodes += 1
        self.keep_sequence(name, self.prefix_seq)
        self.prefix = tokens

    def restore_sequence(self, name: tuple, seq_id: int) -> np.ndarray | None:
        """Put the KV kept under name back as seq_id (empty before); the bytes kept beside it, or None when nothing
        is kept here for this build, CPU, model file, settings and threads (a state llama.cpp refuses is dropped)."""
        key = (*self._states_key, name)
        kept = _PREFIX_STATES.get(key)
        if kept is None:
            return None
        size = int(kept[:8].view("<u8")[0]) if kept.size >= 8 else -1
        if not 0 < size <= kept.size - 8:
            _PREFIX_STATES.forget(key)
            return None
        try:
            self.ctx.set_seq_state(kept[8 : 8 + size], seq_id)
        except LlamaError:  # not a state llama.cpp can read back here: the caller decodes it again
            _PREFIX_STATES.forget(key)
            self.ctx.seq_rm(seq_id)
            return None
        return kept[8 + size :]

    def keep_sequence(self, name: tuple, seq_id: int, extra: np.ndarray | None = None) -> None:
        """Keep seq_id's KV (and extra bytes beside it) under name for later runners and processes, and put it back
        the way restore_sequence does: every user then starts from the same cells and bits, whichever came first."""
        state = self.ctx.seq_state(seq_id)
        self.ctx.seq_rm(seq_id)
        parts = [np.array([state.size], dtype="<u8").view(np.uint8), state]
        if extra is not None:
            parts.append(np.ascontiguousarray(extra).view(np.uint8).ravel())
        _PREFIX_STATES.put((*self._states_key, name), np.concatenate(parts))
        self.ctx.set_seq_state(state, seq_id)

    def run(self, steps: list) -> dict[int, int]:
        """One llama_decode over all steps; returns {sequence id: sampled token} for the steps that wanted logits.

        steps: the scheduler's (engine.core.sequence.Step), only read. Not imported, not even for its type: sequence
        sits over this module (it takes SamplingParams from here, the one way into bindings).

        Raises KVCacheFull with the KV memory as it was before the call (llama.h guarantees the restore).
        """
        if self.pace is not None:
            self.pace()
        self.batch.clear()
        wanted: list[tuple[int, int, int]] = []
        for step in steps:
            seq = step.seq
            if step.is_first:
                self._prepare_slot(seq.slot, seq.base_pos, seq.request)
            last = self.batch.add_sequence(list(step.tokens), step.pos, seq.slot, step.wants_logits)
            if step.wants_logits:
                wanted.append((seq.id, seq.slot, last))
        self.ctx.decode(self.batch)
        return {seq_id: self._samplers[slot].sample(self.ctx, idx) for seq_id, slot, idx in wanted}

    def forward(self, tokens, positions, seq_ids, wants_logits, hidden: bool = False) -> np.ndarray:
        """One llama_decode over explicit entries (parallel sequences of equal length); returns the logits of
        the entries that asked for them, in order, as an (n, n_vocab) view valid until the next decode.

        With config.capture, that node's rows (the final hidden state) are kept too (captured()); hidden=True
        returns them instead, (n, n_embd), and the graph stops there: the output projection is never computed."""
        if self.pace is not None:
            self.pace()
        self.batch.clear()
        self.batch.add_many(tokens, positions, seq_ids, wants_logits)
        n_out = int(np.count_nonzero(wants_logits))
        if hidden and not self.config.capture:
            raise ValueError("hidden states need a runner built with RunnerConfig.capture")
        if self.config.capture:
            rows = self.ctx.decode_captured(self.batch, n_out, logits=not hidden)
            if hidden:
                return rows
        else:
            self.ctx.decode(self.batch)
        return self.ctx.all_logits(n_out) if n_out else np.empty((0, self.model.n_vocab), dtype=np.float32)

    def captured(self, n_out: int) -> np.ndarray:
        """The captured node's rows of the last forward(), (n_out, n_embd), valid until the next decode."""
        return self.ctx.captured(n_out)

    def drop_seq(self, seq_id: int) -> None:
        """Remove every KV cell of seq_id."""
        self.ctx.seq_rm(seq_id)

    def copy_seq(self, src: int, dst: int) -> None:
        """Replace dst's KV with a copy of src's (whole sequences: split KV streams copy only whole ones)."""
        self.ctx.seq_rm(dst)
        self.ctx.seq_cp(src, dst)

    def _prepare_slot(self, slot: int, base_pos: int, request) -> None:
        self.ctx.seq_rm(slot)
        if base_pos:
            if base_pos != len(self.prefix):
                raise AssertionError(f"sequence expects a prefix of {base_pos} tokens, runner holds {len(self.prefix)}")
            self.ctx.seq_cp(self.prefix_seq, slot)  # whole sequence: split KV streams copy only whole ones
        self._retire(self._samplers.pop(slot, None))
        self._samplers[slot] = Sampler(self.model, request.sampling, request.grammar, self.config.grammar_check_first)

    def reset(self) -> None:
        """Empty the KV cache, prefix included, so the next call starts from the state of a fresh runner (the next
        set_prefix puts a known prefix back from its kept bytes, as a fresh runner's first one does).

        Where cells land in a unified cache changes float rounding in attention; starting each batch
        from an empty cache makes a batch's greedy output independent of what ran before it.
        """
        for slot in list(self._samplers):
            self.release(slot)
        self.ctx.memory_clear()
        self.prefix = ()

    def release(self, slot: int) -> None:
        """Drop a slot's KV cells and sampler."""
        self.ctx.seq_rm(slot)
        self._retire(self._samplers.pop(slot, None))

    def _retire(self, sampler: Sampler | None) -> None:
        if sampler is not None:
            self.grammar_work["full_passes"] += sampler.n_full_grammar_passes
            self.grammar_work["rescues"] += sampler.n_rescues
            sampler.close()

    def is_eog(self, token: int) -> bool:
        return self.model.is_eog(token)

    def close(self) -> None:
        """Free in dependency order: samplers, batch, context, then model."""
        for sampler in self._samplers.values():
            sampler.close()
        self._samplers.clear()
        self.batch.close()
        self.ctx.close()
        self.model.close()

    def __enter__(self) -> "ModelRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

