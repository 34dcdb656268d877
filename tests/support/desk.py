"""The research desk for tests: settings pointed at a test worker's queue, the app served by a
real uvicorn on a free loopback port inside the test's event loop, and form helpers."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import uvicorn
from temporalio.client import Client

from desk.app import create_app
from desk.settings import Caps, DeskSettings

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_for(task_queue: str, corpus_roots: list[Path], **changes: object) -> DeskSettings:
    settings = DeskSettings(
        port=free_port(),
        task_queue=task_queue,
        corpus_roots=tuple(corpus_roots),
        poll_seconds=0.3,
        caps=Caps(runs_per_minute=30),
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serving(client: Client, settings: DeskSettings) -> AsyncIterator[str]:
    """The desk on http://127.0.0.1:PORT for the duration of the block."""
    config = uvicorn.Config(
        create_app(client, settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page carries no CSRF field"
    return found.group(1)


def asgi_client(client: Client, settings: DeskSettings) -> httpx.AsyncClient:
    """An HTTP client talking to the app in-process (no socket), as 127.0.0.1."""
    transport = httpx.ASGITransport(app=create_app(client, settings))
    return httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{settings.port}")
