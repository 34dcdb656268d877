"""`client.py research QUESTION`: start a run (or attach to the same one), follow it, write its
report.

Everything is checked before the server is contacted: the question and config
(cli/request.py), the --id (cli/ids.py) and the report location (cli/output.py). A repeated
--id never starts a second paid run: the start uses Temporal's id policies (reject a duplicate of
a closed run, fail on a running one), and then the command attaches to the running run when it
asks the same question with the same config, or refuses in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import Priority, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from cli.client_settings import client_settings
from cli.export import (
    add_format_option,
    export_failed,
    parse_format_option,
    targets_beside,
    write_exports,
)
from cli.ids import check_id, new_workflow_id
from cli.output import OUT_HELP, ReportPaths, report_paths, write_report
from cli.plan_review import review_interactively
from cli.priority import add_priority_options, priority_from_args
from cli.request import build_request
from cli.stalls import stall_reason
from cli.typed import as_typed
from cli.views import cost_text, plural, progress_line
from common.errors import UsageError
from common.temporal_connection import connect_from_env, task_queue_from_env
from inspection.waits import retry_waits
from workflows.failures import innermost_message
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchProgress, ResearchReport
from workflows.state import RunInput

POLL_SECONDS = 1.0
QUERY_TIMEOUT = timedelta(seconds=2)
STALL_SECONDS = 3.0  # unanswered this long: look for the reason
DESCRIBE_SECONDS = 5.0  # how often a followed run is described for retry back-offs


def web_ui_link(web_ui_url: str, workflow_id: str, namespace: str) -> str:
    """The run's page; `web_ui_url` is TTDR_WEB_UI_URL from the caller's ClientSettings."""
    return f"{web_ui_url.rstrip('/')}/namespaces/{namespace}/workflows/{workflow_id}"


async def follow(client: Client, handle: WorkflowHandle[object, ResearchReport]) -> ResearchReport:
    """Print progress lines as the run moves on, then return its result (following the run
    through continue-as-new: queries go to the latest run of the workflow id). When the run
    does not answer for a while, say why once (cli/stalls.py)."""
    latest = client.get_workflow_handle(handle.id)
    result = asyncio.ensure_future(handle.result())
    last = ""
    said: set[str] = set()
    answered = time.monotonic()
    waits: list[str] = []
    described = 0.0
    while not result.done():
        try:
            progress = await latest.query(
                "progress", result_type=ResearchProgress, rpc_timeout=QUERY_TIMEOUT
            )
            answered = time.monotonic()
            if answered - described >= DESCRIBE_SECONDS:  # a node waiting out a long back-off
                described = answered
                waits = await retry_waits_of(latest)
            line = progress_line(progress, workflow_id=handle.id, waits=waits)
            if line != last:
                print(f"  {line}", flush=True)
                last = line
            if progress.plan_review == "waiting" and "review" not in said:
                said.add("review")
                await _offer_review(latest)
        except RPCError:
            # No worker has picked the run up yet, or it just finished, or it is stuck.
            if time.monotonic() - answered > STALL_SECONDS:
                reason = await stall_reason(client, latest)
                if reason and reason not in said:
                    print(f"waiting: {reason}", file=sys.stderr, flush=True)
                    said.add(reason)
        await asyncio.wait({result}, timeout=POLL_SECONDS)
    return result.result()


async def retry_waits_of(handle: WorkflowHandle) -> list[str]:
    """Nodes waiting out a retry's back-off (a 429's Retry-After), without a countdown: one
    progress line per wait, not per second."""
    try:
        description = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
    except RPCError:
        return []
    return [wait.text() for wait in retry_waits(description.raw_description.pending_activities)]


async def _offer_review(handle: WorkflowHandle) -> None:
    """The run waits for its plan to be reviewed: ask here in a terminal, else say how."""
    if sys.stdin.isatty():
        await review_interactively(handle)
    else:
        print(
            as_typed(
                f"waiting for plan review: client.py review {handle.id} "
                "[--plan FILE.json] [--guidance TEXT] (--show prints the plan)"
            ),
            flush=True,
        )


async def _request_of(client: Client, workflow_id: str, run_id: str | None) -> RunInput | None:
    """The input the run with this id was started with (its first run's), or None. Read as the
    workflow's own input type: a follow-up's or a watched topic's names its parent, which a
    plain request has no field for."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    async for event in handle.fetch_history_events():
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            return None
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        if not payloads:
            return None
        try:
            [request] = await client.data_converter.decode(payloads[:1], [RunInput])
        except Exception:  # another workflow type under this id: not the same request
            return None
        return request
    return None


def as_run_input(request: ResearchRequest) -> RunInput:
    """`request` as the workflow reads it, so a start and a repeat compare field by field."""
    if isinstance(request, RunInput):
        return request
    return RunInput(question=request.question, config=request.config)


async def start_or_attach(
    client: Client, workflow_id: str, request: ResearchRequest, priority: Priority | None = None
) -> WorkflowHandle[object, ResearchReport]:
    try:
        return await client.start_workflow(
            WORKFLOW_NAME,
            request,
            id=workflow_id,
            task_queue=task_queue_from_env(),
            result_type=ResearchReport,
            # An id names one run for good: never a second run after it has closed ...
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            # ... and no silent attach by the server: the request is compared first (below).
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            # Shown as the run's summary in the Web UI's list and detail pages.
            static_summary=request.question[:200],
            # --priority / --fairness-key, inherited by the run's activities (cli/priority.py).
            priority=priority or Priority.default,
        )
    except WorkflowAlreadyStartedError as err:
        existing = await _request_of(client, workflow_id, err.first_run_id or err.run_id)
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        raise UsageError(f"could not start workflow {workflow_id}: {err.message}") from None
    status = description.status.name.lower() if description.status else "unknown"
    if status != "running":
        raise UsageError(
            f"workflow id {workflow_id} belongs to a run that has ended ({status}): "
            f"`client.py report {workflow_id}` writes its report; choose another --id for a new run"
        )
    wanted = as_run_input(request)
    if existing != wanted:
        what = "question, parent or config" if wanted.continuation else "question or config"
        raise UsageError(
            f"workflow id {workflow_id} is already running a different {what}: "
            f"follow it with `client.py watch {workflow_id}`, or choose another --id"
        )
    print(f"attached: {workflow_id} already runs this question; following it (no new run)")
    return client.get_workflow_handle(workflow_id, result_type=ResearchReport)


def interrupt_hint(workflow_id: str) -> str:
    return (
        f"the run goes on in Temporal: `client.py watch {workflow_id}` follows it, "
        f"`client.py report {workflow_id}` writes its report once it has finished"
    )


def sources_listed(report: ResearchReport) -> int:
    """Entries of the report's Sources list: passages of one document share its number."""
    return len({numbered.number for numbered in report.sources})


def print_done(report: ResearchReport, paths: ReportPaths) -> None:
    usage = report.usage_total
    cost, price_hint = cost_text(usage)
    print(
        f"done: {plural(report.iterations, 'iteration')}, stop: {report.stop_reason}, "
        f"{plural(sources_listed(report), 'source')} cited, {plural(usage.calls, 'LLM call')}, "
        f"{usage.total_tokens} tokens, {cost}"
    )
    if price_hint:
        print(f"  {price_hint}")
    print(f"report: {write_report(report, paths)}")


async def research(args: argparse.Namespace) -> int:
    request = build_request(args.question, args.config, args.max_iterations)
    if args.review_plan:
        config = request.config.model_copy(update={"review_plan": True})
        request = request.model_copy(update={"config": config})
    workflow_id = check_id(args.id) if args.id is not None else new_workflow_id(request.question)
    priority = priority_from_args(args)
    paths = report_paths(args.out, workflow_id)  # before any money is spent
    exports = targets_beside(paths.markdown, parse_format_option(args.format or "md"))
    client = await connect_from_env()
    handle = await start_or_attach(client, workflow_id, request, priority)
    print(f"workflow_id: {workflow_id}")
    link = web_ui_link(client_settings(args).web_ui_url, workflow_id, client.namespace)
    print(f"web_ui: {link}", flush=True)
    args.interrupt_hint = interrupt_hint(workflow_id)  # what Ctrl-C prints (cli/main.py)
    if args.no_wait:
        return 0
    try:
        report = await follow(client, handle)
    except WorkflowFailureError as err:
        print(f"error: research {workflow_id} failed: {innermost_message(err)}", file=sys.stderr)
        return 1
    print_done(report, paths)
    # --format: HTML, PDF, DOCX beside the Markdown, each on its own (the run is paid for)
    return export_failed(workflow_id, write_exports(report, exports))


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("research", help="start a research run and wait for its report")
    run.add_argument("question")
    run.add_argument(
        "--id",
        help="workflow id: 1-128 of A-Z a-z 0-9 . _ - (default: research-<slug>-<random>); "
        "the same id again attaches to that run",
    )
    run.add_argument("--max-iterations", type=int, help="override config.max_iterations")
    run.add_argument("--config", type=Path, help="ResearchConfig as a JSON file")
    run.add_argument("--out", help=f"{OUT_HELP}; details in .json beside the Markdown")
    run.add_argument("--no-wait", action="store_true", help="start the run and exit")
    run.add_argument(
        "--review-plan",
        action="store_true",
        help="wait after the plan for you to approve, edit or steer it (client.py review)",
    )
    add_format_option(run)  # md is always written; html, pdf, docx go beside it
    add_priority_options(run)
    run.set_defaults(handler=research)
