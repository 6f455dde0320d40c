"""`semzip mcp STORE`: the memory store as a Model Context Protocol server, for any MCP client.

pip install 'semzip[mcp]'. Built on the official SDK's high-level MCPServer (mcp 2.x). Tools answer from the
hot tier when they can; compaction runs in the server's background (MemoryStore's thread). Each call runs
in a worker thread, so calls from one client run at once. Bad arguments come back as tool errors naming the
argument (ToolError), and the server keeps serving. A memory is acknowledged only after its transaction is
on disk: a killed server loses no acknowledged memory. Over HTTP it needs a bearer token (mcp_http).
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from engine.errors import UsageError
from engine.integrations.mcp_http import prepare_http, run_http
from engine.store import InvalidMemoryError, MemoryStore
from engine.store.errors import CorruptMemoryError, StoreError
from engine.store.values import as_text, check_namespace

MAX_TEXT_BYTES = 1 << 20  # a memory's text: 1 MiB of UTF-8 at most
MAX_LIMIT = 100  # results a search or a listing returns at most

INSTRUCTIONS = ("Long-term memory. Store facts, preferences and conversation notes with add_memory; they are kept "
                "word for word. Before answering, look for what you already know with search_memories. Namespaces "
                "are paths like 'users/alice/notes'; omit them to use this server's default.")


def build_server(store: MemoryStore, default_namespace: tuple[str, ...]) -> MCPServer:
    """The MCP server's tools over store; calls that name no namespace use default_namespace."""
    server = MCPServer("semzip-memory", instructions=INSTRUCTIONS)

    def ns_of(arg: str | None) -> tuple[str, ...]:
        if arg is None or arg == "":
            return default_namespace
        if not isinstance(arg, str):
            raise ToolError(f"argument 'namespace': a string like 'users/alice', got {type(arg).__name__}")
        return tuple(arg.strip("/").split("/"))

    async def call(fn, *args, **kwargs):
        try:
            return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
        except InvalidMemoryError as exc:
            raise ToolError(f"invalid argument: {exc}") from None
        except (CorruptMemoryError, StoreError) as exc:
            raise ToolError(str(exc)) from None

    def check_text(text: Any) -> str:
        if not isinstance(text, str) or not text:
            raise ToolError("argument 'text': a non-empty string")
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_TEXT_BYTES:
            raise ToolError(f"argument 'text': {size} bytes, over the limit of {MAX_TEXT_BYTES} bytes")
        return text

    def check_limit(limit: int) -> int:
        if not 1 <= limit <= MAX_LIMIT:
            raise ToolError(f"argument 'limit': from 1 to {MAX_LIMIT}, got {limit}")
        return limit

    @server.tool()
    async def add_memory(text: str, namespace: str | None = None, key: str | None = None,
                         metadata: dict[str, Any] | None = None) -> dict[str, str]:
        """Store a memory word for word: a fact, a preference, a note, a conversation. Returns its key (give
        the same key again to replace the memory). namespace: where it lives, like 'users/alice'."""
        ns, key = ns_of(namespace), key if key is not None else uuid.uuid4().hex
        await call(store.put, ns, key, check_text(text), meta=metadata)
        return {"key": key, "namespace": "/".join(ns)}

    @server.tool()
    async def search_memories(query: str, namespace: str | None = None, limit: int = 5,
                              filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Find the stored memories closest in meaning to query, best first, under a namespace and the
        namespaces below it. filter: metadata fields that must match, e.g. {"topic": "pets"}. A long memory's hit
        is the passage of it that matched ("passage" its number; get_memory returns the whole memory)."""
        if not isinstance(query, str) or not query.strip():
            raise ToolError("argument 'query': a non-empty string")
        # passages: a search decodes at most a pack's stream a hit, not whole long memories (seconds, not tens)
        found = await call(store.search, ns_of(namespace), query, filter=filter, limit=check_limit(limit),
                           passages=True)
        return [{"key": m.key, "namespace": "/".join(m.namespace), "score": m.score, "text": as_text(m.value),
                 "metadata": m.meta, **({"passage": m.passage} if m.passage is not None else {})} for m in found]

    @server.tool()
    async def get_memory(key: str, namespace: str | None = None) -> dict[str, Any]:
        """The memory stored under key, exactly as it was stored, with its metadata."""
        ns = ns_of(namespace)
        mem = await call(store.get, ns, key)
        if mem is None:
            raise ToolError(f"argument 'key': no memory {key!r} in namespace {'/'.join(ns)!r}")
        return {"key": mem.key, "namespace": "/".join(ns), "text": as_text(mem.value), "metadata": mem.meta}

    @server.tool()
    async def list_memories(namespace: str | None = None, limit: int = 50, offset: int = 0) -> list[str]:
        """Keys of the memories in one namespace, newest first."""
        if offset < 0:
            raise ToolError(f"argument 'offset': 0 or more, got {offset}")
        return await call(store.list, ns_of(namespace), limit=check_limit(limit), offset=offset)

    @server.tool()
    async def delete_memory(key: str, namespace: str | None = None) -> dict[str, bool]:
        """Delete a memory for good: its text, its embedding and every stored form of it."""
        return {"deleted": await call(store.delete, ns_of(namespace), key)}

    @server.tool()
    async def list_namespaces(prefix: str | None = None, limit: int = 100) -> list[str]:
        """The namespaces that hold memories (under prefix, when given), like 'users/alice'."""
        pre = tuple(prefix.strip("/").split("/")) if prefix else ()
        found = await call(store.list_namespaces, prefix=pre, limit=check_limit(limit))
        return ["/".join(ns) for ns in found]

    return server


def serve(conn: str, default_namespace: str = "default", port: int | None = None, mode: str = "lossless", *,
          host: str | None = None, token_file: str | Path | None = None, allow_origins: Sequence[str] = (),
          store_options: dict | None = None) -> int:
    """Run the server until its client goes away (stdio) or it is stopped (HTTP on host:port, default
    127.0.0.1, behind a bearer token: mcp_http). store_options: more keyword arguments of MemoryStore."""
    default = check_namespace(tuple(default_namespace.strip("/").split("/")))
    if port is None and (host is not None or token_file is not None or allow_origins):
        raise UsageError("--host, --token-file and --allow-origin apply to streamable HTTP; fix: add --port N")
    if port is not None:  # a bad token file or origin fails before the store is opened (or created)
        host = host or "127.0.0.1"
        token, settings = prepare_http(host, port, token_file, list(allow_origins))
    with MemoryStore(conn, mode=mode, **(store_options or {})) as store:
        server = build_server(store, default)
        if port is None:
            server.run("stdio")  # stdio: the client started this process; no token
        else:
            run_http(server, host, port, token, settings)
    return 0
