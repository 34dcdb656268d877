"""`client.py mcp --http HOST:PORT`: streamable HTTP, guarded.

- Host and Origin checks (DNS-rebinding protection) on every bind address: a request must name
  this server (the bound address, the loopback names for a loopback bind, the machine's names
  and addresses for a wildcard bind, and TTDR_MCP_ALLOWED_HOSTS, comma-separated `name:port`
  entries for a proxy's public name) — a page on `evil.example` that rebinds its name to this
  machine gets 421. The SDK turns them on by itself only for a loopback bind.
- A non-loopback bind is refused unless TTDR_MCP_TOKEN is set; with a token (on any bind),
  every request needs `Authorization: Bearer <token>` (401 otherwise, compared in constant time).
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
import sys
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from common.errors import UsageError
from common.settings import ClientSettings

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
TOKEN_SETTING = "TTDR_MCP_TOKEN"
MIN_TOKEN_CHARS = 16


def parse_http(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isascii() or not port.isdigit():
        raise UsageError(f"--http {value!r}: give HOST:PORT, e.g. 127.0.0.1:8765")
    if not 0 < int(port) < 65536:
        raise UsageError(f"--http {value!r}: give HOST:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def allowed_hosts(host: str, port: int, more: str | None) -> list[str]:
    """The Host/Origin values accepted: the bind's names, then `more` (TTDR_MCP_ALLOWED_HOSTS)."""
    names = {_bracketed(host)}
    if is_loopback(host):
        names.update(LOOPBACK_NAMES)
    elif host in ("0.0.0.0", "::"):  # every interface: the names a client may use for it
        machine = socket.gethostname()
        names.update({machine, socket.getfqdn(), *LOOPBACK_NAMES})
        try:
            infos = socket.getaddrinfo(machine, None)
        except OSError:
            infos = []
        names.update(_bracketed(str(info[4][0])) for info in infos)
    hosts = [f"{name}:{port}" for name in sorted(names)]
    extra = [h.strip() for h in (more or "").split(",") if h.strip()]
    return hosts + extra


def transport_security(host: str, port: int, more: str | None) -> TransportSecuritySettings:
    hosts = allowed_hosts(host, port, more)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")],
    )


def checked_token(host: str, secret: SecretStr | None) -> str | None:
    """The bearer token; UsageError for a non-loopback bind without one, or one that is not
    printable ASCII (the model has checked its length)."""
    token = secret.get_secret_value() if secret is not None else ""
    if not token:
        if not is_loopback(host):
            raise UsageError(
                f"--http {host}: serving beyond loopback needs {TOKEN_SETTING} (a bearer token "
                "every client must send); set it, or bind to 127.0.0.1"
            )
        return None
    if len(token) < MIN_TOKEN_CHARS or not token.isascii() or not token.isprintable():
        raise UsageError(
            f"{TOKEN_SETTING} must be at least {MIN_TOKEN_CHARS} printable ASCII characters"
        )
    return token


class BearerToken:
    """ASGI middleware: an HTTP request without the token gets 401 and reaches nothing."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"text/plain"),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b"missing or wrong token\n"})
                return
        await self.app(scope, receive, send)


async def serve_http(server: MCPServer, host: str, port: int, settings: ClientSettings) -> None:
    import uvicorn

    token = checked_token(host, settings.mcp_token)  # checked before anything listens
    app: Any = server.streamable_http_app(
        transport_security=transport_security(host, port, settings.mcp_allowed_hosts), host=host
    )
    if token is not None:
        app = BearerToken(app, token)
    auth = "bearer token required" if token else "loopback only, no token"
    print(f"MCP server (streamable HTTP) at http://{_bracketed(host)}:{port}/mcp ({auth})",
          file=sys.stderr)  # fmt: skip
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    await uvicorn.Server(config).serve()
