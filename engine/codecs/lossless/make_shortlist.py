"""Build coder s1's shortlist of a model: the tokens a corpus uses, most used first, at most --size of them.

    python -m engine.codecs.lossless.make_shortlist --model NAME|PATH --out engine/codecs/lossless/data/NAME.u32 \
        --corpus DATA/locomo-dev-sessions.jsonl:text --corpus DATA/dialogsum-dev.jsonl:dialogue [--size N]

Each --corpus is a JSON-lines file and the field that holds its texts (the shipped lists: every LoCoMo dev
session and DialogSum dev dialogue, docs/FORMAT.md). Every text is tokenized the way the lossless codec tokenizes
(ExactTokenizer); the shortlist is the --size most used tokens (all of them by default), written as sorted
little-endian uint32 ids. Its sha256 goes into shortlist.py's SHORTLISTS.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from engine.codecs.lossless.tokens import ExactTokenizer


def corpus_texts(spec: str) -> list[str]:
    """The texts of a FILE:FIELD corpus spec, one per non-empty JSON line."""
    path, sep, field = spec.rpartition(":")
    if not sep or not path:
        raise SystemExit(f"--corpus {spec!r}: expected FILE:FIELD")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)[field] for line in f if line.strip()]


def token_counts(model, texts: list[str]) -> collections.Counter:
    """How often each token id occurs in texts as the lossless codec tokenizes them."""
    tok = ExactTokenizer(model)
    counts: collections.Counter = collections.Counter()
    for text in texts:
        counts.update(tok.encode(text))
    return counts


def shortlist_bytes(counts: collections.Counter, size: int | None) -> bytes:
    """The size most used ids (all by default), sorted, as little-endian uint32."""
    return np.array(sorted(t for t, _ in counts.most_common(size)), dtype="<u4").tobytes()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="GGUF path or models.lock name")
    ap.add_argument("--out", required=True)
    ap.add_argument("--corpus", action="append", required=True, metavar="FILE:FIELD")
    ap.add_argument("--size", type=int, default=None)
    args = ap.parse_args(argv)
    from engine.core.runner import ModelRunner, RunnerConfig
    from engine.models import resolve

    path, _ = resolve(args.model, mode="lossless")
    texts = [t for spec in args.corpus for t in corpus_texts(spec)]
    with ModelRunner(path, RunnerConfig(num_slots=1, n_ctx=512, n_batch=64, n_ubatch=64)) as runner:
        counts = token_counts(runner.model, texts)
        n_vocab = runner.model.n_vocab
    data = shortlist_bytes(counts, args.size)
    Path(args.out).write_bytes(data)
    print(f"{len(data) // 4} of {len(counts)} tokens of {len(texts)} texts ({n_vocab} in the vocabulary) -> "
          f"{args.out}, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
