"""Typed errors raised by the bindings layer."""


class LlamaError(RuntimeError):
    """A llama.cpp call failed."""


class ModelLoadError(LlamaError):
    """llama.cpp could not load a model file."""


class ContextError(LlamaError):
    """llama.cpp could not create a context with the requested parameters."""


class KVCacheFull(LlamaError):
    """llama_decode returned 1: no KV slot for the batch. Recoverable: free sequences or shrink the batch."""


class DecodeAborted(LlamaError):
    """llama_decode returned 2: aborted by the abort callback."""


class GrammarError(LlamaError):
    """llama.cpp rejected a GBNF grammar."""
