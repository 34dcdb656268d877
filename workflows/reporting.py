"""The report body as the reader gets it: every claim checked, the findings appended when the
body leaves most of the evidence out. Pure code over the run's state (workflow-safe)."""

from __future__ import annotations

from typing import Literal

from workflows.citations import cited_numbers, strip_own_sources_section
from workflows.evidence_fill import fill_uncited_sections
from workflows.grounding import GroundingFigures, cites_enough
from workflows.models import QAPair
from workflows.sources import SourceRegistry

AppendixRule = Literal["auto", "always", "never"]


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
