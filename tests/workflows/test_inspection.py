"""Live inspection and control: queries, pause/resume, breakpoints, steps, feedback, cancel,
and what the Web UI shows (current details, search attributes)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import CancelledError

from testing.fake_llm import FakeLLMServer
from testing.processes import Hold, released, run_client
from testing.scripted_llm import Script
from tests.support.progress import wait_for
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport, ResearchState
from workflows.visibility import ITERATION, PHASE, QUALITY


async def start(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    draft_seconds: float = 1.0,
    **config: object,
) -> WorkflowHandle:
    """Start a run whose draft takes a while, so control commands land before it ends."""
    fake_server.set_delay("DraftAnswer", draft_seconds)
    config.setdefault("evolution", "off")
    request = ResearchRequest(
        question="How do Python decorators work?", config=ResearchConfig.model_validate(config)
    )
    return await client.start_workflow(
        WORKFLOW_NAME,
        request,
        id=f"inspect-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=ResearchReport,
    )


async def test_breakpoint_holds_the_run_for_inspection_then_step_and_resume(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    # The draft is held at the fake model until client.py (a fresh process, slow on a loaded
    # machine) has set the breakpoint: no race with the loop.
    draft = Hold(fake_server, "DraftAnswer", script.draft, abandon=False)
    with released(draft):
        handle = await start(client, task_queue, fake_server, draft_seconds=0, max_iterations=2)
        await draft.wait_arrived()
        code, out, err = await run_client(
            client, task_queue, "break", handle.id, "--before", "information_integrator"
        )
        assert code == 0, err
        assert "breakpoint set before information_integrator" in out

    held = await wait_for(handle, lambda p: p.held_before == "information_integrator")
    assert held.iteration == 1
    await asyncio.sleep(0.5)
    assert fake_server.count("IntegratorAnswer") == 0, "held: the node has not run"
    state = await handle.query("state", result_type=ResearchState)
    assert state.draft.startswith("# Draft"), "the current draft is inspectable"
    assert len(state.findings) == 2 and state.plan is not None
    assert state.control.breakpoints == ["information_integrator"]

    # step: run the held node, then hold before the next one.
    code, out, _ = await run_client(client, task_queue, "step", handle.id)
    assert code == 0 and "stepping one node" in out
    await wait_for(handle, lambda p: p.held_before == "quality_assessor")
    assert fake_server.count("IntegratorAnswer") == 1
    assert fake_server.count("JudgeAnswer") == 0

    # clear the breakpoint and resume: the run finishes without holding again.
    await handle.execute_update("clear_break", "information_integrator")
    await handle.execute_update("resume")
    report = await handle.result()
    assert report.iterations == 2
    assert fake_server.count("IntegratorAnswer") == 2


async def test_pause_and_resume(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    draft = Hold(fake_server, "DraftAnswer", script.draft, abandon=False)
    with released(draft):
        handle = await start(client, task_queue, fake_server, draft_seconds=0, max_iterations=1)
        await draft.wait_arrived()
        code, out, _ = await run_client(client, task_queue, "pause", handle.id)
        assert code == 0 and "pausing" in out

    progress = await wait_for(handle, lambda p: p.held_before is not None)
    assert progress.held_before == "gap_analyzer", "the draft finished, the next node waits"
    await asyncio.sleep(0.5)
    assert fake_server.count("GapAnswer") == 0

    code, out, _ = await run_client(client, task_queue, "progress", handle.id)
    assert code == 0 and "HELD before gap_analyzer" in out
    code, out, _ = await run_client(client, task_queue, "resume", handle.id)
    assert code == 0 and "resumed" in out
    assert (await handle.result()).iterations == 1


async def test_feedback_reaches_the_next_gap_analysis_and_revision(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await start(client, task_queue, fake_server, max_iterations=2)
    await handle.execute_update("break_before", "gap_analyzer")
    await wait_for(handle, lambda p: p.held_before == "gap_analyzer" and p.iteration == 1)
    await handle.execute_update("resume")
    await wait_for(handle, lambda p: p.held_before == "gap_analyzer" and p.iteration == 2)

    note = "Focus on class decorators and functools.wraps"
    code, out, err = await run_client(client, task_queue, "feedback", handle.id, note)
    assert code == 0, err
    assert "feedback noted" in out
    await handle.execute_update("clear_break", "gap_analyzer")
    await handle.execute_update("resume")
    await handle.result()

    gaps = fake_server.calls("GapAnswer")
    assert note not in gaps[0].prompt and note in gaps[1].prompt
    revisions = fake_server.calls("IntegratorAnswer")
    assert note not in revisions[0].prompt and note in revisions[1].prompt
    state = await handle.query("state", result_type=ResearchState)
    assert state.feedback_applied == [note]
    assert state.control.pending_feedback == []


async def test_bad_control_input_is_rejected_clearly(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await start(client, task_queue, fake_server, max_iterations=1)
    await handle.execute_update("break_before", "report_synthesizer")

    code, _, err = await run_client(client, task_queue, "break", handle.id, "--before", "nope")
    assert code == 2
    assert "unknown node 'nope'" in err and "gap_analyzer" in err
    # The workflow's own validator rejects it too, without touching its history.
    code, _, err = await run_client(client, task_queue, "feedback", handle.id, "   ")
    assert code == 2 and "feedback is empty" in err
    code, _, err = await run_client(client, task_queue, "state", "no-such-run")
    assert code == 2 and "no workflow no-such-run" in err
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await handle.execute_update("break_before", "nope")
    assert "unknown node 'nope'" in str(rejected.value.cause)

    await wait_for(handle, lambda p: p.held_before == "report_synthesizer")
    code, _, err = await run_client(client, task_queue, "feedback", handle.id, "too late?")
    assert code == 2 and "feedback can no longer be used" in err
    await handle.execute_update("resume")
    await handle.result()


async def test_web_ui_sees_details_and_search_attributes(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    script.judge_scores = [4, 6]
    handle = await start(client, task_queue, fake_server, max_iterations=2)
    await handle.execute_update("break_before", "report_synthesizer")
    await wait_for(handle, lambda p: p.held_before == "report_synthesizer")

    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details
    assert "**phase** reporting" in details
    assert "**iteration** 2 of 2" in details and "**last score** 0.60" in details
    assert "**held before** report_synthesizer" in details
    state = await handle.query("state", result_type=ResearchState)
    assert state.draft[:60] in details
    assert "**draft backed by sources**" in details

    await handle.execute_update("resume")
    await handle.result()
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(PHASE) == "completed"
    assert attributes.get(ITERATION) == 2
    assert attributes.get(QUALITY) == pytest.approx(0.6)
    found = [
        w.id
        async for w in client.list_workflows(
            f'TtdrPhase = "completed" AND TtdrQuality >= 0.6 AND WorkflowId = "{handle.id}"'
        )
    ]
    assert found == [handle.id]


async def test_cancel_stops_the_run_and_keeps_its_state(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    fake_server.set_delay("GapAnswer", 30)
    handle = await start(
        client, task_queue, fake_server, max_iterations=3, timeouts={"heartbeat_seconds": 2}
    )
    await wait_for(handle, lambda p: p.node == "gap_analyzer")

    code, out, _ = await run_client(client, task_queue, "cancel", handle.id)
    assert code == 0 and "cancellation requested" in out
    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(handle.result(), 15)
    assert isinstance(failure.value.cause, CancelledError)
    state = await handle.query("state", result_type=ResearchState)
    assert state.plan is not None and state.draft.startswith("# Draft")
    assert state.progress.iteration == 1
    # The in-flight gap analysis was cancelled (through its heartbeats), not left running.
    history = await handle.fetch_history()
    assert any(e.HasField("activity_task_canceled_event_attributes") for e in history.events)
