"""The TTD-DR loop end to end: real dev server, real worker, fake LLM on loopback."""

from __future__ import annotations

import re
import uuid

import pytest
from temporalio.client import Client

from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.scripted_llm import BOGUS_CITATION, Script
from tests.support.runs import QUESTION, run_research
from workflows.citing.citations import report_numbers as cited_numbers
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport


def llm_calls_by_schema(server: FakeLLMServer) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in server.requests:
        if request.path.endswith("/chat/completions") and request.name:
            counts[request.name] = counts.get(request.name, 0) + 1
    return counts


async def test_full_run_reaches_cited_report(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    report = await run_research(client, task_queue, max_iterations=2, questions_per_iteration=2)

    assert report.stop_reason == "max_iterations"
    assert report.iterations == 2
    # Titled with the user's question, not the title the model wrote ("Report").
    assert report.markdown.startswith(f"# {QUESTION}\n")
    assert "## Sources" in report.markdown
    assert report.sources, "the report cites retrieved sources"
    # The model's own "References" list is replaced by the real one.
    assert "A source the model made up" not in report.markdown
    assert len(report.plan.sections) == 3
    assert report.quality_history == [0.3, 0.3]


async def test_llm_calls_per_node_are_exact(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    report = await run_research(client, task_queue, max_iterations=3, questions_per_iteration=2)

    expected = {
        "PlanAnswer": 1,
        "DraftAnswer": 1,
        "GapAnswer": 3,
        "RetrievalAnswer": 6,
        "IntegratorAnswer": 3,
        "JudgeAnswer": 3,
        "ReportAnswer": 1,
    }
    assert llm_calls_by_schema(fake_server) == expected
    by_node = {node: usage.calls for node, usage in report.usage_by_node.items()}
    assert by_node == {
        "research_planner": 1,
        "draft_generator": 1,
        "gap_analyzer": 3,
        "retrieval_engine": 6,
        "information_integrator": 3,
        "quality_assessor": 3,
        "report_synthesizer": 1,
    }
    assert report.usage_total.calls == 18
    assert report.usage_total.input_tokens > 0 and report.usage_total.output_tokens > 0
    # The judge runs on the judge model, everything else on the main one.
    models = {r.name: r.body["model"] for r in fake_server.requests if r.name}
    assert models["JudgeAnswer"] == "fake-judge"
    assert models["DraftAnswer"] == "fake-model"


async def test_loop_stops_when_judge_says_done(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    script.judge_done_at = 2
    report = await run_research(client, task_queue, max_iterations=6)

    assert report.stop_reason == "judge_done"
    assert report.iterations == 2
    assert fake_server.count("GapAnswer") == 2
    assert fake_server.count("ReportAnswer") == 1


async def test_loop_stops_at_quality_threshold(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    script.judge_scores = [4, 6, 9]
    report = await run_research(client, task_queue, max_iterations=6, quality_threshold=0.85)

    assert report.stop_reason == "quality_threshold"
    assert report.quality_history == [0.4, 0.6, 0.9]
    assert fake_server.count("JudgeAnswer") == 3


async def test_never_passes_max_iterations(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    script.judge_scores = [1]
    report = await run_research(client, task_queue, max_iterations=4, questions_per_iteration=1)

    assert report.iterations == 4
    assert report.stop_reason == "max_iterations"
    assert fake_server.count("GapAnswer") == 4
    assert fake_server.count("JudgeAnswer") == 4


async def test_questions_of_one_iteration_run_concurrently(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    fake_server.set_delay("RetrievalAnswer", 0.8)
    await run_research(client, task_queue, max_iterations=1, questions_per_iteration=3)

    answers = fake_server.calls("RetrievalAnswer")
    assert len(answers) == 3
    latest_start = max(r.started_at for r in answers)
    earliest_end = min(r.finished_at for r in answers if r.finished_at is not None)
    # All three were in flight at the same moment: concurrent, not one after another.
    assert latest_start < earliest_end


async def test_every_citation_resolves_to_a_retrieved_source(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    report = await run_research(client, task_queue, max_iterations=2, questions_per_iteration=2)

    body = report.markdown.split("## Sources")[0]
    numbers = cited_numbers(body)
    assert numbers, "the report cites something"
    # One number per document, 1..m in order of first use; every passage cited has one.
    documents = {s.source.document or s.source.location for s in report.sources}
    assert sorted(numbers) == list(range(1, len(documents) + 1))
    assert {s.number for s in report.sources} == set(numbers)
    assert f"[{BOGUS_CITATION}]" not in report.markdown
    assert report.grounding is not None and report.grounding.body.citations_removed >= 1
    # Each cited source was shown to the model in a retrieval prompt of this very run, and
    # its citation is backed by the text the model saw there.
    retrieval_prompts = "\n".join(r.prompt for r in fake_server.calls("RetrievalAnswer"))
    for numbered in report.sources:
        location = numbered.source.location.replace("&", "&amp;").replace('"', "&quot;")
        assert f'location="{location}"' in retrieval_prompts
        assert numbered.source.provider == "local"
        seen = " ".join(numbered.source.evidence[:200].split())
        assert seen and seen in " ".join(retrieval_prompts.split())
        listed = re.search(
            rf"^{numbered.number}\. (.+) — (.+?)(?:; cited: .*)?$", report.markdown, re.MULTILINE
        )
        assert listed is not None and listed.group(2) == numbered.source.document


async def test_llm_call_budget_ends_loop_with_a_report_that_says_so(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    # 2 (plan, draft) + 2 iterations x 4 calls + 1 report = 11 calls; the third iteration
    # would not fit, so the run stops after two and still writes its report.
    report = await run_research(
        client,
        task_queue,
        max_iterations=10,
        questions_per_iteration=1,
        max_llm_calls=12,
        json_repair_attempts=0,  # with re-asks, the budget also reserves one per call
    )

    assert report.stop_reason == "llm_call_budget"
    assert report.iterations == 2
    assert report.usage_total.calls <= 12
    assert fake_server.count() <= 12
    assert "stopped early" in report.markdown


@pytest.mark.parametrize(("re_asks", "iterations"), [(0, 2), (1, 1)])
async def test_budget_reserves_room_for_re_asks(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    script: Script,
    re_asks: int,
    iterations: int,
) -> None:
    # An iteration (4 calls) plus the report (1) cost 5, or 10 if every call is re-asked once.
    # After plan and draft (2 calls), a budget of 14 fits two iterations without re-asks
    # (2+4+5 <= 14) but only one when re-asks must stay affordable (2+4+10 > 14).
    report = await run_research(
        client,
        task_queue,
        max_iterations=10,
        questions_per_iteration=1,
        max_llm_calls=14,
        json_repair_attempts=re_asks,
    )

    assert report.iterations == iterations
    assert report.stop_reason == "llm_call_budget"
    assert report.usage_total.calls <= 14


async def test_long_run_continues_as_new_and_keeps_its_state(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    script.judge_scores = [1, 2, 3, 4, 5]
    # Questions on the topic, new each round (an off-topic one would be replaced by an aspect of
    # the question, and with the aspects used up the loop would end before five iterations).
    rounds = iter(range(1, 100))

    def on_topic(request: RecordedRequest) -> dict:
        r = next(rounds)
        return {
            "questions": [
                f"How does a context manager handle case {10 * r + p} (round {r}, part {p})?"
                for p in (1, 2)
            ]
        }

    fake_server.respond("GapAnswer", on_topic)
    workflow_id = f"test-can-{uuid.uuid4().hex[:8]}"
    request = ResearchRequest(
        question=QUESTION,
        config=ResearchConfig.model_validate(
            {"max_iterations": 5, "continue_as_new_every": 2, "evolution": "off"}
        ),
    )
    report = await client.execute_workflow(
        WORKFLOW_NAME, request, id=workflow_id, task_queue=task_queue, result_type=ResearchReport
    )

    # Three runs (iterations 1-2, 3-4, 5) make one research, as if it had never been cut.
    runs = [w async for w in client.list_workflows(f'WorkflowId = "{workflow_id}"')]
    assert len(runs) == 3
    assert report.iterations == 5
    assert report.quality_history == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert report.usage_by_node["gap_analyzer"].calls == 5
    assert report.usage_by_node["research_planner"].calls == 1
    assert fake_server.count("PlanAnswer") == 1 and fake_server.count("DraftAnswer") == 1
    body = report.markdown.split("## Sources")[0]
    assert sorted(cited_numbers(body)) == sorted({s.number for s in report.sources})
    # The last run still sees the first run's findings.
    gaps = fake_server.calls("GapAnswer")
    assert "(round 1, part 1" in gaps[4].prompt


async def test_runaway_model_output_is_cut_with_a_note(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    runaway = {"text": "word " * 1_000, "sources": [1]}
    fake_server.respond("IntegratorAnswer", lambda _: {"claims": [runaway] * 200})
    facts = {"claims": [{"text": "fact", "sources": [1]}] * 5_000}
    fake_server.respond("RetrievalAnswer", lambda _: facts)
    report = await run_research(client, task_queue, max_iterations=1, questions_per_iteration=1)

    # Claims are cut to their bound and counted to theirs, so what later prompts carry is too.
    judged = fake_server.calls("JudgeAnswer")[0].prompt
    assert "word…" in judged and len(judged) < 70_000
    assert len(fake_server.calls("ReportAnswer")[0].prompt) < 140_000
    assert report.iterations == 1
