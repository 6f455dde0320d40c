"""Who imports whom in engine/ and bindings/, read from the source (never by importing it): for the layering and
import-cycle tests."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def source_modules() -> dict[str, str]:
    """Dotted module name -> source, for every .py under engine/ and bindings/ (a package's __init__ as the package)."""
    out = {}
    for top in ("engine", "bindings"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path.read_text()
    return out


def imported(source: str, known: set[str]) -> set[str]:
    """Internal modules a source imports anywhere in its body (lazy imports inside functions included).

    `from engine import models` imports the module engine.models; `from bindings import Batch` imports
    bindings. A relative import comes back as "." + its text, to be rejected: imports here are absolute.
    """
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in known else node.module)
    return {m for m in found if m.startswith(".") or m.split(".")[0] in ("engine", "bindings")}


def import_graph(modules: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the known modules it imports (relative and unknown names left to the layering test)."""
    known = set(modules)
    return {m: imported(source, known) & known for m, source in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest circle per group of modules that import each other, as [a, b, ..., a], a the group's first
    member by name."""
    reach = {m: _reachable(graph, m) for m in graph}
    found = []
    for start in sorted(graph):
        group = {m for m in reach[start] if start in reach[m]}  # start's own group, start included if it circles
        if start not in group or min(group) != start:
            continue
        paths = {start: [start]}  # breadth first: the shortest import path from start to each member
        frontier = [start]
        while frontier:
            nxt = []
            for m in frontier:
                for t in sorted(graph[m] & group):
                    if t not in paths:
                        paths[t] = paths[m] + [t]
                        nxt.append(t)
            frontier = nxt
        end = min((m for m in paths if start in graph[m]), key=lambda m: (len(paths[m]), m))
        found.append(paths[end] + [start])
    return found


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module start imports, directly or through others (start itself only through a circle)."""
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, ()))
    return seen
