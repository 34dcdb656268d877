"""The report body as the reader gets it: every claim checked, the findings appended when the
body leaves most of the evidence out. Pure code over the run's state (workflow-safe)."""

from __future__ import annotations

from typing import Literal

from workflows.citations import cited_numbers, finalise_report, strip_own_sources_section
from workflows.config import ResearchConfig
from workflows.evidence_fill import fill_uncited_sections
from workflows.grounding import GroundingFigures, cites_enough
from workflows.models import GroundingSummary, QAPair, ResearchPlan, ResearchReport
from workflows.sources import SourceRegistry
from workflows.state import RunState

AppendixRule = Literal["auto", "always", "never"]


def titled(text: str, question: str) -> str:
    """The report is titled with the user's question, not a title the model made up (a weak
    model has titled it with the text of a re-ask prompt)."""
    title = " ".join(question.split())
    first, _, rest = text.lstrip().partition("\n")
    body = rest if first.startswith("# ") else text
    return f"# {title}\n\n{body.strip()}"


def checked_body(
    text: str, sources: SourceRegistry, findings: list[QAPair], rule: AppendixRule
) -> tuple[str, GroundingFigures, int, bool]:
    """The model's report body, its own source list dropped and every claim checked against
    the sources it cites; then the Research notes appendix (every question asked and its checked
    answer) when `rule` says so — `auto`: when the body cites fewer than half of the sources
    the findings cite (the model's own text, before any section is filled), so even a weak
    model's report carries what the run found.

    A section that cites nothing gets the finding claim most related to it
    (workflows/evidence_fill.py). Returns the body, the body's grounding figures, how many
    sections were so filled, and whether the appendix was added.
    """
    body, figures = sources.ground(strip_own_sources_section(text))
    # The rule reads what the model's own text cites, before the product fills it in.
    findings_cited = {n for qa in findings for n in qa.source_numbers}
    wanted = rule == "always" or (
        rule == "auto" and not cites_enough(set(cited_numbers(body)), findings_cited)
    )
    body, filled = fill_uncited_sections(body, findings)
    if not wanted or not findings:
        return body, figures, filled, False
    notes = "\n\n".join(
        f"**Q{i} (iteration {qa.iteration}): {qa.question}**\n\n{qa.answer}"
        for i, qa in enumerate(findings, 1)
    )
    return f"{body}\n\n## Research notes\n\n{notes}", figures, filled, True


def final_report(
    question: str,
    config: ResearchConfig,
    state: RunState,
    text: str,
    sources: SourceRegistry,
    note: str,
) -> ResearchReport:
    """The workflow's result: the checked body, the note on top, the Sources list the product
    writes (workflows/citations.py), and every figure of the run."""
    body, body_grounding, filled, appendix = checked_body(
        titled(text, question), sources, state.findings, config.report.appendix
    )
    markdown, cited, removed = finalise_report(body, sources.all(), note)
    return ResearchReport(
        question=question,
        markdown=markdown,
        plan=state.plan or ResearchPlan(sections=[]),
        sources=cited,
        sources_retrieved=len(state.retrieved_ids),
        removed_citations=removed + body_grounding.citations_removed,
        iterations=state.iteration,
        quality_history=state.quality_history,
        stop_reason=state.stop_reason or "max_iterations",
        usage_by_node=state.usage_by_node,
        usage_total=state.total_usage(),
        evolution=state.evolution,
        findings=state.findings,
        grounding=GroundingSummary(
            threshold=config.report.support_threshold,
            body=body_grounding,
            findings=state.findings_grounding,
            appendix=appendix,
            sections_filled=filled,
            notes=state.grounding_notes,
        ),
    )
