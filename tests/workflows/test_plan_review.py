"""Plan review (ResearchConfig.review_plan, `client.py review`): approve with guidance, replace,
time out, a malformed edit rejected with nothing changed, a worker crash while waiting.
Real dev server, real workers and client.py; the scripted fake LLM stands in for the paid API."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from testing.fake_llm import FakeLLMServer
from testing.processes import WorkerProcess, run_client, worker_env
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchProgress, ResearchReport, ResearchState

NEW_PLAN = {
    "sections": [
        {"title": "Entering and exiting", "focus": "what __enter__ and __exit__ do"},
        {"title": "Exceptions inside the block", "focus": "what __exit__ receives"},
    ]
}


async def start(client: Client, task_queue: str, **config: object) -> WorkflowHandle:
    config = {"evolution": "off", "max_iterations": 1, "review_plan": True, **config}
    request = ResearchRequest(
        question="How does Python's with statement work?",
        config=ResearchConfig.model_validate(config),
    )
    return await client.start_workflow(
        WORKFLOW_NAME, request, id=f"review-{uuid.uuid4().hex[:8]}", task_queue=task_queue
    )


async def review_status(handle: WorkflowHandle) -> str | None:
    return (await handle.query("progress", result_type=ResearchProgress)).plan_review


async def waiting(handle: WorkflowHandle, timeout_seconds: float = 30) -> None:
    deadline = time.monotonic() + timeout_seconds
    while await review_status(handle) != "waiting":
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the run to wait for its plan review")
        await asyncio.sleep(0.1)


async def test_approve_with_guidance_goes_on_and_the_guidance_steers_the_research(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await start(client, task_queue)
    await waiting(handle)
    assert fake_server.count("DraftAnswer") == 0, "nothing is spent before the review"
    code, out, err = await run_client(client, task_queue, "review", handle.id, "--show")
    assert code == 0, err
    assert "plan review: waiting" in out and "1. Mechanism:" in out

    code, out, err = await run_client(
        client, task_queue, "review", handle.id, "--guidance", "Stress the exception path."
    )
    assert code == 0, err
    assert "plan approved: guidance noted" in out
    report = ResearchReport.model_validate(await handle.result())
    assert report.plan.sections[0].title == "Mechanism"
    assert "Stress the exception path." in fake_server.calls("GapAnswer")[0].prompt
    assert "Nobody reviewed the plan" not in report.markdown


async def test_a_replaced_plan_is_the_one_the_research_follows(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> None:
    handle = await start(client, task_queue)
    await waiting(handle)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(NEW_PLAN))
    code, out, err = await run_client(
        client, task_queue, "review", handle.id, "--plan", str(plan_file)
    )
    assert code == 0, err
    assert "plan replaced" in out
    report = ResearchReport.model_validate(await handle.result())
    assert [s.title for s in report.plan.sections] == [s["title"] for s in NEW_PLAN["sections"]]
    assert "Exceptions inside the block" in fake_server.calls("DraftAnswer")[0].prompt


async def test_without_a_review_the_run_goes_on_with_the_proposal_and_says_so(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await start(client, task_queue, plan_review_timeout_seconds=1)
    report = ResearchReport.model_validate(await handle.result())
    assert "Nobody reviewed the plan within 1 s" in report.markdown
    assert await review_status(handle) == "timed_out"


async def test_a_malformed_edit_is_rejected_and_changes_nothing(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> None:
    handle = await start(client, task_queue)
    await waiting(handle)
    broken = tmp_path / "broken.json"
    broken.write_text('{"sections": [{"title": "No focus"}]}')
    code, _, err = await run_client(client, task_queue, "review", handle.id, "--plan", str(broken))
    assert code == 2 and "invalid plan" in err and "focus" in err
    empty = tmp_path / "empty.json"
    empty.write_text('{"sections": []}')
    code, _, err = await run_client(client, task_queue, "review", handle.id, "--plan", str(empty))
    assert code == 2 and "review rejected: replace needs a plan with at least one section" in err

    state = await handle.query("state", result_type=ResearchState)
    assert state.progress.plan_review == "waiting" and state.plan is not None
    assert state.plan.sections[0].title == "Mechanism"
    code, _, err = await run_client(client, task_queue, "review", handle.id)
    assert code == 0, err
    await handle.result()
    # A review of a run that is not waiting is refused.
    other = await start(client, task_queue, review_plan=False)
    code, _, err = await run_client(client, task_queue, "review", other.id)
    assert code == 2, err
    assert "not waiting for a plan review" in err or "already completed" in err
    await other.result()


@pytest.mark.slow
async def test_a_worker_crash_while_waiting_loses_nothing(
    temporal_env: WorkflowEnvironment,
    fake_server: FakeLLMServer,
    script: Script,
    cache_dir: Path,
    tmp_path: Path,
) -> None:
    client = temporal_env.client
    queue = f"review-crash-{uuid.uuid4().hex[:6]}"
    env = worker_env(
        temporal_address=client.service_client.config.target_host,
        task_queue=queue,
        llm_base_url=fake_server.base_url,
        api_key=FAKE_KEY,
        cache_dir=cache_dir,
    )
    first = await WorkerProcess(env, tmp_path / "worker-1.log").start()
    second: WorkerProcess | None = None
    try:
        handle = await start(client, queue)
        await waiting(handle)
        first.kill()
        second = await WorkerProcess(env, tmp_path / "worker-2.log").start()
        code, _, err = await run_client(client, queue, "review", handle.id)
        assert code == 0, err
        report = ResearchReport.model_validate(await handle.result())
        assert fake_server.count("PlanAnswer") == 1, "the plan was not paid for twice"
        assert report.iterations == 1
    finally:
        first.kill()
        if second is not None:
            second.kill()
