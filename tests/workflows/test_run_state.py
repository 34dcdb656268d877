"""RunState is the whole run state and the continue-as-new payload: every field survives the trip
through the data converter, the old carry-over still reads, and the node table and call seeds
hold their promises. Fast: no server."""

from __future__ import annotations

import itertools
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.nodes import ResearchActivities
from workflows.calls import CallId, identity_code, identity_seed
from workflows.citing.grounding import GroundingFigures
from workflows.config import (
    ACTIVITY_NAMES,
    EVOLUTION_NODE,
    NODE_NAMES,
    NodeTimeouts,
    ResearchConfig,
)
from workflows.continuation_models import ContinuationState, PreviousClaim
from workflows.models import (
    EvolutionRecord,
    LLMUsage,
    PlanSection,
    QAPair,
    ResearchPlan,
    Source,
)
from workflows.state import ControlState, PlanReviewState, RunInput, RunState


def every_field_set() -> RunState:
    """A state in which no field (nested control included) has its default value."""
    source = Source(
        id="s1", title="T", location="/d.md", provider="local", retrieved_at="t", quote="q"
    )
    figures = GroundingFigures(
        claims=3,
        claims_supported=2,
        citations_kept=2,
        citations_reattributed=1,
        citations_removed=1,
        unsupported_claims=1,
        support_sum=1.5,
    )
    return RunState(
        phase="denoising",
        node="quality_assessor",
        iteration=3,
        plan=ResearchPlan(sections=[PlanSection(title="A", focus="b")]),
        draft="# Draft [1]",
        findings=[QAPair(iteration=1, question="q?", answer="a [1]", source_numbers=[1])],
        sources=[source],
        retrieved_ids=["s0", "s1"],
        usage_by_node={"gap_analyzer": LLMUsage(calls=2, input_tokens=30, output_tokens=4)},
        quality_history=[0.3, 0.5],
        critiques=["thin"],
        evolution=[
            EvolutionRecord(
                unit="questions", iteration=1, item=1, step="judge", variant=2, round=1, score=0.4
            )
        ],
        stop_reason="judge_done",
        seed_scheme="identity",
        calls_started=17,
        control=ControlState(
            paused=True,
            pause_at_next=True,
            releases=4,
            held_before="gap_analyzer",
            breakpoints=["information_integrator"],
            pending_feedback=["more on __exit__"],
            feedback_applied=["earlier note"],
        ),
        continued=2,
        findings_grounding=figures,
        draft_grounding=figures,
        grounding_notes=["went on: 2 claims unsupported"],
        plan_review=PlanReviewState(status="approved", guidance="focus on errors"),
        anchored=True,
        fresh_evidence=True,
        follow_leads=True,
        plan_on_topic=True,
        quote_on_subject=True,
        spares_on_question=True,
        bare_sources=True,
        report_fallback="the report node failed: timeout",
        continuation=ContinuationState(
            kind="watch",
            parent_id="watch-x-2026-12-04T10:00:00Z",
            parent_question="What changed?",
            since="2026-12-04 10:00 UTC",
            schedule_id="watch-x",
            notify_url="https://hooks.example.com/t",
            numbers={"/d.md": 2},
            parent_questions=["q?"],
            previous_claims=[
                PreviousClaim(
                    text="A [1]",
                    documents=["/d.md"],
                    numbers=[1],
                    supported_now=True,
                    rechecked=True,
                )
            ],
            inherited_sources=1,
            searches=3,
        ),
    )


def defaults_left(model: BaseModel) -> list[str]:
    left = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel) and type(value) is not ResearchPlan:
            left += [f"{name}.{inner}" for inner in defaults_left(value)]
        elif value == field.get_default(call_default_factory=True):
            left.append(name)
    return left


def through_the_converter(value: Any, as_type: type) -> Any:
    converter = pydantic_data_converter.payload_converter
    [payload] = converter.to_payloads([value])
    [back] = converter.from_payloads([payload], [as_type])
    return back


def test_the_probe_state_sets_every_field() -> None:
    # When RunState gains a field, set it in every_field_set(): the round trip then covers it.
    assert defaults_left(every_field_set()) == []


