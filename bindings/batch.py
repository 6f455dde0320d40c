"""A llama_batch filled entry by entry: token, position, sequence id, logits flag."""
from __future__ import annotations

import numpy as np

from bindings._lib import C
from bindings.errors import LlamaError


class Batch:
    """Owns a llama_batch of fixed capacity; each entry belongs to one sequence."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"batch capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._struct = C.llama_batch_init(capacity, 0, 1)
        self._open = True
        # Views over the native arrays: numpy writes avoid one ctypes call per field.
        self._tokens = np.ctypeslib.as_array(self._struct.token, shape=(capacity,))
        self._pos = np.ctypeslib.as_array(self._struct.pos, shape=(capacity,))
        self._n_seq_id = np.ctypeslib.as_array(self._struct.n_seq_id, shape=(capacity,))
        self._logits = np.ctypeslib.as_array(self._struct.logits, shape=(capacity,))
        self._seq_ids = [self._struct.seq_id[i] for i in range(capacity)]
        self.n_tokens = 0

    @property
    def struct(self):
        if not self._open:
            raise LlamaError("batch is closed")
        self._struct.n_tokens = self.n_tokens
        return self._struct

    def clear(self) -> None:
        self.n_tokens = 0

    def free_space(self) -> int:
        return self.capacity - self.n_tokens

    def add(self, token: int, pos: int, seq_id: int, logits: bool) -> int:
        """Append one entry; returns its index (the index to read logits from)."""
        i = self.n_tokens
        if i >= self.capacity:
            raise LlamaError(f"batch is full ({self.capacity} entries)")
        self._tokens[i] = token
        self._pos[i] = pos
        self._n_seq_id[i] = 1
        self._seq_ids[i][0] = seq_id
        self._logits[i] = logits
        self.n_tokens = i + 1
        return i

    def add_sequence(self, tokens: list[int], start_pos: int, seq_id: int, logits_last: bool) -> int:
        """Append consecutive tokens of one sequence; returns the index of the last one."""
        n = len(tokens)
        i = self.n_tokens
        if i + n > self.capacity:
            raise LlamaError(f"batch has room for {self.capacity - i} entries, not {n}")
        self._tokens[i : i + n] = tokens
        self._pos[i : i + n] = np.arange(start_pos, start_pos + n, dtype=self._pos.dtype)
        self._n_seq_id[i : i + n] = 1
        for k in range(i, i + n):
            self._seq_ids[k][0] = seq_id
        self._logits[i : i + n] = 0
        if logits_last:
            self._logits[i + n - 1] = 1
        self.n_tokens = i + n
        return i + n - 1

    def add_many(self, tokens, positions, seq_ids, logits) -> None:
        """Append entries given as parallel sequences (token, position, sequence id, logits flag)."""
        i, n = self.n_tokens, len(tokens)
        if not n == len(positions) == len(seq_ids) == len(logits):
            raise LlamaError("add_many needs sequences of equal length")
        if i + n > self.capacity:
            raise LlamaError(f"batch has room for {self.capacity - i} entries, not {n}")
        self._tokens[i : i + n] = tokens
        self._pos[i : i + n] = positions
        self._n_seq_id[i : i + n] = 1
        self._logits[i : i + n] = logits
        for k, s in enumerate(seq_ids, start=i):
            self._seq_ids[k][0] = s
        self.n_tokens = i + n

    def close(self) -> None:
        if self._open:
            C.llama_batch_free(self._struct)
            self._open = False

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
