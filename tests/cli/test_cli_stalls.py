"""A client (and a test) waiting on something that never happens fails fast, saying what it
waited for (issue 19 item 3): no worker on the run's task queue, or a workflow task that keeps
failing."""

from __future__ import annotations

import uuid

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from testing.processes import run_client
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport


@workflow.defn(name=WORKFLOW_NAME, sandboxed=False)
class BrokenResearch:
    """Stands for workflow code with a bug: every workflow task fails, the run waits."""

    @workflow.run
    async def run(self, request: ResearchRequest) -> ResearchReport:
        raise RuntimeError("planted bug in the workflow code")


async def terminate(client: Client, workflow_id: str) -> None:
    await client.get_workflow_handle(workflow_id).terminate("test cleanup")


async def test_research_with_no_worker_on_the_queue_fails_fast_naming_the_queue(
    client: Client,
) -> None:
    queue = f"nobody-{uuid.uuid4().hex[:8]}"
    workflow_id = f"stall-{uuid.uuid4().hex[:8]}"
    try:
        with pytest.raises(AssertionError) as failure:
            await run_client(client, queue, "research", "Anyone there?", "--id", workflow_id)
        message = str(failure.value)
        assert f"waiting: no worker polls task queue '{queue}'" in message
        assert "still running after" not in message, "the reason, not a timeout"
    finally:
        await terminate(client, workflow_id)


async def test_a_failing_workflow_task_is_reported_with_its_cause(client: Client) -> None:
    queue = f"broken-{uuid.uuid4().hex[:8]}"
    workflow_id = f"stall-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[BrokenResearch]):
        try:
            with pytest.raises(AssertionError) as failure:
                await run_client(client, queue, "research", "Will it break?", "--id", workflow_id)
            message = str(failure.value)
            assert "waiting: the worker fails this run's workflow task" in message
            assert "planted bug in the workflow code" in message
        finally:
            await terminate(client, workflow_id)
