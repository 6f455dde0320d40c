"""An inference context (llama_context) and its KV memory: decode, logits, per-sequence memory ops."""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

import numpy as np

from bindings._lib import C, ggml_backend_tensor_get, ggml_get_name, ggml_nbytes
from bindings.batch import Batch
from bindings.errors import ContextError, DecodeAborted, KVCacheFull, LlamaError
from bindings.model import Model


def _default_threads() -> int:
    # llama.cpp's CPU kernels gain nothing from SMT siblings; physical cores are the right count.
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:  # psutil is a hard dependency; this only guards odd platforms
        return os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class ContextParams:
    """The llama_context_params fields we set; the rest keep llama.cpp's defaults."""

    n_ctx: int = 8192
    n_batch: int = 2048
    n_ubatch: int = 512
    n_seq_max: int = 16
    kv_unified: bool = True
    n_threads: int = 0  # 0: physical cores
    n_threads_batch: int = 0
    flash_attn: int = -1  # llama_flash_attn_type: -1 auto, 0 off, 1 on
    swa_full: bool = False  # full-size sliding-window caches (more memory, no cell reuse)
    # The graph node whose rows decode() keeps (ggml's name for it, "result_norm": the final hidden state of each
    # output row); the graph stops there, so the output projection is never computed and there are no logits.
    capture: str | None = None

    def __post_init__(self):
        if self.n_ctx < 16 or self.n_batch < 1 or self.n_ubatch < 1 or self.n_seq_max < 1:
            raise ValueError(f"invalid context parameters: {self}")


