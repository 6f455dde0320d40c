"""Reading memories (JSONL or text, file or stdin); a bad line becomes an error, never an exception. Output streams."""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.codecs.item import Item
from engine.errors import InputError


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    id: str
    problem: str


@dataclass(frozen=True, slots=True)
class ItemSource:
    """Items in input order from anywhere (a file, stdin, a Ray Dataset), with what --resume needs to trust it."""

    name: str
    items: Iterable[Item | LineError]
    fingerprint: str | None  # identifies the input for --resume; None: it cannot be read again (stdin)
    total: int | None = None  # for the progress bar


def open_input(source: str):
    """A binary stream for a path, or stdin for "-"."""
    if source == "-":
        return sys.stdin.buffer
    path = Path(source)
    if not path.is_file():
        raise InputError(f"input {source} does not exist or is not a file")
    return path.open("rb")


@contextmanager
def open_output(path: str):
    """A text stream for a path (created or truncated), or stdout for "-"."""
    if path == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as f:
        yield f


def read_items(source: str, *, fmt: str = "auto", whole: bool = False) -> Iterator[Item | LineError]:
    """Items in input order, with 1-based line numbers. fmt: auto, jsonl or text (one memory per line)."""
    if fmt not in ("auto", "jsonl", "text"):
        raise InputError(f"--format must be auto, jsonl or text, not {fmt!r}")
    stream = open_input(source)
    try:
        if whole:
            yield _text_item(stream.read(), 1)
            return
        for n, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue  # blank lines separate memories; they are not memories
            if fmt == "auto":
                fmt = "jsonl" if raw.lstrip().startswith(b"{") or source.endswith(".jsonl") else "text"
            yield _json_item(raw, n) if fmt == "jsonl" else _text_item(raw.rstrip(b"\r\n"), n)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _decode(raw: bytes, n: int) -> str | LineError:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return LineError(n, str(n), f"line {n}: invalid UTF-8 at byte {exc.start} ({raw[exc.start:exc.start + 4]!r})")


def _text_item(raw: bytes, n: int) -> Item | LineError:
    text = _decode(raw, n)
    if isinstance(text, LineError):
        return text
    if not text.strip():
        return LineError(n, str(n), f"line {n}: text is empty")
    return Item(id=str(n), text=text, line=n)


def _json_item(raw: bytes, n: int) -> Item | LineError:
    text = _decode(raw, n)
    if isinstance(text, LineError):
        return text
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return LineError(n, str(n), f"line {n}: not JSON ({exc.msg} at column {exc.colno})")
    if not isinstance(obj, dict):
        return LineError(n, str(n), f"line {n}: expected a JSON object, got {type(obj).__name__}")
    return item_from_fields(obj, n)


def item_from_fields(obj: dict, n: int) -> Item | LineError:
    """An item from one row's fields ("id", "text", the rest kept as metadata): a JSONL line or a dataset row."""
    obj = dict(obj)
    ident = obj.pop("id", None)
    ident = str(n) if ident is None else str(ident)
    if "text" not in obj:
        return LineError(n, ident, f"line {n}: no 'text' field (fields: {', '.join(sorted(obj)) or 'none'})")
    body = obj.pop("text")
    if not isinstance(body, str):
        return LineError(n, ident, f"line {n}: 'text' must be a string, got {type(body).__name__}")
    if not body.strip():
        return LineError(n, ident, f"line {n}: text is empty")
    return Item(id=ident, text=body, meta=obj, line=n)
