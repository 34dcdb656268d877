"""Provider rate limits held across workers: node activities run on the LLM task queue
(`<queue>-llm`), whose dispatch rate the Temporal server limits for every worker polling it
(TTDR_LLM_MAX_RPM); runs started before that queue existed keep their own queue (replay)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.client import Client

from activities.llm import LLMClient
from common.temporal_plugin import ResearchPlugin
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from testing.settings import fake_llm_settings
from tests.support.runs import run_research
from worker import StartupError, build_worker, llm_max_rpm_from_env
from workflows.calls import llm_task_queue

RPM = 120  # two activities a second


@pytest_asyncio.fixture
async def limited_queue(
    client: Client, fake_server: FakeLLMServer, script: Script, local_search: LocalSearch
) -> AsyncIterator[str]:
    """Two workers on one queue, both with the same limit: the server holds it for both."""
    queue = f"ttdr-rpm-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server))
    # A second connection, as a second worker process would have.
    other = await Client.connect(
        client.service_client.config.target_host,
        namespace=client.namespace,
        plugins=[ResearchPlugin()],
    )
    async with (
        build_worker(client, queue, llm, local_search, llm_max_rpm=RPM),
        build_worker(other, queue, llm, local_search, llm_max_rpm=RPM),
    ):
        yield queue
    await llm.aclose()


async def test_node_activities_run_on_the_llm_task_queue(
    client: Client, limited_queue: str
) -> None:
    # With a limit set (without one they stay on the workflow's queue: test_eager_dispatch.py).
    task_queue = limited_queue
    report = await run_research(client, task_queue, max_iterations=1)
    assert report.usage_total.calls > 0
    workflow_id = await _latest_workflow_id(client, task_queue)

    history = await client.get_workflow_handle(workflow_id).fetch_history()

    queues = {
        e.activity_task_scheduled_event_attributes.task_queue.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    assert queues == {llm_task_queue(task_queue)} == {f"{task_queue}-llm"}


async def test_the_limit_holds_for_all_workers_together(
    client: Client, fake_server: FakeLLMServer, limited_queue: str
) -> None:
    # Two runs of 8 LLM calls each, on two workers: unlimited they would overlap in bursts of
    # parallel calls; limited, the server hands out at most 2 activities a second in total.
    reports = await asyncio.gather(
        *(run_research(client, limited_queue, max_iterations=1) for _ in range(2))
    )
    assert all(r.usage_total.calls == 8 for r in reports)

    starts = sorted(r.started_at for r in fake_server.requests)
    assert len(starts) == 16
    window, allowed = 3.0, RPM / 60 * 3.0 + 2  # the rate over 3 s, plus the server's burst
    busiest = max(sum(1 for t in starts if s <= t < s + window) for s in starts)
    assert busiest <= allowed, f"{busiest} requests within {window} s"
    # 16 requests at 2 a second cannot take much less than 7 s.
    assert starts[-1] - starts[0] >= (16 - 2) / (RPM / 60) - 1


@pytest.mark.parametrize("raw", ["0", "-5", "fast", "nan", "inf"])
def test_a_bad_rate_limit_is_a_clear_startup_error(raw: str) -> None:
    with pytest.raises(
        StartupError,
        match=rf"TTDR_LLM_MAX_RPM must be a number from 1 to 1000000 .*\(got '{raw}'\)",
    ):
        llm_max_rpm_from_env({"TTDR_LLM_MAX_RPM": raw})


def test_no_rate_limit_when_unset() -> None:
    assert llm_max_rpm_from_env({}) is None
    assert llm_max_rpm_from_env({"TTDR_LLM_MAX_RPM": " 90 "}) == 90.0


async def _latest_workflow_id(client: Client, queue: str) -> str:
    async for execution in client.list_workflows(f"TaskQueue = '{queue}'"):
        return execution.id
    raise AssertionError("no workflow on the queue")
