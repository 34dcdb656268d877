"""A loopback HTTP server for search-provider and page-fetch tests (stdlib ThreadingHTTPServer).

Tests register a handler per path; a handler gets the recorded request and returns a `Reply`
(status, headers, body), whose body may be an iterator of chunks to stream a large page. Every
request is recorded, and for streamed bodies the bytes actually sent are counted.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, **headers: str) -> Reply:
        return cls(
            status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers}
        )

    @classmethod
    def html(cls, html: str, status: int = 200) -> Reply:
        return cls(status, html.encode(), {"Content-Type": "text/html; charset=utf-8"})


Handler = Callable[[Seen], Reply]


class FakeHTTPServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        self.streamed_bytes = 0  # bytes of iterator bodies actually written
        self.stream_finished = False
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                with outer._lock:
                    outer.seen.append(seen)
                    handler = outer._handlers.get(parts.path)
                reply = handler(seen) if handler else Reply(404, b"not found")
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if isinstance(reply.body, bytes):
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                self._stream(reply.body)

            def _stream(self, chunks: Iterable[bytes]) -> None:
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        with outer._lock:
                            outer.streamed_bytes += len(chunk)
                    outer.stream_finished = True
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, as a capped fetch should

            do_GET = _serve
            do_POST = _serve

        self._server = _QuietServer((host, 0), _Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, path: str, handler: Handler) -> None:
        with self._lock:
            self._handlers[path] = handler

    def reply(self, path: str, reply: Reply) -> None:
        self.route(path, lambda _: reply)

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def __enter__(self) -> FakeHTTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a test's timeout: the handler writes after it) is normal here.
        Printing its traceback also ran ast.parse (Python 3.11 underlines the failing call) in a
        handler thread left over from that test, racing the next test's own ast.parse: on 3.11
        the ast module's recursion counter is shared between threads ("AST constructor recursion
        depth mismatch" in the demo corpus's module parsing)."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


def repeat(chunk: bytes, times: int) -> Iterator[bytes]:
    for _ in range(times):
        yield chunk
