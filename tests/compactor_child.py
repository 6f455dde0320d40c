"""Compactor processes for the tests that run two at once: argv store, meeting folder[, key file].

Holding its first batch's claim, each compactor waits until the other holds one too, so both are at work at once;
it prints its report's memories, superseded and batches as JSON. COMPACTOR codes rows one by one (zstd), PACKER
writes packs.
"""

MEET = """
import json, os, sys, time
from pathlib import Path
meet = Path(sys.argv[2])
def wait_for_the_other():
    (meet / str(os.getpid())).touch()
    deadline = time.time() + 60
    while len(list(meet.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.01)
"""

COMPACTOR = MEET + """
from engine.store import MemoryStore
store = MemoryStore(sys.argv[1], mode="zstd", index=False, embed=None, compaction=False, cold_after=0,
                    key=sys.argv[3] if len(sys.argv) > 3 else None)
real = store.core.coder.encode
def coded(*a, **k):
    wait_for_the_other()
    return real(*a, **k)
store.core.coder.encode = coded
store.compactor.batch = 5
r = store.compact()
print(json.dumps({"memories": r.memories, "superseded": r.superseded, "batches": r.batches}), flush=True)
store.close()
"""

PACKER = MEET + """
from engine.store import MemoryStore, packing
store = MemoryStore(sys.argv[1], index=False, embed=None, compaction=False, pack_tokens=64)
real = packing.Packer._code
def code(*a, **k):
    wait_for_the_other()
    return real(*a, **k)
packing.Packer._code = code
store.compactor.batch = 4
r = store.compact(everything=True)
print(json.dumps({"memories": r.memories, "superseded": r.superseded, "batches": r.batches}), flush=True)
store.close()
"""
