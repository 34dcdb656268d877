"""A run that continues another one (workflow code, deterministic): a follow-up question on a
finished run, or the next run of a watched topic (a Temporal Schedule's action).

`begin` reads the parent by reference — its workflow id goes to an activity, which returns the
parent's report body and cited passages — and makes them this run's noisy draft and already
retrieved evidence: the passages are registered first (so old citations keep being checked
against their text) and the body's citations are re-pointed at them and checked. A follow-up
then searches only for what its question adds (the parent's questions are not asked again);
a watched topic's run re-checks the previous claims against the current text of their documents
(the activity re-read them) and asks again. `finish` writes the report under one numbering —
every document the parent cited keeps its number — with the "Follow-up of" line or the
"What changed since" section after the title; `notify` POSTs the changes.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.activity_types import NotifyActivities, ParentActivities
from workflows.changes import (
    cited_claims,
    claim_support,
    compute_changes,
    document_numbers,
    finding_claims,
    follow_up_line,
    keep_numbering,
    what_changed,
)
from workflows.citing.citations import document_key, remap_citations
from workflows.config import ResearchConfig
from workflows.continuation_models import (
    MAX_PARENT_QUESTIONS,
    Changes,
    ContinuationRequest,
    ContinuationState,
    NotifyInput,
    ParentRef,
    ParentRun,
    PreviousClaim,
)
from workflows.models import DRAFT_MAX_CHARS, PlanSection, ResearchPlan, cap_text
from workflows.results import ResearchReport
from workflows.sources import SourceRegistry
from workflows.state import RunState
from workflows.visibility import PARENT

# The run a follow-up (or a watched topic's run) builds on is its TtdrParent search attribute:
# the Web UI lists a run's follow-ups with `TtdrParent = "<id>"`.
CONTINUATION_PATCH = "continue-from-parent"
_LOAD_TIMEOUT = timedelta(minutes=5)
_NOTIFY_TIMEOUT = timedelta(seconds=30)


class Continuation:
    def __init__(
        self, question: str, config: ResearchConfig, state: RunState, sources: SourceRegistry
    ) -> None:
        self._question = question
        self._config = config
        self._state = state
        self._sources = sources

    async def begin(self, request: ContinuationRequest) -> bool:
        """Start from the parent; False when there is none (a watched topic's first run), and
        the run then plans and drafts as any other."""
        parent = await workflow.execute_activity(
            ParentActivities.load_parent,
            ParentRef(request=request, workflow_id=workflow.info().workflow_id),
            start_to_close_timeout=_LOAD_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        state = self._state
        state.continuation = ContinuationState(
            kind=request.kind,
            schedule_id=request.schedule_id,
            notify_url=request.notify_url,
        )
        if not parent.found:
            return False
        workflow.upsert_search_attributes([PARENT.value_set(parent.workflow_id)])
        # The parent's passages first, in its numbering's order: its evidence as retrieved.
        first: dict[int, int] = {}
        for numbered in sorted(parent.sources, key=lambda s: s.number):
            first.setdefault(numbered.number, self._sources.number_of(numbered.source))
        body, _ = remap_citations(cap_text(parent.body, DRAFT_MAX_CHARS), first)
        previous = self._previous_claims(body, parent.stale_documents)
        state.draft, state.draft_grounding = self._sources.ground(body)
        state.plan = self._plan(parent, request)
        state.continuation = state.continuation.model_copy(
            update={
                "parent_id": parent.workflow_id,
                "parent_question": parent.question,
                "since": parent.finished_at,
                "numbers": {document_key(n.source): n.number for n in parent.sources},
                "parent_questions": parent.questions[:MAX_PARENT_QUESTIONS],
                "previous_claims": previous,
                "inherited_sources": len(self._sources),
                "searches": parent.searches,
            }
        )
        return True

    def _plan(self, parent: ParentRun, request: ContinuationRequest) -> ResearchPlan:
        if request.kind == "watch":
            return parent.plan
        section = PlanSection(title="Follow-up question", focus=self._question[:800])
        return ResearchPlan(sections=[*parent.plan.sections, section])

    def _previous_claims(self, body: str, stale: list[str]) -> list[PreviousClaim]:
        """Each cited claim of the previous report, checked against every passage of the
        documents it cites (for a watched topic: their current text)."""
        if self._state.continuation is None or self._state.continuation.kind != "watch":
            return []
        sources = self._state.sources
        by_document = document_numbers(sources)
        threshold = self._config.report.support_threshold
        claims = []
        for text, numbers in cited_claims(body):
            documents = sorted({document_key(sources[n - 1]) for n in numbers if n <= len(sources)})
            passages = sorted({n for d in documents for n in by_document.get(d, [])})
            if not passages:
                continue
            claims.append(
                PreviousClaim(
                    text=text,
                    documents=documents,
                    numbers=passages,
                    supported_now=claim_support(text, passages, self._sources.evidence, threshold),
                    rechecked=any(d not in stale for d in documents),
                )
            )
        return claims

    def not_asked_before(self, questions: list[str]) -> list[str]:
        """A follow-up does not ask the parent's questions again."""
        cont = self._state.continuation
        if cont is None or cont.kind != "follow_up":
            return questions
        asked = {q.casefold() for q in cont.parent_questions}
        return [q for q in questions if q.strip().casefold() not in asked]

    def changes(self) -> Changes | None:
        """A watched topic's changes since the previous run (None for a follow-up or a first
        run)."""
        cont = self._state.continuation
        if cont is None or cont.kind != "watch" or not cont.parent_id:
            return None
        return compute_changes(
            cont.previous_claims,
            finding_claims(self._state.findings),
            self._state.sources,
            self._config.report.support_threshold,
            cont.since,
            cont.parent_id,
        )

    def finish(self, report: ResearchReport, changes: Changes | None) -> ResearchReport:
        cont = self._state.continuation
        if cont is None:
            return report
        sources = self._state.sources

        def intro(cite: object) -> str:
            if changes is not None:
                return what_changed(changes, cite)  # type: ignore[arg-type]
            if cont.kind == "watch":
                return "**First run of this watched topic**: every claim below is new."
            return follow_up_line(cont.parent_id, cont.parent_question)

        return keep_numbering(report, cont.numbers, sources, intro)

    async def notify(self, changes: Changes | None) -> None:
        """POST the changes (when there are any) to the schedule's URL; a failure is logged,
        the report stands."""
        cont = self._state.continuation
        if cont is None or not cont.notify_url or changes is None or changes.nothing_new:
            return
        payload = NotifyInput(
            url=cont.notify_url,
            schedule_id=cont.schedule_id,
            workflow_id=workflow.info().workflow_id,
            question=self._question,
            changes=changes,
        )
        try:
            await workflow.execute_activity(
                NotifyActivities.notify,
                payload,
                start_to_close_timeout=_NOTIFY_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError as err:
            workflow.logger.warning("the change notification was not delivered: %s", err.cause)
