"""The run-wide source registry (workflows/sources.py), and the workflow's bound on model text:
an answer of any size is cut before any citation work, so it cannot wedge a run. The registry's
findings and checks, pure: which citations an answer keeps, the quote that stands in when the
model backs nothing, and the report settings (threshold, policy) reaching every check."""

from __future__ import annotations

import json
import uuid
from typing import Any

from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.scripted_llm import Script
from workflows.citing.grounding import UNSUPPORTED_MARK
from workflows.config import (
    EVOLUTION_STEPS,
    EVOLVABLE_UNITS,
    ReportConfig,
    ResearchConfig,
    evolution_activity,
)
from workflows.models import (
    ANSWER_MAX_CHARS,
    EVIDENCE_MAX_CHARS,
    EVIDENCE_RUN_MAX_CHARS,
    ResearchRequest,
    RetrievalOutput,
    Source,
)
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport
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


# ---------------------- findings and checks: citations kept, the standing-in quote, report settings


HEAP = "Heaps keep the smallest element at the root."
JSON = "json.dumps serializes objects to JSON text with an optional indent."


def source_holding(n: int, evidence: str) -> Source:
    return Source(
        id=f"s{n}",
        title=f"T{n}",
        location=f"/c/{n}.md",
        provider="local",
        retrieved_at="2026-01-01T00:00:00Z",
        evidence=evidence,
    )


def registry(report: ReportConfig | None = None) -> tuple[RunState, SourceRegistry]:
    state = RunState()
    sources = SourceRegistry(state, report)
    assert sources.number_of(source_holding(1, HEAP)) == 1
    assert sources.number_of(source_holding(2, JSON)) == 2
    return state, sources


def test_a_backed_answer_keeps_every_registered_citation_and_no_quote() -> None:
    state, sources = registry()
    qa = sources.finding(
        3, "What do heaps keep?", f"{HEAP}[1] {JSON}[2]", [source_holding(1, HEAP)]
    )
    assert qa.answer == f"{HEAP}[1] {JSON}[2]"
    assert (qa.iteration, qa.question, qa.source_numbers) == (3, "What do heaps keep?", [1, 2])
    figures = state.findings_grounding
    assert (figures.claims, figures.claims_supported, figures.citations_kept) == (2, 2, 2)


def test_numbers_that_are_not_registered_sources_are_dropped() -> None:
    _, sources = registry()
    qa = sources.finding(1, "q", f"{HEAP}[3]\n\n{JSON}[0][2]")
    # [3] and [0] name no source: dropped; the heap claim then goes to the source that backs it.
    assert qa.answer == f"{HEAP}[1]\n\n{JSON}[2]"
    assert qa.source_numbers == [1, 2]


def test_an_answer_that_backs_nothing_gets_the_best_retrieved_sentence_as_a_quote() -> None:
    state, sources = registry()
    retrieved = [
        source_holding(3, "Unrelated words here. Heaps keep the smallest element at the root.")
    ]
    qa = sources.finding(1, "What do heaps keep at the root?", "Tomatoes grow in soil.", retrieved)
    assert qa.answer == (
        f"Tomatoes grow in soil. {UNSUPPORTED_MARK}\n\n"
        '> "Heaps keep the smallest element at the root."[3]'
    )
    assert qa.source_numbers == [3] and len(sources) == 3
    figures = state.findings_grounding
    assert (figures.claims, figures.claims_supported, figures.unsupported_claims) == (2, 1, 1)
    # Figures add up over findings.
    sources.finding(2, "q", f"{HEAP}[1]")
    assert (state.findings_grounding.claims, state.findings_grounding.claims_supported) == (3, 2)


def test_nothing_retrieved_means_no_quote() -> None:
    _, sources = registry()
    qa = sources.finding(1, "What do heaps keep?", "Tomatoes grow in soil.", [])
    assert qa.answer == f"Tomatoes grow in soil. {UNSUPPORTED_MARK}" and qa.source_numbers == []


def test_the_report_settings_reach_every_check() -> None:
    _, dropping = registry(ReportConfig(unsupported="drop"))
    assert dropping.ground("Tomatoes grow in soil.") == ("", dropping.ground("x")[1])
    assert dropping.ground("Tomatoes grow in soil.", policy="keep")[0] == "Tomatoes grow in soil."
    _, strict = registry(ReportConfig(support_threshold=1.0))
    text, figures = strict.ground("Heaps keep the smallest element first.[1]")
    assert text == f"Heaps keep the smallest element first. {UNSUPPORTED_MARK}"
    assert figures.citations_removed == 1
    _, default = registry()
    assert default.ground("Heaps keep the smallest element first.[1]")[0].endswith("[1]")


def test_any_registered_source_may_take_over_a_citation() -> None:
    _, sources = registry()
    text, figures = sources.ground(f"{HEAP}[2] and [7]")
    assert text.startswith(f"{HEAP}[1]")
    assert figures.citations_reattributed == 1 and figures.citations_removed >= 1


