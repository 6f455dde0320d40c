"""What the store accepts and how a value becomes the exact text it codes: namespaces, keys, texts, JSON objects.

A JSON object is stored as its compact JSON text; it must come back equal (==), so a value whose JSON does
not load back equal to it (tuples, non-string keys, NaN) is refused instead of being changed.
"""
from __future__ import annotations

import json
import unicodedata

from engine.store.errors import InvalidMemoryError

TEXT, JSON = 0, 1  # a memory's value kind, stored with it
SEP = "\x1f"  # joins a namespace's labels in the database: a control character, so no label can hold it
MAX_KEY_BYTES = 1024


def _has_control(s: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in s)


def check_namespace(namespace, allow_empty: bool = False) -> tuple[str, ...]:
    """The namespace as a tuple of labels; InvalidMemoryError naming it when a label is empty or not a string."""
    if isinstance(namespace, str) or not isinstance(namespace, (tuple, list)):
        raise InvalidMemoryError(f"namespace {namespace!r}: a namespace is a tuple of strings")
    namespace = tuple(namespace)
    if not namespace and not allow_empty:
        raise InvalidMemoryError("namespace (): a namespace needs at least one label")
    for label in namespace:
        if not isinstance(label, str) or not label:
            raise InvalidMemoryError(f"namespace {namespace!r}: label {label!r} is not a non-empty string")
        if _has_control(label):
            raise InvalidMemoryError(f"namespace {namespace!r}: label {label!r} holds a control character")
    return namespace


def check_key(namespace: tuple[str, ...], key) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidMemoryError(f"key {key!r} in namespace {'/'.join(namespace)!r}: a key is a non-empty string")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidMemoryError(f"key {key!r}: not valid Unicode (a lone surrogate)") from None
    if size > MAX_KEY_BYTES or _has_control(key):
        raise InvalidMemoryError(f"key {key[:40]!r}...: keys are at most {MAX_KEY_BYTES} bytes, no control characters")
    return key


def join(namespace: tuple[str, ...]) -> str:
    return SEP.join(namespace)


def split(stored: str) -> tuple[str, ...]:
    return tuple(stored.split(SEP)) if stored else ()


def to_text(namespace: tuple[str, ...], key: str, value) -> tuple[int, str]:
    """(kind, exact text) for a value: a str as is, a dict as compact JSON that loads back equal."""
    where = f"value of {key!r} in namespace {'/'.join(namespace)!r}"
    if isinstance(value, str):
        kind, text = TEXT, value
    elif isinstance(value, dict):
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidMemoryError(f"{where} is not JSON-serialisable ({exc})") from None
        if json.loads(text) != value:
            raise InvalidMemoryError(f"{where} would not come back equal from JSON (tuples, non-string keys?)")
        kind = JSON
    else:
        raise InvalidMemoryError(f"{where}: a value is a str or a dict, got {type(value).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMemoryError(f"{where} is not valid Unicode (a lone surrogate)") from None
    return kind, text


def as_text(value) -> str:
    """A value as the text the store codes and its faces print: a str as is, a JSON object compact."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def from_text(kind: int, text: str):
    return json.loads(text) if kind == JSON else text
