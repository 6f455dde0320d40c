"""The bundled test data (tests/data, see its README): read by tests and benchmarks, never by the package."""
from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def rows(name: str) -> list[dict]:
    """Every JSON line of tests/data/NAME."""
    with (DATA / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def dialogues() -> list[dict]:
    return rows("dialogues.jsonl")


def openings(n: int, chars: int = 450) -> list[dict]:
    """The first n dialogues, each cut at the first line end after chars characters: whole turns, less model time
    for tests whose property does not need a whole dialogue."""
    out = []
    for d in dialogues()[:n]:
        cut = d["text"].find("\n", chars)
        out.append({**d, "text": d["text"] if cut < 0 else d["text"][:cut]})
    return out


def sessions() -> list[dict]:
    return rows("conversations.jsonl")


def notes() -> list[dict]:
    return rows("notes.jsonl")


def write_jsonl(path: Path, items: list[dict]) -> Path:
    """Write {"id", "text"} lines (other fields dropped) and return the path."""
    with path.open("w", encoding="utf-8") as f:
        for r in items:
            f.write(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n")
    return path
