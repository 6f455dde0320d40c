"""Records of another regime than this process runs, decoded in a child process whose ggml is set up for theirs.

The same child decodes coder c1's records that failed their checksum here on a machine whose numpy runs AVX-512
code, with that code off (arithmetic.py: c1's probabilities depend on numpy's SIMD path).

ggml reads its matmul switches once per process (regime.py), so one process runs one regime. A record of another
regime this release knows (r1: the release before) goes to `python -m engine.codecs.lossless.legacy_child`, started
with that regime's switches and the same model; it decodes the records as this process would and hands the texts
back. Its checksum decides there as here: a failure comes back as the record's DecodeError, never as wrong text.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engine.codecs.lossless.errors import DecodeError
from engine.codecs.lossless.regime import KERNEL_ENV
from engine.codecs.record import Record

CHILD = "engine.codecs.lossless.legacy_child"  # run with -m: it imports the codec, which imports this module


def decode_elsewhere(records: list[Record], regime_id: str, model_path: str | Path, model_sha: str, kernels: str,
                     n_threads: int = 0, env: dict[str, str] | None = None) -> list[str | DecodeError]:
    """The text of each record (all of regime regime_id), or a DecodeError naming it; env: more for the child."""
    env = {**os.environ, **KERNEL_ENV[regime_id], **(env or {})}
    cmd = [sys.executable, "-m", CHILD, "--model", str(model_path), "--sha256", model_sha,
           "--kernels", kernels, "--regime", regime_id, "--threads", str(n_threads)]
    lines = "".join(r.to_json() + "\n" for r in records)
    proc = subprocess.run(cmd, input=lines, capture_output=True, text=True, env=env)
    rows = proc.stdout.splitlines()
    if proc.returncode != 0 or len(rows) != len(records):
        why = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return [DecodeError(f"record {r.id!r}: its regime {regime_id} is decoded by a child process, which failed: "
                            f"{why}") for r in records]
    out: list[str | DecodeError] = []
    for line in rows:
        row = json.loads(line)
        out.append(row["text"] if "text" in row else DecodeError(row["error"]))
    return out
