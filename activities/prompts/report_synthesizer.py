"""report_synthesizer: the final cited report from question, plan, final draft and all findings."""

from __future__ import annotations

from pydantic import BaseModel, Field

from activities.llm import ChatMessage
from activities.prompts._common import findings_block, plan_block, sources_block
from workflows.models import ReportInput


class ReportAnswer(BaseModel):
    markdown: str = Field(min_length=1, description="the report in Markdown, citing [n]")


SYSTEM = (
    "You write the final research report. Start with a title and a short summary that answers "
    "the question, then one section per plan item. Base every factual claim on the findings and "
    "cite it with the source numbers from the sources list, like [2]. Never cite a number that is "
    "not in the list, and do not write a Sources or References section: it is added for you. "
    "Say where the evidence is thin or conflicting."
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
