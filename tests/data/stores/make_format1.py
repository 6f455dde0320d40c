"""Writes format1.db and format1.jsonl: a store of format 1, as semzip's release before the tiers wrote it.

Run once, from a checkout of commit d908048 (store format 1), never again: the file is what that release wrote.
    PYTHONPATH=<that checkout> python tests/data/stores/make_format1.py tests/data/stores
"""
import json
import sys
from pathlib import Path

from engine.store import MemoryStore, Policy, Put

out = Path(sys.argv[1])
here = Path(__file__).resolve().parent
sessions = [json.loads(line) for line in (here.parent / "conversations.jsonl").open()]
puts = [
    Put(("chat", "priya"), "s1", sessions[0]["text"][:900], meta={"date": sessions[0]["date_time"]}),
    Put(("chat", "priya"), "emoji", "naïve café, 日本語のメモ, Привет, emoji 🙂👩🏽‍💻🇵🇹, tabs\tand\nnewlines kept exactly"),
    Put(("chat", "other"), "json", {"text": "Marcus moved to Rua das Flores in Lisbon.", "n": 3, "tags": ["move"]},
        meta={"kind": "fact"}),
    Put(("notes",), "z1", "A zstd note: " + "the pottery class meets on Thursdays at 7. " * 6),
    Put(("raw",), "r1", "kept as it is"),
    Put(("chat", "priya"), "ttl", "This memory has a TTL far in the future.", ttl=10**9),
]
path = out / "format1.db"
path.unlink(missing_ok=True)
with MemoryStore(path, policies={("notes",): Policy("zstd"), ("raw",): Policy("raw")}) as store:
    store.put_many(puts)
with (out / "format1.jsonl").open("w", encoding="utf-8") as f:
    for p in puts:
        f.write(json.dumps({"namespace": list(p.namespace), "key": p.key, "value": p.value, "meta": p.meta or {}},
                           ensure_ascii=False) + "\n")
