"""`semzip mcp` as a client sees it, and export/import rates, on LoCoMo dev sessions.

Usage: python bench/bench_mcp.py [--n 70] [--json FILE]

The MCP SDK's own client starts `semzip mcp STORE --mode zstd` over stdio (a hot store: the tools never wait on
the model), times the start-up to the first answer (list_tools) and to the first add (which loads the
embedder), then each session added, read back and searched once per dev question: round trips p50 and p95.
Then the store is exported and imported into a new one: memories/s each way, the dump's size against the texts.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED, machine, print_table  # noqa: E402
from bench.results import record  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def ms(xs, p):
    return float(np.percentile(xs, p)) * 1000


async def round_trips(store: Path, sessions, questions) -> dict:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "engine.cli", "mcp", str(store), "--mode",
                                                                 "zstd"], env=env)
    out: dict = {"add": [], "get": [], "search": []}
    t0 = time.perf_counter()
    async with Client(params) as client:
        await client.list_tools()
        out["first_answer_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        await client.call_tool("add_memory", {"text": "warm up", "key": "warm"})
        out["first_add_s"] = time.perf_counter() - t1
        for s in sessions:
            t = time.perf_counter()
            r = await client.call_tool("add_memory", {"text": s["text"], "key": s["id"],
                                                      "namespace": f"locomo/{s['conversation']}"})
            out["add"].append(time.perf_counter() - t)
            assert not r.is_error
        for s in sessions:
            t = time.perf_counter()
            r = await client.call_tool("get_memory", {"key": s["id"], "namespace": f"locomo/{s['conversation']}"})
            out["get"].append(time.perf_counter() - t)
            assert r.structured_content["text"] == s["text"]
        for q in questions:
            t = time.perf_counter()
            r = await client.call_tool("search_memories", {"query": q["question"], "limit": 5,
                                                           "namespace": f"locomo/{q['conversation']}"})
            out["search"].append(time.perf_counter() - t)
            assert not r.is_error
    return out


def dump_rates(src: Path, folder: Path) -> dict:
    from engine.store import MemoryStore

    dump = folder / "dump.jsonl"
    with MemoryStore(src, mode="zstd", compaction=False) as s:
        t0 = time.perf_counter()
        n = s.export(dump)
        export_s = time.perf_counter() - t0
    with MemoryStore(folder / "imported.db", mode="zstd", compaction=False) as d:
        d.embed(["warm up the embedder"])
        t0 = time.perf_counter()
        report = d.import_(dump)
        import_s = time.perf_counter() - t0
    return {"memories": n, "export_per_s": n / export_s, "import_per_s": report.imported / import_s,
            "dump_bytes": dump.stat().st_size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=70)
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    sessions = [json.loads(line) for line in (SHARED / "locomo-dev-sessions.jsonl").open() if line.strip()][:args.n]
    convs = {s["conversation"] for s in sessions}
    questions = [q for q in (json.loads(line) for line in (SHARED / "locomo-dev-qa.jsonl").open() if line.strip())
                 if q["conversation"] in convs][:args.questions]
    text_bytes = sum(len(s["text"].encode()) for s in sessions)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "mcp.db"
        rt = asyncio.run(round_trips(store, sessions, questions))
        rates = dump_rates(store, Path(tmp))
    print(f"# {machine()}; {len(sessions)} LoCoMo dev sessions ({text_bytes} bytes), {len(questions)} questions")
    print_table(["MCP tool call, client to server and back", "p50 ms", "p95 ms"],
                [[f"{op} ({len(rt[op])} calls)", ms(rt[op], 50), ms(rt[op], 95)] for op in ("add", "get", "search")])
    print_table(["figure", "value"], [
        ["server start-up to its first answer (list_tools), s", rt["first_answer_s"]],
        ["first add_memory (loads the embedder), s", rt["first_add_s"]],
        ["export, memories/s", rates["export_per_s"]],
        ["import, memories/s (embeddings included)", rates["import_per_s"]],
        ["dump bytes / text bytes", round(rates["dump_bytes"] / text_bytes, 3)]])
    server = "`semzip mcp STORE --mode zstd` over stdio, the MCP SDK's client; a hot store"
    for op, tool, what in [("add", "add_memory", f"{len(sessions)} sessions, one call each"),
                           ("get", "get_memory", f"{len(sessions)} sessions"),
                           ("search", "search_memories", f"{len(questions)} dev questions, limit 5")]:
        record(f"MCP {tool} round trip, p50", ms(rt[op], 50), "ms", area="hot", dataset=f"LoCoMo dev: {what}",
               settings=server, note=f"p95 {ms(rt[op], 95):.1f} ms")
    record("MCP server start-up to its first answer", rt["first_answer_s"], "s", area="hot",
           dataset="an empty store", settings=server + "; list_tools",
           note=f"the first add_memory (loads the embedder) {rt['first_add_s']:.1f} s")
    dump = f"the MCP run's store: {rates['memories']} memories"
    record("export of a hot store", rates["export_per_s"], "memories/s", area="hot", dataset=dump,
           settings="MemoryStore.export, zstd store")
    record("import into a new store", rates["import_per_s"], "memories/s", area="hot", dataset=dump,
           settings="MemoryStore.import_, embeddings made again",
           note=f"the dump against the texts: {rates['dump_bytes']:,} / {text_bytes:,} bytes = "
                f"{rates['dump_bytes'] / text_bytes:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"round_trips": rt, "dump": rates}, indent=1) + "\n")


if __name__ == "__main__":
    main()
