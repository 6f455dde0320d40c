"""`semzip store put|get|search|delete|stats STORE ...`: the memory store from the command line."""
from __future__ import annotations

import json
import sys

from engine.errors import InputError


def namespace_of(text: str) -> tuple[str, ...]:
    """--namespace a/b as ("a", "b")."""
    return tuple(text.split("/"))


def read_puts(path: str, namespace: tuple[str, ...]):
    """Put per line of a JSONL file: its id the key, its text the value, its other fields metadata."""
    from engine.store import Put

    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    with stream:
        for n, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path} line {n}: not JSON ({exc.msg})") from None
            if not isinstance(d, dict) or not isinstance(d.get("text"), str) or "id" not in d:
                raise InputError(f"{path} line {n}: a memory is an object with an 'id' and a string 'text'")
            key, text = str(d.pop("id")), d.pop("text")
            yield Put(namespace, key, text, meta=d or None)


def run_store(args) -> int:
    """The store subcommands; typed errors carry their exit codes up to main()."""
    from engine.store import MemoryStore, MissingMemoryError

    ns = namespace_of(args.namespace) if getattr(args, "namespace", None) else ("default",)
    with MemoryStore(args.store, mode=getattr(args, "mode", "lossless")) as store:
        if args.store_cmd == "put":
            puts = list(read_puts(args.file, ns))  # every line checked before anything is coded
            store.put_many(puts)  # one engine batch, one transaction: the whole file or nothing
            print(f"{len(puts)} memories put in {args.store} namespace {'/'.join(ns)}", file=sys.stderr)
        elif args.store_cmd == "get":
            mem = store.get(ns, args.key)
            if mem is None:
                raise MissingMemoryError(args.store, ns, args.key)
            sys.stdout.buffer.write(_text(mem.value).encode("utf-8"))
            sys.stdout.flush()
        elif args.store_cmd == "delete":
            if not store.delete(ns, args.key):
                raise MissingMemoryError(args.store, ns, args.key)
        elif args.store_cmd == "search":
            for mem in store.search(ns if args.namespace else (), args.query, limit=args.limit):
                line = {"namespace": "/".join(mem.namespace), "key": mem.key, "score": round(mem.score, 4)
                        if mem.score is not None else None, "text": _text(mem.value)}
                sys.stdout.buffer.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
        else:
            print(stats_table(store))
    return 0


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def stats_table(store) -> str:
    """Memories, text bytes in and bytes stored with embeddings, per namespace, then the total and the files."""
    rows = [("/".join(s.namespace), s.memories, s.text_bytes, s.stored_bytes) for s in store.stats()]
    total = ("total", sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows))
    lines = [f"{'namespace':30s} {'memories':>9s} {'text bytes':>11s} {'stored bytes':>13s} {'ratio':>6s}"]
    for name, n, t, b in rows + [total]:
        lines.append(f"{name:30s} {n:9d} {t:11d} {b:13d} {t / b if b else 0:6.2f}")
    files = store.file_bytes()
    if files is not None:
        lines.append(f"files on disk: {files} bytes ({total[2] / files if files else 0:.2f}x the text)")
    return "\n".join(lines)
