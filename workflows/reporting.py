"""The report body as the reader gets it: every claim checked, the findings appended when the
body leaves most of the evidence out. Pure code over the run's state (workflow-safe)."""

from __future__ import annotations

from typing import Literal

from workflows.citations import cited_numbers, strip_own_sources_section
from workflows.grounding import GroundingFigures, cites_enough
from workflows.models import QAPair
from workflows.sources import SourceRegistry

AppendixRule = Literal["auto", "always", "never"]


def checked_body(
    text: str, sources: SourceRegistry, findings: list[QAPair], rule: AppendixRule
) -> tuple[str, GroundingFigures, bool]:
    """The model's report body, its own source list dropped and every claim checked against
    the sources it cites; then the Research notes appendix (every question asked and its checked
    answer) when `rule` says so — `auto`: when the body cites fewer than half of the sources
    the findings cite, so even a weak model's report carries what the run found.

    Returns the body, the body's grounding figures and whether the appendix was added.
    """
    body, figures = sources.ground(strip_own_sources_section(text))
    findings_cited = {n for qa in findings for n in qa.source_numbers}
    wanted = rule == "always" or (
        rule == "auto" and not cites_enough(set(cited_numbers(body)), findings_cited)
    )
    if not wanted or not findings:
        return body, figures, False
    notes = "\n\n".join(
        f"**Q{i} (iteration {qa.iteration}): {qa.question}**\n\n{qa.answer}"
        for i, qa in enumerate(findings, 1)
    )
    return f"{body}\n\n## Research notes\n\n{notes}", figures, True
