"""A loaded model (llama_model) and its vocabulary: tokenize, detokenize, chat template."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

from bindings._lib import C, ensure_backend
from bindings.errors import LlamaError, ModelLoadError


@dataclass(frozen=True, slots=True)
class ModelParams:
    """What llama_model_load_from_file takes from us."""

    n_gpu_layers: int = 0
    use_mmap: bool = True
    vocab_only: bool = False
    # Repacked weights (CPU_REPACK buffers) run 4-row groups through one kernel and the rest through
    # another, so a row's logits depend on its place in the ubatch; lossless coding turns them off.
    use_extra_bufts: bool = True


class Model:
    """Owns one llama_model handle; close() (or the with-block) frees it."""

    def __init__(self, path: str | Path, params: ModelParams = ModelParams()):
        ensure_backend()
        self.path = Path(path)
        self.params = params
        mp = C.llama_model_default_params()
        mp.n_gpu_layers = params.n_gpu_layers
        mp.use_mmap = params.use_mmap
        mp.vocab_only = params.vocab_only
        mp.use_extra_bufts = params.use_extra_bufts
        handle = C.llama_model_load_from_file(str(self.path).encode(), mp)
        if not handle:
            raise ModelLoadError(f"llama.cpp could not load model {self.path} (n_gpu_layers={params.n_gpu_layers})")
        self._handle = handle
        self._vocab = C.llama_model_get_vocab(handle)
        self.n_vocab = C.llama_vocab_n_tokens(self._vocab)
        self.n_layer = C.llama_model_n_layer(handle)
        self.n_embd = C.llama_model_n_embd(handle)  # width of a final hidden state
        self.n_ctx_train = C.llama_model_n_ctx_train(handle)
        self._piece_buf = ctypes.create_string_buffer(256)

    @property
    def handle(self):
        if self._handle is None:
            raise LlamaError(f"model {self.path} is closed")
        return self._handle

    @property
    def vocab(self):
        if self._handle is None:
            raise LlamaError(f"model {self.path} is closed")
        return self._vocab

    def close(self) -> None:
        """Free the native model; idempotent. Close its contexts first."""
        if self._handle is not None:
            C.llama_model_free(self._handle)
            self._handle = None
            self._vocab = None

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def description(self) -> str:
        """llama_model_desc: architecture, size and quantization in one line."""
        buf = ctypes.create_string_buffer(256)
        n = C.llama_model_desc(self.handle, buf, len(buf))
        if n < 0:
            raise LlamaError("llama_model_desc failed")
        return buf.value.decode("utf-8", "replace")

    def size_bytes(self) -> int:
        return int(C.llama_model_size(self.handle))

    def meta(self, key: str) -> str | None:
        """A GGUF metadata value as a string, or None when the key is absent."""
        buf = ctypes.create_string_buffer(4096)
        n = C.llama_model_meta_val_str(self.handle, key.encode(), buf, len(buf))
        if n < 0:
            return None
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            C.llama_model_meta_val_str(self.handle, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace")

    def tokenize(self, text: str, *, add_special: bool = False, parse_special: bool = True) -> list[int]:
        """Text to token ids. parse_special lets chat-template markers become their special tokens."""
        data = text.encode("utf-8")
        cap = len(data) + 8
        arr = (C.llama_token * cap)()
        n = C.llama_tokenize(self.vocab, data, len(data), arr, cap, add_special, parse_special)
        if n < 0:  # buffer too small: -n is the count needed
            cap = -n
            arr = (C.llama_token * cap)()
            n = C.llama_tokenize(self.vocab, data, len(data), arr, cap, add_special, parse_special)
            if n < 0:
                raise LlamaError(f"llama_tokenize failed ({n}) for a text of {len(data)} bytes")
        return list(arr[:n])

    def token_to_piece(self, token: int, *, special: bool = False) -> bytes:
        """The bytes of one token; may be a partial UTF-8 sequence, so join bytes before decoding."""
        n = C.llama_token_to_piece(self.vocab, token, self._piece_buf, len(self._piece_buf), 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = C.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, special)
            if n < 0:
                raise LlamaError(f"llama_token_to_piece failed for token {token}")
            return buf.raw[:n]
        return self._piece_buf.raw[:n]

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self.token_to_piece(t) for t in tokens).decode("utf-8", "replace")

    def is_eog(self, token: int) -> bool:
        return bool(C.llama_vocab_is_eog(self.vocab, token))

    def chat_template(self) -> str | None:
        raw = C.llama_model_chat_template(self.handle, None)
        return raw.decode("utf-8") if raw else None

    def apply_chat_template(self, messages: list[dict[str, str]], *, add_assistant: bool = True) -> str:
        """Render messages with the GGUF's own template through llama_chat_apply_template."""
        tmpl = self.chat_template()
        if tmpl is None:
            raise LlamaError(f"model {self.path} has no chat template in its metadata")
        keep = [(m["role"].encode(), m["content"].encode()) for m in messages]
        chat = (C.llama_chat_message * len(keep))(*[C.llama_chat_message(r, c) for r, c in keep])
        cap = sum(len(r) + len(c) for r, c in keep) * 2 + 256
        buf = ctypes.create_string_buffer(cap)
        n = C.llama_chat_apply_template(tmpl.encode(), chat, len(keep), add_assistant, buf, cap)
        if n < 0:
            raise LlamaError(f"llama_chat_apply_template does not support the template of {self.path}")
        if n > cap:
            buf = ctypes.create_string_buffer(n)
            n = C.llama_chat_apply_template(tmpl.encode(), chat, len(keep), add_assistant, buf, n)
        return buf.raw[:n].decode("utf-8")
