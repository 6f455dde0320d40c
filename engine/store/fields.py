"""What a memory shows besides its value: the fields filters see, and the texts its embeddings are made of."""
from __future__ import annotations

import json

from engine.store.errors import InvalidMemoryError
from engine.store.values import JSON

SMALL_FIELD_BYTES = 64  # a JSON value's top-level field up to this size is copied for filters (no decode)
WHOLE = "$"  # the index path of the whole value


def stored_fields(key: str, meta: dict | None, kind: int, value) -> str | None:
    """The fields column: {"m": metadata, "v": small top-level fields, "l": names of the larger ones}."""
    if meta is not None and not isinstance(meta, dict):
        raise InvalidMemoryError(f"metadata of {key!r}: a dict, got {type(meta).__name__}")
    out: dict = {}
    if meta:
        try:
            json.dumps(meta, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidMemoryError(f"metadata of {key!r} is not JSON-serialisable ({exc})") from None
        out["m"] = meta
    if kind == JSON:
        small, large = {}, []
        for k, v in value.items():
            size = len(json.dumps(v, ensure_ascii=False))
            (small.__setitem__(k, v) if size <= SMALL_FIELD_BYTES else large.append(k))
        if small:
            out["v"] = small
        if large:
            out["l"] = large
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")) if out else None


def parse_fields(stored: str | None) -> tuple[dict, dict, list[str]]:
    """(metadata, small value fields, large value field names) from the fields column."""
    d = json.loads(stored) if stored else {}
    return d.get("m", {}), d.get("v", {}), d.get("l", [])


def index_texts(kind: int, value, text: str, index) -> dict[str, str]:
    """path -> text to embed. index: True (the whole value), False (none), a list of dotted paths into a JSON
    value, or a dict path -> text already chosen by the caller (the LangGraph face uses its own path rules)."""
    if index is False or index is None:
        return {}
    if isinstance(index, dict):
        return {str(k): v for k, v in index.items() if isinstance(v, str)}
    if index is True or kind != JSON:
        return {WHOLE: text}
    out = {}
    for path in index:
        if path == WHOLE:
            out[path] = text
            continue
        node = value
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            out[path] = node if isinstance(node, str) else json.dumps(node, ensure_ascii=False)
    return out
