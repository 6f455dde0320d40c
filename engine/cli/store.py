"""`semzip store put|get|search|delete|compact|stats|export|import|vacuum STORE ...`: the memory store from the command line.

Each command is a short-lived process: it runs no background compaction (`semzip store compact` does it, from
cron or by hand), and put, get of a hot memory, search and stats never load the model.
"""
from __future__ import annotations

import json
import os
import sys

from engine.errors import InputError, UsageError

KEY_FILE_ENV = "SEMZIP_KEY_FILE"


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


def key_options(args) -> dict:
    """MemoryStore's key arguments from --key-file (default $SEMZIP_KEY_FILE) and --key-depth; never a key itself on
    a command line."""
    path = args.key_file or os.environ.get(KEY_FILE_ENV) or None
    options = {"key": path} if path else {}
    for flag, name in (("--key-depth", "key_depth"), ("--seal-names", "seal_names")):
        if getattr(args, name):
            if not path:
                raise UsageError(f"{flag} is for an encrypted store: give --key-file too")
            options[name] = getattr(args, name)
    return options


def run_keys(args) -> int:
    """keygen and rekey: the key file alone, no store opened."""
    from engine.store.key_file import KeyFile, generate

    if args.store_cmd == "keygen":
        path = generate(args.key_file, keyring=args.keyring)
        print(f"key file {path} written (mode 600): stores created with --key-file {path} are encrypted. Back it up: "
              f"losing it loses every memory sealed with it", file=sys.stderr)
    else:
        KeyFile(args.key_file).rekey()
        print(f"key file {args.key_file}: a new master key, its data keys re-wrapped; stores untouched",
              file=sys.stderr)
    return 0


def run_store(args) -> int:
    """The store subcommands; typed errors carry their exit codes up to main()."""
    from engine.store import MemoryStore, MissingMemoryError
    from engine.store.values import as_text

    if args.store_cmd in ("keygen", "rekey"):
        return run_keys(args)
    ns = namespace_of(args.namespace) if getattr(args, "namespace", None) else ("default",)
    options = {"cold_after": args.cold_after} if getattr(args, "cold_after", None) is not None else {}
    with MemoryStore(args.store, mode=getattr(args, "mode", "lossless"), compaction=False, **options,
                     **key_options(args)) as store:
        if args.store_cmd == "shred":
            print(f"{args.store}: the data key of {'/'.join(ns)} destroyed; {store.shred(ns)} memories deleted",
                  file=sys.stderr)
        elif args.store_cmd == "put":
            puts = list(read_puts(args.file, ns))  # every line checked before anything is coded
            store.put_many(puts)  # one engine batch, one transaction: the whole file or nothing
            print(f"{len(puts)} memories put in {args.store} namespace {'/'.join(ns)}", file=sys.stderr)
        elif args.store_cmd == "get":
            mem = store.get(ns, args.key)
            if mem is None:
                raise MissingMemoryError(args.store, ns, args.key)
            sys.stdout.buffer.write(as_text(mem.value).encode("utf-8"))
            sys.stdout.flush()
        elif args.store_cmd == "delete":
            delete(store, args, ns)
        elif args.store_cmd == "export":
            count = store.export(sys.stdout if args.output == "-" else args.output, ns if args.namespace else (),
                                 plain=args.plain)
            sealed = store.core.db.seal.is_sealed and not args.plain
            print(f"{count} memories exported from {args.store}"
                  f"{' sealed: importing them needs its key file' if sealed else ''}", file=sys.stderr)
        elif args.store_cmd == "import":
            report = store.import_(sys.stdin if args.file == "-" else args.file)
            for line, why in report.errors:
                print(f"semzip: error: {args.file} line {line}: {why}", file=sys.stderr)
            print(f"{report.imported} memories imported into {args.store}, {len(report.errors)} lines refused",
                  file=sys.stderr)
            return 1 if report.errors else 0
        elif args.store_cmd == "vacuum":
            store.vacuum()
        elif args.store_cmd == "search":
            for mem in store.search(ns if args.namespace else (), args.query, limit=args.limit):
                line = {"namespace": "/".join(mem.namespace), "key": mem.key, "score": round(mem.score, 4)
                        if mem.score is not None else None, "text": as_text(mem.value)}
                sys.stdout.buffer.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
        elif args.store_cmd == "compact":
            report = compact(store, ns if args.namespace else (), args.all)
            print(report.line(), file=sys.stderr)
            for error in report.errors:
                print(f"semzip: error: {error}", file=sys.stderr)
            return 1 if report.errors else 0
        else:
            print(stats_table(store))
    return 0


def delete(store, args, ns: tuple[str, ...]) -> None:
    from engine.store import MissingMemoryError

    if args.all == (args.key is not None) or (args.all and not args.namespace):
        raise UsageError("semzip store delete: give a KEY, or --namespace a/b --all (not both)")
    if args.all:
        print(f"{store.delete_namespace(ns)} memories deleted from {args.store} under {'/'.join(ns)}", file=sys.stderr)
    elif not store.delete(ns, args.key):
        raise MissingMemoryError(args.store, ns, args.key)


def compact(store, prefix: tuple[str, ...], everything: bool):
    """store.compact with a progress bar over the memories due."""
    from tqdm import tqdm

    due, _ = store.backlog(prefix) if not everything else (None, None)
    with tqdm(total=due, unit="memory", desc="compacting", disable=None) as bar:
        return store.compact(prefix, everything=everything, progress=bar.update)


def stats_table(store) -> str:
    """Per namespace: memories and bytes in each tier, text bytes in, bytes stored with embeddings; then the total,
    the compaction backlog and the files."""
    rows = [("/".join(s.namespace), s.memories, s.hot, s.hot_bytes, s.cold, s.cold_bytes, s.text_bytes,
             s.stored_bytes) for s in store.stats()]
    total = ("total", *(sum(r[k] for r in rows) for k in range(1, 8)))
    lines = [f"{'namespace':24s} {'memories':>9s} {'hot':>6s} {'hot bytes':>10s} {'cold':>6s} {'cold bytes':>11s} "
             f"{'text bytes':>11s} {'stored bytes':>13s} {'ratio':>6s}"]
    for name, n, hot, hot_b, cold, cold_b, t, b in rows + [total]:
        lines.append(f"{name:24s} {n:9d} {hot:6d} {hot_b:10d} {cold:6d} {cold_b:11d} {t:11d} {b:13d} "
                     f"{t / b if b else 0:6.2f}")
    due, due_bytes = store.backlog()
    lines.append(f"compaction backlog: {due} memories due ({due_bytes} hot bytes)")
    files = store.file_bytes()
    if files is not None:
        lines.append(f"files on disk: {files} bytes ({total[6] / files if files else 0:.2f}x the text)")
    return "\n".join(lines)
