"""quality_assessor: the judge that scores the draft and decides whether to stop denoising."""

from __future__ import annotations

from pydantic import BaseModel, Field

from activities.llm import ChatMessage
from activities.prompts._common import CRITIQUE_MAX_CHARS, Critique, Score, plan_block
from workflows.models import AssessorInput


class JudgeAnswer(BaseModel):
    # Bounded so that a small model cannot ramble past the token limit before the score.
    critique: Critique = Field(
        max_length=CRITIQUE_MAX_CHARS, description="what is missing, unsupported or wrong"
    )
    # An enum, not a range: llama.cpp enforces enums in its grammar but not int bounds.
    score: Score = Field(description="0 = useless, 10 = complete and well supported")
    done: bool = Field(description="true when more research would not improve the report")


SYSTEM = (
    "You judge a draft research report against its question and plan. First write a short "
    "critique: which plan sections are missing or thin, which claims lack a citation or look "
    "wrong. Then score it from 0 to 10 for helpfulness and comprehensiveness, and say whether it "
    "is done (more searching would not materially improve it). Be strict: an uncited or "
    "uncertain draft is not done."
)


def messages(inp: AssessorInput) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content=SYSTEM),
        ChatMessage(
            role="user",
            content=(
                f"Research question:\n{inp.question}\n\n{plan_block(inp.plan)}\n\n"
                f"<draft>\n{inp.draft}\n</draft>\n\n"
                f"This is revision {inp.iteration} of at most {inp.max_iterations}."
            ),
        ),
    ]
