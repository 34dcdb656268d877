"""Data that crosses a boundary: workflow input/result, node activity inputs/outputs, progress.

Everything here goes into the Temporal history, so it holds what the next step needs and no more:
no web page bodies (sources carry a short quote), no secrets.
"""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflows.config import EvolutionStep, EvolvableUnit, ResearchConfig

MAX_QUESTION_CHARS = 2000
# Bidi embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069): they reorder how
# the text is shown (the question could read differently in a terminal or the Web UI): removed.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
QUOTE_MAX_CHARS = 300
# The retrieved text each cited source keeps for the citation check (workflows/citing/grounding.py):
# the passage the answering model saw, cut to this. The registry keeps at most
# EVIDENCE_RUN_MAX_CHARS of it per run (workflows/sources.py); later sources keep their quote.
EVIDENCE_MAX_CHARS = 1_500
EVIDENCE_RUN_MAX_CHARS = 400_000
# What the run keeps of a model's text: every later prompt and the history carry it, so a
# runaway completion is cut (with a note) instead of growing payloads towards Temporal's limits.
ANSWER_MAX_CHARS = 8_000
DRAFT_MAX_CHARS = 60_000
# The report body is bounded like a draft, so that the citation check and grounding (about
# 10 µs per character of densely cited text on one core) stay far below the SDK's 2 s limit
# per workflow task; questions are short by their schema.
REPORT_MAX_CHARS = 60_000
SEARCH_QUESTION_MAX_CHARS = 400


def cap_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n\n[… cut: {len(text) - limit} more characters were dropped]"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- request / usage


def has_visible_text(text: str) -> bool:
    """Letters, digits, punctuation or symbols: zero-width and bidi characters alone are not
    text a person wrote (the question check, and the plan review's for titles and focuses)."""
    return any(unicodedata.category(ch)[0] in "LNPS" for ch in text)


class ResearchRequest(_Model):
    question: str
    config: ResearchConfig = ResearchConfig()

    @field_validator("question")
    @classmethod
    def _clean_question(cls, value: str) -> str:
        question = value.translate(_BIDI_CONTROLS).strip()
        if not question:
            raise ValueError("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValueError(
                f"the question has {len(question)} characters; the limit is {MAX_QUESTION_CHARS}"
            )
        # Binary or control characters are never a real question (tabs/newlines are fine).
        if any(
            unicodedata.category(ch) in ("Cc", "Cs", "Co") and ch not in "\t\n\r" for ch in question
        ):
            raise ValueError("the question contains control or binary characters")
        if not has_visible_text(question):
            raise ValueError("the question has no visible characters")
        return question


class LLMUsage(_Model):
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    # Priced by the worker (activities/prices.py): the workflow only adds these up.
    cost_usd: float = Field(0.0, description="USD of the calls whose model has a price")
    unpriced_calls: int = Field(0, description="calls whose model has no price (cost unknown)")

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def plus(self, other: LLMUsage) -> LLMUsage:
        return LLMUsage(
            calls=self.calls + other.calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            unpriced_calls=self.unpriced_calls + other.unpriced_calls,
        )


# ---------------------------------------------------------------- research content


class PlanSection(_Model):
    title: str = Field(min_length=1, max_length=200)
    focus: str = Field(
        min_length=1, max_length=800, description="what this part of the report must establish"
    )


class ResearchPlan(_Model):
    sections: list[PlanSection]

    def as_text(self) -> str:
        return "\n".join(f"{i}. {s.title}: {s.focus}" for i, s in enumerate(self.sections, 1))


class Source(_Model):
    """A retrieved document passage or page: metadata and a short quote, never the body."""

    id: str = Field(description="stable id: passage id or canonical URL hash")
    title: str
    location: str = Field(description="file path or URL")
    provider: str = Field(description="search provider that returned it, e.g. 'local'")
    retrieved_at: str = Field(description="ISO-8601 time of retrieval")
    quote: str = Field("", max_length=QUOTE_MAX_CHARS)
    evidence: str = Field(
        "", max_length=EVIDENCE_MAX_CHARS, description="retrieved text, for the citation check"
    )
    document: str = Field("", description="the document: a file relative to its corpus, a URL")
    anchor: str = Field("", description="where in the document: section, page, slide, sheet")


class QAPair(_Model):
    """One denoising step's question and its answer; [n] in the answer are run-wide numbers."""

    iteration: int
    question: str
    answer: str
    source_numbers: list[int] = []


class NumberedSource(_Model):
    number: int
    source: Source


# ---------------------------------------------------------------- node inputs / outputs


class NodeOutput(_Model):
    usage: LLMUsage = LLMUsage()