class Context:
    """Owns one llama_context; close() frees it (always before its model)."""

    def __init__(self, model: Model, params: ContextParams = ContextParams()):
        self.model = model
        self.params = params
        cp = C.llama_context_default_params()
        cp.n_ctx = params.n_ctx
        cp.n_batch = params.n_batch
        cp.n_ubatch = params.n_ubatch
        cp.n_seq_max = params.n_seq_max
        cp.kv_unified = params.kv_unified
        threads = params.n_threads or _default_threads()
        cp.n_threads = threads
        cp.n_threads_batch = params.n_threads_batch or threads
        cp.no_perf = False
        cp.flash_attn_type = params.flash_attn
        cp.swa_full = params.swa_full
        self._captured = None
        if params.capture:
            self._captured = _Capture(params.capture, params.n_batch, C.llama_model_n_embd(model.handle))
            cp.cb_eval = self._captured.callback
            cp.cb_eval_user_data = None
        handle = C.llama_init_from_model(model.handle, cp)
        if not handle:
            raise ContextError(f"llama.cpp could not create a context {params} for model {model.path}")
        self._handle = handle
        self._memory = C.llama_get_memory(handle)
        self.n_ctx = C.llama_n_ctx(handle)
        self.n_batch = C.llama_n_batch(handle)
        self.n_seq_max = C.llama_n_seq_max(handle)
        self.n_threads = threads

    @property
    def handle(self):
        if self._handle is None:
            raise LlamaError("context is closed")
        return self._handle

    def close(self) -> None:
        """Free the native context; idempotent."""
        if self._handle is not None:
            C.llama_free(self._handle)
            self._handle = None
            self._memory = None

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def decode(self, batch: Batch) -> None:
        """llama_decode; 1 (no KV slot) raises KVCacheFull with the memory restored, other non-zero codes raise."""
        rc = C.llama_decode(self.handle, batch.struct)
        if rc == 0:
            return
        if rc == 1:
            raise KVCacheFull(f"no KV slot for a batch of {batch.n_tokens} tokens (n_ctx={self.n_ctx})")
        if rc == 2:
            raise DecodeAborted("llama_decode aborted")
        raise LlamaError(f"llama_decode failed with code {rc} for a batch of {batch.n_tokens} tokens")

    def captured(self, n_outputs: int) -> np.ndarray:
        """The captured node's rows of the last decode, one per entry that asked for output, as an
        (n_outputs, width) float32 view (valid until the next decode)."""
        cap = self._captured
        if cap is None:
            raise LlamaError("this context captures no graph node (ContextParams.capture)")
        if cap.rows != n_outputs:
            raise LlamaError(f"the last decode captured {cap.rows} rows of {cap.name!r}, not {n_outputs}: "
                             f"the model's graph has no node of that name, or the node is not per output row")
        return cap.buf[:n_outputs]

    def decode_captured(self, batch: Batch, n_outputs: int, logits: bool = False) -> np.ndarray:
        """decode(), then captured(n_outputs); a decode that never reached the node raises. logits: the graph goes
        on past the node, so all_logits() holds this decode's logits too (the node's rows are the same either way:
        the nodes before it run as the same graph view)."""
        self._captured.rows = -1
        self._captured.stop = not logits
        self.decode(batch)
        if n_outputs == 0 and self._captured.rows in (-1, 0):  # nothing asked for output: no rows to capture
            return self._captured.buf[:0]
        return self.captured(n_outputs)

    def all_logits(self, n_outputs: int) -> np.ndarray:
        """Logits of every entry whose flag was set, in batch order, as one (n_outputs, n_vocab) float32 view
        (valid until the next decode)."""
        ptr = C.llama_get_logits(self.handle)
        if not ptr:
            raise LlamaError("llama_get_logits returned NULL: no entry of the last batch asked for logits")
        return np.ctypeslib.as_array(ptr, shape=(n_outputs, self.model.n_vocab))

    def logits(self, i: int) -> np.ndarray:
        """Logits of batch entry i as a float32 view (valid until the next decode)."""
        ptr = C.llama_get_logits_ith(self.handle, i)
        if not ptr:
            raise LlamaError(f"no logits for batch entry {i}: its logits flag was not set")
        return np.ctypeslib.as_array(ptr, shape=(self.model.n_vocab,))

    # KV memory, per sequence. Positions follow llama.h: p0 < 0 means 0, p1 < 0 means infinity.
    def seq_rm(self, seq_id: int, p0: int = -1, p1: int = -1) -> None:
        if not C.llama_memory_seq_rm(self._memory, seq_id, p0, p1):
            raise LlamaError(f"llama_memory_seq_rm({seq_id}, {p0}, {p1}) could not remove a partial sequence")

    def seq_cp(self, src: int, dst: int, p0: int = -1, p1: int = -1) -> None:
        """Copy src's cells to dst. Unified KV shares the cells; split streams copy whole sequences only."""
        if not self.params.kv_unified and (p0 >= 0 or p1 >= 0):
            # llama.cpp aborts the process (GGML_ABORT) on a partial copy between streams: refuse it here.
            raise LlamaError(f"seq_cp({src}, {dst}, {p0}, {p1}): a split KV cache copies whole sequences only")
        C.llama_memory_seq_cp(self._memory, src, dst, p0, p1)

    def seq_keep(self, seq_id: int) -> None:
        C.llama_memory_seq_keep(self._memory, seq_id)

    def seq_pos_max(self, seq_id: int) -> int:
        """Largest position held for seq_id; -1 when the sequence is empty (llama.h's convention)."""
        return int(C.llama_memory_seq_pos_max(self._memory, seq_id))

    def memory_clear(self) -> None:
        C.llama_memory_clear(self._memory, True)

    def seq_state(self, seq_id: int) -> np.ndarray:
        """One sequence's KV cells and their data (llama_state_seq_get_data), for set_seq_state."""
        size = int(C.llama_state_seq_get_size(self.handle, seq_id))
        buf = np.empty(size, dtype=np.uint8)
        got = int(C.llama_state_seq_get_data(self.handle, buf.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), size,
                                             seq_id))
        if got != size:
            raise LlamaError(f"llama_state_seq_get_data({seq_id}) wrote {got} of {size} bytes")
        return buf

    def set_seq_state(self, state: np.ndarray, seq_id: int) -> None:
        """Put a seq_state back as seq_id (its cells replaced); llama.cpp places the cells as a decode would."""
        read = int(C.llama_state_seq_set_data(self.handle, state.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)),
                                              state.size, seq_id))
        if read != state.size:  # 0: no room, or not a state of this model and context
            raise LlamaError(f"llama_state_seq_set_data({seq_id}) read {read} of {state.size} bytes")

    def perf(self) -> dict[str, float]:
        """llama.cpp's own counters: prompt and generated token counts and milliseconds."""
        d = C.llama_perf_context(self.handle)
        return {"t_p_eval_ms": d.t_p_eval_ms, "t_eval_ms": d.t_eval_ms, "n_p_eval": d.n_p_eval, "n_eval": d.n_eval}

    def perf_reset(self) -> None:
        C.llama_perf_context_reset(self.handle)


class _Capture:
    """ggml's eval callback: asked of each graph node in order whether we want it; on the named node it copies
    the node's rows and answers False, which ends the graph's computation there (ggml_backend_sched stops the
    split). Nodes before it run as one graph view, exactly as they would without the callback."""

    def __init__(self, name: str, max_rows: int, width: int):
        self.name = name
        self._name = name.encode()
        self.buf = np.empty((max_rows, width), dtype=np.float32)
        self.rows = -1  # rows of the last capture; -1 none yet, -2 a node of another shape
        self.stop = True  # end the graph at the node (no logits), or let it run on
        self.callback = C.ggml_backend_sched_eval_callback(self._on_node)  # kept alive with the context

    def _on_node(self, tensor, ask: bool, _user_data) -> bool:
        if ask:
            return ggml_get_name(tensor) == self._name
        nbytes = ggml_nbytes(tensor)
        row_bytes = 4 * self.buf.shape[1]
        if nbytes % row_bytes or nbytes > self.buf.nbytes:
            self.rows = -2
        else:
            ggml_backend_tensor_get(tensor, self.buf.ctypes.data, 0, nbytes)
            self.rows = nbytes // row_bytes
        return not self.stop
