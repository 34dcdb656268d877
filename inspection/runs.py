"""A snapshot of research runs, in flight and recently closed, with the warnings an operator
acts on. `client.py top` shows it; the worker exports its numbers as gauges (run_metrics.py),
which the Prometheus alert rules in deploy/prometheus/alerts.yml watch with the same thresholds.

Everything comes from Temporal itself, so it works against any cluster: visibility lists the
runs; for each open run, the `progress` query (phase, node, iteration, quality, usage, pause),
describe (pending activities: attempts, failures, time waiting for a worker), the newest history
event (when the run last moved on) and, once per run, its first event (the budget it started
with). For a closed run, its closing event (usage, stop reason).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio.api.common.v1 import WorkflowExecution as ExecutionRef
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryReverseRequest,
)
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError

from inspection.profile import decode_result
from inspection.waits import retry_waits
from workflows.models import ResearchRequest
from workflows.results import ResearchProgress
from workflows.visibility import ITERATION, PHASE, QUALITY

WORKFLOW_TYPE = "DeepResearchWorkflow"
# Warning thresholds; the alert rules (deploy/prometheus/alerts.yml) use the same numbers.
STALL_SECONDS = 900.0  # no new history event for 15 minutes, not paused or held
BUDGET_WARN_RATIO = 0.8  # 80% of the run's LLM-call or token budget used
WORKER_WAIT_SECONDS = 30.0  # an activity scheduled for 30 s and no worker has started it
RETRY_WARN_ATTEMPT = 2  # an activity on its second attempt or later
RPC_TIMEOUT = timedelta(seconds=5)
CONCURRENCY = 8  # runs inspected at once


class RunRow(BaseModel):
    """One run as `top` shows it."""

    workflow_id: str
    run_id: str
    status: str
    started_at: datetime
    closed_at: datetime | None = None
    elapsed_seconds: float
    phase: str | None = None
    node: str | None = None
    iteration: int | None = None
    max_iterations: int | None = None
    quality: float | None = None
    calls: int | None = None
    tokens: int | None = None
    paused: bool = False
    held_before: str | None = None
    plan_review: str | None = None
    stop_reason: str | None = None
    budget_used: float | None = None
    idle_seconds: float | None = None
    review_wait_seconds: float | None = Field(
        None, description="how long an open run has waited for a person to review its plan"
    )
    warnings: list[str] = []

    @property
    def open(self) -> bool:
        return self.status == "running"

    @property
    def waiting_for_review(self) -> bool:
        return self.open and self.plan_review == "waiting"

    @property
    def held(self) -> bool:
        """Paused, at a breakpoint, or waiting for a person: not moving, and not stalled."""
        return self.paused or self.held_before is not None or self.waiting_for_review


class Budget(BaseModel):
    max_llm_calls: int
    max_total_tokens: int


def visibility_query(extra: str | None, *, open_runs: bool, closed_since: datetime) -> str:
    base = f"WorkflowType = '{WORKFLOW_TYPE}'"
    if open_runs:
        base += " AND ExecutionStatus = 'Running'"
    else:
        base += f" AND ExecutionStatus != 'Running' AND CloseTime > '{_iso(closed_since)}'"
    return f"{base} AND ({extra})" if extra and extra.strip() else base


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RunInspector:
    """Reads runs from one client; remembers each run's budget (it never changes)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._budgets: dict[str, Budget | None] = {}

    async def snapshot(
        self,
        query: str | None = None,
        *,
        closed_within: timedelta | None = timedelta(hours=1),
        limit: int = 50,
        now: datetime | None = None,
    ) -> list[RunRow]:
        """Open runs, then runs closed within `closed_within` (none when None), each newest
        first. Raises RPCError when visibility rejects `query`."""
        now = now or datetime.now(UTC)
        open_query = visibility_query(query, open_runs=True, closed_since=now)
        open_runs = await self._list(open_query, limit)
        closed: list[WorkflowExecution] = []
        if closed_within is not None:
            since = now - closed_within
            closed = await self._list(
                visibility_query(query, open_runs=False, closed_since=since), limit
            )
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(execution: WorkflowExecution) -> RunRow:
            async with gate:
                if execution.status == WorkflowExecutionStatus.RUNNING:
                    return await self._open_row(execution, now)
                return await self._closed_row(execution, now)

        rows = await asyncio.gather(*(one(e) for e in [*open_runs, *closed]))
        live = {row.run_id for row in rows if row.open}
        for run_id in [r for r in self._budgets if r not in live]:
            del self._budgets[run_id]
        return rows

    async def _list(self, query: str, limit: int) -> list[WorkflowExecution]:
        found: list[WorkflowExecution] = []
        async for execution in self._client.list_workflows(query, limit=limit):
            found.append(execution)
        return found

    # ------------------------------------------------------------------ open runs

    async def _open_row(self, execution: WorkflowExecution, now: datetime) -> RunRow:
        row = _base_row(execution, now)
        handle = self._client.get_workflow_handle(execution.id, run_id=execution.run_id)
        progress, pending, last_event, budget = await asyncio.gather(
            handle.query("progress", result_type=ResearchProgress, rpc_timeout=RPC_TIMEOUT),
            handle.describe(rpc_timeout=RPC_TIMEOUT),
            self._edge_event(execution, newest=True),
            self._budget(execution),
            return_exceptions=True,
        )
        if isinstance(progress, ResearchProgress):
            _apply_progress(row, progress)
        else:
            row.warnings.append(f"progress query failed ({_reason(progress)}): is a worker up?")
        if isinstance(budget, Budget) and row.calls is not None and row.tokens is not None:
            row.budget_used = max(
                row.calls / budget.max_llm_calls, row.tokens / budget.max_total_tokens
            )
        if isinstance(last_event, HistoryEvent):
            moved = last_event.event_time.ToDatetime(tzinfo=UTC)
            still = max((now - moved).total_seconds(), 0.0)
            if row.waiting_for_review:  # the newest event is the review timer's start
                row.review_wait_seconds = still
            elif not row.held:
                row.idle_seconds = still
        if not isinstance(pending, BaseException):
            row.warnings.extend(_pending_warnings(pending.raw_description.pending_activities, now))
        row.warnings[:0] = run_warnings(row)
        return row

    async def _edge_event(self, execution: WorkflowExecution, *, newest: bool) -> HistoryEvent:
        ref = ExecutionRef(workflow_id=execution.id, run_id=execution.run_id)
        namespace = self._client.namespace
        service = self._client.workflow_service
        if newest:
            response = await service.get_workflow_execution_history_reverse(
                GetWorkflowExecutionHistoryReverseRequest(
                    namespace=namespace, execution=ref, maximum_page_size=1
                ),
                timeout=RPC_TIMEOUT,
            )
        else:
            response = await service.get_workflow_execution_history(
                GetWorkflowExecutionHistoryRequest(
                    namespace=namespace, execution=ref, maximum_page_size=1
                ),
                timeout=RPC_TIMEOUT,
            )
        if not response.history.events:
            raise LookupError("empty history")
        return response.history.events[0]

    async def _budget(self, execution: WorkflowExecution) -> Budget | None:
        if execution.run_id not in self._budgets:
            first = await self._edge_event(execution, newest=False)
            started = first.workflow_execution_started_event_attributes
            data = decode_result(started.input)
            try:
                config = ResearchRequest.model_validate(data).config
                budget = Budget(
                    max_llm_calls=config.max_llm_calls, max_total_tokens=config.max_total_tokens
                )
            except ValueError:
                budget = None  # another input shape: no budget to compare with
            self._budgets[execution.run_id] = budget
        return self._budgets[execution.run_id]

    # ------------------------------------------------------------------ closed runs

    async def _closed_row(self, execution: WorkflowExecution, now: datetime) -> RunRow:
        row = _base_row(execution, now)
        try:
            last = await self._edge_event(execution, newest=True)
        except (RPCError, LookupError):
            return row
        if last.HasField("workflow_execution_completed_event_attributes"):
            report = decode_result(last.workflow_execution_completed_event_attributes.result)
            if isinstance(report, dict):
                usage = report.get("usage_total") or {}
                row.calls = usage.get("calls")
                row.tokens = (usage.get("input_tokens") or 0) + (usage.get("output_tokens") or 0)
                row.stop_reason = report.get("stop_reason")
                row.iteration = report.get("iterations", row.iteration)
                history = report.get("quality_history") or []
                row.quality = history[-1] if history else row.quality
        return row


