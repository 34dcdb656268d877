"""A batch id given to a per-run command (`progress`, `state`, `watch`, `report`, `export`,
`profile`, MCP's `research_status` / `get_report`).

`client.py batch` prints its batch id (`batch-q3-d62b641d70`) as prominently as `research`
prints a run's id, so users pass it to the per-run commands. Each command calls one function
here right after it has described the workflow: `progress` shows the batch's questions; the
others say in one line that this is a batch and which command serves it (instead of a
ValidationError or WorkflowQueryFailedError traceback from reading a batch as a run).
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.service import RPCError, RPCStatusCode

from common.errors import UsageError
from workflows.batch import WORKFLOW_NAME as BATCH_WORKFLOW
from workflows.batch import BatchProgress
from workflows.research import WORKFLOW_NAME as RESEARCH_WORKFLOW

QUERY_TIMEOUT = timedelta(seconds=5)
RUNNING_IDS_SHOWN = 5
# What serves a batch, per command: the rest of the sentence after "<id> is a batch of research
# runs (one per question): ".
_SERVED_BY = {
    "report": "its articles are in the OUT file `client.py batch` writes (default "
    "reports/{id}.jsonl); `client.py report {id}.<question id>` writes one question's report",
    "export": "its articles are in the OUT file `client.py batch` writes (default "
    "reports/{id}.jsonl); `client.py export {id}.<question id>` exports one question's report",
    "state": "`client.py progress {id}` shows its questions; "
    "`client.py state {id}.<question id>` shows one of them",
    "watch": "the same `client.py batch FILE` command follows it and writes its articles; "
    "`client.py watch {id}.<question id>` follows one question",
    "profile": "`client.py profile {id}.<question id>` profiles one question's run; "
    "`client.py progress {id}` shows the batch",
    "get_report": "research_status('{id}') lists its questions and their workflow ids; "
    "get_report('{id}.<question id>') returns one question's report",
}


class NotARun(UsageError):
    """The id names a batch (or another kind of workflow), not one research run."""


def is_batch(description: WorkflowExecutionDescription) -> bool:
    return description.workflow_type == BATCH_WORKFLOW


def not_a_run(workflow_id: str, description: WorkflowExecutionDescription, command: str) -> None:
    """NotARun, one line naming what serves the id, when it is not a research run."""
    kind = description.workflow_type
    if kind == RESEARCH_WORKFLOW:
        return
    if kind == BATCH_WORKFLOW:
        serves = _SERVED_BY.get(command, "`client.py progress {id}` shows its questions")
        raise NotARun(
            f"{workflow_id} is a batch of research runs (one per question): "
            + serves.format(id=workflow_id)
        )
    raise NotARun(f"{workflow_id} is a {kind} workflow, not a research run")


async def check_run_id(client: Client, workflow_id: str, command: str) -> None:
    """not_a_run for a command that has not described the workflow itself (profile: its
    history alone would give an empty profile). An unknown id is left to the command."""
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return
        raise
    not_a_run(workflow_id, description, command)


async def batch_progress(handle: WorkflowHandle, workflow_id: str) -> BatchProgress:
    try:
        return await handle.query("progress", result_type=BatchProgress, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, TimeoutError):
        raise NotARun(
            f"{workflow_id} is a batch, but no worker answered for its progress: is one running?"
        ) from None


def batch_line(workflow_id: str, progress: BatchProgress, closed: str | None) -> str:
    parts = [f"batch {workflow_id}"]
    if closed:
        parts.append(closed)
    parts.append(f"{progress.completed} of {progress.total} done")
    parts.append(f"{progress.failed} failed")
    parts.append(f"{progress.running} running")
    parts.append(f"{progress.pending} pending")
    parts.append(f"{progress.llm_calls} LLM calls, {progress.tokens} tokens")
    line = " · ".join(parts)
    if progress.running_ids:
        shown = [f"{workflow_id}.{q}" for q in progress.running_ids[:RUNNING_IDS_SHOWN]]
        more = len(progress.running_ids) - len(shown)
        line += f"\nrunning: {', '.join(shown)}" + (f" and {more} more" if more else "")
    return line


async def show_batch_progress(
    handle: WorkflowHandle, description: WorkflowExecutionDescription, args: argparse.Namespace
) -> int | None:
    """`progress` of a batch: its questions (done, failed, running, pending, usage); None for
    a research run, which `progress` shows itself. Other workflow types: NotARun."""
    if not is_batch(description):
        not_a_run(args.id, description, "progress")
        return None
    progress = await batch_progress(handle, args.id)
    status = description.status
    closed = None if status in (None, WorkflowExecutionStatus.RUNNING) else status.name.lower()
    line = batch_line(args.id, progress, closed)
    print(progress.model_dump_json(indent=2) if args.json else line)
    return 0
