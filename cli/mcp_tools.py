"""What the MCP server's tools do, against Temporal: start, status, report, feedback, cancel,
list. No MCP types here (cli/mcp_server.py wraps these as tools and a resource).

Every function returns at once: a run lives in Temporal, not in the MCP server's process, so an
agent may start a run, disconnect, and fetch the report from a new session later. Bad input is
refused with the CLI's own rules (cli/request.py, cli/ids.py) before anything is started, as
an McpToolError whose message the agent reads. Nothing here prints: on stdio, stdout is the
protocol channel.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

import export
from cli.connection import connect_from_env, task_queue_from_env
from cli.errors import CommandError
from cli.export import NoReport, RunStillGoing, finished_report
from cli.ids import check_id, new_workflow_id
from cli.request import validate_request
from cli.research import web_ui_link
from workflows.models import ControlStatus, ResearchPlan, ResearchProgress, ResearchReport
from workflows.plan_review import PlanDecision
from workflows.research import WORKFLOW_NAME

QUERY_TIMEOUT = timedelta(seconds=5)  # a run whose worker is down must not hang the agent
MAX_LIST = 100
REPORT_FORMATS = ("markdown", "html", "json", "pdf", "docx")


class McpToolError(Exception):
    """A failure the agent should read: bad input, unknown run, no report."""


class Connection:
    """One Temporal client per server process, made on first use (a server that starts while
    Temporal is down still answers, with the connection error as the tool's error)."""

    def __init__(self) -> None:
        self._client: Client | None = None

    async def client(self) -> Client:
        if self._client is None:
            try:
                self._client = await connect_from_env()
            except CommandError as err:
                raise McpToolError(str(err)) from None
        return self._client


def _status(description_status: WorkflowExecutionStatus | None) -> str:
    return description_status.name.lower() if description_status else "unknown"


async def start_research(
    client: Client, question: str, config: dict[str, Any] | None, workflow_id: str | None
) -> dict[str, Any]:
    try:
        request = validate_request(question, dict(config or {}), "config")
        run_id = check_id(workflow_id) if workflow_id else new_workflow_id(request.question)
    except CommandError as err:
        raise McpToolError(f"{err} (nothing was started)") from None
    try:
        await client.start_workflow(
            WORKFLOW_NAME,
            request,
            id=run_id,
            task_queue=task_queue_from_env(),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=request.question[:200],
        )
    except WorkflowAlreadyStartedError:
        raise McpToolError(
            f"workflow id {run_id} is already taken: research_status or get_report read it; "
            "give another workflow_id (or none) for a new run"
        ) from None
    except RPCError as err:
        raise McpToolError(f"could not start workflow {run_id}: {err.message}") from None
    return {
        "workflow_id": run_id,
        "status": "started",
        "web_ui": web_ui_link(run_id, client.namespace),
        "next": "research_status(workflow_id) shows progress; get_report(workflow_id) the report",
    }


async def _describe(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    try:
        return (await client.get_workflow_handle(workflow_id).describe()).status
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise McpToolError(
                f"no research run {workflow_id} in namespace {client.namespace}"
            ) from None
        raise McpToolError(f"cannot read {workflow_id}: {err.message}") from None


async def _progress(client: Client, workflow_id: str) -> ResearchProgress | None:
    try:
        return await client.get_workflow_handle(workflow_id).query(
            "progress", result_type=ResearchProgress, rpc_timeout=QUERY_TIMEOUT
        )
    except (RPCError, TimeoutError):
        return None  # no worker is up to answer, or the run has not started yet


def _progress_fields(progress: ResearchProgress) -> dict[str, Any]:
    return {
        "phase": progress.phase,
        "node": progress.node,
        "iteration": progress.iteration,
        "max_iterations": progress.max_iterations,
        "quality": progress.quality_history[-1] if progress.quality_history else None,
        "quality_history": progress.quality_history,
        "questions_asked": progress.questions_asked,
        "sources_found": progress.sources_found,
        "llm_calls": progress.usage.calls,
        "tokens": progress.usage.total_tokens,
        "stop_reason": progress.stop_reason,
        "paused": progress.paused,
        "held_before": progress.held_before,
    }


def _report_fields(report: ResearchReport) -> dict[str, Any]:
    return {
        "phase": "completed",
        "iteration": report.iterations,
        "quality": report.quality_history[-1] if report.quality_history else None,
        "quality_history": report.quality_history,
        "llm_calls": report.usage_total.calls,
        "tokens": report.usage_total.total_tokens,
        "stop_reason": report.stop_reason,
        "sources_cited": len(report.sources),
    }


async def research_status(client: Client, workflow_id: str) -> dict[str, Any]:
    status = _status(await _describe(client, workflow_id))
    answer: dict[str, Any] = {
        "workflow_id": workflow_id,
        "status": status,
        "web_ui": web_ui_link(workflow_id, client.namespace),
    }
    if status == "completed":
        answer |= _report_fields(await _report(client, workflow_id))
        return answer
    progress = await _progress(client, workflow_id)
    if progress is not None:
        answer |= _progress_fields(progress)
    elif status == "running":
        answer["note"] = "no worker has answered yet: the run waits for one"
    return answer


async def _report(client: Client, workflow_id: str) -> ResearchReport:
    try:
        return await finished_report(client, workflow_id)
    except CommandError as err:
        raise McpToolError(str(err)) from None


async def get_report(
    client: Client, workflow_id: str, report_format: str
) -> tuple[str, bytes | str] | dict[str, Any]:
    """(format, content) of a finished run; a "still running" status dict while it runs."""
    wanted = report_format.strip().lower()
    wanted = {"md": "markdown", "htm": "html", "word": "docx"}.get(wanted, wanted)
    if wanted not in REPORT_FORMATS:
        raise McpToolError(
            f"unknown format {report_format!r}: choose from {', '.join(REPORT_FORMATS)}"
        )
    try:
        report = await finished_report(client, workflow_id)
    except RunStillGoing:
        status = await research_status(client, workflow_id)
        return {
            **status,
            "status": "running",
            "message": f"{workflow_id} is still running; its report is not written yet: "
            "call get_report again later (research_status shows progress)",
        }
    except NoReport as err:
        raise McpToolError(str(err)) from None
    except CommandError as err:
        raise McpToolError(str(err)) from None
    if wanted == "markdown":
        return wanted, report.markdown
    if wanted == "json":
        return wanted, report.model_dump_json(indent=2)
    try:
        rendered = export.render(report, wanted)
    except export.ExportFailed as err:  # its reason, not "Error executing tool"
        raise McpToolError(f"{err}; the markdown and json formats hold the same report") from None
    return wanted, rendered.decode("utf-8") if wanted == "html" else rendered


async def send_feedback(client: Client, workflow_id: str, note: str) -> dict[str, Any]:
    if not note.strip():
        raise McpToolError("feedback is empty (nothing was sent)")
    await _describe(client, workflow_id)
    try:
        status = await client.get_workflow_handle(workflow_id).execute_update(
            "feedback", note, result_type=ControlStatus
        )
    except WorkflowUpdateFailedError as err:
        reason = str(err.cause) if err.cause else str(err)
        raise McpToolError(f"feedback refused: {reason}") from None
    except RPCError as err:
        raise McpToolError(f"feedback not delivered to {workflow_id}: {err.message}") from None
    return {"workflow_id": workflow_id, "accepted": True, **status.model_dump()}


async def review_plan(
    client: Client, workflow_id: str, plan: ResearchPlan | None, guidance: str
) -> dict[str, Any]:
    """The `review_plan` update, with the same rules as `client.py review`."""
    await _describe(client, workflow_id)
    decision = PlanDecision(
        action="replace" if plan is not None else "approve", plan=plan, guidance=guidance
    )
    try:
        status = await client.get_workflow_handle(workflow_id).execute_update(
            "review_plan", decision, result_type=ControlStatus
        )
    except WorkflowUpdateFailedError as err:
        reason = getattr(err.cause, "message", None) or str(err.cause or err)
        raise McpToolError(f"review refused: {reason}") from None
    except RPCError as err:
        raise McpToolError(f"review not delivered to {workflow_id}: {err.message}") from None
    return {"workflow_id": workflow_id, "accepted": True, **status.model_dump()}


async def cancel_research(client: Client, workflow_id: str) -> dict[str, Any]:
    status = _status(await _describe(client, workflow_id))
    if status != "running":
        raise McpToolError(f"{workflow_id} is not running ({status}): nothing to cancel")
    try:
        await client.get_workflow_handle(workflow_id).cancel()
    except RPCError as err:
        raise McpToolError(f"cannot cancel {workflow_id}: {err.message}") from None
    return {
        "workflow_id": workflow_id,
        "status": "cancellation requested",
        "message": "the run stops cleanly; research_status still reads it",
    }


async def list_research(client: Client, limit: int) -> dict[str, Any]:
    if not 1 <= limit <= MAX_LIST:
        raise McpToolError(f"limit must be between 1 and {MAX_LIST}, not {limit}")
    runs = []
    try:
        async for run in client.list_workflows(f'WorkflowType = "{WORKFLOW_NAME}"', limit=limit):
            runs.append(
                {
                    "workflow_id": run.id,
                    "status": _status(run.status),
                    "started": run.start_time.isoformat() if run.start_time else None,
                    "closed": run.close_time.isoformat() if run.close_time else None,
                    "web_ui": web_ui_link(run.id, client.namespace),
                }
            )
    except RPCError as err:
        raise McpToolError(f"cannot list runs: {err.message}") from None
    return {"runs": runs, "count": len(runs)}