def _base_row(execution: WorkflowExecution, now: datetime) -> RunRow:
    attributes = execution.typed_search_attributes
    status = execution.status.name.lower() if execution.status else "unknown"
    end = execution.close_time or now
    return RunRow(
        workflow_id=execution.id,
        run_id=execution.run_id,
        status=status,
        started_at=execution.start_time,
        closed_at=execution.close_time,
        elapsed_seconds=max((end - execution.start_time).total_seconds(), 0.0),
        phase=attributes.get(PHASE),
        iteration=attributes.get(ITERATION),
        quality=attributes.get(QUALITY),
    )


def _apply_progress(row: RunRow, progress: ResearchProgress) -> None:
    row.phase = progress.phase
    row.node = progress.node
    row.iteration = progress.iteration
    row.max_iterations = progress.max_iterations
    row.quality = progress.quality_history[-1] if progress.quality_history else None
    row.calls = progress.usage.calls
    row.tokens = progress.usage.total_tokens
    row.paused = progress.paused
    row.held_before = progress.held_before
    row.plan_review = progress.plan_review
    row.stop_reason = progress.stop_reason


def run_warnings(row: RunRow) -> list[str]:
    """The run-level conditions the alert rules watch: stalled, near its budget."""
    warnings = []
    if row.idle_seconds is not None and row.idle_seconds >= STALL_SECONDS:
        warnings.append(f"no progress for {_minutes(row.idle_seconds)}")
    if row.budget_used is not None and row.budget_used >= BUDGET_WARN_RATIO:
        warnings.append(f"budget {row.budget_used:.0%} used")
    return warnings


