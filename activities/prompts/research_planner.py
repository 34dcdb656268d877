"""research_planner: the areas the report must cover (the paper's stage 1)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from activities.llm import ChatMessage
from workflows.models import PlannerInput, PlanSection


class PlanAnswer(BaseModel):
    sections: list[PlanSection] = Field(min_length=2, max_length=8)


SYSTEM = (
    "You are a research planner. Given a research question, list the sections a thorough, "
    "well-sourced report must contain to answer it: for each, a short title and what that part "
    "must establish. Cover definitions, mechanisms, evidence, trade-offs and open questions "
    "where they apply. Order sections as a reader needs them. 3 to 6 sections are typical."
)


def messages(inp: PlannerInput) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content=SYSTEM),
        ChatMessage(role="user", content=f"Research question:\n{inp.question}"),
    ]
