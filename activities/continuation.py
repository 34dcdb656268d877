"""Read the run a follow-up or a watched topic's run continues — by its workflow id, through
the Temporal client — so the parent's report and evidence never travel in a workflow input.

A follow-up names its parent. A watched topic's run finds its previous run itself: the latest
completed run its schedule started (Temporal sets `TemporalScheduledById` on them), and then
re-reads the documents the previous report cited (one search per passage, bounded; no LLM
call), so that every previous claim is checked against what its document says now.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.nodes import ResearchActivities
from activities.redaction import Redactor
from activities.search_failures import search_in_activity
from search.base import SearchProvider
from workflows.activity_types import ParentActivities
from workflows.changes import parent_body
from workflows.citing.citations import document_key
from workflows.continuation_models import (
    LOAD_PARENT_ACTIVITY,
    MAX_PARENT_QUESTIONS,
    MAX_RECHECKED_SOURCES,
    ParentRef,
    ParentRun,
)
from workflows.labels import labels_for
from workflows.models import NumberedSource
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

RECHECK_QUERY_CHARS = 300
RECHECK_HITS = 5


class ParentError(ValueError):
    """The parent cannot be continued; the message says why in one line."""


def _when(moment: datetime | None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


async def parent_report(client: Client, parent_id: str) -> tuple[ResearchReport, str]:
    """The finished research run's report and close time; ParentError for an unknown id, a run
    still going or ended without a report, or a run of another kind (a batch)."""
    handle = client.get_workflow_handle(parent_id, result_type=ResearchReport)
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ParentError(f"no run {parent_id} in namespace {client.namespace}") from None
        raise ParentError(f"cannot read run {parent_id}: {err.message}") from None
    if description.workflow_type != WORKFLOW_NAME:
        kind = "a batch" if "Batch" in description.workflow_type else "not a research run"
        raise ParentError(
            f"{parent_id} is {kind} ({description.workflow_type}): follow up one research run "
            "(client.py batch status lists a batch's runs)"
        )
    status = description.status
    if status == WorkflowExecutionStatus.RUNNING:
        raise ParentError(f"{parent_id} is still running: follow it up once it has finished")
    if status != WorkflowExecutionStatus.COMPLETED:
        name = status.name.lower() if status else "ended"
        raise ParentError(f"{parent_id} has no report to follow up ({name})")
    try:
        report = await handle.result()
    except (WorkflowFailureError, RPCError) as err:
        raise ParentError(f"cannot read the report of {parent_id}: {err}") from None
    return report, _when(description.close_time)


async def previous_scheduled_run(client: Client, schedule_id: str, own_id: str) -> str | None:
    """The latest completed run the schedule started, other than `own_id`."""
    escaped = schedule_id.replace("\\", "\\\\").replace('"', '\\"')
    query = f'TemporalScheduledById = "{escaped}" AND ExecutionStatus = "Completed"'
    latest: tuple[datetime, str] | None = None
    async for run in client.list_workflows(query, limit=1000):
        if run.id == own_id or run.close_time is None:
            continue
        if latest is None or run.close_time > latest[0]:
            latest = (run.close_time, run.id)
    return latest[1] if latest else None


class ContinuationActivities(ParentActivities):
    """load_parent, as the workflow calls it (workflows/activity_types.py ParentActivities)."""

    def __init__(self, client: Client, search: SearchProvider, redactor: Redactor) -> None:
        self._client = client
        self._search = search
        self._redactor = redactor

    @activity.defn(name=LOAD_PARENT_ACTIVITY)
    async def load_parent(self, ref: ParentRef) -> ParentRun:
        request = ref.request
        parent_id = request.parent_id
        if request.kind == "watch":
            found = await previous_scheduled_run(self._client, request.schedule_id, ref.workflow_id)
            if found is None:
                return ParentRun(found=False)
            parent_id = found
        try:
            report, finished_at = await parent_report(self._client, parent_id)
        except ParentError as err:
            raise ApplicationError(
                str(err), type="ParentNotFollowable", non_retryable=True
            ) from None
        sources, stale, searches = report.sources, [], 0
        if request.kind == "watch":
            sources, stale, searches = await self._reread(report.sources)
        return ParentRun(
            workflow_id=parent_id,
            question=report.question,
            finished_at=finished_at,
            plan=report.plan,
            body=parent_body(report.markdown, labels_for(report.question)),
            sources=sources,
            questions=[qa.question for qa in report.findings][:MAX_PARENT_QUESTIONS],
            stale_documents=stale,
            searches=searches,
        )

    async def _reread(
        self, sources: list[NumberedSource]
    ) -> tuple[list[NumberedSource], list[str], int]:
        """Each cited passage replaced by its document's passage as it reads now (the search
        hit of the same document most like it); a document no search finds again keeps its old
        passages and is listed as stale."""
        fresh: list[NumberedSource] = []
        found_again: set[str] = set()
        searches = 0
        for at, numbered in enumerate(sources):
            old = numbered.source
            key = document_key(old)
            if at >= MAX_RECHECKED_SOURCES:
                fresh.append(numbered)
                continue
            query = f"{old.title} {(old.evidence or old.quote)[:RECHECK_QUERY_CHARS]}"
            hits = await search_in_activity(self._search, query, RECHECK_HITS)
            searches += 1
            activity.heartbeat(searches)
            same = [h for h in hits if (h.document or h.location) == key]
            if not same:
                fresh.append(numbered)
                continue
            found_again.add(key)
            source = ResearchActivities._source_of(self._redactor.model(same[0]))
            fresh.append(NumberedSource(number=numbered.number, source=source))
        stale = sorted({document_key(n.source) for n in sources} - found_again)
        return fresh, stale, searches
