"""Control sequences a user can send to a running research, in the orders the validators allow,
through the real workflow on the dev server (issue 28, "control sequences"): pause, step,
resume, break and feedback, sent while the run is held and while the stepped node runs, and
across continue-as-new. Each test starts its own run on its own task queue.

A node "runs" here while its request is held at the fake model (testing/processes.Hold),
so a command lands at a known point, not at whatever point a loaded machine has reached.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from testing.fake_llm import FakeLLMServer
from testing.processes import Hold, released
from testing.scripted_llm import Script
from tests.support.progress import wait_for
from workflows.config import ResearchConfig
from workflows.control import FEEDBACK_MAX_CHARS
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ControlStatus, ResearchProgress, ResearchReport, ResearchState

QUESTION = "How do Python decorators work?"


async def start(client: Client, task_queue: str, **config: object) -> WorkflowHandle:
    config.setdefault("evolution", "off")
    config.setdefault("questions_per_iteration", 1)
    workflow_id = f"control-{uuid.uuid4().hex[:8]}"
    await client.start_workflow(
        WORKFLOW_NAME,
        ResearchRequest(question=QUESTION, config=ResearchConfig.model_validate(config)),
        id=workflow_id,
        task_queue=task_queue,
        result_type=ResearchReport,
    )
    # No run id: the handle reaches the latest run, also after continue-as-new.
    return client.get_workflow_handle(workflow_id, result_type=ResearchReport)


async def finishes(handle: WorkflowHandle, what: str, timeout: float = 30) -> ResearchReport:
    """The run's report; fails naming where the run holds if it does not finish."""
    try:
        return await asyncio.wait_for(handle.result(), timeout)
    except TimeoutError:
        progress = await handle.query("progress", result_type=ResearchProgress)
        raise AssertionError(
            f"{what}: the run did not finish; held before {progress.held_before!r}, "
            f"paused={progress.paused}, node {progress.node}"
        ) from None


async def update(handle: WorkflowHandle, name: str, *args: str) -> ControlStatus:
    return await handle.execute_update(name, args=list(args), result_type=ControlStatus)


async def held_before_draft(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, **config: object
) -> WorkflowHandle:
    """A run paused while its plan was being written: it holds before the draft."""
    plan = Hold(fake_server, "PlanAnswer", script.plan, abandon=False)
    with released(plan):
        handle = await start(client, task_queue, **config)
        await plan.wait_arrived()
        status = await update(handle, "pause")
        assert status.paused
    await wait_for(
        handle, lambda p: p.held_before == "draft_generator", "the hold before the draft"
    )
    return handle


async def step_while(
    handle: WorkflowHandle,
    fake_server: FakeLLMServer,
    answer_name: str,
    responder: Callable,  # type: ignore[type-arg]
    *sent_while_running: tuple[str, ...],
) -> None:
    """`step`, then send each command while the stepped node's request is held, then let the
    node finish."""
    node = Hold(fake_server, answer_name, responder, abandon=False)
    with released(node):
        await update(handle, "step")
        await node.wait_arrived()
        for command in sent_while_running:
            await update(handle, *command)


# ------------------------------------------------------------ step, then ... while the node runs


