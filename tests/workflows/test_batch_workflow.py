"""BatchResearchWorkflow on a real dev server and worker (fake LLM): a child per question, at
most N at once, failures recorded, bounded history through continue-as-new, and a second batch
for the same questions does not research a completed question again."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from testing.fake_llm import ErrorReply, FakeLLMServer, RecordedRequest
from testing.scripted_llm import Script
from workflows.batch import (
    WORKFLOW_NAME,
    BatchProgress,
    BatchQuestion,
    BatchRequest,
    BatchResult,
    child_id,
)
from workflows.config import ResearchConfig

CONFIG = ResearchConfig.model_validate(
    {"evolution": "off", "max_iterations": 1, "questions_per_iteration": 1}
)


def questions(n: int, prefix: str = "q") -> list[BatchQuestion]:
    topics = ["generators", "context managers", "decorators", "asyncio", "dataclasses", "json"]
    return [
        BatchQuestion(id=f"{prefix}{i}", prompt=f"How do Python {topics[i % len(topics)]} work?")
        for i in range(n)
    ]


async def run_batch(
    client: Client, task_queue: str, request: BatchRequest, batch_id: str | None = None
) -> tuple[str, BatchResult]:
    batch_id = batch_id or f"batch-test-{uuid.uuid4().hex[:8]}"
    result = await client.execute_workflow(
        WORKFLOW_NAME, request, id=batch_id, task_queue=task_queue, result_type=BatchResult
    )
    return batch_id, result


def planner_prompts(server: FakeLLMServer) -> list[str]:
    return [r.prompt for r in server.calls("PlanAnswer")]


async def test_every_question_gets_one_child_at_most_n_at_once(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    request = BatchRequest(questions=questions(5), config=CONFIG, concurrency=2)
    batch_id, result = await run_batch(client, task_queue, request)

    assert (result.total, result.completed, result.failed) == (5, 5, 0)
    assert sorted(r.id for r in result.records) == [f"q{i}" for i in range(5)]
    assert all(r.llm_calls > 0 and r.tokens > 0 and r.iterations == 1 for r in result.records)
    assert len(planner_prompts(fake_server)) == 5  # one research per question, none twice

    spans = []
    for record in result.records:
        assert record.workflow_id == child_id(batch_id, record.id)
        described = await client.get_workflow_handle(record.workflow_id).describe()
        assert described.parent_id == batch_id  # the Web UI lists it under the batch
        spans.append((described.start_time, described.close_time))
    most_at_once = max(sum(s <= start < e for s, e in spans) for start, _ in spans)
    assert most_at_once <= 2


async def test_a_failed_child_is_recorded_and_the_others_finish(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    def plan(request: RecordedRequest) -> dict | ErrorReply:
        if "BROKEN" in request.prompt:
            # A request the provider refuses (400): not retried, the run fails. (A malformed
            # plan no longer fails a run: the planner falls back, activities/fallbacks.py.)
            return ErrorReply(400, "This model's maximum context length is 8 tokens")
        return script.plan(request)

    fake_server.respond("PlanAnswer", plan)
    config = CONFIG.model_copy(
        update={
            "json_repair_attempts": 0,
            "retry": CONFIG.retry.model_copy(update={"maximum_attempts": 1}),
        }
    )
    batch = [*questions(2), BatchQuestion(id="bad", prompt="BROKEN question about Python?")]
    _, result = await run_batch(client, task_queue, BatchRequest(questions=batch, config=config))

    assert (result.completed, result.failed) == (2, 1)
    failed = next(r for r in result.records if r.id == "bad")
    assert failed.status == "failed" and failed.error


async def test_history_stays_bounded_by_continuing_as_new(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    request = BatchRequest(questions=questions(5), config=CONFIG, concurrency=2, children_per_run=2)
    batch_id, result = await run_batch(client, task_queue, request)

    assert (result.total, result.completed) == (5, 5)
    assert len({r.id for r in result.records}) == 5
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{batch_id}'")]
    assert len(runs) == 3  # 2 + 2 + 1 children
    assert len(planner_prompts(fake_server)) == 5
    progress = await client.get_workflow_handle(batch_id).query(
        "progress", 3, result_type=BatchProgress
    )
    assert [r.id for r in progress.finished] == [r.id for r in result.records[3:]]


async def test_a_second_batch_does_not_research_completed_questions_again(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    request = BatchRequest(questions=questions(3), config=CONFIG, concurrency=3)
    batch_id, _ = await run_batch(client, task_queue, request)
    calls_after_first = fake_server.count()

    _, again = await run_batch(client, task_queue, request, batch_id=batch_id)

    assert again.completed == 3
    assert all(r.reused for r in again.records)
    assert fake_server.count() == calls_after_first  # not one LLM call more
