"""Coder s1's output matrix kept on disk between processes, so a process that reads one record does not rebuild it.

Building the int8 rows from the GGUF costs about 2 s a process on 2 cores (gemma-3-270m: 168 MB of rows); a
cached copy is memory-mapped (processes share one copy in the page cache) after its SHA-256 is checked, about
0.2 s. The cache is only a copy: a file that is missing, damaged or of another model or cache version is rebuilt
from the GGUF and written again (atomically: a file is complete or absent), and a cache folder that cannot be
written leaves the matrix built in memory, as before.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from engine.codecs.lossless.projection import OutputMatrix
from engine.models.verify import cache_dir

log = logging.getLogger("semzip.lossless")

CACHE_VERSION = 1  # of the files below and of OutputMatrix's rules: a change makes every older file a miss


def output_matrix(model_path: str | Path, folder: Path | None = None) -> OutputMatrix:
    """The model's OutputMatrix from the cache when a checked copy is there, else built (and cached)."""
    folder = folder or cache_dir() / "output-matrix"
    stem = folder / _key(Path(model_path))
    found = _load(stem)
    if found is not None:
        return found
    matrix = OutputMatrix.from_gguf(model_path)
    try:
        _save(stem, matrix)
    except OSError as exc:  # a read-only or full disk: the matrix is still right, only not kept
        log.warning("%s: output matrix not cached (%s)", model_path, exc)
    return matrix


def _key(model_path: Path) -> str:
    """The model file's identity as the cache sees it: its resolved path, size and modification time."""
    st = model_path.stat()
    ident = f"{CACHE_VERSION}\0{model_path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}"
    return f"{model_path.stem}-{hashlib.sha256(ident.encode()).hexdigest()[:16]}"


def _digest(values: np.ndarray, scales: np.ndarray, width: int) -> str:
    h = hashlib.sha256()
    h.update(memoryview(np.ascontiguousarray(values)).cast("B"))
    h.update(memoryview(np.ascontiguousarray(scales)).cast("B"))
    h.update(str((width, values.shape)).encode())
    return h.hexdigest()


def _load(stem: Path) -> OutputMatrix | None:
    meta_path = stem.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text())
        values = np.load(stem.with_suffix(".values.npy"), mmap_mode="r")
        scales = np.load(stem.with_suffix(".scales.npy"))
        if meta.get("version") != CACHE_VERSION or _digest(values, scales, meta["width"]) != meta["sha256"]:
            raise ValueError("its checksum or version does not match")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s: cached output matrix not used, rebuilding it (%s)", stem, exc)
        return None
    return OutputMatrix(values, scales, int(meta["width"]))


def _save(stem: Path, matrix: OutputMatrix) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    for suffix, array in ((".values.npy", matrix.values), (".scales.npy", matrix.scales)):
        _atomic(stem.with_suffix(suffix), lambda f, a=array: np.save(f, a))
    meta = {"version": CACHE_VERSION, "width": matrix.width,
            "sha256": _digest(matrix.values, matrix.scales, matrix.width)}
    _atomic(stem.with_suffix(".json"), lambda f: f.write(json.dumps(meta).encode()))  # written last: the marker


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
