"""The run-wide source registry (workflows/sources.py), and the workflow's bound on model text:
an answer of any size is cut before any citation work, so it cannot wedge a run."""

from __future__ import annotations

import uuid

from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.client import Client

from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.scripted_llm import Script
from workflows.config import EVOLVABLE_UNITS, ResearchConfig
from workflows.models import (
    ANSWER_MAX_CHARS,
    ResearchReport,
    ResearchRequest,
    RetrievalOutput,
    Source,
)
from workflows.research import WORKFLOW_NAME
from workflows.sources import SourceRegistry
from workflows.state import RunState


def source(sid: str) -> Source:
    return Source(
        id=sid, title=f"T{sid}", location=f"/docs/{sid}.md", provider="local", retrieved_at="t"
    )


def answer(text: str, *ids: str) -> RetrievalOutput:
    return RetrievalOutput(answer=text, sources=[source(i) for i in ids])


def test_numbers_are_run_wide_and_given_in_call_order() -> None:
    state = RunState()
    registry = SourceRegistry(state)

    first = registry.globalise(answer("A [1] and B [2].", "a", "b"))
    second = registry.globalise(answer("B again [1], C [2], nothing [7].", "b", "c"))

    assert first == "A [1] and B [2]."
    assert second == "B again [2], C [3], nothing."
    assert [s.id for s in state.sources] == ["a", "b", "c"]
    assert [n.number for n in registry.all()] == [1, 2, 3]


def test_every_retrieved_source_counts_cited_or_not() -> None:
    state = RunState()
    registry = SourceRegistry(state)
    registry.globalise(answer("Only [2].", "z", "y", "x"))
    registry.globalise(answer("None.", "x", "w"))

    assert state.retrieved_ids == ["w", "x", "y", "z"]  # a sorted set
    assert [s.id for s in state.sources] == ["y"]  # only cited ones get a number


def test_a_registry_over_a_carried_state_keeps_its_numbers() -> None:
    state = RunState()
    SourceRegistry(state).globalise(answer("[1][2]", "a", "b"))
    again = SourceRegistry(RunState.model_validate(state.model_dump()))

    assert again.globalise(answer("[1]", "b")) == "[2]"
    assert again.number_of(source("c")) == 3


def test_findings_keep_only_registered_citations() -> None:
    state = RunState()
    registry = SourceRegistry(state)
    backed = source("a").model_copy(update={"evidence": "The with statement calls __exit__."})
    registry.globalise(RetrievalOutput(answer="[1]", sources=[backed]))

    kept = registry.finding(2, "q?", "The with statement calls __exit__ [1][5].")
    # [5] is no registered source: dropped, whatever the claim; [1] backs the claim: kept.
    assert (kept.source_numbers, kept.iteration) == ([1], 2)
    assert "[1]" in kept.answer and "[5]" not in kept.answer
    assert [s.number for s in registry.cited_in(["[1] [5]", "[1]"])] == [1]


def test_a_huge_answer_is_cut_before_its_citations_are_read() -> None:
    state = RunState()
    text = "fact [1] " * 250_000  # 2.25 MB, 250,000 citations
    out = SourceRegistry(state).globalise(answer(text, "a"))

    assert len(out) < ANSWER_MAX_CHARS + 100
    assert out.endswith("more characters were dropped]")


# ---------------------------------------------------------------- end to end


def huge_answer(request: RecordedRequest) -> dict:
    """About 2 MB of densely cited text, in whichever answer shape the node asks for."""
    schema = request.body["response_format"]["json_schema"]["schema"]
    text = "It works so [1] and so [2]. " * 64_000
    if "claims" in schema.get("properties", {}):
        return {"claims": [{"text": text, "sources": [1]}]}
    return {"answer": text}


async def test_two_megabyte_answers_do_not_wedge_the_run(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    fake_server.respond("RetrievalAnswer", huge_answer)
    off = {"variants": 1, "revision_steps": 0}
    evolution = {unit: off for unit in EVOLVABLE_UNITS} | {
        "answers": {"variants": 3, "revision_steps": 1}
    }
    config = {"max_iterations": 1, "questions_per_iteration": 2, "evolution": evolution}
    workflow_id = f"huge-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        WORKFLOW_NAME,
        ResearchRequest(question="How do generators work?", config=ResearchConfig(**config)),
        id=workflow_id,
        task_queue=task_queue,
        result_type=ResearchReport,
    )

    report = await handle.result()

    assert report.iterations == 1 and fake_server.count("RetrievalAnswer") == 6
    history = await handle.fetch_history()
    failures = [
        e.workflow_task_failed_event_attributes
        for e in history.events
        if e.HasField("workflow_task_failed_event_attributes")
    ]
    # The server may fail a task itself to flush big buffered results (FORCE_CLOSE_COMMAND);
    # a task the workflow code failed (TMPRL1101 potential deadlock, ...) must not happen.
    ours = [
        f
        for f in failures
        if f.cause != WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND
    ]
    assert ours == [], f"a workflow task failed: {ours[0].failure.message}"
    # What the run carries on is bounded: each evolved answer went on at most ANSWER_MAX_CHARS.
    revisions = fake_server.calls("RevisedAnswer")
    assert len(revisions) == 6 and all(len(r.prompt) < 4 * ANSWER_MAX_CHARS for r in revisions)
