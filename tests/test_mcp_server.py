"""`semzip mcp` with the MCP SDK's own client: the server a subprocess over stdio, every tool called for real."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="the MCP extra is not installed (pip install 'semzip[mcp]')")

from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

from engine.integrations.mcp_server import MAX_TEXT_BYTES  # noqa: E402
from engine.store import MemoryStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOOLS = {"add_memory", "search_memories", "get_memory", "list_memories", "delete_memory", "list_namespaces"}
NOTE_50K = "".join(f"Line {i}: Priya's notes on the Lisbon flat, 日本語 and Ελληνικά, 🙂👩🏽‍💻.\n" for i in range(720))


def server(store: Path, *extra: str, pidfile: Path | None = None) -> StdioServerParameters:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "engine.cli", "mcp", str(store), "--mode", "zstd", *extra]
    if pidfile is not None:  # the shell becomes the server (exec): its pid is the server's
        return StdioServerParameters(command="sh", args=["-c", f'echo $$ > {pidfile}; exec "$@"', "sh", *cmd], env=env)
    return StdioServerParameters(command=cmd[0], args=cmd[1:], env=env)


async def call(client, tool: str, **args):
    result = await client.call_tool(tool, args)
    data = result.structured_content
    text = result.content[0].text if result.content else ""  # an empty list has no content block
    return result.is_error, (data.get("result", data) if isinstance(data, dict) else data), text


def test_every_tool_through_the_sdk_client(tmp_path):
    async def session():
        async with Client(server(tmp_path / "m.db", "--namespace", "users/priya")) as client:
            listed = await client.list_tools()
            assert {t.name for t in listed.tools} == TOOLS and all(len(t.description) > 40 for t in listed.tools)
            err, added, _ = await call(client, "add_memory", text="Priya adopted a puppy called Biscuit.",
                                       metadata={"topic": "pets"})
            assert not err and added["namespace"] == "users/priya"  # the server's default namespace
            texts = {"emoji": "Biscuit 🐶 loves the beach 🏖️ — ça va? 👩🏽‍💻🇵🇹", "jp": "東京で陶芸教室に通っています。",
                     "note": NOTE_50K}
            for key, text in texts.items():
                assert (await call(client, "add_memory", text=text, key=key, namespace="users/priya/notes"))[0] is False
            for key, text in texts.items():
                err, got, _ = await call(client, "get_memory", key=key, namespace="users/priya/notes")
                assert not err and got["text"].encode() == text.encode()  # byte for byte
            # concurrent calls: 12 adds and 4 searches at once
            results = await asyncio.gather(*[call(client, "add_memory", text=f"Fact {i}: Priya's day {i} at the "
                                                  f"pottery class.", key=f"f{i}") for i in range(12)],
                                           *[call(client, "search_memories", query="a dog") for _ in range(4)])
            assert not any(err for err, _, _ in results)
            err, hits, _ = await call(client, "search_memories", query="what is her dog called?", limit=1,
                                      filter={"topic": "pets"})
            assert not err and hits[0]["key"] == added["key"] and "Biscuit" in hits[0]["text"]
            err, keys, _ = await call(client, "list_memories", limit=100)
            assert not err and set(keys) == {added["key"], *[f"f{i}" for i in range(12)]}
            err, spaces, _ = await call(client, "list_namespaces", prefix="users")
            assert spaces == ["users/priya", "users/priya/notes"]
            assert (await call(client, "delete_memory", key="f3"))[1] == {"deleted": True}
            assert (await call(client, "delete_memory", key="f3"))[1] == {"deleted": False}
            # bad arguments: a tool error naming what is wrong, and the server goes on serving
            for tool, args, named in [("add_memory", {}, "text"), ("search_memories", {"query": "x", "limit": "many"},
                                      "limit"), ("search_memories", {"query": "x", "limit": 1000}, "limit"),
                                      ("get_memory", {"key": "absent"}, "key"), ("add_memory", {"text": "x",
                                      "namespace": "a//b"}, "namespace"), ("add_memory", {"text": "x" * (MAX_TEXT_BYTES
                                      + 1)}, "text"), ("add_memory", {"text": "x", "metadata": "not a dict"},
                                      "metadata"), ("search_memories", {"query": "x", "filter": {"n": {"$regex":
                                      "."}}}, "operator")]:
                err, _, message = await call(client, tool, **args)
                assert err and named in message, (tool, message)
            assert (await call(client, "get_memory", key="f1"))[0] is False

    asyncio.run(session())


def test_two_server_processes_on_one_store_lose_nothing(tmp_path):
    store = tmp_path / "shared.db"

    async def writer():
        async with Client(server(store)) as client:
            for i in range(30):
                assert (await call(client, "add_memory", text=f"memory {i} " + "é" * i, key=f"k{i}"))[0] is False

    async def reader(seen: dict):
        async with Client(server(store)) as client:
            deadline = asyncio.get_running_loop().time() + 120
            while len(seen) < 30 and asyncio.get_running_loop().time() < deadline:  # until it has read them all
                err, keys, _ = await call(client, "list_memories", limit=100)
                for key in keys:
                    err, got, _ = await call(client, "get_memory", key=key)
                    assert not err and got["text"] == f"memory {key[1:]} " + "é" * int(key[1:])
                    seen[key] = True
                await asyncio.sleep(0.05)

    async def both():
        seen: dict = {}
        await asyncio.gather(writer(), reader(seen))
        return seen

    seen = asyncio.run(both())
    assert sorted(seen) == sorted(f"k{i}" for i in range(30))  # read by the other process as they were written
    with MemoryStore(store, mode="zstd", embed=None, compaction=False) as s:
        assert sorted(s.list(("default",), limit=100)) == sorted(f"k{i}" for i in range(30))


def test_sigkill_during_an_add_burst_keeps_every_acknowledged_memory(tmp_path):
    store, pidfile = tmp_path / "kill.db", tmp_path / "server.pid"
    acked: list[str] = []

    async def worker(client, w: int):
        for i in range(10**6):
            err, _, _ = await call(client, "add_memory", text=f"burst memory {w}-{i}", key=f"b{w}-{i}")
            assert not err
            acked.append(f"b{w}-{i}")
            if len(acked) == 40:  # by construction: after the 40th acknowledgement, other adds in flight
                os.kill(int(pidfile.read_text()), signal.SIGKILL)

    async def burst():
        try:
            async with Client(server(store, pidfile=pidfile)) as client:
                await asyncio.gather(*[worker(client, w) for w in range(4)], return_exceptions=True)
        except Exception:  # the server is gone: the client's own shutdown may fail too
            pass

    asyncio.run(burst())
    assert len(acked) >= 40
    with MemoryStore(store, mode="zstd", embed=None, compaction=False) as s:
        got = s.get_many([(("default",), k) for k in acked])
        assert [m.value if m else None for m in got] == [f"burst memory {k[1:]}" for k in acked]


def test_streamable_http_on_a_localhost_port(tmp_path):
    import socket
    import subprocess
    import time

    with socket.socket() as s:  # a free port on the loopback
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "mcp", str(tmp_path / "h.db"), "--mode", "zstd",
                             "--port", str(port)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while True:  # until the server listens
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read().decode()[-2000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)

        async def session():
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                assert (await call(client, "add_memory", text="over HTTP: ünïcode ✓", key="h"))[0] is False
                return await call(client, "get_memory", key="h")

        err, got, _ = asyncio.run(session())
        assert not err and got["text"] == "over HTTP: ünïcode ✓"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
