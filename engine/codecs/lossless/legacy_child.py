"""The child process legacy.py starts: decodes record JSON lines under the regime its parent set ggml up for."""
from __future__ import annotations

import argparse
import json
import sys

from engine.codecs.lossless import selftest
from engine.codecs.lossless.codec import LosslessCodec
from engine.codecs.lossless.regime import KERNEL_ENV, Regime, process_regime
from engine.codecs.record import Record
from engine.core.runner import ModelRunner


def main(argv: list[str] | None = None) -> int:
    """Record JSON lines on stdin, {"text"} or {"error"} lines on stdout, in order."""
    ap = argparse.ArgumentParser(description=__doc__)
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
