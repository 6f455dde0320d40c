"""models.lock: pinned entries (lockfile), file checks before llama.cpp sees a file (verify), assembly (fetch)."""
from engine.models.lockfile import (
    GGUF_MAGIC, Lock, ModelEntry, cache_dir, check_gguf_header, load_lock, lock_path, model_file, resolve, sha256_file,
    verify,
)

__all__ = [
    "GGUF_MAGIC", "Lock", "ModelEntry", "cache_dir", "check_gguf_header", "load_lock", "lock_path", "model_file",
    "resolve", "sha256_file", "verify",
]