async def test_resume_while_the_stepped_node_runs_lets_the_run_finish(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await held_before_draft(client, task_queue, fake_server, script, max_iterations=1)
    await step_while(handle, fake_server, "DraftAnswer", script.draft, ("resume",))

    report = await finishes(handle, "step, then resume while the draft ran")
    assert report.iterations == 1
    for name in ("GapAnswer", "IntegratorAnswer", "JudgeAnswer", "ReportAnswer"):
        assert fake_server.count(name) == 1, name


async def test_pause_while_the_stepped_node_runs_holds_before_the_next_node(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await held_before_draft(client, task_queue, fake_server, script, max_iterations=1)
    await step_while(handle, fake_server, "DraftAnswer", script.draft, ("pause",))

    await wait_for(handle, lambda p: p.held_before == "gap_analyzer", "the hold after the draft")
    await asyncio.sleep(0.3)
    assert fake_server.count("GapAnswer") == 0
    await update(handle, "resume")
    await finishes(handle, "resume after step and pause")


async def test_a_second_step_while_the_stepped_node_runs_still_holds_once_after_it(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await held_before_draft(client, task_queue, fake_server, script, max_iterations=1)
    await step_while(handle, fake_server, "DraftAnswer", script.draft, ("step",))

    progress = await wait_for(handle, lambda p: p.held_before is not None, "a hold")
    assert progress.held_before == "gap_analyzer"
    await asyncio.sleep(0.3)
    assert fake_server.count("GapAnswer") == 0, "two steps sent for one node ran two nodes"
    await update(handle, "resume")
    await finishes(handle, "resume after two steps")


async def test_step_then_resume_then_the_run_still_stops_at_a_breakpoint(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await held_before_draft(client, task_queue, fake_server, script, max_iterations=1)
    await update(handle, "break_before", "quality_assessor")
    await step_while(handle, fake_server, "DraftAnswer", script.draft, ("resume",))

    await wait_for(
        handle, lambda p: p.held_before == "quality_assessor", "the breakpoint after the resume"
    )
    assert fake_server.count("IntegratorAnswer") == 1 and fake_server.count("JudgeAnswer") == 0
    status = await update(handle, "clear_break", "quality_assessor")
    assert status.breakpoints == [] and status.held_before == "quality_assessor"
    await update(handle, "resume")
    await finishes(handle, "resume after clearing the breakpoint")


# ---------------------------------------------------------------- commands without a hold


async def test_a_resume_sent_before_any_hold_does_not_release_a_later_pause(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    draft = Hold(fake_server, "DraftAnswer", script.draft, abandon=False)
    with released(draft):
        handle = await start(client, task_queue, max_iterations=1)
        await draft.wait_arrived()
        status = await update(handle, "resume")  # nothing to resume
        assert not status.paused and status.held_before is None
        await update(handle, "pause")
    await wait_for(handle, lambda p: p.held_before == "gap_analyzer", "the pause after a resume")
    await asyncio.sleep(0.3)
    assert fake_server.count("GapAnswer") == 0
    await update(handle, "resume")
    await finishes(handle, "resume")


async def test_a_step_sent_while_a_node_runs_holds_before_the_next_one(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    draft = Hold(fake_server, "DraftAnswer", script.draft, abandon=False)
    with released(draft):
        handle = await start(client, task_queue, max_iterations=1)
        await draft.wait_arrived()
        await update(handle, "step")
    await wait_for(handle, lambda p: p.held_before == "gap_analyzer", "the hold after a step")
    await update(handle, "resume")
    await finishes(handle, "resume after a step sent while running")


async def test_pause_twice_then_one_resume_releases_the_run(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await held_before_draft(client, task_queue, fake_server, script, max_iterations=1)
    status = await update(handle, "pause")
    assert status.paused and status.held_before == "draft_generator"
    await update(handle, "resume")
    await finishes(handle, "one resume after two pauses")


# ---------------------------------------------------------------- breakpoints and feedback


async def test_a_breakpoint_holds_every_iteration_through_steps_and_resumes(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await held_before_draft(client, task_queue, fake_server, script, max_iterations=2)
    await update(handle, "break_before", "gap_analyzer")
    await update(handle, "resume")
    for iteration in (1, 2):
        await wait_for(
            handle,
            lambda p, i=iteration: p.held_before == "gap_analyzer" and p.iteration == i,
            f"the breakpoint in iteration {iteration}",
        )
        assert fake_server.count("GapAnswer") == iteration - 1
        await update(handle, "step")
        await wait_for(
            handle,
            lambda p: p.held_before == "retrieval_engine",
            f"the hold after stepping iteration {iteration}'s gap analysis",
        )
        await update(handle, "resume")
    report = await finishes(handle, "resume after the last breakpoint")
    assert report.iterations == 2


async def test_feedback_sent_while_the_stepped_gap_analysis_runs_reaches_that_iterations_revision(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await held_before_draft(client, task_queue, fake_server, script, max_iterations=2)
    await update(handle, "break_before", "gap_analyzer")
    await update(handle, "resume")
    await wait_for(handle, lambda p: p.held_before == "gap_analyzer", "the breakpoint")
    await update(handle, "clear_break", "gap_analyzer")

    note = "Cover functools.wraps in depth"
    await step_while(handle, fake_server, "GapAnswer", script.gaps, ("feedback", note))
    await update(handle, "resume")
    await finishes(handle, "resume after feedback")

    gaps = fake_server.calls("GapAnswer")
    revisions = fake_server.calls("IntegratorAnswer")
    # The running gap analysis was built before the note: the note reaches what comes next.
    assert note not in gaps[0].prompt and note in revisions[0].prompt
    assert note not in gaps[1].prompt, "applied feedback is not sent again"


# ---------------------------------------------------------------- across continue-as-new


async def test_step_then_resume_across_continue_as_new_does_not_hold_the_new_run(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await start(client, task_queue, max_iterations=2, continue_as_new_every=1)
    await update(handle, "break_before", "quality_assessor")
    await wait_for(
        handle,
        lambda p: p.held_before == "quality_assessor" and p.iteration == 1,
        "the breakpoint before the first judge",
    )
    await update(handle, "clear_break", "quality_assessor")
    # The judge is the last node before the run continues as new.
    await step_while(handle, fake_server, "JudgeAnswer", script.judge, ("resume",))

    report = await finishes(handle, "step, then resume while the judge ran, then continue-as-new")
    assert report.iterations == 2
    runs = [w async for w in client.list_workflows(f'WorkflowId = "{handle.id}"')]
    assert len(runs) == 2, "the run continued as new once"


async def test_a_breakpoint_and_pending_feedback_survive_continue_as_new(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await start(client, task_queue, max_iterations=2, continue_as_new_every=1)
    await update(handle, "break_before", "gap_analyzer")
    await wait_for(handle, lambda p: p.held_before == "gap_analyzer", "the first breakpoint")
    await update(handle, "resume")
    await wait_for(
        handle,
        lambda p: p.held_before == "gap_analyzer" and p.iteration == 2,
        "the breakpoint in the continued run",
    )
    runs = [w async for w in client.list_workflows(f'WorkflowId = "{handle.id}"')]
    assert len(runs) == 2
    note = "Prefer examples from the standard library"
    status = await update(handle, "feedback", note)
    assert status.pending_feedback == [note] and status.breakpoints == ["gap_analyzer"]
    await update(handle, "clear_break", "gap_analyzer")
    await update(handle, "resume")
    await finishes(handle, "resume in the continued run")
    assert note in fake_server.calls("GapAnswer")[1].prompt


# ---------------------------------------------------------------- what the validators allow


async def test_feedback_of_exactly_the_limit_is_taken_and_one_character_more_changes_nothing(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await held_before_draft(client, task_queue, fake_server, script, max_iterations=1)
    longest = "f" * FEEDBACK_MAX_CHARS
    status = await update(handle, "feedback", longest)
    assert status.pending_feedback == [longest]

    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await update(handle, "feedback", longest + "f")
    assert f"over {FEEDBACK_MAX_CHARS} characters" in str(rejected.value.cause)
    with pytest.raises(WorkflowUpdateFailedError):
        await update(handle, "clear_break", "gap_analyzer")  # no such breakpoint
    state = await handle.query("state", result_type=ResearchState)
    assert state.control.pending_feedback == [longest], "a rejected update changed nothing"
    assert state.control.breakpoints == [] and state.control.held_before == "draft_generator"

    await update(handle, "resume")
    await finishes(handle, "resume after rejected updates")
    assert longest in fake_server.calls("GapAnswer")[0].prompt
