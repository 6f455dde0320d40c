"""Build coder s1's shortlist of a model: the tokens the dev sets use, most used first, at most --size of them.

Usage: python bench/make_shortlist.py --model PATH --out engine/codecs/lossless/data/NAME.u32 [--size N]

Every LoCoMo dev session and DialogSum dev dialogue (../shared/data) is tokenized the way the lossless codec
tokenizes (ExactTokenizer); the shortlist is the --size most used tokens (all of them by default), written as
sorted little-endian uint32 ids. Its sha256 goes into engine/codecs/lossless/shortlist.py's SHORTLISTS.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import load_jsonl  # noqa: E402


def dev_counts(model) -> collections.Counter:
    from engine.codecs.lossless.tokens import ExactTokenizer

    tok = ExactTokenizer(model)
    counts: collections.Counter = collections.Counter()
    for text in load_jsonl("locomo-dev-sessions.jsonl", "text") + load_jsonl("dialogsum-dev.jsonl", "dialogue"):
        counts.update(tok.encode(text))
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=None)
    args = ap.parse_args()
    from bindings import Model

    model = Model(args.model)
    counts = dev_counts(model)
    ids = sorted(t for t, _ in counts.most_common(args.size))
    data = np.array(ids, dtype="<u4").tobytes()
    Path(args.out).write_bytes(data)
    print(f"{len(ids)} of {len(counts)} dev tokens ({model.n_vocab} in the vocabulary) -> {args.out}, "
          f"sha256 {hashlib.sha256(data).hexdigest()}")
    model.close()


if __name__ == "__main__":
    main()
