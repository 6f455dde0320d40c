"""The `semzip` argument parser: every command's own options; the shared settings' flags come from settings.py."""
from __future__ import annotations

import argparse

from engine.cli.config import add_setting_flags


class _PrintVersion(argparse.Action):
    """--version: composed only when asked, so building the parser for another command imports no codec."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from engine.cli.version import version_text

        print(version_text())
        parser.exit()


def build_parser(handlers: dict) -> argparse.ArgumentParser:
    # allow_abbrev=False everywhere: `--mode` must never be taken for `--model`.
    p = argparse.ArgumentParser(prog="semzip", description="Compress agent memories with a local LLM (llama.cpp, in-process).",
                                allow_abbrev=False)
    p.add_argument("-v", "--verbose", action="store_true", help="log llama.cpp and engine details")
    p.add_argument("--version", action=_PrintVersion, help="semzip's and llama-cpp-python's versions, and the lossless "
                   "profiles this release reads and writes")
    sub = p.add_subparsers(dest="cmd", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help, allow_abbrev=False)
        parser.set_defaults(func=handlers[name])
        return parser

    command("doctor", "versions, backends, GPU, models; non-zero if the default model is missing")

    m = command("models", "list, fetch or pin the models of models.lock")
    msub = m.add_subparsers(dest="models_cmd", required=True)
    msub.add_parser("list", help="which models are present and verified", allow_abbrev=False)
    f = msub.add_parser("fetch", help="download, assemble and verify a model (default: the default model of each "
                        "mode)", allow_abbrev=False)
    f.add_argument("name", nargs="?")
    f.add_argument("--force", action="store_true", help="re-assemble even if a verified copy exists")
    pin = msub.add_parser("pin", help="record a user-supplied GGUF's path, size and sha256 in models.lock", allow_abbrev=False)
    pin.add_argument("name")
    pin.add_argument("path")

    c = command("compress", "compress memories (JSONL or text, file or -) into records")
    c.add_argument("input", help="input file, or - for stdin")
    c.add_argument("-o", "--output", default="-", help="output: JSON lines of records, a .szr container, or - (stdout)")
    c.add_argument("--format", default="auto", choices=["auto", "jsonl", "text"])
    c.add_argument("--container", default="auto", choices=["auto", "jsonl", "binary"],
                   help="records as JSON lines, or a binary .szr container (raw payloads, an index for random access); "
                        "auto: binary when OUTPUT ends in .szr")
    c.add_argument("--whole", action="store_true", help="the whole file is one memory")
    c.add_argument("--resume", action="store_true", help="continue an interrupted run from its store")
    c.add_argument("--store", default=None, help="run store (journal, cache, metrics); default OUTPUT.semzip.db")
    c.add_argument("--drop-store", action="store_true", help="delete the run store after a successful run")
    c.add_argument("--summary-json", default=None, metavar="FILE", help="also write the run's summary as JSON here")
    c.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="compute batches on Ray actors (pip install 'semzip[ray]'): a cluster's address, or none to "
                        "start a local instance; the journal, output and --resume stay in this process")
    c.add_argument("--actors", type=int, default=0,
                   help="with --ray: engines to start (default: one per GPU, or one per --cpus-per-actor CPUs)")
    c.add_argument("--cpus-per-actor", type=int, default=0,
                   help="with --ray: CPUs per actor (default: --threads; 1 for GPU actors); also the threads if "
                        "--threads is not given")
    add_setting_flags(c, "compress")

    r = command("reconstruct", "readable text from records")
    r.add_argument("input", help="records: JSON lines, a .szr container, or - (stdin)")
    r.add_argument("-o", "--output", default="-")
    r.add_argument("--mode", choices=["render", "expand"], default="render",
                   help="render: the record's text (coded records are decoded with the model they name); expand: the "
                        "model writes a narrative from a summary record")
    r.add_argument("--id", action="append", default=None, metavar="ID",
                   help="only this record (repeatable); a .szr container reads just that record")
    add_setting_flags(r, "reconstruct")

    e = command("eval", "compress a corpus and report ratio, fidelity, answer retention and baselines")
    e.add_argument("corpus", help="JSONL with a text field ('text' or 'dialogue')")
    e.add_argument("--qa", default=None, help="LoCoMo-style QA JSONL (conversation, sessions, answer)")
    e.add_argument("--n", type=int, default=None, help="only the first N memories")
    e.add_argument("--plot", default=None, help="write a ratio vs quality scatter PNG here")
    e.add_argument("--curve", default=None, metavar="PNG",
                   help="instead: answers kept vs ratio for every mode, with zstd and truncation (needs --qa)")
    e.add_argument("--ratios", default="12,16,20,25,32", help="--curve: the ratio knob's points")
    e.add_argument("--summary-ratios", default="4,8,12", help="--curve: summary mode's target ratios")
    add_setting_flags(e, "eval")

    rp = command("report", "summary of a compress run from its store; --plot DIR writes PNG charts")
    rp.add_argument("run", help="the run's OUTPUT file or its .semzip.db store")
    rp.add_argument("--plot", default=None, help="write throughput, latency, ratio/quality and GPU charts here")
    rp.add_argument("--json", action="store_true")

    cf = command("config", "the effective settings (semzip.toml, preset, flags) and where each came from")
    csub = cf.add_subparsers(dest="config_cmd", required=True)
    show = csub.add_parser("show", help="print the effective settings as TOML, each with its source", allow_abbrev=False)
    show.add_argument("--json", action="store_true")
    add_setting_flags(show, "config")

    st = command("store", "an agent's memory store (a SQLite file or a postgresql:// DSN): put, get, search, delete")
    ssub = st.add_subparsers(dest="store_cmd", required=True)

    def store_command(name: str, help: str) -> argparse.ArgumentParser:
        parser = ssub.add_parser(name, help=help, allow_abbrev=False)
        parser.add_argument("store", help="a SQLite file (created if absent) or a postgresql:// DSN")
        add_key_flags(parser)
        return parser

    def key_command(name: str, help: str) -> argparse.ArgumentParser:
        parser = ssub.add_parser(name, help=help, allow_abbrev=False)
        parser.add_argument("key_file", metavar="KEYFILE", help="the key file")
        return parser

    kg = key_command("keygen", "write a new key file (owner-only): stores created with it are encrypted; back it up, "
                               "losing it loses them")
    kg.add_argument("--keyring", action="store_true", help="keep the master key in the system keyring, the file "
                                                           "naming its entry")
    key_command("rekey", "a new master key, every data key re-wrapped under it (the stores are not touched)")
    sh = store_command("shred", "destroy a namespace's data key: its memories unreadable at once in the database, its "
                                "log, backups and dumps; then its rows deleted")
    sh.add_argument("--namespace", required=True, help="labels joined by / (at most the store's key depth)")

    sp = store_command("put", "store each line of a JSONL file: id the key, text the value, other fields metadata")
    sp.add_argument("file", help="JSONL file, or - for stdin")
    sp.add_argument("--mode", default="lossless", choices=["lossless", "zstd", "raw", "summary"],
                    help="how compaction codes these values (lossless: exact, under the lossless model); a put "
                         "itself stores them hot, zstd or raw, with no model")
    sg = store_command("get", "print a memory's text, exactly")
    sg.add_argument("key")
    sd = store_command("delete", "remove a memory (or, with --all, a namespace and those under it) from every tier, "
                                 "its embeddings and cached text; freed pages are zeroed")
    sd.add_argument("key", nargs="?", default=None)
    sd.add_argument("--all", action="store_true", help="every memory of --namespace and of the namespaces under it")
    ss = store_command("search", "memories nearest to a query, as JSON lines (key, score, text)")
    ss.add_argument("query")
    ss.add_argument("--limit", type=int, default=5)
    sc = store_command("compact", "code the hot memories that are due (idle for --cold-after) with their policy, "
                                  "in engine batches; for cron")
    sc.add_argument("--all", action="store_true", help="every hot memory, due or not")
    sc.add_argument("--cold-after", type=float, default=None, help="seconds without a write or read that make a "
                                                                   "memory due (default 3600)")
    se = store_command("export", "every memory as JSON lines: exact value, metadata, times, TTL (docs/FORMAT.md)")
    se.add_argument("-o", "--output", required=True, help="the dump file, or - for stdout")
    se.add_argument("--plain", action="store_true", help="an encrypted store's dump in the clear (default: sealed "
                                                         "line by line under the store's keys)")
    si = store_command("import", "put every valid line of an export (hot, times kept); bad lines named, exit 1")
    si.add_argument("file", help="a dump file, or - for stdin")
    store_command("vacuum", "give the space of deleted and compacted memories back to the disk")
    for parser in (sp, sg, sd, ss, sc, se):
        parser.add_argument("--namespace", default=None, help="labels joined by / (default: default; search, "
                                                              "compact: all)")
    store_command("stats", "memories and bytes per tier (embeddings included) by namespace, and the compaction "
                           "backlog")

    mcp = command("mcp", "an MCP memory server over a store, for any MCP client (stdio; --port: streamable HTTP)")
    mcp.add_argument("store", help="a SQLite file (created if absent) or a postgresql:// DSN")
    mcp.add_argument("--namespace", default="default", help="the namespace of calls that name none (labels joined "
                                                            "by /): one per user keeps users apart")
    mcp.add_argument("--port", type=int, default=None, help="serve streamable HTTP on this port instead of "
                                                            "stdio; every request needs the bearer token")
    mcp.add_argument("--host", default=None, help="with --port: the address to bind (default 127.0.0.1; another "
                                                  "one serves the network)")
    mcp.add_argument("--token-file", default=None, help="with --port: the bearer token's file, made "
                     "(mode 600) if absent (default ~/.config/semzip/mcp-token; SEMZIP_MCP_TOKEN wins when set)")
    mcp.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                     help="with --port: a browser origin allowed to call, like http://localhost:6274 (repeatable)")
    add_key_flags(mcp)
    mcp.add_argument("--mode", default="lossless", choices=["lossless", "zstd", "raw", "summary"],
                     help="how background compaction codes memories")

    demo = command("demo", "three bundled memories stored in every mode: ratio, time and what comes back")
    demo.add_argument("--n", type=int, default=None, help="only the first N bundled memories")
    add_setting_flags(demo, "demo")
    return p


def add_key_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key-file", default=None, help="an encrypted store's key file (default: $SEMZIP_KEY_FILE); "
                                                         "a store created with one is encrypted")
    parser.add_argument("--key-depth", type=int, default=None, help="for a new encrypted store: how many leading "
                                                                    "namespace labels share a data key (default 1)")
    parser.add_argument("--seal-names", action="store_true", help="for a new encrypted store: seal its namespace "
                                                                  "labels and keys too")
