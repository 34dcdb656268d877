"""What the MCP server's tools do, against Temporal: start, report, feedback, plan review,
cancel, list (status and plan: cli/mcp_status.py). No MCP types here (cli/mcp_server.py wraps
these as tools and a resource).

Every function returns at once: a run lives in Temporal, not in the MCP server's process, so an
agent may start a run, disconnect, and fetch the report from a new session later. Bad input is
refused with the CLI's own rules (cli/request.py, cli/ids.py) before the server is contacted —
an empty question is reported as such even when Temporal is down — as an McpToolError whose
message the agent reads. Nothing here prints: on stdio, stdout is the protocol channel.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

import export
from cli.export import NoReport, RunStillGoing, finished_report
from cli.ids import ID_RULE, id_problem, new_workflow_id
from cli.mcp_limits import MEMO_KEY, MEMO_VALUE, McpLimitError, McpLimits, runs_in_flight
from cli.mcp_status import McpToolError, describe, research_run, research_status, status_name
from cli.request import validate_request
from cli.research import web_ui_link
from common.errors import CommandError
from common.settings import ClientSettings
from common.temporal_connection import connect_from_env
from workflows.models import ResearchPlan, ResearchRequest
from workflows.plan_review import PlanDecision
from workflows.research import WORKFLOW_NAME
from workflows.results import ControlStatus

MAX_LIST = 100
LIST_DESCRIBE_CONCURRENCY = 8
REPORT_FORMATS = ("markdown", "html", "json", "pdf", "docx")

__all__ = ["Connection", "McpToolError"]


class Connection:
    """One Temporal client per server process, made on first use (a server that starts while
    Temporal is down still answers, with the connection error as the tool's error), and what
    the server lets agents spend (cli/mcp_limits.py; a bad setting stops the server at start)."""

    def __init__(
        self, env: Mapping[str, str] | None = None, settings: ClientSettings | None = None
    ) -> None:
        self._env = dict(os.environ if env is None else env)
        self._client: Client | None = None
        # cmd_mcp hands over the settings cli/main.py checked; a test gives only env.
        self.settings = settings or ClientSettings.load(self._env)
        self.limits = McpLimits.from_settings(self.settings)
        self.task_queue = self.settings.task_queue
        self.started: set[str] = set()  # ids this process started (visibility lags)
        self.start_lock = asyncio.Lock()  # one start at a time: the in-flight count holds

    async def client(self) -> Client:
        if self._client is None:
            try:
                self._client = await connect_from_env(self._env)
            except CommandError as err:
                raise McpToolError(str(err)) from None
        return self._client


async def start_counted(
    connection: Connection, client: Client, request: ResearchRequest, run_id: str
) -> None:
    """Start `request` as `run_id`, an MCP run (memo started_by: mcp), when fewer than the cap
    of MCP runs are in flight on the task queue; McpToolError (nothing started) otherwise. Also
    used by the follow_up tool (cli/follow_up.py)."""
    async with connection.start_lock:
        try:
            running = await runs_in_flight(client, connection.task_queue, connection.started)
        except McpLimitError as err:
            raise McpToolError(f"{err} (nothing was started)") from None
        if len(running) >= connection.limits.max_runs:
            raise McpToolError(
                f"{len(running)} runs started through MCP are still running (the cap is "
                f"{connection.limits.max_runs}, TTDR_MCP_MAX_RUNS): wait for one to finish or "
                f"cancel_research one ({', '.join(sorted(running))}); nothing was started"
            )
        try:
            await client.start_workflow(
                WORKFLOW_NAME,
                request,
                id=run_id,
                task_queue=connection.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                static_summary=request.question[:200],
                memo={MEMO_KEY: MEMO_VALUE},
            )
        except WorkflowAlreadyStartedError:
            raise McpToolError(
                f"workflow id {run_id} is already taken: research_status or get_report read it; "
                "give another workflow_id (or none) for a new run"
            ) from None
        except RPCError as err:
            raise McpToolError(f"could not start workflow {run_id}: {err.message}") from None
        connection.started.add(run_id)


def checked_request(
    question: str, config: dict[str, Any] | None, workflow_id: str | None, limits: McpLimits
) -> tuple[ResearchRequest, str]:
    """The request and id, by the CLI's rules and within the server's caps; nothing contacted."""
    try:
        request = validate_request(question, limits.capped(dict(config or {})), "config")
    except (CommandError, McpLimitError) as err:
        raise McpToolError(f"{err} (nothing was started)") from None
    if workflow_id is None:
        return request, new_workflow_id(request.question)
    if problem := id_problem(workflow_id):
        raise McpToolError(
            f"invalid workflow_id: {problem} (allowed: {ID_RULE}; nothing was started)"
        )
    return request, workflow_id


async def start_research(
    connection: Connection, question: str, config: dict[str, Any] | None, workflow_id: str | None
) -> dict[str, Any]:
    request, run_id = checked_request(question, config, workflow_id, connection.limits)
    client = await connection.client()
    await start_counted(connection, client, request, run_id)
    config = request.config
    return {
        "workflow_id": run_id,
        "status": "started",
        "web_ui": web_ui_link(connection.settings.web_ui_url, run_id, client.namespace),
        "budget": {
            "max_llm_calls": config.max_llm_calls,
            "max_total_tokens": config.max_total_tokens,
            "max_cost_usd": config.max_cost_usd,
        },
        "next": "research_status(workflow_id) shows progress; get_report(workflow_id) the report",
    }


async def get_report(
    connection: Connection, workflow_id: str, report_format: str
) -> tuple[str, bytes | str] | dict[str, Any]:
    """(format, content) of a finished run; a "still running" status dict while it runs."""
    wanted = report_format.strip().lower()
    wanted = {"md": "markdown", "htm": "html", "word": "docx"}.get(wanted, wanted)
    if wanted not in REPORT_FORMATS:
        raise McpToolError(
            f"unknown format {report_format!r}: choose from {', '.join(REPORT_FORMATS)}"
        )
    client = await connection.client()
    try:
        report = await finished_report(client, workflow_id, "get_report")
    except RunStillGoing:
        status = await research_status(
            client, workflow_id, web_ui_url=connection.settings.web_ui_url
        )
        return {
            **status,
            "status": "running",
            "message": f"{workflow_id} is still running; its report is not written yet: "
            "call get_report again later (research_status shows progress)",
        }
    except (NoReport, CommandError) as err:  # NotARun (a batch id) says what serves it
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


async def _update(
    connection: Connection, workflow_id: str, tool: str, name: str, argument: Any
) -> dict[str, Any]:
    client = await connection.client()
    research_run(workflow_id, await describe(client, workflow_id), tool)
    try:
        status = await client.get_workflow_handle(workflow_id).execute_update(
            name, argument, result_type=ControlStatus
        )
    except WorkflowUpdateFailedError as err:
        reason = getattr(err.cause, "message", None) or str(err.cause or err)
        raise McpToolError(f"{tool} refused: {reason}") from None
    except RPCError as err:
        raise McpToolError(f"{tool} not delivered to {workflow_id}: {err.message}") from None
    return {"workflow_id": workflow_id, "accepted": True, **status.model_dump()}


async def send_feedback(connection: Connection, workflow_id: str, note: str) -> dict[str, Any]:
    if not note.strip():
        raise McpToolError("feedback is empty (nothing was sent)")
    return await _update(connection, workflow_id, "send_feedback", "feedback", note)


async def review_plan(
    connection: Connection, workflow_id: str, plan: ResearchPlan | None, guidance: str
) -> dict[str, Any]:
    """The `review_plan` update, with the same rules as `client.py review`."""
    decision = PlanDecision(
        action="replace" if plan is not None else "approve", plan=plan, guidance=guidance
    )
    return await _update(connection, workflow_id, "review_plan", "review_plan", decision)


async def cancel_research(connection: Connection, workflow_id: str) -> dict[str, Any]:
    client = await connection.client()
    status = status_name((await describe(client, workflow_id)).status)
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


async def list_research(connection: Connection, limit: int) -> dict[str, Any]:
    if not 1 <= limit <= MAX_LIST:
        raise McpToolError(f"limit must be between 1 and {MAX_LIST}, not {limit}")
    client = await connection.client()
    try:
        found = [
            run
            async for run in client.list_workflows(f'WorkflowType = "{WORKFLOW_NAME}"', limit=limit)
        ]
    except RPCError as err:
        raise McpToolError(f"cannot list runs: {err.message}") from None
    gate = asyncio.Semaphore(LIST_DESCRIBE_CONCURRENCY)

    async def question(workflow_id: str) -> str | None:
        """The run's question, as its start recorded it (its summary, 200 characters)."""
        async with gate:
            try:
                return await (
                    await client.get_workflow_handle(workflow_id).describe()
                ).static_summary()
            except RPCError:
                return None

    questions = await asyncio.gather(*(question(run.id) for run in found))
    runs = [
        {
            "workflow_id": run.id,
            "question": text,
            "status": status_name(run.status),
            "started": run.start_time.isoformat() if run.start_time else None,
            "closed": run.close_time.isoformat() if run.close_time else None,
            "web_ui": web_ui_link(connection.settings.web_ui_url, run.id, client.namespace),
        }
        for run, text in zip(found, questions, strict=True)
    ]
    return {"runs": runs, "count": len(runs)}
