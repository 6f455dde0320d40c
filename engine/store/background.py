"""Compaction in a background thread of the process that opened the store, out of the host's way.

It wakes every interval, and compacts what is due only while the host is idle: before each batch and between
the model's steps it waits while any host call is in flight, and it abandons its batch (claims given back, to
be taken again later) when a host call waits for the model or the store closes. Failures are logged and
retried at the next wake; the hot tier keeps serving meanwhile.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time

from engine.store.compaction import PACK_BACKGROUND_MAX_BYTES, Compactor, Interrupted

log = logging.getLogger("semzip.store")

BATCH = 16  # smaller than the command line's: a host that needs the model waits for at most this much work
MAX_INTERVAL_S = 60.0
IDLE_POLL_S = 0.005


class HostCalls:
    """How many of the host's calls are in flight: background compaction waits for none to be."""

    def __init__(self):
        self._active, self._lock = 0, threading.Lock()

    @contextlib.contextmanager
    def call(self):
        with self._lock:
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1

    @property
    def is_busy(self) -> bool:
        return self._active > 0


class BackgroundCompaction:
    def __init__(self, compactor: Compactor, host: HostCalls, interval_s: float | None = None):
        self.compactor, self.host, self.where = compactor, host, compactor.core.where
        self.interval_s = interval_s or min(MAX_INTERVAL_S, max(compactor.cold_after / 4, 0.05))
        self.reports = []  # every run that did something, for the host to look at
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="semzip-compaction", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                report = self.compactor.run(pace=self._pace, batch=BATCH, pack=PACK_BACKGROUND_MAX_BYTES)
            except Interrupted:
                continue
            except Exception as exc:  # a model that is missing, a full disk: the next wake tries again
                if str(exc) != self._last_error:  # said once, not at every wake
                    log.warning("%s: background compaction failed: %s", self.where, exc)
                self._last_error = str(exc)
                continue
            self._last_error = None
            if report.memories or report.evicted or report.errors:
                self.reports.append(report)
                log.info("%s: %s", self.where, report.line())

    def _pace(self) -> None:
        """Wait while the host has calls in flight; give up the batch if one waits for the model or we stop."""
        while True:
            if self._stop.is_set():
                raise Interrupted("the store is closing")
            if self.compactor.core.coder.is_waited_on():
                raise Interrupted("a host call waits for the model")
            if not self.host.is_busy:
                return
            time.sleep(IDLE_POLL_S)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the model's current step (its batch abandoned); waits for the thread."""
        self._stop.set()
        self._thread.join(timeout)
