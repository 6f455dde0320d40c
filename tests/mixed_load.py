"""Load on one MemoryStore: threads doing mixed put/get/search/delete on short memories, checked as they go.

Every thread writes its own keys and knows what each should hold: a get must return its last write (read-your-
writes) or None after its delete; any value search returns must be one some thread wrote for that key.
tests/test_store_faults.py runs it short; bench/store_load.py runs it long and prints its latencies.
"""
from __future__ import annotations

import random
import threading
import time

NAMES = ["Caroline", "Melanie", "Jon", "Gina", "Tim", "John", "Maria", "Joanna"]
THINGS = ["a pottery class", "the farmers market", "a camping trip", "a job interview", "a charity run",
          "a new puppy", "a painting of a sunset", "a guitar lesson"]
MIX = (("put", 0.4), ("get", 0.3), ("search", 0.15), ("delete", 0.15))


def memory(rng: random.Random, who: int) -> str:
    """A sentence or two, different every time."""
    a, b, thing = NAMES[who % 8], rng.choice(NAMES), rng.choice(THINGS)
    return f"{a} told {b} about {thing} on day {rng.randint(1, 999)}. It cost ${rng.randint(5, 500)}."


def run_load(store, num_threads: int, num_ops: int, seed: int = 0, namespace=("load",)) -> dict:
    """Run the mix; {"latency": {op: [seconds]}, "errors": [...], "seconds": wall}. Errors list what went wrong."""
    written: dict[str, set] = {}  # key -> every value ever put under it, for checking what search returns
    lock = threading.Lock()
    latency = {op: [] for op, _ in MIX}
    errors: list[str] = []

    def worker(tid: int) -> None:
        rng = random.Random(seed * 1000 + tid)
        mine: dict[str, str | None] = {}
        try:
            for j in range(num_ops):
                op = rng.choices([o for o, _ in MIX], [w for _, w in MIX])[0]
                key = f"t{tid}-{rng.randint(0, 9)}"
                t0 = time.perf_counter()
                if op == "put" or (op != "search" and key not in mine):
                    op, value = "put", memory(rng, tid)
                    with lock:
                        written.setdefault(key, set()).add(value)
                    store.put(namespace, key, value)
                    mine[key] = value
                elif op == "get":
                    got = store.get(namespace, key)
                    if (got.value if got else None) != mine[key]:
                        errors.append(f"thread {tid} op {j}: get {key} gave {got and got.value!r}, wrote {mine[key]!r}")
                elif op == "delete":
                    store.delete(namespace, key)
                    mine[key] = None
                else:
                    for hit in store.search(namespace, rng.choice(THINGS), limit=2):
                        with lock:
                            ok = hit.value in written.get(hit.key, ())
                        if not ok:
                            errors.append(f"thread {tid} op {j}: search gave {hit.key}={hit.value!r}, never written")
                latency[op].append(time.perf_counter() - t0)
            for key, value in mine.items():
                got = store.get(namespace, key)
                if (got.value if got else None) != value:
                    errors.append(f"thread {tid}: {key} ended as {got and got.value!r}, last write {value!r}")
        except Exception as exc:  # a failed op is a finding, reported with the others
            errors.append(f"thread {tid}: {type(exc).__name__}: {exc}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(num_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latency": latency, "errors": errors, "seconds": time.perf_counter() - t0}


class CompactorBeside:
    """A thread compacting every hot memory of the store at conn over and over until stopped (with stop())."""

    def __init__(self, conn, **store_options):
        from engine.store import MemoryStore

        self.store = MemoryStore(conn, compaction=False, cold_after=0, **store_options)
        self.runs, self.errors = [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="compactor-beside")
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.runs.append(self.store.compact(everything=True))
            except Exception as exc:  # a finding, reported with the load's errors
                self.errors.append(f"compactor: {type(exc).__name__}: {exc}")
            self._stop.wait(0.05)

    def stop(self) -> list[str]:
        """Stop, close its store; the errors it met."""
        self._stop.set()
        self._thread.join()
        self.store.close()
        return self.errors

    @property
    def compacted(self) -> int:
        return sum(r.memories for r in self.runs)
