"""Filters over a memory's fields, with LangGraph's semantics: equality (nested for dicts and lists) and the
operators $eq, $ne, $gt, $gte, $lt, $lte."""
from __future__ import annotations

from typing import Any

from engine.store.errors import InvalidMemoryError

OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


def check_filter(filter: dict | None) -> dict:
    """The filter, or InvalidMemoryError naming an unknown operator before anything runs."""
    if filter is None:
        return {}
    if not isinstance(filter, dict):
        raise InvalidMemoryError(f"filter {filter!r}: a filter is a dict of field -> value")

    def walk(v):
        if isinstance(v, dict):
            for k, sub in v.items():
                if isinstance(k, str) and k.startswith("$") and k not in OPERATORS:
                    raise InvalidMemoryError(f"filter {filter!r}: unsupported operator {k!r} ({', '.join(OPERATORS)})")
                walk(sub)

    walk(filter)
    return filter


def matches(fields: dict, filter: dict) -> bool:
    """True when every filter entry holds for fields (a missing field is None)."""
    return all(compare(fields.get(k), v) for k, v in filter.items())


def compare(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if any(k.startswith("$") for k in wanted):
            return all(_operator(value, op, arg) for op, arg in wanted.items())
        return isinstance(value, dict) and all(compare(value.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, (list, tuple)):
        return (isinstance(value, (list, tuple)) and len(value) == len(wanted)
                and all(compare(a, b) for a, b in zip(value, wanted)))
    return value == wanted


def _operator(value: Any, op: str, arg: Any) -> bool:
    if op == "$eq":
        return value == arg
    if op == "$ne":
        return value != arg
    try:
        a, b = float(value), float(arg)
    except (TypeError, ValueError):
        return False  # a missing or non-numeric field is outside any range
    return {"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[op]
