"""`semzip reconstruct`'s input and output: records from a container or JSON lines, texts (or errors) out."""
from __future__ import annotations

import json

from engine.codecs.container import Container, is_container
from engine.codecs.record import MODEL_CODED, Record
from engine.errors import InputError, UsageError
from engine.jobs.inputs import open_input, open_output
from engine.models import load_lock


def read_records(source: str, ids: list[str] | None = None) -> list[Record | tuple[int, str]]:
    """Records of a container (random access when ids are given) or of JSON lines; a bad one becomes
    (its number, the problem), never an exception."""
    if source != "-" and is_container(source):
        box = Container(source)
        wanted = ids if ids is not None else [ident for ident, _, _ in box.entries]
        out: list[Record | tuple[int, str]] = []
        for n, ident in enumerate(wanted, start=1):
            try:
                out.append(box.get(ident) if ids is not None else box.read(n - 1))
            except InputError as exc:
                out.append((n, str(exc)))
        return out
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
    if ids is not None:
        parsed = [p for p in parsed if not isinstance(p, Record) or p.id in ids]
    return parsed


def reconstruct_file(decode, parsed: list[Record | tuple[int, str]], output: str) -> int:
    """{"id", "text"} lines out for records (errors as {"id", "line", "error"}); returns the failures.

    decode: records -> texts or errors (render needs no model; coded records and expand go through an Engine).
    An error record (an input line compress could not store) comes back as the error it holds, and counts as failed.
    """
    records = [p for p in parsed if isinstance(p, Record) and p.kind != "error"]
    texts = iter(decode(records))
    failed = 0
    with open_output(output) as out:
        for p in parsed:
            if isinstance(p, Record) and p.kind == "error":
                failed += 1
                out.write(json.dumps({"id": p.id, "line": p.line, "error": p.error}, ensure_ascii=False) + "\n")
            elif isinstance(p, Record):
                text = next(texts)
                if isinstance(text, Exception):
                    failed += 1
                    out.write(json.dumps({"id": p.id, "error": str(text)}, ensure_ascii=False) + "\n")
                else:
                    out.write(json.dumps({"id": p.id, "text": text}, ensure_ascii=False) + "\n")
            else:
                failed += 1
                out.write(json.dumps({"id": None, "line": p[0], "error": p[1]}, ensure_ascii=False) + "\n")
    return failed


def coding_model(parsed: list[Record | tuple[int, str]], override: str | None) -> str | None:
    """The model that decodes the model-coded records among parsed: --model, else the lock entry their profile
    names; None when no record needs one."""
    coded = [p for p in parsed if isinstance(p, Record) and p.kind in MODEL_CODED]
    if not coded:
        return None
    if override:
        return override
    shas = {(p.profile or "").split(".")[0] for p in coded}
    if len(shas) != 1 or "" in shas:
        raise UsageError("these records were coded with several models (or name none): decode them with --model")
    (sha,) = shas
    entry = load_lock().by_sha(sha)
    if entry is None:
        raise UsageError(f"the records were coded with a model whose sha256 starts {sha}, which models.lock does not "
                         f"pin: pass it with --model PATH")
    return entry.name
