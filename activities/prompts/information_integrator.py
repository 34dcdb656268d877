"""information_integrator: revise ("denoise") the draft with new answers (paper: R_t)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from activities.llm import ChatMessage
from activities.prompts._common import (
    feedback_block,
    findings_block,
    plan_block,
    sources_block,
)
from workflows.models import IntegratorInput


class IntegratorAnswer(BaseModel):
    draft: str = Field(min_length=1, description="the full revised draft in Markdown")


SYSTEM = (
    "You revise a draft research report with new findings. Fill gaps the findings cover, correct "
    "claims they contradict, remove claims they show to be wrong, and keep everything else that "
    "still holds. Keep the findings' citation numbers, like [3], next to the claims they support; "
    "cite only numbers from the sources list. Follow the user's feedback, if any, where the "
    "evidence allows. Return the whole revised draft, not a diff."
)


def messages(inp: IntegratorInput) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content=SYSTEM),
        ChatMessage(
            role="user",
            content=(
                f"Research question:\n{inp.question}\n\n{plan_block(inp.plan)}\n\n"
                f"<draft>\n{inp.draft}\n</draft>\n\n"
                f"New findings:\n{findings_block(inp.new_answers)}"
                f"\n\n{sources_block(inp.sources)}{feedback_block(inp.feedback)}"
            ),
        ),
    ]
