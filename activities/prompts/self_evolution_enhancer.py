"""self_evolution_enhancer: judge, revise and merge the variants of a unit (plan, questions,
answers, report), as in the paper's self-evolution: fitness score + critique → revision → merge."""

from __future__ import annotations

from pydantic import BaseModel, Field

from activities.llm import ChatMessage
from activities.prompts._claims import claims_markdown, report_markdown
from activities.prompts._common import (
    CRITIQUE_MAX_CHARS,
    UNTRUSTED_NOTE,
    Critique,
    Score,
    findings_block,
    plan_block,
)
from activities.prompts.gap_analyzer import GapAnswer
from activities.prompts.report_synthesizer import ReportAnswer
from activities.prompts.research_planner import PlanAnswer
from activities.prompts.retrieval_engine import RetrievalAnswer
from workflows.config import EvolvableUnit
from workflows.models import (
    Candidate,
    EvolutionContext,
    JudgeVariantInput,
    MergeInput,
    ResearchPlan,
    ReviseVariantInput,
)


class VariantCritique(BaseModel):
    critique: Critique = Field(
        max_length=CRITIQUE_MAX_CHARS, description="concrete weaknesses and how to fix them"
    )
    # An enum, not a range: llama.cpp enforces enums in its grammar but not int bounds.
    score: Score = Field(description="fitness: 0 = useless, 10 = excellent")


# Distinct names per unit and step, so logs, providers' dashboards and tests can tell them apart.
class RevisedPlan(PlanAnswer): ...


class MergedPlan(PlanAnswer): ...


class RevisedQuestions(GapAnswer): ...


class MergedQuestions(GapAnswer): ...


class RevisedAnswer(RetrievalAnswer): ...


class MergedAnswer(RetrievalAnswer): ...


class RevisedReport(ReportAnswer): ...


class MergedReport(ReportAnswer): ...


REVISED_SCHEMA: dict[EvolvableUnit, type[BaseModel]] = {
    "plan": RevisedPlan,
    "questions": RevisedQuestions,
    "answers": RevisedAnswer,
    "report": RevisedReport,
}
MERGED_SCHEMA: dict[EvolvableUnit, type[BaseModel]] = {
    "plan": MergedPlan,
    "questions": MergedQuestions,
    "answers": MergedAnswer,
    "report": MergedReport,
}

_WHAT: dict[EvolvableUnit, str] = {
    "plan": "a research plan (the sections a report must cover)",
    "questions": "search questions meant to fill the gaps of a draft report",
    "answers": "an answer to a search question, written from retrieved sources",
    "report": "a final research report",
}
_CRITERIA: dict[EvolvableUnit, str] = {
    "plan": "helpfulness (does it lead to a report that answers the question?) and "
    "comprehensiveness (are all aspects covered, without overlap?)",
    "questions": "helpfulness (do they target the draft's real gaps and doubtful claims?) and "
    "comprehensiveness (together, do they cover the weakest parts?); each must be specific, "
    "self-contained and new",
    "answers": "helpfulness, comprehensiveness, and faithfulness to the sources: every claim "
    "must be supported by the cited source's text; a claim with no support is a serious fault",
    "report": "helpfulness, comprehensiveness, and whether each claim carries a citation to a "
    "listed source that supports it",
}


def render(candidate: Candidate) -> str:
    if candidate.plan is not None:
        return candidate.plan.as_text()
    if candidate.questions is not None:
        return "\n".join(f"- {q}" for q in candidate.questions)
    return candidate.text or ""


def to_candidate(unit: EvolvableUnit, answer: BaseModel) -> Candidate:
    """The unit's structured answer as a candidate."""
    if isinstance(answer, PlanAnswer):
        return Candidate(plan=ResearchPlan(sections=answer.sections))
    if isinstance(answer, GapAnswer):
        return Candidate(questions=[q.strip() for q in answer.questions if q.strip()])
    if isinstance(answer, RetrievalAnswer):
        return Candidate(text=claims_markdown(answer.claims))
    if isinstance(answer, ReportAnswer):
        return Candidate(text=report_markdown(answer))
    raise TypeError(f"no candidate form for {type(answer).__name__} ({unit})")


def _context_block(ctx: EvolutionContext) -> str:
    parts = [f"Research question:\n{ctx.question}"]
    if ctx.plan is not None:
        parts.append(plan_block(ctx.plan))
    if ctx.draft is not None:
        parts.append(f"<draft>\n{ctx.draft}\n</draft>")
    if ctx.earlier_questions:
        parts.append(
            "Questions asked before:\n" + "\n".join(f"- {q}" for q in ctx.earlier_questions)
        )
    if ctx.count is not None:
        parts.append(f"Exactly {ctx.count} question(s) are wanted.")
    if ctx.search_question is not None:
        parts.append(f"Search question: {ctx.search_question}")
    if ctx.findings:
        parts.append(findings_block(ctx.findings))
    if ctx.sources:
        docs = "\n".join(
            f'<document number="{s.number}" title="{s.source.title}">{s.source.quote}</document>'
            for s in ctx.sources
        )
        parts.append(f"Sources (excerpts):\n{docs}\n{UNTRUSTED_NOTE}")
    return "\n\n".join(parts)


def judge_messages(inp: JudgeVariantInput) -> list[ChatMessage]:
    unit = inp.context.unit
    system = (
        f"You are a strict judge of {_WHAT[unit]}. Judge it on {_CRITERIA[unit]}. Write a short "
        "critique naming the concrete weaknesses and what would fix them, then give a fitness "
        "score from 0 to 10."
    )
    return [
        ChatMessage(role="system", content=system),
        ChatMessage(
            role="user",
            content=f"{_context_block(inp.context)}\n\n<candidate>\n{render(inp.candidate)}\n</candidate>",
        ),
    ]


def revise_messages(inp: ReviseVariantInput) -> list[ChatMessage]:
    unit = inp.context.unit
    system = (
        f"You improve {_WHAT[unit]} using a judge's critique. Fix every weakness the critique "
        "names, keep what is good, and return the complete improved version in the same form. "
        "Cite only the numbered sources given, like [2]."
    )
    return [
        ChatMessage(role="system", content=system),
        ChatMessage(
            role="user",
            content=(
                f"{_context_block(inp.context)}\n\n<candidate>\n{render(inp.candidate)}\n"
                f'</candidate>\n\n<critique score="{inp.verdict.score:.2f}">\n'
                f"{inp.verdict.critique}\n</critique>"
            ),
        ),
    ]


def merge_messages(inp: MergeInput) -> list[ChatMessage]:
    unit = inp.context.unit
    system = (
        f"You merge several versions of {_WHAT[unit]} into one that keeps the best of each: "
        "the strongest parts of the higher-scored versions, anything valuable that only one "
        "version has, and none of the weaknesses the critiques name. Return one complete "
        "version in the same form. Cite only the numbered sources given, like [2]."
    )
    versions = []
    for scored in inp.candidates:
        verdict = scored.verdict
        header = f'<version number="{scored.variant}"'
        header += f' score="{verdict.score:.2f}">' if verdict else ">"
        critique = f"\nCritique: {verdict.critique}" if verdict else ""
        versions.append(f"{header}\n{render(scored.candidate)}{critique}\n</version>")
    return [
        ChatMessage(role="system", content=system),
        ChatMessage(
            role="user", content=f"{_context_block(inp.context)}\n\n" + "\n\n".join(versions)
        ),
    ]
