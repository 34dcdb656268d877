"""Plan review: a person approves, replaces or steers the plan before money is spent.

With `ResearchConfig.review_plan`, the run waits after the plan unit — durably: a worker can
crash or be redeployed meanwhile — for a `review_plan` update that approves the plan, replaces
it (edited sections) and/or adds guidance for the research. After
`plan_review_timeout_seconds` it goes on with the proposed plan and says so. Guidance joins the
user's feedback, which the next gap analysis and draft revision use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow

from workflows.models import ResearchPlan, has_visible_text
from workflows.state import RunState
from workflows.visibility import PHASE

# Runs from this patch on show the wait in the TtdrPhase search attribute (`plan_review`): an
# upsert is a command, so runs that began waiting without it must replay without it.
REVIEW_PHASE_PATCH = "plan-review-phase-search-attribute"

GUIDANCE_MAX_CHARS = 2000
MAX_PLAN_SECTIONS = 12


class PlanDecision(BaseModel):
    """The `review_plan` update's argument."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "replace"] = Field(
        "approve", description="approve the proposed plan, or replace it with `plan`"
    )
    plan: ResearchPlan | None = Field(None, description="the edited plan, for `replace`")
    guidance: str = Field("", description="notes for the research, used like feedback")


class PlanReview:
    def __init__(
        self, state: RunState, timeout_seconds: float, on_change: Callable[[], None]
    ) -> None:
        self._state = state
        self._timeout = timedelta(seconds=timeout_seconds)
        self._on_change = on_change

    async def wait(self) -> None:
        """Hold until the plan is reviewed or the review time is up (a durable timer)."""
        review = self._state.plan_review
        review.status = "waiting"
        if workflow.patched(REVIEW_PHASE_PATCH):
            workflow.upsert_search_attributes([PHASE.value_set("plan_review")])
        self._on_change()
        try:
            await workflow.wait_condition(lambda: review.status != "waiting", timeout=self._timeout)
        except TimeoutError:
            review.status = "timed_out"
        self._on_change()

    def note(self) -> str:
        """What the report tells its reader about the review, if anything."""
        if self._state.plan_review.status != "timed_out":
            return ""
        seconds = int(self._timeout.total_seconds())
        return f"Nobody reviewed the plan within {seconds} s: the research followed the proposal."

    # ------------------------------------------------------------------ the update

    def check(self, decision: PlanDecision) -> None:
        """Reject, changing nothing, a decision that cannot be applied."""
        if self._state.plan_review.status != "waiting":
            raise ValueError("the run is not waiting for a plan review")
        if decision.action == "replace":
            plan = decision.plan
            if plan is None or not plan.sections:
                raise ValueError("replace needs a plan with at least one section")
            if len(plan.sections) > MAX_PLAN_SECTIONS:
                raise ValueError(f"a plan has at most {MAX_PLAN_SECTIONS} sections")
            for number, section in enumerate(plan.sections, 1):  # numbered as a person reads
                for name, text in (("title", section.title), ("focus", section.focus)):
                    if not has_visible_text(text):
                        raise ValueError(f"section {number}'s {name} has no visible characters")
        elif decision.plan is not None:
            raise ValueError("a plan is only given with action 'replace'")
        if len(decision.guidance) > GUIDANCE_MAX_CHARS:
            raise ValueError(f"guidance is over {GUIDANCE_MAX_CHARS} characters")

    def decide(self, decision: PlanDecision) -> str:
        review = self._state.plan_review
        if decision.action == "replace" and decision.plan is not None:
            self._state.plan = decision.plan
            review.status = "replaced"
        else:
            review.status = "approved"
        if guidance := decision.guidance.strip():
            review.guidance = guidance
            self._state.control.pending_feedback.append(guidance)
        return f"plan {review.status}" + (": guidance noted" if decision.guidance.strip() else "")