def _pending_warnings(pending: Iterable[Any], now: datetime) -> list[str]:
    """Activities waiting for a worker (saturation) or retrying after failures (LLM errors),
    with how long a back-off still holds the node (a 429's Retry-After)."""
    warnings = []
    for activity in pending:
        name = activity.activity_type.name
        if activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED:
            since = activity.scheduled_time.ToDatetime(tzinfo=UTC)
            if activity.HasField("next_attempt_schedule_time") and activity.attempt > 1:
                since = activity.next_attempt_schedule_time.ToDatetime(tzinfo=UTC)
            waiting = (now - since).total_seconds()
            if waiting >= WORKER_WAIT_SECONDS:
                warnings.append(f"{name} waiting {waiting:.0f}s for a worker")
        if backing_off := retry_waits([activity], now):
            warnings.append(backing_off[0].text(now))
        elif activity.attempt >= RETRY_WARN_ATTEMPT:
            failure = activity.last_failure
            kind = (
                failure.application_failure_info.type
                if failure.HasField("application_failure_info")
                else ""
            ) or "failure"
            warnings.append(f"{name} retrying: attempt {activity.attempt} after {kind}")
    return warnings


def _reason(err: object) -> str:
    if isinstance(err, RPCError):
        return err.message.splitlines()[0][:80] if err.message else str(err.status.name)
    return type(err).__name__


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def summary(rows: Sequence[RunRow]) -> str:
    running = [r for r in rows if r.open]
    held = sum(1 for r in running if r.held)
    warned = sum(1 for r in rows if r.warnings)
    return (
        f"{len(running)} in flight ({held} held), {len(rows) - len(running)} recently closed, "
        f"{warned} with warnings"
    )
