"""Continue-as-new: a run that hands its state to a fresh history goes on as if it had never been
cut — a held `step`, the figures of the report, and distinct sampling seeds included."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client

from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from tests.support.progress import wait_for
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

QUESTION = "How does Python's with statement work?"


async def start(client: Client, task_queue: str, **config: object) -> str:
    config.setdefault("evolution", "off")
    workflow_id = f"can-{uuid.uuid4().hex[:8]}"
    await client.start_workflow(
        WORKFLOW_NAME,
        ResearchRequest(question=QUESTION, config=ResearchConfig.model_validate(config)),
        id=workflow_id,
        task_queue=task_queue,
        result_type=ResearchReport,
    )
    return workflow_id


async def runs_of(client: Client, workflow_id: str) -> int:
    return len([w async for w in client.list_workflows(f'WorkflowId = "{workflow_id}"')])


async def test_a_step_survives_continue_as_new(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    fake_server.set_delay("PlanAnswer", 1.0)
    workflow_id = await start(
        client, task_queue, max_iterations=2, questions_per_iteration=1, continue_as_new_every=1
    )
    # No run id: the handle always reaches the latest run of the workflow id.
    handle = client.get_workflow_handle(workflow_id, result_type=ResearchReport)
    await handle.execute_update("pause")
    progress = await wait_for(handle, lambda p: p.held_before is not None, "the first hold")

    # Step node by node until the run is held before the judge of iteration 1.
    while not (progress.held_before == "quality_assessor" and progress.iteration == 1):
        calls = progress.usage.calls
        await handle.execute_update("step")
        progress = await wait_for(
            handle,
            lambda p, calls=calls: p.held_before is not None and p.usage.calls == calls + 1,
            "the hold after one step",
        )
        assert progress.iteration <= 1, f"stepped past iteration 1: {progress}"

    # This step runs the judge; the run then continues as new before iteration 2 — and the
    # step's "hold before the next node" must hold in the new run.
    await handle.execute_update("step")
    held = await wait_for(
        handle,
        lambda p: p.held_before is not None or p.phase == "completed",
        "a hold in the continued run",
    )
    assert held.phase != "completed", "the step was lost at continue-as-new: the run never held"
    assert (held.held_before, held.iteration) == ("gap_analyzer", 2)
    assert await runs_of(client, workflow_id) == 2
    await asyncio.sleep(0.3)
    assert fake_server.count("GapAnswer") == 1, "held: iteration 2's gap analysis has not run"

    await handle.execute_update("resume")
    report = await handle.result()
    assert report.iterations == 2


def evolving(**config: object) -> dict[str, object]:
    """Question and answer variants judged and revised: many calls, evolution records."""
    off = {"variants": 1, "revision_steps": 0}
    evolution = {
        "plan": off,
        "questions": {"variants": 1, "revision_steps": 1},
        "answers": {"variants": 2, "revision_steps": 1},
        "report": off,
    }
    return {"max_iterations": 3, "questions_per_iteration": 2, "evolution": evolution, **config}


async def research(client: Client, task_queue: str, fake_server: FakeLLMServer, **config: object):
    """One research on a fresh scripted model; its report, its runs and the seeds it sent."""
    fake_server.reset()
    Script().install(fake_server)
    workflow_id = await start(client, task_queue, **config)
    report = await client.get_workflow_handle(workflow_id, result_type=ResearchReport).result()
    seeds = [r.body["seed"] for r in fake_server.requests if r.name]
    return report, await runs_of(client, workflow_id), seeds


def figures(report: ResearchReport) -> dict[str, object]:
    """Everything a reader sees, apart from retrieval times."""
    data = report.model_dump()
    for numbered in data["sources"]:
        numbered["source"].pop("retrieved_at")
    return data


async def test_a_continued_run_reads_as_if_it_had_never_been_cut(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    whole, whole_runs, whole_seeds = await research(
        client, task_queue, fake_server, **evolving(continue_as_new_every=0)
    )
    cut, cut_runs, cut_seeds = await research(
        client, task_queue, fake_server, **evolving(continue_as_new_every=1)
    )

    assert (whole_runs, cut_runs) == (1, 3)
    assert cut.iterations == 3 and cut.sources_retrieved > 0 and cut.evolution
    # Every figure of the report — sources retrieved and cited, scores, usage per node, the
    # evolution records and the text — is the same whether the research was cut or not.
    assert figures(cut) == figures(whole)
    # Seeds follow each call's identity, not the run it happened in.
    assert sorted(cut_seeds) == sorted(whole_seeds)


async def test_sampling_seeds_stay_distinct_across_continued_runs(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    _, runs, seeds = await research(
        client, task_queue, fake_server, **evolving(continue_as_new_every=1, seed=7)
    )

    assert runs == 3
    # plan, draft, report + 3 iterations x (questions 1+1+1, answers 2 x (2+2+2+1), revise, judge)
    assert len(seeds) == 3 + 3 * (3 + 2 * 7 + 2)
    assert len(set(seeds)) == len(seeds), "two calls of one research shared a seed"
