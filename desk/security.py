"""Safe by default: the token gate, CSRF, the security headers and the Host check.

- With TTDR_SERVE_TOKEN set (required off loopback), every request carries it: once as
  `?token=...` (answered by a redirect that stores it in an HttpOnly, SameSite=Strict cookie and
  drops it from the address), then as that cookie, or as `Authorization: Bearer ...`.
- Every POST carries a CSRF token: an HMAC of the browser's session cookie under a key made at
  start-up, in a hidden form field; the Origin, when sent, must be this desk.
- Every response gets a strict Content-Security-Policy (scripts and styles from this origin
  only, no inline code, no frames, forms post here only), nosniff, no referrer.
- On loopback, a request must name a loopback host (a DNS-rebinding page cannot reach the desk).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from desk.settings import DeskSettings

SESSION_COOKIE = "desk_session"
TOKEN_COOKIE = "desk_token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# A served document is shown, never run: no script, no form, its own opaque origin.
DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
_LOOPBACK_NAMES = {"127.0.0.1", "localhost", "[::1]", "::1"}


def _cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header: treated as no cookie
                return {}
            return {key: morsel.value for key, morsel in jar.items()}
    return {}


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return value.decode("latin-1")
    return ""


class Guard:
    """ASGI middleware: the token, the session cookie, the Host check and the headers."""

    def __init__(self, app: ASGIApp, settings: DeskSettings) -> None:
        self.app = app
        self.settings = settings
        self.key = secrets.token_bytes(32)  # signs CSRF tokens; a restart invalidates old forms

    def csrf_token(self, session: str) -> str:
        return hmac.new(self.key, session.encode(), hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host").rsplit(":", 1)[0] if _header(scope, b"host") else ""
        if self.settings.loopback and host not in _LOOPBACK_NAMES | {self.settings.host}:
            await PlainTextResponse("unknown host", status_code=421)(scope, receive, send)
            return
        cookies = _cookies(scope)
        if self.settings.token and not self._token_ok(scope, cookies):
            await self._token_gate(scope, receive, send)
            return
        session = cookies.get(SESSION_COOKIE, "")
        new_session = not (16 <= len(session) <= 64 and session.isalnum())
        if new_session:
            session = secrets.token_hex(16)
        scope.setdefault("state", {})
        scope["state"]["session"] = session
        scope["state"]["csrf"] = self.csrf_token(session)
        document = scope["path"].endswith("/document")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = DOCUMENT_CSP if document else CSP
                headers["X-Content-Type-Options"] = "nosniff"
                # Not no-referrer: with it Chrome sends `Origin: null` on the desk's own forms.
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Frame-Options"] = "DENY"
                headers.setdefault("Cache-Control", "no-store")
                if new_session:
                    headers.append(
                        "Set-Cookie",
                        f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict",
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _token_ok(self, scope: Scope, cookies: dict[str, str]) -> bool:
        token = self.settings.token or ""
        given = cookies.get(TOKEN_COOKIE, "")
        bearer = _header(scope, b"authorization")
        if bearer.lower().startswith("bearer "):
            given = bearer[7:].strip()
        return bool(given) and hmac.compare_digest(given.encode(), token.encode())

    async def _token_gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        given = next((value for key, value in query if key == "token"), "")
        token = self.settings.token or ""
        matches = bool(given) and hmac.compare_digest(given.encode(), token.encode())
        if scope["method"] == "GET" and matches:
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            response = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), 303)
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            await response(scope, receive, send)
            return
        response = PlainTextResponse(
            "this desk needs its token: open it with ?token=... (the value of TTDR_SERVE_TOKEN)",
            status_code=401,
        )
        await response(scope, receive, send)


def check_csrf(request: Request, form_token: object, guard: Guard) -> None:
    """Refuse (403) a POST whose CSRF token is not this session's, or that comes from another
    origin."""
    expected = guard.csrf_token(request.scope["state"]["session"])
    if not isinstance(form_token, str) or not hmac.compare_digest(form_token, expected):
        raise HTTPException(403, "the form has expired or did not come from this desk: reload")
    origin = request.headers.get("origin")
    if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise HTTPException(403, "cross-origin form refused")
