"""Step 4 of the loop: the report unit (self-evolving), written by the model when it can.

The text it returns is checked and made readable by workflows/reporting.py. A report node that
cannot give a valid answer (cut at the token limit on every try, an endpoint that fails) does
not fail the run in runs started with ANCHORED_PATCH: the reason is kept and the report is then
built from the plan, the draft and the evidence (the extractive floor).
"""

from __future__ import annotations

from temporalio.exceptions import ActivityError

from workflows.activity_types import NodeActivities
from workflows.config import ResearchConfig
from workflows.evolution import Evolution
from workflows.failures import root_message
from workflows.models import (
    REPORT_MAX_CHARS,
    Candidate,
    EvolutionContext,
    NumberedSource,
    ReportInput,
    ResearchPlan,
    cap_text,
)
from workflows.sources import as_listed
from workflows.state import RunState


class ReportUnit:
    def __init__(
        self, question: str, config: ResearchConfig, state: RunState, evolution: Evolution
    ) -> None:
        self._question = question
        self._config = config
        self._state = state
        self._evolution = evolution

    async def text(self, plan: ResearchPlan, registry: list[NumberedSource], note: str) -> str:
        """The model's report body; empty, with state.report_fallback saying why, when the
        node failed in a run that may fall back."""
        try:
            return await self._written(plan, registry, note)
        except ActivityError as err:
            if not self._state.anchored:
                raise  # runs started before the floor keep failing as they did
            self._state.report_fallback = f"the report node failed: {root_message(err)}"
            return ""

    async def _written(self, plan: ResearchPlan, registry: list[NumberedSource], note: str) -> str:
        state, config, question = self._state, self._config, self._question
        report = await self._evolution.unit(
            "report",
            lambda sampling: ReportInput(
                question=question,
                plan=plan,
                draft=state.draft,
                findings=state.findings,
                sources=registry,
                stop_note=note,
                support_threshold=config.report.support_threshold,
                sampling=sampling,
            ),
            NodeActivities.report_synthesizer,
            lambda out: Candidate(text=cap_text(out.body, REPORT_MAX_CHARS)),
            lambda: EvolutionContext(
                unit="report",
                question=question,
                plan=plan,
                draft=state.draft,
                findings=state.findings,
                sources=as_listed(state, registry),  # the judges read quotes, not evidence
            ),
        )
        return report.text or ""
