"""The memory store under faults and load: kill -9 mid-write, a full disk, threads and processes at once."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.store import MemoryStore, Policy, Put, StoreError
from mixed_load import CompactorBeside, run_load

ROOT = Path(__file__).resolve().parents[1]
BATCH = 300

WRITER = f"""
import sys
from engine.store import MemoryStore, Put
with MemoryStore(sys.argv[1], mode="zstd", index=False, embed=None) as store:
    for b in range(10**6):
        store.put_many([Put(("kill",), f"b{{b}}-{{i}}", f"batch {{b}} memory {{i}}: " + "x" * (i % 97)) for i in range({BATCH})])
        print(b, flush=True)  # acknowledged: put_many returned
"""

READER = """
import re, sys, time
from engine.store import MemoryStore
seen, reads = {}, 0
with MemoryStore(sys.argv[1], embed=None) as store:
    while time.time() < float(sys.argv[2]):
        for mem in store.get_many([(("proc",), f"k{i}") for i in range(20)]):
            if mem is None:
                continue
            m = re.fullmatch(r"(k\\d+) version (\\d+): .*", mem.value)
            if not m or m.group(1) != mem.key or int(m.group(2)) < seen.get(mem.key, 0):
                sys.exit(f"wrong or older value for {mem.key}: {mem.value!r}")
            seen[mem.key] = int(m.group(2))
            reads += 1
print(reads)
"""


def child_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


@pytest.mark.parametrize("round", range(3))
def test_kill_9_during_put_many_leaves_whole_batches_only(tmp_path, round):
    path = tmp_path / "kill.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT, env=child_env(),
                            stdout=subprocess.PIPE, text=True)
    acked = [int(proc.stdout.readline()) for _ in range(2 + round)]
    time.sleep(random.Random(round).uniform(0.0, 0.15))  # somewhere in a later batch: coding it or writing it
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    acked += [int(line) for line in proc.stdout.read().split()]  # acknowledged before the kill landed
    with MemoryStore(path, mode="zstd", index=False, embed=None) as store:
        keys = store.list(("kill",), limit=10**6)
        batches: dict[int, int] = {}
        for key in keys:
            b = int(key[1:].split("-")[0])
            batches[b] = batches.get(b, 0) + 1
        assert set(acked) <= set(batches) and all(n == BATCH for n in batches.values())  # all of a batch or none
        for mem in store.get_many([(("kill",), k) for k in keys], refresh_ttl=False):  # every row decodes exactly
            b, i = mem.key[1:].split("-")
            assert mem.value == f"batch {b} memory {i}: " + "x" * (int(i) % 97)


def test_a_full_disk_is_a_clear_error_and_loses_nothing(small_disk):
    path = small_disk / "full.db"
    earlier = {f"k{i}": f"memory {i} " + os.urandom(200).hex() for i in range(20)}
    with MemoryStore(path, mode="raw", index=False, embed=None) as store:
        store.put_many([Put(("d",), k, v) for k, v in earlier.items()])
        filler = small_disk / "filler"
        with open(filler, "wb", buffering=0) as f:  # take the rest of the disk (unbuffered: close has nothing left)
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        big = [Put(("d",), f"big{i}", os.urandom(4000).hex()) for i in range(40)]
        with pytest.raises(StoreError, match=rf"{path}: cannot write memories \(disk full\?\)"):
            store.put_many(big)
        assert [m.value for m in store.get_many([(("d",), k) for k in earlier])] == list(earlier.values())
        assert store.get(("d",), "big0") is None  # the failed batch left nothing
        filler.unlink()
        store.put_many(big)  # usable once space is back
        assert store.get(("d",), "big39").value == big[39].value
        assert store.get(("d",), "k7").value == earlier["k7"]


def test_threads_and_reader_processes_see_no_error_and_no_wrong_value(tmp_path, lossless_engine, embedder):
    """8 threads of mixed ops (tests/mixed_load.py's mix, shortened), while one writer thread rewrites a zstd
    namespace that 2 reader processes check and a compactor codes everything as soon as it is written: every value
    they see is whole and never older."""
    import threading

    path = tmp_path / "load.db"
    with MemoryStore(path, engine=lossless_engine, embed=embedder.embed, dims=384,
                     policies={("proc",): Policy("zstd")}) as store:
        store.put_many([Put(("proc",), f"k{i}", f"k{i} version 0: ") for i in range(20)])
        until = time.time() + 12
        readers = [subprocess.Popen([sys.executable, "-c", READER, str(path), str(until)], cwd=ROOT, env=child_env(),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        versions = []

        def writer():
            while time.time() < until - 1:
                v = len(versions) + 1
                store.put_many([Put(("proc",), f"k{i}", f"k{i} version {v}: " + "y" * i) for i in range(20)])
                versions.append(v)
                time.sleep(0.05)

        w = threading.Thread(target=writer)
        w.start()
        beside = CompactorBeside(str(path), engine=lossless_engine, embed=embedder.embed, dims=384,
                                 policies={("proc",): Policy("zstd")})
        result = run_load(store, num_threads=8, num_ops=2, seed=1)  # coded memories, 8 threads at once
        w.join()
        outs = [r.communicate(timeout=60) for r in readers]
        errors = beside.stop()
    assert result["errors"] == [] and errors == [], (result["errors"] + errors)[:5]
    assert beside.compacted > 0  # the compactor coded memories while the load and the readers ran
    assert sum(len(x) for x in result["latency"].values()) == 8 * 2
    for r, (out, err) in zip(readers, outs):
        assert r.returncode == 0, err[-2000:]
        assert int(out.strip()) > 0
    assert len(versions) > 3
