"""Everything the desk asks Temporal, through the CLI's client: list, start, query, steer.

Lists come from visibility alone (the search attributes TtdrPhase, TtdrIteration, TtdrQuality),
so a page with fifty runs costs one call, not fifty; one run's page asks its `progress` query —
the one `client.py top` and `watch` read — and `state` for the plan.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from cli.export import NoReport, RunStillGoing, finished_report
from cli.ids import new_workflow_id
from cli.request import validate_request
from common.errors import UsageError
from desk.ask import Ask
from desk.settings import DeskSettings
from workflows.batch import WORKFLOW_NAME as BATCH_WORKFLOW
from workflows.models import ResearchRequest
from workflows.plan_review import PlanDecision
from workflows.research import WORKFLOW_NAME
from workflows.results import ControlStatus, ResearchProgress, ResearchReport, ResearchState
from workflows.visibility import ITERATION, PHASE, QUALITY

RPC_TIMEOUT = timedelta(seconds=5)
REPORT_CACHE = 32  # finished reports kept in memory: a closed run's report never changes


class DeskError(UsageError):
    """Temporal refused or could not answer: one line for the page, and its HTTP status
    (503 by default: a slow or unreachable server is not a missing run)."""

    def __init__(self, message: str, status_code: int = 503) -> None:
        super().__init__(message)
        self.status_code = status_code


class RunSummary(BaseModel):
    workflow_id: str
    status: str
    started: datetime | None
    closed: datetime | None = None
    phase: str | None = None
    iteration: int | None = None
    quality: float | None = None
    kind: str = WORKFLOW_NAME


class BatchSummary(BaseModel):
    run: RunSummary
    children: list[RunSummary]


def _status(status: WorkflowExecutionStatus | None) -> str:
    return status.name.lower() if status else "unknown"


def summary(execution: WorkflowExecution) -> RunSummary:
    attributes = execution.typed_search_attributes
    return RunSummary(
        workflow_id=execution.id,
        status=_status(execution.status),
        started=execution.start_time,
        closed=execution.close_time,
        phase=attributes.get(PHASE),
        iteration=attributes.get(ITERATION),
        quality=attributes.get(QUALITY),
        kind=execution.workflow_type,
    )


def _quoted(value: str) -> str | None:
    """A value for a visibility query, or None when it cannot be quoted safely."""
    return None if "'" in value or "\\" in value else f"'{value}'"


class Runs:
    def __init__(self, client: Client, settings: DeskSettings) -> None:
        self.client = client
        self.settings = settings
        self._reports: OrderedDict[str, ResearchReport] = OrderedDict()

    def web_ui_link(self, workflow_id: str) -> str:
        return (
            f"{self.settings.web_ui_url}/namespaces/{quote(self.client.namespace, safe='')}"
            f"/workflows/{quote(workflow_id, safe='')}"
        )

    # ------------------------------------------------------------------ lists

    async def _list(self, query: str, limit: int) -> list[RunSummary]:
        found: list[RunSummary] = []
        try:
            async for execution in self.client.list_workflows(
                query, limit=limit, page_size=limit, rpc_timeout=RPC_TIMEOUT
            ):
                found.append(summary(execution))
        except RPCError as err:
            raise DeskError(f"Temporal rejected the listing: {err.message}") from None
        return found

    async def recent(self, search: str = "", limit: int = 50) -> list[RunSummary]:
        """Research runs, newest first, narrowed by a visibility filter on the search
        attributes (as `client.py top --query`)."""
        query = f"WorkflowType = '{WORKFLOW_NAME}' AND ParentWorkflowId IS NULL"
        if search.strip():
            query += f" AND ({search})"
        return await self._list(query, limit)

    async def batches(self, limit: int = 10, children: int = 50) -> list[BatchSummary]:
        batches = await self._list(f"WorkflowType = '{BATCH_WORKFLOW}'", limit)

        async def with_children(batch: RunSummary) -> BatchSummary:
            quoted = _quoted(batch.workflow_id)
            kids = await self._list(f"ParentWorkflowId = {quoted}", children) if quoted else []
            return BatchSummary(run=batch, children=kids)

        return list(await asyncio.gather(*(with_children(b) for b in batches)))

    # ------------------------------------------------------------------ one run

    async def start(self, ask: Ask) -> str:
        queue = self.settings.task_queue
        if ask.search == "web":
            if not self.settings.web_queue:
                raise DeskError(
                    "no web-search workers are configured for this desk (TTDR_SERVE_WEB_QUEUE)"
                )
            queue = self.settings.web_queue
        workflow_id = new_workflow_id(ask.request.question)
        await self._start(ask.request, workflow_id, queue)
        return workflow_id

    async def follow_up_input(self, parent_id: str, question: str) -> ResearchRequest:
        """A follow-up of a finished run, checked as `client.py follow-up` checks it (the
        question, then the parent: a finished research run); its config is the parent's."""
        # Imported here: cli/follow_up.py brings worker-side code, slow to import.
        from cli.follow_up import checked_follow_up

        checked = validate_request(question, {})
        return await checked_follow_up(self.client, parent_id, checked.question, None)

    async def start_follow_up(self, parent_id: str, request: ResearchRequest) -> str:
        from cli.follow_up import new_follow_up_id

        workflow_id = new_follow_up_id(parent_id)
        await self._start(request, workflow_id, self.settings.task_queue)
        return workflow_id

    async def _start(self, request: ResearchRequest, workflow_id: str, queue: str) -> None:
        try:
            await self.client.start_workflow(
                WORKFLOW_NAME,
                request,
                id=workflow_id,
                task_queue=queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                static_summary=request.question[:200],
            )
        except RPCError as err:
            raise DeskError(f"could not start the run: {err.message}") from None

    async def status(self, workflow_id: str) -> str:
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            description = await handle.describe(rpc_timeout=RPC_TIMEOUT)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                namespace = self.client.namespace
                message = f"no run {workflow_id} in namespace {namespace}"
                raise DeskError(message, 404) from None
            raise DeskError(f"cannot read run {workflow_id}: {err.message}") from None
        return _status(description.status)

    async def progress(self, workflow_id: str) -> dict[str, Any]:
        """What the page shows live: the run's status and its `progress` query (as `top`),
        asked at once."""
        handle = self.client.get_workflow_handle(workflow_id)
        status, progress = await asyncio.gather(
            self.status(workflow_id),
            handle.query("progress", result_type=ResearchProgress, rpc_timeout=RPC_TIMEOUT),
            return_exceptions=True,
        )
        if isinstance(status, BaseException):
            raise status
        if isinstance(progress, RPCError):  # no worker answers queries right now
            return {"status": status, "progress": None}
        if isinstance(progress, BaseException):
            raise progress
        data = progress.model_dump(mode="json")
        data["usage"]["total_tokens"] = progress.usage.total_tokens
        if status != "running":  # an ended run holds nowhere, whatever its last state says
            data.update(held_before=None, paused=False)
        return {"status": status, "progress": data}

    async def state(self, workflow_id: str) -> ResearchState | None:
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            return await handle.query("state", result_type=ResearchState, rpc_timeout=RPC_TIMEOUT)
        except RPCError:
            return None  # no worker answers queries right now

    async def report(self, workflow_id: str) -> ResearchReport | None:
        """The finished run's report (cached), or None while it runs or when it has none."""
        if workflow_id in self._reports:
            self._reports.move_to_end(workflow_id)
            return self._reports[workflow_id]
        try:
            report = await finished_report(self.client, workflow_id)
        except (RunStillGoing, NoReport):
            return None
        except UsageError as err:  # cli/export.py: "no workflow ..." or "cannot read ..."
            raise DeskError(str(err), 404 if str(err).startswith("no workflow") else 503) from None
        self._reports[workflow_id] = report
        while len(self._reports) > REPORT_CACHE:
            self._reports.popitem(last=False)
        return report

    # ------------------------------------------------------------------ steering

    async def update(self, workflow_id: str, name: str, argument: object = None) -> str:
        handle = self.client.get_workflow_handle(workflow_id)
        args = [] if argument is None else [argument]
        try:
            status = await handle.execute_update(
                name, args=args, result_type=ControlStatus, rpc_timeout=RPC_TIMEOUT
            )
        except WorkflowUpdateFailedError as err:
            reason = getattr(err.cause, "message", None) or str(err.cause or err)
            raise DeskError(f"{name} rejected: {reason}") from None
        except RPCError as err:
            raise DeskError(f"{name} failed: {err.message}") from None
        return status.message

    async def review(self, workflow_id: str, decision: PlanDecision) -> str:
        return await self.update(workflow_id, "review_plan", decision)

    async def cancel(self, workflow_id: str) -> str:
        try:
            await self.client.get_workflow_handle(workflow_id).cancel(rpc_timeout=RPC_TIMEOUT)
        except RPCError as err:
            raise DeskError(f"cancel failed: {err.message}") from None
        return "cancellation requested: the run stops at its next step"
