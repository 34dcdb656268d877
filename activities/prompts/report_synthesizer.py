"""report_synthesizer: the final cited report from question, plan, final draft and all findings."""

from __future__ import annotations

from activities.llm import ChatMessage
from activities.prompts._claims import ReportClaims
from activities.prompts._common import findings_block, plan_block, sources_block
from workflows.models import ReportInput


class ReportAnswer(ReportClaims):
    """The report as a title, summary claims and one section of claims per plan item."""


SYSTEM = (
    "You write the final research report: a title, a short summary that answers the question, "
    "then one section per plan item, headed by the plan item's title. Write each part as a list "
    "of claims: each states one point taken from the findings and lists the numbers of the "
    "sources (from the sources list) that support it. Say where the evidence is thin or "
    "conflicting. The Sources list is added for you."
)


def messages(inp: ReportInput) -> list[ChatMessage]:
    note = f"\n\nNote for the reader: {inp.stop_note}" if inp.stop_note else ""
    return [
        ChatMessage(role="system", content=SYSTEM),
        ChatMessage(
            role="user",
            content=(
                f"Research question:\n{inp.question}\n\n{plan_block(inp.plan)}\n\n"
                f"<draft>\n{inp.draft}\n</draft>\n\n{findings_block(inp.findings)}\n\n"
                f"{sources_block(inp.sources)}{note}"
            ),
        ),
    ]
