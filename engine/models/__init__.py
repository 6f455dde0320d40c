"""Models: models.lock's entries (lockfile), file checks before llama.cpp sees a file (verify), assembly (fetch)."""
from engine.models.lockfile import DEFAULT_MODE, MODES, Lock, ModelEntry, load_lock, lock_path
from engine.models.verify import GGUF_MAGIC, cache_dir, check_gguf_header, model_file, resolve, sha256_file, verify

__all__ = [
    "DEFAULT_MODE", "GGUF_MAGIC", "Lock", "MODES", "ModelEntry", "cache_dir", "check_gguf_header", "load_lock", "lock_path", "model_file",
    "resolve", "sha256_file", "verify",
]
