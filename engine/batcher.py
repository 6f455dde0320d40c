"""One model, many callers: requests from any number of threads or asyncio tasks are batched together.

Callers submit lists (items to compress, records to decode) and wait on futures; a single worker thread drains
everything that is pending into one call of the batch function (one continuous-batching run), then hands each
caller its own part of the results.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future


class SubmissionBatcher:
    def __init__(self, run, max_batch: int = 64, name: str = "semzip-batcher"):
        """run: a list in, a list of as many results out, in order."""
        self._run_batch = run
        self._max_batch = max_batch
        self._queue: queue.Queue = queue.Queue()
        self._worker = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False
        self.num_batches = 0
        self._worker.start()

    def submit(self, items: list) -> Future:
        """A future for this caller's results, in its own order."""
        if self._closed:
            raise RuntimeError("the engine is closed")
        fut: Future = Future()
        self._queue.put((items, fut))
        return fut

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            pending = [first]
            size = len(first[0])
            while size < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                pending.append(nxt)
                size += len(nxt[0])
            self._serve(pending)

    def _serve(self, pending) -> None:
        items = [it for batch, _ in pending for it in batch]
        try:
            records = self._run_batch(items)
            self.num_batches += 1
        except BaseException as exc:  # every waiting caller must hear about it
            for _, fut in pending:
                fut.set_exception(exc)
            return
        start = 0
        for batch, fut in pending:
            fut.set_result(records[start : start + len(batch)])
            start += len(batch)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._worker.join()
