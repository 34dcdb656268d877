"""A provider's 429 with a huge Retry-After holds a node for up to 600 s (issue 26 item 11):
`progress`, `state`, `watch` and `top` say which node waits, how long and why, instead of
showing a run that silently does nothing. Real dev server and worker; the fake LLM answers the
plan's call with the 429."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

import pytest
from temporalio.client import Client, WorkflowHandle

from common.temporal_connection import local_server_env
from testing.fake_llm import FakeLLMServer
from testing.processes import run_client
from testing.scripted_llm import Script
from tests.support.paths import ROOT
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME


async def backing_off(handle: WorkflowHandle, timeout: float = 30) -> None:
    """Until the plan's activity has failed once and waits for its next attempt."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = (await handle.describe()).raw_description.pending_activities
        if any(a.attempt >= 2 and a.HasField("next_attempt_schedule_time") for a in pending):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the plan's activity never waited for a retry")


async def test_a_long_retry_after_is_shown_with_its_cause(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    fake_server.inject_fault("PlanAnswer", 429, headers={"Retry-After": "999999"})
    request = ResearchRequest(
        question="How do Python decorators work?",
        config=ResearchConfig.model_validate({"evolution": "off", "max_iterations": 1}),
    )
    handle = await client.start_workflow(
        WORKFLOW_NAME, request, id=f"backoff-{uuid.uuid4().hex[:8]}", task_queue=task_queue
    )
    try:
        await backing_off(handle)
        code, out, err = await run_client(client, task_queue, "progress", handle.id)
        assert code == 0, err
        assert "waiting: research_planner retries in 9m" in out, out  # capped at 600 s
        assert "LLMRateLimited" in out and "429" in out

        code, out, err = await run_client(client, task_queue, "state", handle.id)
        assert code == 0, err
        assert "research_planner retries in " in out and "429" in out

        code, out, err = await run_client(
            client, task_queue, "top", "--once", "--query", f"TaskQueue = '{task_queue}'"
        )
        assert code == 0, err
        assert "! research_planner retries in 9m" in out and "LLMRateLimited" in out

        watch = await asyncio.create_subprocess_exec(
            sys.executable, "client.py", "watch", handle.id, cwd=ROOT,
            env=local_server_env(client.service_client.config.target_host),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert watch.stdout is not None
        first = (await asyncio.wait_for(watch.stdout.readline(), 60)).decode()
        # A few refreshes while nothing changes: the countdown must not print a line each.
        # (Only this window counts: the cancel below is a change, and may show the node
        # leaving its wait before the run ends.)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(watch.stdout.readline(), 3)
        await handle.cancel()
        rest = (await asyncio.wait_for(watch.stdout.read(), 60)).decode()
        assert await watch.wait() == 1  # cancelled
        assert "waiting: research_planner retries (attempt 2 at " in first, first
        assert "LLMRateLimited" in first
        assert rest.splitlines()[-1].endswith(": canceled"), rest
    finally:
        await handle.cancel()