def test_every_field_survives_the_continue_as_new_payload() -> None:
    state = every_field_set()
    request = RunInput(question="How?", config=ResearchConfig(), resume=state)

    back = through_the_converter(request, RunInput)

    assert isinstance(back.resume, RunState)
    for name in RunState.model_fields:
        assert getattr(back.resume, name) == getattr(state, name), name
    for name in ControlState.model_fields:
        assert getattr(back.resume.control, name) == getattr(state.control, name), name
    assert back == request


def test_the_carry_over_of_older_runs_still_reads() -> None:
    """The ResearchCheckpoint that runs continued as new with before RunState existed."""
    state = every_field_set()
    old = {
        "next_iteration": 4,
        "plan": state.plan.model_dump(),
        "draft": state.draft,
        "findings": [f.model_dump() for f in state.findings],
        "sources": [s.model_dump() for s in state.sources],
        "retrieved_ids": state.retrieved_ids,
        "usage_by_node": {k: v.model_dump() for k, v in state.usage_by_node.items()},
        "quality_history": state.quality_history,
        "critiques": state.critiques,
        "evolution": [r.model_dump() for r in state.evolution],
        "calls_started": 17,
        "breakpoints": ["gap_analyzer"],
        "pending_feedback": ["x"],
        "feedback_applied": ["y"],
        "paused": True,
        "continued": 1,
    }
    request = {"question": "How?", "config": {}, "resume": old}

    resumed = RunInput.model_validate(request).resume

    assert resumed is not None
    assert (resumed.iteration, resumed.phase, resumed.seed_scheme) == (3, "denoising", "counter")
    assert (resumed.plan, resumed.findings, resumed.sources) == (
        state.plan,
        state.findings,
        state.sources,
    )
    assert resumed.calls_started == 17 and resumed.continued == 1
    assert resumed.control.paused and resumed.control.breakpoints == ["gap_analyzer"]
    assert resumed.control.pending_feedback == ["x"] and resumed.control.feedback_applied == ["y"]


def test_a_fresh_request_has_no_state_to_resume() -> None:
    assert RunInput.model_validate({"question": "How?"}).resume is None


def test_usage_and_retrieved_ids_helpers() -> None:
    state = RunState()
    state.add_usage("a", LLMUsage(calls=1, input_tokens=2))
    state.add_usage("a", LLMUsage(calls=1, output_tokens=3))
    state.add_usage("b", LLMUsage(calls=1))
    for sid in ("m", "c", "m", "x"):
        state.add_retrieved(sid)

    assert state.usage_by_node["a"] == LLMUsage(calls=2, input_tokens=2, output_tokens=3)
    assert state.total_usage() == LLMUsage(calls=3, input_tokens=2, output_tokens=3)
    assert state.retrieved_ids == ["c", "m", "x"]


# ---------------------------------------------------------------- the node table


def test_the_node_table_drives_timeouts_and_registration() -> None:
    timeouts = set(NodeTimeouts.model_fields) - {"heartbeat_seconds"}
    assert timeouts == set(NODE_NAMES)
    registered = [
        activity._Definition.must_from_callable(fn).name
        # all() only names the methods: no LLM client or search provider is needed for that.
        for fn in ResearchActivities.__new__(ResearchActivities).all()
    ]
    assert sorted(registered) == sorted(ACTIVITY_NAMES)
    assert all(name.startswith(f"{EVOLUTION_NODE}.") for name in ACTIVITY_NAMES[len(NODE_NAMES) :])


# ---------------------------------------------------------------- seeds by call identity


def test_every_call_identity_within_the_config_bounds_has_its_own_seed() -> None:
    limits = ResearchConfig.model_fields
    max_iterations = limits["max_iterations"].metadata[1].le
    max_questions = limits["questions_per_iteration"].metadata[1].le
    codes = {
        identity_code(name, iteration, CallId(item, variant, round_))
        for name, iteration, item, variant, round_ in itertools.product(
            ACTIVITY_NAMES,
            range(max_iterations + 1),
            range(1, max_questions + 1),
            range(0, 9),
            range(0, 6),
        )
    }
    assert len(codes) == len(ACTIVITY_NAMES) * (max_iterations + 1) * max_questions * 9 * 6
    assert max(codes) < 2**31
    # The base seed shifts every call's seed; the top of the range wraps, still distinct.
    top = 2**31 - 1
    assert identity_seed(top, "gap_analyzer", 1, CallId()) != identity_seed(
        top, "gap_analyzer", 2, CallId()
    )
