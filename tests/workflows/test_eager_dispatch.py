"""Where node activities go (workflows/calls.py, "Task queue"): with no global limit on LLM calls
they stay on the workflow's own task queue, where the SDK starts them eagerly; with
TTDR_LLM_MAX_RPM set they go to the rate-limited `<queue>-llm`. The workflow learns which from
the worker through a recorded local activity, so its history replays whatever the replaying
worker's setting is."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory

from activities.llm import LLMClient
from inspection.history import replay
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from testing.settings import fake_llm_settings
from tests.support.runs import run_research
from worker import build_worker
from workflows.calls import llm_task_queue


async def _history(client: Client, task_queue: str) -> WorkflowHistory:
    [execution] = [e async for e in client.list_workflows(f"TaskQueue = '{task_queue}'")]
    return await client.get_workflow_handle(execution.id).fetch_history()


def _activity_queues(events: list[HistoryEvent]) -> set[str]:
    return {
        e.activity_task_scheduled_event_attributes.task_queue.name
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    }


def _markers(events: list[HistoryEvent]) -> int:
    return sum(1 for e in events if e.HasField("marker_recorded_event_attributes"))


@pytest_asyncio.fixture
async def worker_llm(fake_server: FakeLLMServer, script: Script) -> AsyncIterator[LLMClient]:
    llm = LLMClient(fake_llm_settings(fake_server))
    yield llm
    await llm.aclose()


async def test_without_a_limit_node_activities_stay_on_the_workflow_queue(
    client: Client, task_queue: str
) -> None:
    report = await run_research(client, task_queue, max_iterations=1)
    assert report.usage_total.calls == 8

    history = await _history(client, task_queue)

    assert _activity_queues(history.events) == {task_queue}
    # The choice is in the history: the replay below has no worker and no environment to ask.
    assert (await replay(history)).ok


async def test_with_a_limit_node_activities_go_to_the_limited_queue(
    client: Client, worker_llm: LLMClient, local_search: LocalSearch
) -> None:
    queue = f"ttdr-eager-{uuid.uuid4().hex[:8]}"
    # A limit far above this test's rate: the queue is the limited one, the run is not slowed.
    async with build_worker(client, queue, worker_llm, local_search, llm_max_rpm=1_000_000):
        await run_research(client, queue, max_iterations=1)

    history = await _history(client, queue)

    assert _activity_queues(history.events) == {llm_task_queue(queue)}
    assert (await replay(history)).ok
