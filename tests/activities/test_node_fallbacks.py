"""A model that never gives a valid answer cannot fail the run (activities/fallbacks.py), end to
end: real dev server and worker over the demo corpus, the fake LLM cutting every answer of the
chosen nodes at its token limit, as the embedded 135M model did.

The first attempt still fails (Temporal retries it); on the second each node
answers with its fallback, and the reader still gets a report citing retrieved sources.
"""

from __future__ import annotations

import re

from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from tests.support.runs import run_research
from workflows.citing.citations import report_numbers
from workflows.failures import REASON_MAX_CHARS, innermost_message, root_message
from workflows.text_checks import is_good_heading

CUT = '{"claims": [{"text": "The with statement'  # JSON cut at the token limit
RETRY = {"maximum_attempts": 2, "initial_interval_seconds": 0.1, "maximum_interval_seconds": 0.1}
PLANNED = (
    {"title": "How the statement runs", "focus": "the with statement"},
    {"title": "The protocol", "focus": "__enter__ and __exit__"},
)
NEVER_VALID = (
    "PlanAnswer",
    "DraftAnswer",
    "GapAnswer",
    "RetrievalAnswer",
    "IntegratorAnswer",
    "VariantCritique",
    "MergedQuestions",
)


async def test_nodes_without_a_valid_answer_fall_back_and_the_run_completes(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    for name in NEVER_VALID:
        fake_server.respond(name, lambda _: CUT)
    report = await run_research(
        client,
        task_queue,
        max_iterations=2,
        questions_per_iteration=2,
        json_repair_attempts=1,
        retry=RETRY,
        evolution="cheap",  # questions: 2 variants judged and merged
    )

    # Each node was asked on every attempt before falling back: 2 attempts x (1 + 1 re-ask).
    assert fake_server.count("PlanAnswer") == 4
    assert fake_server.count("MergedQuestions") == 4 * report.iterations
    assert report.iterations == 2
    # No plan: the question's parts are its sections.
    assert [s.title for s in report.plan.sections] and all(
        is_good_heading(s.title) for s in report.plan.sections
    )
    # No search questions: the product asked its own, about the question, each once; the
    # second iteration, with none of its own left to ask, stopped instead of repeating one.
    asked = [qa.question for qa in report.findings]
    assert len(asked) >= 2 and len(set(asked)) == len(asked), asked
    assert report.stop_reason in {"max_iterations", "no_new_questions"}
    # (or a name the evidence about it mentions: workflows/leads.py)
    assert all(re.search(r"context|with|statement|implement|`__", q, re.I) for q in asked), asked
    # No answer: each finding quotes its passages, each sentence citing the one it is from.
    for finding in report.findings:
        assert finding.source_numbers and report_numbers(finding.answer), finding
    # The reader gets a cited report from the evidence.
    assert report.sources
    assert report_numbers(report.markdown.split("\n## Research notes", 1)[0])


async def test_a_node_that_answers_on_its_retry_keeps_its_answer(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    """The fallback is for the last attempt only: a model that answers on the retry is heard."""
    calls = {"n": 0}

    def cut_once(request: object) -> str | dict[str, object]:
        calls["n"] += 1
        if calls["n"] <= 2:  # the first attempt's answer and its re-ask
            return CUT
        return {"sections": [PLANNED[0], PLANNED[1]]}

    fake_server.respond("PlanAnswer", cut_once)
    report = await run_research(
        client, task_queue, max_iterations=1, json_repair_attempts=1, retry=RETRY
    )
    assert fake_server.count("PlanAnswer") == 3
    assert [s.title for s in report.plan.sections][:2] == ["How the statement runs", "The protocol"]


async def test_a_node_falls_back_after_two_attempts(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    """A local model answers one prompt the same way: the embedded model's report reviser
    spent 5 attempts x 3 tries on the same cut answer. However many attempts the retry policy
    allows, a node without a valid answer falls back on its second."""
    fake_server.respond("PlanAnswer", lambda _: CUT)
    report = await run_research(
        client,
        task_queue,
        max_iterations=1,
        json_repair_attempts=1,
        retry={**RETRY, "maximum_attempts": 5},
    )
    assert fake_server.count("PlanAnswer") == 4  # 2 attempts x (1 + 1 re-ask), not 5 x 2
    assert report.plan.sections  # the question's parts: the fallback plan


def test_a_failure_is_reported_by_its_innermost_reason() -> None:
    """An ActivityError says only which activity failed; the CLI prints its cause's message
    whole, the workflow keeps it cut to REASON_MAX_CHARS (one rule: workflows/failures.py)."""
    reason = "LLM endpoint refused the key: set TTDR_LLM_API_KEY " + "x" * 400
    outer = ApplicationError("activity task failed")
    outer.__cause__ = ApplicationError(reason)
    assert innermost_message(outer) == reason
    assert root_message(outer) == reason[:REASON_MAX_CHARS]
    assert innermost_message(ValueError("plain")) == "plain"
