"""What the MCP server reads of a run without changing it: `research_status` (a research run or
a batch) and `get_plan` (the plan a run proposes, so an agent's `review_plan` does not approve
blind). No MCP types here (cli/mcp_server.py wraps these as tools)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from cli.batch_ids import NotARun, is_batch, not_a_run
from cli.export import finished_report
from cli.research import web_ui_link
from common.errors import CommandError
from workflows.batch import BatchProgress, child_id
from workflows.models import ResearchPlan
from workflows.results import ResearchProgress, ResearchReport, ResearchState

QUERY_TIMEOUT = timedelta(seconds=5)  # a run whose worker is down must not hang the agent
BATCH_QUESTIONS_SHOWN = 100


class McpToolError(Exception):
    """A failure the agent should read: bad input, unknown run, no report, over a cap."""


def status_name(status: WorkflowExecutionStatus | None) -> str:
    return status.name.lower() if status else "unknown"


async def describe(client: Client, workflow_id: str) -> WorkflowExecutionDescription:
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise McpToolError(
                f"no research run {workflow_id} in namespace {client.namespace}"
            ) from None
        raise McpToolError(f"cannot read {workflow_id}: {err.message}") from None


def research_run(workflow_id: str, description: WorkflowExecutionDescription, tool: str) -> None:
    """McpToolError when the id is not one research run (a batch: what serves it)."""
    try:
        not_a_run(workflow_id, description, tool)
    except NotARun as err:
        raise McpToolError(str(err)) from None


async def _query(client: Client, workflow_id: str, name: str, result_type: type) -> Any:
    try:
        return await client.get_workflow_handle(workflow_id).query(
            name, result_type=result_type, rpc_timeout=QUERY_TIMEOUT
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
        "cost_usd": progress.usage.cost_usd,
        "stop_reason": progress.stop_reason,
        "paused": progress.paused,
        "held_before": progress.held_before,
        "plan_review": progress.plan_review,
    }


def _report_fields(report: ResearchReport) -> dict[str, Any]:
    """A finished run, from its report: the last judge score is the report's last one."""
    return {
        "question": report.question,
        "phase": "completed",
        "iteration": report.iterations,
        "quality": report.quality_history[-1] if report.quality_history else None,
        "quality_history": report.quality_history,
        "questions_asked": len(report.findings),
        "sources_found": report.sources_retrieved,
        "sources_cited": len(report.sources),
        "llm_calls": report.usage_total.calls,
        "tokens": report.usage_total.total_tokens,
        "cost_usd": report.usage_total.cost_usd,
        "stop_reason": report.stop_reason,
    }


async def _plan(
    client: Client, workflow_id: str, progress: ResearchProgress
) -> ResearchPlan | None:
    """The plan under review: from the progress query when it carries it, else the state."""
    proposed = getattr(progress, "proposed_plan", None)
    if proposed is not None:
        return proposed
    state: ResearchState | None = await _query(client, workflow_id, "state", ResearchState)
    return state.plan if state else None


def _plan_answer(plan: ResearchPlan | None) -> dict[str, Any]:
    if plan is None:
        return {"plan": None}
    return {
        "plan": plan.model_dump(mode="json"),
        "next": "review_plan(workflow_id) approves this plan; review_plan(workflow_id, plan=...) "
        "replaces it (same shape: sections of title and focus); guidance steers the research",
    }


async def research_status(client: Client, workflow_id: str, *, web_ui_url: str) -> dict[str, Any]:
    description = await describe(client, workflow_id)
    status = status_name(description.status)
    answer: dict[str, Any] = {
        "workflow_id": workflow_id,
        "status": status,
        "web_ui": web_ui_link(web_ui_url, workflow_id, client.namespace),
    }
    if is_batch(description):
        return answer | await _batch_fields(client, workflow_id)
    research_run(workflow_id, description, "research_status")
    if status == "completed":
        try:
            report = await finished_report(client, workflow_id, "get_report")
        except CommandError as err:
            raise McpToolError(str(err)) from None
        return answer | _report_fields(report)
    answer["question"] = await description.static_summary()
    progress: ResearchProgress | None = await _query(
        client, workflow_id, "progress", ResearchProgress
    )
    if progress is not None:
        answer |= _progress_fields(progress)
        if progress.plan_review == "waiting":
            answer |= _plan_answer(await _plan(client, workflow_id, progress))
    elif status == "running":
        answer["note"] = "no worker has answered yet: the run waits for one"
    return answer


async def get_plan(client: Client, workflow_id: str) -> dict[str, Any]:
    """The run's plan and its review status: while it waits for review, the proposed plan."""
    description = await describe(client, workflow_id)
    research_run(workflow_id, description, "get_plan")
    progress: ResearchProgress | None = await _query(
        client, workflow_id, "progress", ResearchProgress
    )
    if progress is None:
        raise McpToolError(f"{workflow_id} did not answer: no worker is serving it right now")
    answer = {"workflow_id": workflow_id, "plan_review": progress.plan_review}
    plan = await _plan(client, workflow_id, progress)
    if plan is None:
        return answer | {"plan": None, "message": "the plan is not written yet: ask again soon"}
    shown = _plan_answer(plan)
    if progress.plan_review != "waiting":
        shown.pop("next", None)  # nothing to review
    return answer | shown


async def _batch_fields(client: Client, workflow_id: str) -> dict[str, Any]:
    progress: BatchProgress | None = await _query(client, workflow_id, "progress", BatchProgress)
    answer: dict[str, Any] = {"kind": "batch"}
    if progress is None:
        return answer | {"note": "no worker has answered for this batch yet"}
    questions = [
        {"id": record.id, "workflow_id": record.workflow_id, "status": record.status}
        for record in progress.finished
    ] + [
        {"id": qid, "workflow_id": child_id(workflow_id, qid), "status": "running"}
        for qid in progress.running_ids
    ]
    answer |= {
        "total": progress.total,
        "completed": progress.completed,
        "failed": progress.failed,
        "running": progress.running,
        "pending": progress.pending,
        "llm_calls": progress.llm_calls,
        "tokens": progress.tokens,
        "questions": questions[:BATCH_QUESTIONS_SHOWN],
        "next": "each question is a research run of its own: research_status and get_report "
        "take its workflow_id",
    }
    if len(questions) > BATCH_QUESTIONS_SHOWN:
        answer["questions_not_shown"] = len(questions) - BATCH_QUESTIONS_SHOWN
    return answer
