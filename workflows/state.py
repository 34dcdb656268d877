"""RunState: everything a research run knows, in one model — and exactly what it carries over
when it continues as new.

Continue-as-new starts a fresh history; the only thing that survives is the new run's input.
Keeping *all* mutable state in one pydantic model, and passing that model as the input, means
no field can be forgotten on the way (a hold requested by `step`, the seed counter, the sources
retrieved…): there is no list of fields to copy by hand. tests/workflows/test_run_state.py
round-trips every field through the data converter and through a real continue-as-new.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workflows.citing.grounding import GroundingFigures
from workflows.continuation_models import ContinuationRequest, ContinuationState
from workflows.models import (
    EvolutionRecord,
    LLMUsage,
    QAPair,
    ResearchPlan,
    ResearchRequest,
    Source,
)
from workflows.results import Phase, StopReason

# How a call's sampling seed is chosen: "counter" (seed + n-th call started, the scheme of runs
# started before the seed-by-call-identity patch) or "identity" (seed from the call's identity,
# workflows/calls.py). Decided once per research and carried across continue-as-new.
SeedScheme = Literal["counter", "identity"]


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ControlState(_State):
    """Live control by the user (client.py pause / resume / step / break / feedback)."""

    paused: bool = False
    # Set by `step`: hold again before the next node call, wherever (and in whichever run of a
    # continued research) that happens.
    pause_at_next: bool = False
    releases: int = Field(0, description="resume/step count: a hold ends when it grows")
    held_before: str | None = Field(None, description="activity the run is held before")
    breakpoints: list[str] = Field([], description="nodes (or self_evolution_enhancer), sorted")
    pending_feedback: list[str] = Field([], description="to be used by the next iteration")
    feedback_applied: list[str] = []


class PlanReviewState(_State):
    """The plan review (ResearchConfig.review_plan): None when the run has none."""

    status: Literal["waiting", "approved", "replaced", "timed_out"] | None = None
    guidance: str = ""


class RunState(_State):
    """The research run's state; the workflow keeps nothing else that changes."""

    phase: Phase = "planning"
    node: str | None = Field(None, description="activity started last")
    iteration: int = Field(0, description="denoising step under way (or last done)")
    plan: ResearchPlan | None = None
    draft: str = ""
    findings: list[QAPair] = []
    sources: list[Source] = Field([], description="run-wide registry: number n is sources[n-1]")
    retrieved_ids: list[str] = Field([], description="every source id retrieved, sorted")
    usage_by_node: dict[str, LLMUsage] = {}
    quality_history: list[float] = []
    critiques: list[str] = []
    evolution: list[EvolutionRecord] = []
    stop_reason: StopReason | None = None
    seed_scheme: SeedScheme = "counter"
    anchored: bool = Field(
        False,
        description="junk queries and plan titles repaired, retrieval anchored on the question, "
        "a report that cannot be written built from the evidence (ANCHORED_PATCH)",
    )
    fresh_evidence: bool = Field(
        False,
        description="retrieval passes over passages the run holds; a search question cut out "
        "of a sentence or broken is replaced; a judge without a valid answer does not fail "
        "the run (FRESH_EVIDENCE_PATCH)",
    )
    follow_leads: bool = Field(
        False, description="names the evidence mentions are searched next (LEADS_PATCH)"
    )
    plan_on_topic: bool = Field(
        False,
        description="a plan section that shares no word with the question is repaired "
        "(PLAN_ON_TOPIC_PATCH)",
    )
    quote_on_subject: bool = Field(
        False,
        description="an answer's quote for a question naming a document comes from that "
        "document or names it (QUOTE_ON_SUBJECT_PATCH)",
    )
    spares_on_question: bool = Field(
        False,
        description="a search question echoing the prompts is replaced, and a plan section "
        "that is only such an echo is no spare (SPARES_ON_QUESTION_PATCH)",
    )
    bare_sources: bool = Field(
        False,
        description="the integrator and the judges get the sources without their evidence, "
        "which only grounding reads (BARE_SOURCES_PATCH)",
    )
    calls_started: int = 0
    control: ControlState = ControlState()
    plan_review: PlanReviewState = PlanReviewState()
    continued: int = Field(0, description="how many times the run has continued as new")
    findings_grounding: GroundingFigures = GroundingFigures()
    draft_grounding: GroundingFigures | None = Field(
        None, description="the citation check of the latest revised draft"
    )
    grounding_notes: list[str] = Field([], description="why the loop went on past the judge")
    continuation: ContinuationState | None = Field(
        None, description="a follow-up's or watched topic's parent (workflows/continuation.py)"
    )
    report_fallback: str = Field(
        "", description="why the report was built from the draft and the evidence, if it was"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_checkpoint(cls, data: Any) -> Any:
        """Read the carry-over of runs that continued as new before RunState existed (the
        ResearchCheckpoint of that code), so such runs still resume — and replay."""
        if not isinstance(data, dict) or "next_iteration" not in data:
            return data
        old = dict(data)
        iteration = old.pop("next_iteration") - 1
        control = {
            "paused": old.pop("paused", False),
            "breakpoints": old.pop("breakpoints", []),
            "pending_feedback": old.pop("pending_feedback", []),
            "feedback_applied": old.pop("feedback_applied", []),
        }
        return {
            **old,
            "phase": "denoising",
            "iteration": iteration,
            "control": control,
        }

    def add_usage(self, activity_name: str, usage: LLMUsage) -> None:
        self.usage_by_node[activity_name] = self.usage_by_node.get(activity_name, LLMUsage()).plus(
            usage
        )

    def total_usage(self) -> LLMUsage:
        total = LLMUsage()
        for usage in self.usage_by_node.values():
            total = total.plus(usage)
        return total

    def add_retrieved(self, source_id: str) -> None:
        """Keep retrieved_ids a sorted set (the same run always carries the same list)."""
        at = bisect_left(self.retrieved_ids, source_id)
        if at == len(self.retrieved_ids) or self.retrieved_ids[at] != source_id:
            self.retrieved_ids.insert(at, source_id)


class RunInput(ResearchRequest):
    """The workflow's input: the user's request and, when the run is the continuation of a
    longer research (continue-as-new), the whole state it goes on from."""

    resume: RunState | None = None
    # A follow-up or a watched topic's run: the parent by id only (read by an activity).
    continuation: ContinuationRequest | None = None
