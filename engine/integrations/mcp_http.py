"""`semzip mcp --port`: the MCP server over streamable HTTP, behind a bearer token and Host/Origin checks.

Anyone who can reach the port could read and delete every memory, so each request must carry
`Authorization: Bearer <token>`; a request without it is answered 401 before the MCP app sees it, so no tool
runs. The token comes from SEMZIP_MCP_TOKEN, else from a token file readable by its owner only, generated on
first use. Host and Origin are still checked by the SDK (DNS rebinding: a web page must not reach a local
server through a name it controls): 421 for a foreign Host, 403 for a foreign Origin.
"""
from __future__ import annotations

import hmac
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.errors import UsageError

TOKEN_ENV = "SEMZIP_MCP_TOKEN"
WILDCARD_HOSTS = ("0.0.0.0", "::")


def default_token_file() -> Path:
    """~/.config/semzip/mcp-token ($XDG_CONFIG_HOME when set, as for semzip.toml)."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "semzip" / "mcp-token"


def read_token_file(path: Path) -> str:
    """The token in path; a file that group or others can access is refused: the token is a password."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise UsageError(f"token file {path} cannot be read: {exc.strerror}; fix: its path or its permissions") \
            from None
    with os.fdopen(fd) as f:  # the mode checked is the open file's: no swap between the check and the read
        mode = os.fstat(f.fileno()).st_mode & 0o777
        if mode & 0o077:
            raise UsageError(f"token file {path} is open to group or others (mode {mode:o}); fix: chmod 600 {path}")
        token = f.read().strip()
    if not token:
        raise UsageError(f"token file {path} is empty; fix: delete it (a new token is generated) or write one in it")
    return token


def create_token_file(path: Path) -> None:
    """A new random token in path, mode 0600; if another server created path meanwhile, theirs is kept."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)  # 0600 from birth: never readable by others
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic and never overwrites: a reader sees no file or the whole token
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)


def load_token(token_file: str | Path | None = None) -> tuple[str, str]:
    """(token, where it is, for the user): SEMZIP_MCP_TOKEN, else token_file (default_token_file())."""
    env = os.environ.get(TOKEN_ENV)
    if env is not None:
        if not env.strip():
            raise UsageError(f"{TOKEN_ENV} is set but empty; fix: set it to a token, or unset it to use a token file")
        return env.strip(), f"the environment variable {TOKEN_ENV}"
    path = Path(token_file).expanduser() if token_file is not None else default_token_file()
    created = not path.exists()
    if created:
        try:
            create_token_file(path)
        except OSError as exc:
            raise UsageError(f"token file {path} cannot be created: {exc.strerror}; fix: --token-file PATH in a "
                             f"folder you can write, or set {TOKEN_ENV}") from None
    return read_token_file(path), f"{path}{' (generated now)' if created else ''}"


class BearerAuth:
    """ASGI middleware: a request without the right `Authorization: Bearer` token gets 401 and goes no further."""

    def __init__(self, app: ASGIApp, token: str):
        self.app, self.token = app, token.encode()

    def is_authorized(self, headers: Headers) -> bool:
        scheme, _, given = headers.get("authorization", "").partition(" ")
        # compare_digest: the time taken says nothing about how much of the token was right
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or self.is_authorized(Headers(scope=scope)):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            given = "authorization" in Headers(scope=scope)
            challenge = 'Bearer realm="semzip-mcp"' + (', error="invalid_token"' if given else "")
            await PlainTextResponse(f"{'wrong' if given else 'missing'} bearer token: send 'Authorization: Bearer "
                                    f"<token>' with the token of `semzip mcp` ({TOKEN_ENV} or its token file)\n",
                                    status_code=401, headers={"WWW-Authenticate": challenge})(scope, receive, send)


def security_settings(host: str, port: int, allow_origins: list[str]) -> TransportSecuritySettings:
    """Host: the bound address or loopback, on this port. Origin: this server's own, or one allowed by name."""
    for origin in allow_origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
            raise UsageError(f"--allow-origin {origin!r}: an origin is scheme://host[:port] with no path or "
                             f"trailing slash, like http://localhost:6274")
    bound = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    hosts = list(dict.fromkeys([bound, f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]))
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                     allowed_origins=[f"http://{h}" for h in hosts] + list(allow_origins))


def prepare_http(host: str, port: int, token_file: str | Path | None,
                 allow_origins: list[str]) -> tuple[str, TransportSecuritySettings]:
    """(token, Host/Origin settings), checked before the store opens; says on stderr where the token is."""
    settings = security_settings(host, port, allow_origins)
    token, where = load_token(token_file)
    print(f"semzip mcp: streamable HTTP on http://{settings.allowed_hosts[0]}/mcp; clients send 'Authorization: "
          f"Bearer <token>', the token in {where}", file=sys.stderr)
    if host in WILDCARD_HOSTS:
        print(f"semzip mcp: bound to {host}: requests must name 127.0.0.1 or localhost in Host (else 421); to serve "
              f"a network, bind the address clients use (--host 192.0.2.10)", file=sys.stderr)
    return token, settings


def run_http(server: MCPServer, host: str, port: int, token: str, settings: TransportSecuritySettings) -> None:
    """Serve server on http://host:port/mcp under uvicorn until stopped (SIGINT, SIGTERM)."""
    import uvicorn

    app = BearerAuth(server.streamable_http_app(transport_security=settings, host=host), token)
    uvicorn.run(app, host=host, port=port, log_level=server.settings.log_level.lower())
