"""Records of another regime than this process runs, decoded in a child process whose ggml is set up for theirs.

The same child decodes coder c1's records that failed their checksum here on a machine whose numpy runs AVX-512
code, with that code off (coder.py: c1's probabilities depend on numpy's SIMD path).

ggml reads its matmul switches once per process (regime.py), so one process runs one regime. A record of another
regime this release knows (r1: the release before) goes to `python -m engine.codecs.lossless.legacy`, started with
that regime's switches and the same model; it decodes the records as this process would and hands the texts back.
Its checksum decides there as here: a failure comes back as the record's DecodeError, never as wrong text.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from engine.codecs.lossless.codec import DecodeError
from engine.codecs.lossless.regime import KERNEL_ENV
from engine.codecs.record import Record


def decode_elsewhere(records: list[Record], regime_id: str, model_path: str | Path, model_sha: str, kernels: str,
                     n_threads: int = 0, env: dict[str, str] | None = None) -> list[str | DecodeError]:
    """The text of each record (all of regime regime_id), or a DecodeError naming it; env: more for the child."""
    env = {**os.environ, **KERNEL_ENV[regime_id], **(env or {})}
    cmd = [sys.executable, "-m", "engine.codecs.lossless.legacy", "--model", str(model_path), "--sha256", model_sha,
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


def main(argv: list[str] | None = None) -> int:
    """The child: record JSON lines on stdin, {"text"} or {"error"} lines on stdout, in order."""
    from engine.codecs.lossless import selftest
    from engine.codecs.lossless.codec import LosslessCodec
    from engine.codecs.lossless.regime import Regime, process_regime
    from engine.core.runner import ModelRunner

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--sha256", required=True)
    ap.add_argument("--kernels", required=True)
    ap.add_argument("--regime", required=True, choices=sorted(KERNEL_ENV))
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    records = [Record.from_json(line) for line in sys.stdin.read().splitlines() if line.strip()]
    if process_regime() != args.regime:  # the parent sets the switches; anything else would decode garbage
        print(f"this process runs regime {process_regime()}, not {args.regime}", file=sys.stderr)
        return 2
    regime = Regime(id=args.regime)
    with ModelRunner(args.model, regime.runner_config(8, n_threads=args.threads)) as runner:
        regime = selftest.check_once(runner, regime, args.sha256)
        texts = LosslessCodec(runner, args.sha256, args.kernels, regime).decompress(records)
    for text in texts:
        print(json.dumps({"error": str(text)} if isinstance(text, Exception) else {"text": text}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
