"""draft_generator: the noisy first draft R0, from the model's own knowledge (no retrieval)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from activities.llm import ChatMessage
from activities.prompts._common import plan_block
from workflows.models import DraftInput


class DraftAnswer(BaseModel):
    draft: str = Field(min_length=1, description="the draft report in Markdown")


SYSTEM = (
    "You write the first draft of a research report from your own knowledge, following the plan. "
    "This draft will be refined step by step with retrieved evidence, so write every section the "
    "plan asks for, state concrete claims, and mark what you are unsure of with (uncertain). "
    "Do not invent citations or sources. Use Markdown headings for the plan's sections."
)


def messages(inp: DraftInput) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content=SYSTEM),
        ChatMessage(
            role="user", content=f"Research question:\n{inp.question}\n\n{plan_block(inp.plan)}"
        ),
    ]
