"""Writes format4.db, format4.key and format4.jsonl: an encrypted store (store format 4) and its key file, as the
release that introduced encryption wrote them.

Run once, never again: the files are what that release wrote, and tests/test_sealing.py reads them.
    PYTHONPATH=. python tests/data/stores/make_format4.py tests/data/stores
Memories in every tier: packed (the default policy), coded alone (the zstd policy, a TTL), cold with a kept hot copy
(read after compaction), hot (put after it); two namespaces, so two data keys; metadata on each.
"""
import json
import os
import sys
from pathlib import Path

from engine.store import MemoryStore, Policy, Put
from engine.store.key_file import generate

out = Path(sys.argv[1])
here = Path(__file__).resolve().parent
sessions = [json.loads(line) for line in (here.parent / "conversations.jsonl").open()]
cold = [
    Put(("chat", "priya"), "s1", sessions[0]["text"][:700], meta={"date": sessions[0]["date_time"]}),
    Put(("chat", "priya"), "t1", "Priya: I finally booked the pottery class for Thursdays."),
    Put(("chat", "other"), "json", {"text": "Marcus moved to Rua das Flores in Lisbon.", "n": 3}, meta={"kind": "fact"}),
    Put(("notes",), "z1", "A zstd note: " + "the pottery class meets on Thursdays at 7. " * 6),
    Put(("chat", "priya"), "ttl", "This memory has a TTL far in the future.", ttl=10**9, meta={"kind": "ttl"}),
]
hot = [Put(("chat", "priya"), "h1", "Priya: the kiln firing is next Monday, bring the bowls.", meta={"n": 1})]
for name in ("format4.db", "format4.key", "format4.key.lock"):
    (out / name).unlink(missing_ok=True)
key = generate(out / "format4.key")
(out / "format4.key.lock").unlink(missing_ok=True)
with MemoryStore(out / "format4.db", key=key, policies={("notes",): Policy("zstd")}, compaction=False) as store:
    store.put_many(cold)
    store.compact(everything=True)
    store.get(("notes",), "z1")  # a cold read: its text kept hot beside its record
    store.put_many(hot)
    store.core.tiers.scrub()
(out / "format4.key.lock").unlink(missing_ok=True)
os.chmod(out / "format4.key", 0o600)
with (out / "format4.jsonl").open("w", encoding="utf-8") as f:
    for p in cold + hot:
        f.write(json.dumps({"namespace": list(p.namespace), "key": p.key, "value": p.value, "meta": p.meta or {}},
                           ensure_ascii=False) + "\n")
