"""What a run shows while it runs and what it returns: progress, control status, the state view,
the citation check's summary and the report. Like workflows/models.py, everything here crosses
a boundary (queries, updates, the workflow result) and is kept bounded.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.citing.grounding import GroundingFigures
from workflows.models import EvolutionRecord, LLMUsage, NumberedSource, QAPair, ResearchPlan


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# plan_review: the run waits for a person to review its plan (ResearchConfig.review_plan).
Phase = Literal["planning", "plan_review", "drafting", "denoising", "reporting", "completed"]
StopReason = Literal[
    "judge_done",
    "quality_threshold",
    "max_iterations",
    "llm_call_budget",
    "token_budget",
    "no_new_questions",
    "cost_budget",
]


class ResearchProgress(_Model):
    phase: Phase
    node: str | None = Field(description="activity running last: a node or an evolution step")
    iteration: int
    max_iterations: int
    quality_history: list[float]
    questions_asked: int
    sources_found: int
    usage: LLMUsage
    stop_reason: StopReason | None = None
    paused: bool = False
    held_before: str | None = None
    plan_review: str | None = Field(None, description="waiting, approved, replaced, timed_out")
    proposed_plan: ResearchPlan | None = Field(
        None, description="the plan waiting for review (only while plan_review is waiting)"
    )


class ControlStatus(_Model):
    """What a pause / resume / step / breakpoint / feedback update answers."""

    paused: bool
    held_before: str | None = Field(description="activity the run is waiting before, if any")
    breakpoints: list[str]
    pending_feedback: list[str]
    message: str


class ResearchState(_Model):
    """The whole live state, for `client.py state` (drafts can be long: this is a query result,
    not history)."""

    progress: ResearchProgress
    control: ControlStatus
    question: str
    plan: ResearchPlan | None
    draft: str
    findings: list[QAPair]
    sources: list[NumberedSource]
    critiques: list[str] = Field(description="the quality judge's critiques, one per iteration")
    feedback_applied: list[str]
    evolution: list[EvolutionRecord]


class GroundingSummary(_Model):
    """How well the report is backed: every citation decision, counted
    (workflows/citing/grounding.py)."""

    threshold: float = Field(description="support score a citation needs to be kept")
    body: GroundingFigures = Field(description="the report body's claims and citations")
    findings: GroundingFigures = Field(description="all answers' claims and citations")
    appendix: bool = Field(False, description="whether the Research notes appendix was added")
    sections_filled: int = Field(
        0,
        description="parts of the report (lead, sections) that had no supported claim and were "
        "written from the best evidence sentences for their topic, each cited",
    )
    aspects_added: int = Field(
        0,
        description="parts of the question the body did not cover, given a section written "
        "from the evidence sentences best matching them",
    )
    notes: list[str] = Field([], description="why the loop went on when the judge would stop")
    unsupported_omitted: int = Field(
        0, description="the model's statements no source supports, left out of the body"
    )
    headings_replaced: int = Field(
        0, description="junk, empty or repeated headings replaced from the plan and question"
    )
    sections_dropped: int = Field(
        0, description="sections with no supported claim and no evidence for their topic"
    )
    extractive_fallback: str = Field(
        "",
        description="why the whole report was built from the draft and the evidence, when the "
        "report node gave no usable answer; empty when the model wrote it",
    )
    language: str = Field("en", description="the language of the report's own labels")
    repeats_omitted: int = Field(
        0, description="claims the body repeated word for word, printed once"
    )


class ResearchReport(_Model):
    question: str
    markdown: str
    plan: ResearchPlan
    sources: list[NumberedSource] = Field(description="the sources cited, as numbered in text")
    sources_retrieved: int
    removed_citations: int
    iterations: int
    quality_history: list[float]
    stop_reason: StopReason
    usage_by_node: dict[str, LLMUsage]
    usage_total: LLMUsage
    evolution: list[EvolutionRecord] = []
    findings: list[QAPair] = Field([], description="every question asked and its checked answer")
    grounding: GroundingSummary | None = None
