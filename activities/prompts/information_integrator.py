"""information_integrator: revise ("denoise") the draft with new answers (paper: R_t)."""

from __future__ import annotations

from activities.llm import ChatMessage
from activities.prompts._claims import ClaimsAnswer
from activities.prompts._common import (
    feedback_block,
    findings_block,
    plan_block,
    sources_block,
)
from workflows.models import IntegratorInput


class IntegratorAnswer(ClaimsAnswer):
    """The whole revised draft as claims, each citing the sources that support it."""


SYSTEM = (
    "You revise a draft research report with new findings. Fill gaps the findings cover, correct "
    "claims they contradict, remove claims they show to be wrong, and keep everything else that "
    "still holds. Return the whole revised draft as a list of claims: each states one point and "
    "lists the numbers of the sources (from the sources list) that support it, as the findings "
    "cite them. Follow the user's feedback, if any, where the evidence allows."
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
