"""A fresh clone has nothing beside it: no engine module, tool or test reads a path outside the checkout."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARENTS = re.compile(r"__file__\)\.resolve\(\)\.parents\[(\d+)\]")
OUTSIDE = "shared"  # the evaluation data's folder beside the checkout (benchmarks only)
UP = re.compile(rf"""["']\.\./|\b{OUTSIDE}[/"']""")  # a path that climbs out, or names that folder


def escapes(path: Path, source: str) -> list[str]:
    """Where source, the text of path, reaches above the checkout's root."""
    depth = len(path.relative_to(ROOT).parts)  # parents[depth - 1] is the root itself
    found = [f"parents[{m.group(1)}]" for m in PARENTS.finditer(source) if int(m.group(1)) >= depth]
    found += [m.group(0) for m in UP.finditer(source)]
    return found


def test_no_engine_module_or_test_reads_outside_the_checkout():
    me = Path(__file__).resolve()
    bad = {}
    for top in ("engine", "bindings", "tests", "tools"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if path != me and (found := escapes(path, path.read_text())):
                bad[str(path.relative_to(ROOT))] = found
    assert bad == {}


def test_the_check_sees_what_it_looks_for():
    demo = ROOT / "engine" / "cli" / "demo.py"
    assert escapes(demo, f'Path(__file__).resolve().parents[3] / "{OUTSIDE}" / "data"') == ["parents[3]", f'{OUTSIDE}"']
    assert escapes(demo, 'Path(__file__).resolve().parents[2] / "models.lock"') == []
    assert escapes(ROOT / "tests" / "t.py", f'open("../{OUTSIDE}/data/x.jsonl")') == ['"../', f"{OUTSIDE}/"]
