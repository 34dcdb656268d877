"""Sizes of what a run keeps in its state and shows in the Web UI, at and past their bounds,
through the real workflow (issue 28, "sizes of what is stored"): the judge's critiques kept
per iteration, and the draft excerpt of the run's current details.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle

from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.scripted_llm import Script
from workflows.config import ResearchConfig
from workflows.models import CRITIQUE_KEPT_CHARS, ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchProgress, ResearchReport, ResearchState
from workflows.visibility import DETAILS_DRAFT_CHARS


async def start(client: Client, task_queue: str, **config: object) -> WorkflowHandle:
    config.setdefault("evolution", "off")
    config.setdefault("questions_per_iteration", 1)
    return await client.start_workflow(
        WORKFLOW_NAME,
        ResearchRequest(
            question="How do Python decorators work?",
            config=ResearchConfig.model_validate(config),
        ),
        id=f"bounds-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=ResearchReport,
    )


async def held_at(handle: WorkflowHandle, node: str, timeout: float = 30) -> None:
    async def poll() -> None:
        while (await handle.query("progress", result_type=ResearchProgress)).held_before != node:
            await asyncio.sleep(0.1)

    await asyncio.wait_for(poll(), timeout)


async def test_critiques_are_kept_whole_up_to_their_bound_and_cut_past_it(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    # Below the bound, at it, one past it (a judge answer holds up to 1,000: any later call).
    lengths = itertools.chain(
        [CRITIQUE_KEPT_CHARS - 1, CRITIQUE_KEPT_CHARS, CRITIQUE_KEPT_CHARS + 1],
        itertools.repeat(1_000),
    )

    def judge(request: RecordedRequest) -> dict:
        answer = script.judge(request)
        n = next(lengths)
        return {**answer, "critique": "".join(str(i % 10) for i in range(n))}

    fake_server.respond("JudgeAnswer", judge)
    handle = await start(client, task_queue, max_iterations=3)
    await asyncio.wait_for(handle.result(), 60)
    state = await handle.query("state", result_type=ResearchState)
    digits = "".join(str(i % 10) for i in range(CRITIQUE_KEPT_CHARS))
    assert state.critiques == [digits[:-1], digits, digits], [len(c) for c in state.critiques]


async def test_the_current_details_show_the_draft_up_to_their_bound_then_an_ellipsis(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    sentence = "Decorators wrap a function and return a new callable with extra behaviour. "
    fake_server.respond("DraftAnswer", lambda _: {"draft": "# Draft\n\n" + sentence * 12})
    handle = await start(client, task_queue, max_iterations=1)
    await handle.execute_update("break_before", "gap_analyzer")
    await held_at(handle, "gap_analyzer")

    state = await handle.query("state", result_type=ResearchState)
    assert len(state.draft) > DETAILS_DRAFT_CHARS
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details
    assert details.endswith(state.draft[:DETAILS_DRAFT_CHARS] + "…")
    assert state.draft[: DETAILS_DRAFT_CHARS + 1] not in details

    await handle.execute_update("clear_break", "gap_analyzer")
    await handle.execute_update("resume")
    await asyncio.wait_for(handle.result(), 60)
