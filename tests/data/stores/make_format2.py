"""Writes format2.db and format2.jsonl: a store of format 2 (tiers, no packs), as semzip's release before packs wrote it.

Run once, from a checkout of commit 8d8e065 (store format 2), never again: the file is what that release wrote.
    PYTHONPATH=<that checkout> python tests/data/stores/make_format2.py tests/data/stores
Memories in every tier: cold (compacted with the lossless model), cold with a kept hot copy (read after), hot
(put after the compaction), one of the zstd policy, one with a TTL.
"""
import json
import sys
from pathlib import Path

from engine.store import MemoryStore, Policy, Put

out = Path(sys.argv[1])
here = Path(__file__).resolve().parent
sessions = [json.loads(line) for line in (here.parent / "conversations.jsonl").open()]
cold = [
    Put(("chat", "priya"), "s1", sessions[0]["text"][:700], meta={"date": sessions[0]["date_time"]}),
    Put(("chat", "priya"), "t1", "Priya: I finally booked the pottery class for Thursdays."),
    Put(("chat", "other"), "json", {"text": "Marcus moved to Rua das Flores in Lisbon.", "n": 3}, meta={"kind": "fact"}),
    Put(("notes",), "z1", "A zstd note: " + "the pottery class meets on Thursdays at 7. " * 6),
    Put(("chat", "priya"), "ttl", "This memory has a TTL far in the future.", ttl=10**9),
]
hot = [Put(("chat", "priya"), "h1", "Priya: the kiln firing is next Monday, bring the bowls.")]
path = out / "format2.db"
path.unlink(missing_ok=True)
with MemoryStore(path, policies={("notes",): Policy("zstd")}, compaction=False) as store:
    store.put_many(cold)
    store.compact(everything=True)
    store.get(("chat", "priya"), "t1")  # a cold read: its text kept hot beside its record
    store.put_many(hot)
with (out / "format2.jsonl").open("w", encoding="utf-8") as f:
    for p in cold + hot:
        f.write(json.dumps({"namespace": list(p.namespace), "key": p.key, "value": p.value, "meta": p.meta or {}},
                           ensure_ascii=False) + "\n")
