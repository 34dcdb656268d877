"""One Prometheus endpoint for all worker processes of a host.

Each child serves its metrics on private loopback ports; the supervisor listens on the ports
the worker was configured with (TTDR_METRICS_PORT for the product's metrics,
TTDR_SDK_METRICS_PORT for the Temporal SDK's), and on every scrape fetches each child's page
and returns them as one, every sample labelled `worker_process="<index>"`. So a scrape
configuration, a dashboard or an alert written for one worker process per host keeps working
(sum over the label where it summed over hosts); a child being restarted shows as a counter reset
of its own series, which rate() and increase() handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import httpx

LABEL = "worker_process"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SAMPLE_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_MAX_REQUEST_BYTES = 8192


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class _Family:
    header: list[str] = field(default_factory=list)  # its # HELP and # TYPE lines
    samples: list[str] = field(default_factory=list)


def _labelled(line: str, process: str) -> str:
    match = _SAMPLE_NAME.match(line)
    if match is None:
        return line
    name, rest = match.group(), line[match.end() :]
    label = f'{LABEL}="{process}"'
    if rest.startswith("{"):
        return f"{name}{{{label}{'' if rest.startswith('{}') else ','}{rest[1:]}"
    return f"{name}{{{label}}}{rest}"


def merge_pages(pages: Sequence[tuple[str, str]]) -> str:
    """(process, exposition text) pairs as one exposition: the samples of a metric family from
    every process together under the family's first HELP and TYPE lines, each labelled."""
    families: dict[str, _Family] = {}
    for process, text in pages:
        current: str | None = None
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith(("# HELP ", "# TYPE ")):
                parts = line.split(maxsplit=3)
                current = parts[2] if len(parts) > 2 else None
                if current is None:
                    continue
                family = families.setdefault(current, _Family())
                kind = parts[1]
                if not any(h.split(maxsplit=2)[1] == kind for h in family.header):
                    family.header.append(line)
                continue
            if line.startswith("#"):
                continue  # other comments, e.g. OpenMetrics' # EOF
            match = _SAMPLE_NAME.match(line)
            key = current if current is not None else (match.group() if match else line)
            families.setdefault(key, _Family()).samples.append(_labelled(line, process))
    out: list[str] = []
    for family in families.values():
        out += family.header + family.samples
    return "\n".join(out) + "\n"


class MetricsProxy:
    """Serves the merged page of every child on `host:port` (a context manager)."""

    def __init__(self, host: str, port: int, child_ports: Callable[[], list[tuple[str, int]]]):
        self.host, self.port = host, port
        self._child_ports = child_ports  # (process label, its port) of each child, now
        self._server: asyncio.Server | None = None
        self._http = httpx.AsyncClient(timeout=5.0)

    async def page(self) -> str:
        async def fetch(process: str, port: int) -> tuple[str, str] | None:
            try:
                reply = await self._http.get(f"http://127.0.0.1:{port}/metrics")
                reply.raise_for_status()
                return process, reply.text
            except httpx.HTTPError:
                return None  # a child being restarted: its series are absent from this scrape

        pages = await asyncio.gather(*(fetch(p, port) for p, port in self._child_ports()))
        return merge_pages([page for page in pages if page is not None])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, path, *_ = [*head.split(b"\r\n", 1)[0].split(b" "), b"", b""]
            if method != b"GET" or path.split(b"?")[0] not in (b"/metrics", b"/"):
                status, body, kind = "404 Not Found", b"not found\n", "text/plain"
            else:
                status, body, kind = "200 OK", (await self.page()).encode(), CONTENT_TYPE
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[MetricsProxy]:
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, limit=_MAX_REQUEST_BYTES
        )
        try:
            yield self
        finally:
            self._server.close()
            await self._server.wait_closed()
            await self._http.aclose()
