"""list_namespaces' rules, LangGraph's exactly: prefix and suffix with "*" wildcards, then depth, then pages."""
from __future__ import annotations


def matches(namespace: tuple[str, ...], path: tuple[str, ...], suffix: bool) -> bool:
    """True when namespace starts (or ends) with path; "*" in path matches any one label."""
    if len(namespace) < len(path):
        return False
    pairs = zip(reversed(namespace), reversed(path)) if suffix else zip(namespace, path)
    return all(p == "*" or n == p for n, p in pairs)


def select(namespaces, conditions: list[tuple[tuple[str, ...], bool]], max_depth: int | None = None,
           limit: int = 100, offset: int = 0) -> list[tuple[str, ...]]:
    """The sorted namespaces matching every (path, is_suffix) condition, cut to max_depth (deduplicated), then
    one page of them."""
    found = [ns for ns in namespaces if all(matches(ns, tuple(path), suffix) for path, suffix in conditions)]
    if max_depth is not None:
        found = {ns[:max_depth] for ns in found}
    return sorted(found)[offset : offset + limit]