def test_the_run_wide_evidence_bound_is_exact_and_a_quote_stands_in_after_it() -> None:
    state = RunState()
    sources = SourceRegistry(state)
    size = 1_000
    assert size <= EVIDENCE_MAX_CHARS and EVIDENCE_RUN_MAX_CHARS % size == 0
    full = "e" * size
    fits = EVIDENCE_RUN_MAX_CHARS // size
    for n in range(1, fits + 1):
        assert sources.number_of(source_holding(n, full)) == n
    assert sum(len(s.evidence) for s in state.sources) == EVIDENCE_RUN_MAX_CHARS  # at the bound
    over = source_holding(fits + 1, "x").model_copy(update={"quote": "the quote"})
    assert sources.number_of(over) == fits + 1
    assert state.sources[-1].evidence == "" and state.sources[-1].quote == "the quote"
    # The bound holds for the registry rebuilt from the state (continue-as-new).
    again = SourceRegistry(state)
    assert again.number_of(source_holding(fits + 2, "y")) == fits + 2
    assert state.sources[-1].evidence == ""
    assert again.evidence.texts[fits + 1] == "the quote"  # what its citations are checked against


def test_numbers_views_and_evidence_texts_agree() -> None:
    _, sources = registry()
    assert [(s.number, s.source.id) for s in sources.all()] == [(1, "s1"), (2, "s2")]
    assert [s.source.id for s in sources.numbered([2])] == ["s2"]
    assert dict(sources.evidence.texts) == {1: HEAP, 2: JSON}
    assert 0 not in sources.evidence.texts and 3 not in sources.evidence.texts


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


def test_listed_sources_keep_what_a_node_reads_but_not_the_evidence() -> None:
    state = RunState(bare_sources=True)
    registry = SourceRegistry(state)
    quoted = source("a").model_copy(
        update={"quote": "The with statement calls __exit__.", "evidence": "x " * 500}
    )
    registry.globalise(RetrievalOutput(answer="[1] [2]", sources=[quoted, source("b")]))

    listed = registry.listed()

    assert [(n.number, n.source.title, n.source.location) for n in listed] == [
        (1, "Ta", "/docs/a.md"),
        (2, "Tb", "/docs/b.md"),
    ]
    assert listed[0].source.quote == quoted.quote and listed[0].source.evidence == ""
    # The state (what grounding reads) keeps the evidence.
    assert state.sources[0].evidence == quoted.evidence
    assert [n.number for n in registry.cited_in(["only [2]"])] == [2]
    assert registry.cited_in(["only [1]"])[0].source.evidence == ""
    assert registry.listed(quotes=False)[0].source.quote == ""
    # A run started before the patch gets its sources whole, as it did.
    state.bare_sources = False
    assert registry.listed(quotes=False)[0].source == state.sources[0]


def _inputs(history_events: list[HistoryEvent], activity: str) -> list[dict[str, Any]]:
    return [
        json.loads(e.activity_task_scheduled_event_attributes.input.payloads[0].data)
        for e in history_events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == activity
    ]


async def test_only_the_report_node_is_sent_the_sources_evidence(
    client: Client, task_queue: str, fake_server: FakeLLMServer
) -> None:
    # Two iterations (the second integrator holds the first's sources), and judges of the
    # answers and the report, whose contexts list the sources they may cite.
    off = {"variants": 1, "revision_steps": 0}
    judged = {"variants": 2, "revision_steps": 1}
    evolution = {unit: off for unit in EVOLVABLE_UNITS} | {"answers": judged, "report": judged}
    config = {"max_iterations": 2, "questions_per_iteration": 1, "evolution": evolution}
    handle = await client.start_workflow(
        WORKFLOW_NAME,
        ResearchRequest(
            question="How does the with statement work?", config=ResearchConfig(**config)
        ),
        id=f"bare-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=ResearchReport,
    )
    report = await handle.result()
    events = list((await handle.fetch_history()).events)

    integrated = _inputs(events, "information_integrator")
    judged_contexts = [
        i["context"]["sources"]
        for unit in ("answers", "report")
        for step in EVOLUTION_STEPS
        for i in _inputs(events, evolution_activity(unit, step))
    ]
    reported = _inputs(events, "report_synthesizer")
    assert len(integrated) == 2 and integrated[1]["sources"], "the second revision lists sources"
    listed = [s for i in integrated for s in i["sources"]]
    quoted = [s for ctx in judged_contexts for s in ctx]
    assert all(s["source"]["evidence"] == "" for s in listed + quoted)
    assert all(s["source"]["title"] and s["source"]["location"] for s in listed + quoted)
    # The integrator lists sources by number, title and location; the judges read quotes.
    assert all(s["source"]["quote"] == "" for s in listed)
    assert any(s["source"]["quote"] for s in quoted)
    # The report node reads the evidence (its span's grounding figures); the workflow's own
    # check of every claim still has it: the report cites sources that back it.
    assert any(s["source"]["evidence"] for r in reported for s in r["sources"])
    assert judged_contexts and any(judged_contexts), "the judges were shown sources"
    assert report.sources and report.grounding and report.grounding.body.claims_supported > 0
