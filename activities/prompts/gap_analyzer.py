"""gap_analyzer: the next search question(s), aimed at the draft's weakest parts (paper: Q_t)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from activities.llm import ChatMessage
from activities.prompts._common import feedback_block, findings_block, plan_block
from workflows.models import GapInput


class GapAnswer(BaseModel):
    questions: list[Annotated[str, Field(max_length=400)]] = Field(min_length=1, max_length=8)


SYSTEM = (
    "You direct the research behind a draft report. Read the question, the plan, the current "
    "draft and the findings so far, then name the search questions whose answers would most "
    "improve the draft: a plan section the draft covers thinly or not at all, a claim marked "
    "uncertain, a claim that looks wrong or unsupported. Each question must be specific and "
    "self-contained (a search engine sees it alone), and must not repeat an earlier question. "
    "If the user sent feedback, let it steer which gaps come first."
)


def messages(inp: GapInput) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content=SYSTEM),
        ChatMessage(
            role="user",
            content=(
                f"Research question:\n{inp.question}\n\n{plan_block(inp.plan)}\n\n"
                f"<draft>\n{inp.draft}\n</draft>\n\n{findings_block(inp.earlier)}\n\n"
                f"Give exactly {inp.count} new search question(s)."
                f"{feedback_block(inp.feedback)}"
            ),
        ),
    ]
