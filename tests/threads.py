"""Calls made from many threads at once, for the tests of what the engine merges across callers."""
from __future__ import annotations

import threading


def call_from_threads(fn, args: list) -> tuple[dict, list[Exception]]:
    """fn(arg) for each arg, every call on its own thread, all started before any is joined; ({arg: result}, errors)."""
    got, errors = {}, []

    def call(arg):
        try:
            got[arg] = fn(arg)
        except Exception as exc:  # surfaced to the test
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(a,)) for a in args]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return got, errors
