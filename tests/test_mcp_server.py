"""`semzip mcp` with the MCP SDK's own client: the server a subprocess over stdio, every tool called for real."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="the MCP extra is not installed (pip install 'semzip[mcp]')")

import httpx2  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from engine.cli.cli import main  # noqa: E402
from engine.integrations.mcp_http import load_token  # noqa: E402
from engine.integrations.mcp_server import MAX_TEXT_BYTES  # noqa: E402
from engine.store import MemoryStore  # noqa: E402
from engine.store.key_file import generate  # noqa: E402

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


@contextlib.contextmanager
def http_server(store: Path, token_file: Path, *allow_origins: str, key: Path | None = None):
    """A real server process on a free loopback port; the store indexes nothing, so no model loads (key: an
    encrypted store's key file)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "SEMZIP_MCP_TOKEN"} | {"PYTHONPATH": str(ROOT),
                                                                              "HF_HUB_OFFLINE": "1"}
    code = ("import sys; from engine.integrations.mcp_server import serve; sys.exit(serve(sys.argv[1], port="
            "int(sys.argv[2]), mode='zstd', token_file=sys.argv[3], allow_origins=sys.argv[4:], "
            f"store_options={{'index': False, 'compaction': False, 'key': {str(key) if key else None!r}}}))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(store), str(port), str(token_file), *allow_origins],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while True:  # until the server listens
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read()[-2000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_streamable_http_needs_the_bearer_token_and_a_known_origin(tmp_path):
    token_file = tmp_path / "config" / "mcp-token"
    key = generate(tmp_path / "store.key")  # an encrypted store: the server opens it with its key file
    with http_server(tmp_path / "h.db", token_file, "http://app.example", key=key) as (proc, port):
        token = token_file.read_text().strip()  # generated on first use
        url, sent = f"http://127.0.0.1:{port}/mcp", []

        async def keep_add(request):
            if b"add_memory" in request.content:
                sent.append(request)

        async def session():
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, event_hooks={"request": [keep_add]})
            async with Client(streamable_http_client(url, http_client=http)) as client:
                assert (await call(client, "add_memory", text="over HTTP: ünïcode ✓", key="h"))[0] is False
                assert (await call(client, "get_memory", key="h"))[1]["text"] == "over HTTP: ünïcode ✓"

                async def replay(key: str, **headers: str) -> httpx2.Response:
                    """The SDK's own add_memory request again, under another key and with headers changed."""
                    body = json.loads(sent[0].content)
                    body["params"]["arguments"]["key"] = key
                    sent_headers = {k: v for k, v in sent[0].headers.items() if k not in ("content-length", *headers)}
                    async with httpx2.AsyncClient() as raw:
                        return await raw.post(url, json=body, headers=sent_headers | {k: v for k, v in
                                                                                      headers.items() if v})

                refused = {"no-token": await replay("no-token", authorization=""),
                           "wrong-token": await replay("wrong-token", authorization="Bearer " + "x" * len(token)),
                           "origin": await replay("origin", origin="http://evil.example"),
                           "host": await replay("host", host=f"evil.example:{port}")}
                allowed = await replay("replayed", origin="http://app.example")  # --allow-origin
                return refused, allowed, (await call(client, "list_memories"))[1]

        refused, allowed, keys = asyncio.run(session())
    assert {k: r.status_code for k, r in refused.items()} == {"no-token": 401, "wrong-token": 401, "origin": 403,
                                                              "host": 421}
    assert refused["no-token"].headers["www-authenticate"].startswith("Bearer")
    assert refused["wrong-token"].headers["www-authenticate"].startswith("Bearer")
    assert allowed.status_code == 200 and sorted(keys) == ["h", "replayed"]  # the refused requests wrote nothing
    stderr = proc.stderr.read()
    assert str(token_file) in stderr and token not in stderr  # where the token is, never the token
    assert "nicode".encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("h.db*"))  # sealed at rest


def test_token_file_made_owner_only_and_an_open_one_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("SEMZIP_MCP_TOKEN", raising=False)
    token, where = load_token()
    path = tmp_path / ".config" / "semzip" / "mcp-token"
    assert where == f"{path} (generated now)" and len(token) >= 43
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and load_token() == (token, str(path))
    monkeypatch.setenv("SEMZIP_MCP_TOKEN", "from-env")
    assert load_token(path) == ("from-env", "the environment variable SEMZIP_MCP_TOKEN")
    monkeypatch.delenv("SEMZIP_MCP_TOKEN")
    path.chmod(0o640)
    assert main(["mcp", str(tmp_path / "m.db"), "--port", "8", "--token-file", str(path)]) == 2
    assert f"chmod 600 {path}" in capsys.readouterr().err and not (tmp_path / "m.db").exists()  # no store made
    assert main(["mcp", str(tmp_path / "m.db"), "--port", "8", "--allow-origin", "http://a.example/"]) == 2
    assert "--allow-origin 'http://a.example/'" in capsys.readouterr().err
