"""`semzip reconstruct`'s file loop, and the cap on exit codes the commands share."""
from __future__ import annotations

import json

from engine.codecs.record import Record
from engine.errors import InputError
from engine.jobs.inputs import open_input, open_output

MAX_EXIT_FAILURES = 100  # exit codes are 8 bits: the count of failed lines is capped here


def reconstruct_file(reconstruct, source: str, output: str) -> tuple[int, int]:
    """Records in, {"id", "text"} lines out (errors as {"id", "line", "error"}); returns (lines, failed).

    reconstruct: records -> texts (render needs no model; expand goes through an Engine).
    """
    parsed: list[Record | tuple[int, str]] = []
    with open_input(source) as stream:
        for n, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                parsed.append(Record.from_json(raw.decode("utf-8"), where=f"line {n}"))
            except UnicodeDecodeError as exc:  # one bad line never sinks the rest
                parsed.append((n, f"line {n}: invalid UTF-8 at byte {exc.start}"))
            except InputError as exc:
                parsed.append((n, str(exc)))
    records = [p for p in parsed if isinstance(p, Record)]
    texts = iter(reconstruct(records))
    failed = 0
    with open_output(output) as out:
        for p in parsed:
            if isinstance(p, Record):
                out.write(json.dumps({"id": p.id, "text": next(texts)}, ensure_ascii=False) + "\n")
            else:
                failed += 1
                out.write(json.dumps({"id": None, "line": p[0], "error": p[1]}, ensure_ascii=False) + "\n")
    return len(parsed), failed
