"""Per-sequence sampling: a llama_sampler chain (greedy, or temperature/top-p with a seed) plus an optional GBNF grammar."""
from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass

import numpy as np

from bindings._lib import C
from bindings.context import Context
from bindings.errors import GrammarError, LlamaError
from bindings.model import Model

RESCUE_CANDIDATES = 32  # after a grammar rejection, candidates checked one by one before a full-vocabulary pass
_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """temperature 0 means greedy; otherwise temperature, then top-p, then a seeded draw."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"invalid sampling parameters: {self}")

    @property
    def is_greedy(self) -> bool:
        return self.temperature == 0.0


class Sampler:
    """Owns one sampler chain and, if a grammar is given, one grammar sampler, for one sequence."""

    def __init__(
        self, model: Model, params: SamplingParams = SamplingParams(), grammar: str | None = None,
        check_first: bool = True,
    ):
        self.model = model
        self.params = params
        self.check_first = check_first  # False: always run the full grammar pass (the reference behaviour)
        self._chain = C.llama_sampler_chain_init(C.llama_sampler_chain_default_params())
        if not self._chain:
            raise LlamaError("llama_sampler_chain_init failed")
        if params.is_greedy:
            self._add(C.llama_sampler_init_greedy())
        else:
            self._add(C.llama_sampler_init_temp(params.temperature))
            self._add(C.llama_sampler_init_top_p(params.top_p, 1))
            self._add(C.llama_sampler_init_dist(params.seed))
        self._grammar = None
        if grammar is not None:
            g = C.llama_sampler_init_grammar(model.vocab, grammar.encode(), b"root")
            if not g:
                self.close()
                raise GrammarError("llama.cpp rejected the grammar (see its log for the failing rule)")
            self._grammar = g
            self._one = C.llama_token_data_array()
            self._one_data = C.llama_token_data()
            self._full = np.zeros(model.n_vocab, dtype=_TOKEN_DATA)
            self._full["id"] = np.arange(model.n_vocab, dtype=np.int32)
        self.n_full_grammar_passes = 0
        self.n_rescues = 0  # rejections answered from the top candidates without the full pass

    def _add(self, smpl) -> None:
        if not smpl:
            raise LlamaError("llama_sampler_init_* returned NULL")
        C.llama_sampler_chain_add(self._chain, smpl)  # the chain owns it from here on

    def sample(self, ctx: Context, idx: int) -> int:
        """Pick the next token from batch entry idx's logits and advance the grammar over it."""
        if self._grammar is None:
            if self.params.is_greedy:
                return self._argmax(ctx, idx)
            return int(C.llama_sampler_sample(self._chain, ctx.handle, idx))
        if self.params.is_greedy and self.check_first:
            # The grammar pass over the whole vocabulary is the expensive part. The argmax of the
            # unconstrained logits is also the argmax of the constrained ones whenever the grammar
            # accepts it, so check that one token first: same output, a fraction of the work.
            token = self._argmax(ctx, idx)
            if not self.accepts(token):
                token = self._best_accepted(ctx, idx)
        else:
            # Resampling after a rejection would change the distribution; seeded runs must match a full pass.
            token = self._sample_full(ctx, idx)
        C.llama_sampler_accept(self._grammar, token)
        return token

    @staticmethod
    def _argmax(ctx: Context, idx: int) -> int:
        """The greedy sampler's choice, the first largest logit, without llama_sampler_sample: that copies all
        n_vocab logits into a candidate array first (0.7-0.9 ms per sequence and token for Qwen's 152k on the
        2-core machine, against 0.03 ms here), a host cost that grows with the slots while a GPU step does not."""
        return int(np.argmax(ctx.logits(idx)))

    def accepts(self, token: int) -> bool:
        """Whether the grammar, in its current state, allows token next."""
        self._one_data.id = token
        self._one_data.logit = 0.0
        self._one_data.p = 0.0
        self._one.data = ctypes.pointer(self._one_data)
        self._one.size = 1
        self._one.selected = -1
        self._one.sorted = False
        C.llama_sampler_apply(self._grammar, ctypes.byref(self._one))
        return not math.isinf(self._one_data.logit)

    def _best_accepted(self, ctx: Context, idx: int) -> int:
        """Greedy after a rejection: the constrained argmax is the first token, in falling logit order, that the
        grammar accepts, so try the top RESCUE_CANDIDATES one by one before paying for the full pass."""
        logits = ctx.logits(idx)
        top = np.argpartition(logits, -RESCUE_CANDIDATES)[-RESCUE_CANDIDATES:]
        top.sort()  # ascending ids, so that equal logits keep the greedy sampler's choice: the lowest id
        for token in top[np.argsort(-logits[top], kind="stable")]:
            if self.accepts(int(token)):
                # A token tied with the cut-off logit may have an equal, lower-id twin outside the candidates.
                if logits[token] == logits[top].min():
                    break
                self.n_rescues += 1
                return int(token)
        return self._sample_full(ctx, idx)

    def _sample_full(self, ctx: Context, idx: int) -> int:
        self.n_full_grammar_passes += 1
        self._full["id"] = np.arange(self.model.n_vocab, dtype=np.int32)
        self._full["logit"] = ctx.logits(idx)
        self._full["p"] = 0.0
        arr = C.llama_token_data_array(
            self._full.ctypes.data_as(C.llama_token_data_p), self.model.n_vocab, -1, False
        )
        C.llama_sampler_apply(self._grammar, ctypes.byref(arr))
        C.llama_sampler_apply(self._chain, ctypes.byref(arr))
        if not 0 <= arr.selected < arr.size:
            raise LlamaError("sampler chain selected no token: the grammar allows none here")
        return int(arr.data[arr.selected].id)

    def reset(self) -> None:
        C.llama_sampler_reset(self._chain)
        if self._grammar is not None:
            C.llama_sampler_reset(self._grammar)

    def close(self) -> None:
        if self._grammar is not None:
            C.llama_sampler_free(self._grammar)
            self._grammar = None
        if self._chain is not None:
            C.llama_sampler_free(self._chain)
            self._chain = None

    def __enter__(self) -> "Sampler":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
