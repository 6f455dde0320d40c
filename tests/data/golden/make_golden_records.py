"""Write the golden records of tests/data/golden/: lossless records coded once under the portable profile.

    python -m tests.data.golden.make_golden_records [--out tests/data/golden/pN] [--threads 1]

tests/test_golden.py decodes them bit for bit on whatever machine runs the suite: if they stop decoding, the
format's promise (docs/FORMAT.md) is broken and CI fails. Run this only for a new format version or profile, into
a new folder, and keep the old records: every earlier version must still decode.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from engine.api import Engine  # noqa: E402
from engine.codecs.container import write_container  # noqa: E402
from engine.codecs.item import Item  # noqa: E402
from engine.codecs.lossless.selective_codec import SelectiveCodec  # noqa: E402
from engine.core.runner import RunnerConfig  # noqa: E402

NON_LATIN = (
    "[9:05 am on 2 April, 2024]\n"
    "Yuki: おはよう！昨日の京都の写真、見た？🌸 桜が満開だったよ。\n"
    "Dmitri: Доброе утро! Да, очень красиво. Мы поедем в Санкт-Петербург в июне 🚆\n"
    "Eleni: Καλημέρα! Θα έρθω κι εγώ, αν βρω εισιτήρια για την Τετάρτη.\n"
    "Amira: صباح الخير! سأحضر الكعك 🍰 والقهوة العربية.\n"
    "Priya: नमस्ते! मैं शनिवार को दिल्ली से आऊँगी। 👩🏽‍💻 काम थोड़ा ज़्यादा है।\n"
    "Wei: 大家好！我订了十二点的桌子，一共六个人。👨‍👩‍👧‍👦 🇯🇵🇬🇷\n"
)


def texts() -> dict[str, str]:
    sessions = [json.loads(line)["text"] for line in (ROOT / "tests/data/conversations.jsonl").open()]
    return {"chat-ascii": sessions[6], "non-latin-emoji": NON_LATIN, "ratio-16": sessions[3]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "tests/data/golden"))
    ap.add_argument("--threads", type=int, default=0, help="1 on a busy machine: the bits do not depend on it")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plain = texts()
    with Engine(runner_config=RunnerConfig(n_threads=args.threads), mode="lossless") as engine:
        codec = engine.compressor
        sessions = [json.loads(line)["text"] for line in (ROOT / "tests/data/conversations.jsonl").open()]
        long, n = "", 0
        while len(codec.tokenizer.encode(long)) <= codec.segment_tokens + 40:  # just over one segment: two
            long += sessions[n % len(sessions)] + "\n\n"
            n += 1
        exact = {k: v for k, v in plain.items() if k != "ratio-16"} | {"two-segments": long}
        records = codec.compress([Item(k, v) for k, v in exact.items()])
        (kept,) = SelectiveCodec(codec, 16).compress([Item("ratio-16", plain["ratio-16"])])
        records.append(kept)
        decoded = engine.decode(records)
        assert len(codec.tokenizer.encode(long)) > codec.segment_tokens and kept.kind == "kept", kept.kind
    with (out / "texts.jsonl").open("w") as f:
        for rec, text in zip(records, decoded):
            assert isinstance(text, str), text
            f.write(json.dumps({"id": rec.id, "text": text}, ensure_ascii=False) + "\n")
    with (out / "records.jsonl").open("w") as f:
        for rec in records:
            f.write(rec.to_json() + "\n")
    write_container(str(out / "records.szr"), records)
    print(f"wrote {len(records)} records to {out}: " + ", ".join(f"{r.id} {r.kind} {len(r.payload)} B" for r in records))


if __name__ == "__main__":
    main()