class SamplingParams(_Model):
    """What the workflow decides about one LLM call; the activity adds model and key."""

    temperature: float
    max_output_tokens: int
    seed: int
    json_repair_attempts: int
    # Set when the run has a max_cost_usd budget: a model without a price then fails the call
    # before any request (the budget could not be counted).
    require_price: bool = False


class PlannerInput(_Model):
    question: str
    sampling: SamplingParams


class PlannerOutput(NodeOutput):
    plan: ResearchPlan


class DraftInput(_Model):
    question: str
    plan: ResearchPlan
    sampling: SamplingParams


class DraftOutput(NodeOutput):
    draft: str


class GapInput(_Model):
    question: str
    plan: ResearchPlan
    draft: str
    earlier: list[QAPair]
    count: int = Field(ge=1)
    iteration: int
    feedback: list[str] = []
    sampling: SamplingParams


class GapOutput(NodeOutput):
    questions: list[str]


class RetrievalInput(_Model):
    question: str = Field(description="the user's research question, for context")
    search_question: str
    top_k: int
    iteration: int
    sampling: SamplingParams
    anchors: list[str] = Field(
        [],
        description="queries searched beside search_question and fused with it: the user's "
        "question and the plan section the search serves (workflows/topics.py)",
    )
    known_ids: list[str] = Field(
        [],
        description="ids of passages the run retrieved already: passed over for new ones while "
        "the searches offer any, so each retrieval brings evidence the run lacks",
    )


class RetrievalOutput(NodeOutput):
    """answer cites [i] = sources[i-1] (numbers local to this answer)."""

    answer: str
    sources: list[Source]


class IntegratorInput(_Model):
    question: str
    plan: ResearchPlan
    draft: str
    new_answers: list[QAPair]
    sources: list[NumberedSource]
    iteration: int
    feedback: list[str] = []
    sampling: SamplingParams


class IntegratorOutput(NodeOutput):
    draft: str


class AssessorInput(_Model):
    question: str
    plan: ResearchPlan
    draft: str
    iteration: int
    max_iterations: int
    sampling: SamplingParams


class Assessment(NodeOutput):
    score: float = Field(ge=0.0, le=1.0)
    done: bool
    critique: str


class ReportInput(_Model):
    question: str
    plan: ResearchPlan
    draft: str
    findings: list[QAPair]
    sources: list[NumberedSource]
    stop_note: str = ""
    support_threshold: float = 0.6  # for the node's own span figures (the workflow decides)
    sampling: SamplingParams


class ReportOutput(NodeOutput):
    body: str = Field(description="the report body citing run-wide source numbers [n]")


# ---------------------------------------------------------------- self-evolution

CRITIQUE_KEPT_CHARS = 400


class Candidate(_Model):
    """One candidate output of an evolvable unit; exactly one field is set, by unit."""

    plan: ResearchPlan | None = None  # unit "plan"
    questions: list[str] | None = None  # unit "questions"
    text: str | None = None  # units "answers" and "report": Markdown citing run-wide [n]


class EvolutionContext(_Model):
    """What the judge, reviser and merger of a unit need to know, and no more."""

    unit: EvolvableUnit
    question: str
    plan: ResearchPlan | None = None
    draft: str | None = None  # questions: the draft whose gaps they target; report: final draft
    earlier_questions: list[str] = []
    count: int | None = None  # questions: how many to ask
    search_question: str | None = None  # answers
    findings: list[QAPair] = []  # report
    sources: list[NumberedSource] = []  # answers, report: what citations may point at


class VariantVerdict(_Model):
    score: float = Field(ge=0.0, le=1.0)
    critique: str


class JudgeVariantInput(_Model):
    context: EvolutionContext
    candidate: Candidate
    variant: int
    sampling: SamplingParams


class JudgeVariantOutput(NodeOutput):
    verdict: VariantVerdict


class ReviseVariantInput(_Model):
    context: EvolutionContext
    candidate: Candidate
    verdict: VariantVerdict
    variant: int
    sampling: SamplingParams


class ScoredCandidate(_Model):
    variant: int
    candidate: Candidate
    verdict: VariantVerdict | None = None


class MergeInput(_Model):
    context: EvolutionContext
    candidates: list[ScoredCandidate]
    sampling: SamplingParams


class CandidateOutput(NodeOutput):
    candidate: Candidate


class EvolutionRecord(_Model):
    """One judged variant (or a merge), kept in the workflow state to show why a variant won."""

    unit: EvolvableUnit
    iteration: int
    item: int = Field(description="which question's answer (answers unit), else 1")
    step: EvolutionStep
    variant: int = Field(description="1..k; 0 for a merge")
    round: int = Field(description="revision round of a judgement; 0 for a merge")
    score: float | None = None
    critique: str = Field("", max_length=CRITIQUE_KEPT_CHARS)
