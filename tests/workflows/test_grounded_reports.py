"""Grounded reports end to end: claims as data with an enum of the prompt's sources, citations
checked against the text their source showed the model, the appendix rules, the judge-stop guard.
Real dev server and worker; the scripted fake LLM stands in for the paid API."""

from __future__ import annotations

import json
import re
import uuid

from temporalio.client import Client

from inspection.profile import profile_history, render_profile
from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.scripted_llm import UNSUPPORTED_CLAIM, Script
from tests.support.runs import QUESTION, run_research
from workflows.citing.citations import report_numbers as cited_numbers
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport


def _schema_of(request: RecordedRequest) -> dict:
    response_format = request.body["response_format"]
    return response_format.get("json_schema", {}).get("schema") or response_format["schema"]


def _source_enums(schema: dict) -> list[list[int]]:
    found: list[list[int]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "enum" in node and all(isinstance(v, int) for v in node["enum"]):
                found.append(node["enum"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found


async def test_claims_may_cite_exactly_the_sources_of_their_prompt(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    await run_research(client, task_queue, max_iterations=1, questions_per_iteration=2)

    for request in fake_server.calls("RetrievalAnswer"):
        shown = [int(n) for n in re.findall(r'<document number="(\d+)"', request.prompt)]
        assert _source_enums(_schema_of(request)) == [shown]
    for name in ("IntegratorAnswer", "ReportAnswer"):
        for request in fake_server.calls(name):
            listed = [int(n) for n in re.findall(r"^\[(\d+)\] ", request.prompt, re.MULTILINE)]
            assert listed and _source_enums(_schema_of(request)) == [listed]


async def test_a_citation_the_cited_text_does_not_back_is_moved_or_removed(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    report = await run_research(client, task_queue, max_iterations=1, questions_per_iteration=1)

    grounding = report.grounding
    assert grounding is not None
    # Each answer's last claim is about bananas, citing a Python passage: not backed.
    assert grounding.findings.unsupported_claims >= 1
    assert grounding.findings.citations_removed >= 1
    answer = report.findings[0].answer
    assert UNSUPPORTED_CLAIM in answer and "*(no retrieved source supports this)*" in answer
    banana = answer[answer.index(UNSUPPORTED_CLAIM) :]
    assert not cited_numbers(banana)
    # The claims taken from the documents keep their citations, each backed by its evidence.
    assert grounding.findings.citations_kept >= 1
    assert grounding.body.mean_support >= grounding.threshold
    assert json.loads(report.model_dump_json())["grounding"]["body"]["claims"] > 0


async def test_findings_reach_the_reader_as_research_notes(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    # A report whose only claim cites nothing a finding cites: the appendix rule `auto` adds
    # the findings; `never` leaves them out; the report JSON keeps them either way.
    script.report_answer = {
        "title": "Thin report",
        "summary": [{"text": "Context managers exist.", "sources": [1]}],
        "sections": [{"heading": "Basics", "claims": [{"text": "See above.", "sources": [1]}]}],
    }
    auto = await run_research(client, task_queue, max_iterations=1, questions_per_iteration=2)
    assert auto.grounding is not None and auto.grounding.appendix
    notes = auto.markdown.split("## Research notes", 1)[1].split("## Sources", 1)[0]
    for finding in auto.findings:
        assert finding.question in notes.replace("`", "")  # names are shown as code
    assert cited_numbers(notes), "the notes carry their citations"
    listed = auto.markdown.split("## Sources", 1)[1]
    assert all(f"\n{n}. " in f"\n{listed}" for n in cited_numbers(notes))

    never = await run_research(
        client,
        task_queue,
        max_iterations=1,
        questions_per_iteration=2,
        report={"appendix": "never"},
    )
    assert "## Research notes" not in never.markdown and never.findings


async def test_the_judge_cannot_stop_on_a_draft_no_source_backs(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    script.judge_done_at = 1  # the judge says "done" from its first call on
    fake_server.respond(
        "IntegratorAnswer",
        lambda r: {"claims": [{"text": "Pineapples grow on Mars.", "sources": [1]}]},
    )
    report = await run_research(client, task_queue, max_iterations=3, questions_per_iteration=1)

    assert report.iterations == 3 and report.stop_reason == "max_iterations"
    assert report.grounding is not None and len(report.grounding.notes) == 3
    assert "judge would stop (judge_done)" in report.grounding.notes[0]


async def test_a_grounded_draft_lets_the_judge_stop(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    script.judge_done_at = 1
    report = await run_research(client, task_queue, max_iterations=3, questions_per_iteration=1)
    assert report.iterations == 1 and report.stop_reason == "judge_done"
    assert report.grounding is not None and not report.grounding.notes


async def test_profile_shows_the_citation_check(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    request = ResearchRequest(
        question=QUESTION, config=ResearchConfig(max_iterations=1, evolution="off")
    )
    handle = await client.start_workflow(
        WORKFLOW_NAME, request, id=f"grounded-{uuid.uuid4().hex[:8]}", task_queue=task_queue
    )
    report = ResearchReport.model_validate(await handle.result())
    profile = profile_history(await handle.fetch_history())

    body = report.grounding.body if report.grounding else None
    assert body is not None and profile.grounding is not None
    line = render_profile(profile)
    assert f"citations: {body.claims_supported} of {body.claims} claims backed" in line
    assert f"removed {body.citations_removed}" in line


async def test_a_model_that_backs_nothing_still_hands_over_the_evidence(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    """What the 135M model does: claims no source supports. The findings carry the retrieved
    sentence that best matches each question, and every report section a cited claim."""
    fake_server.respond(
        "RetrievalAnswer", lambda _: {"claims": [{"text": "Python", "sources": [1]}]}
    )
    script.report_answer = {
        "title": "Report",
        "summary": [{"text": "1234567890", "sources": [1]}],
        "sections": [{"heading": "Mechanism", "claims": [{"text": "python", "sources": [1]}]}],
    }
    report = await run_research(client, task_queue, max_iterations=1, questions_per_iteration=2)

    for finding in report.findings:
        quote = re.search(r'^> "(.+)"\[(\d+)\]$', finding.answer, re.MULTILINE)
        assert quote is not None, finding.answer
        assert int(quote.group(2)) in finding.source_numbers
    # The lead and the section had nothing supported: both are written from the evidence.
    assert report.grounding is not None and report.grounding.sections_filled == 2
    assert report.grounding.unsupported_omitted >= 2
    section = report.markdown.split("## Mechanism", 1)[1].split("##", 1)[0]
    assert cited_numbers(section)
    body = report.markdown.split("## Research notes", 1)[0]
    assert "1234567890" not in body and "python[" not in body.lower()
    evidence = " ".join(" ".join(s.source.evidence.split()) for s in report.sources)
    evidence = re.sub(r"[`\"]", "", evidence)  # names are shown as code, not quoted
    for sentence in re.findall(r"([^\]]+?)\[\d+(?:, [^\]]+)?\]", section.strip()):
        assert re.sub(r"[`\"]", "", sentence.strip()) in evidence, sentence  # names as code
    assert "## Research notes" in report.markdown
