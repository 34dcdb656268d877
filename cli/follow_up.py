"""`client.py follow-up ID "question"`: a new run that builds on a finished one.

The new run takes the parent's report as its noisy draft and the parent's cited passages as
evidence already retrieved (workflows/continuation.py reads them by the parent's id in an
activity), and searches only for what the new question adds. Its report names its parent (a
line, and the TtdrParent search attribute) and keeps the parent's source numbers.

Everything is checked before anything starts: the question, --config, --id and --out, then the
parent (it must be a finished research run: not unknown, running, failed or a batch). Without
--config the follow-up runs with its parent's config.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError

from cli.client_settings import client_settings
from cli.ids import ID_RULE, check_id, id_problem
from cli.output import report_paths
from cli.request import build_request, validate_request
from cli.research import follow, print_done, start_or_attach, web_ui_link
from common.errors import CommandError, UsageError
from common.temporal_connection import connect_from_env
from workflows.config import ResearchConfig
from workflows.continuation_models import ContinuationRequest
from workflows.failures import innermost_message
from workflows.state import RunInput

if TYPE_CHECKING:
    from cli.mcp_limits import McpLimits
    from cli.mcp_tools import Connection


def new_follow_up_id(parent_id: str) -> str:
    stem = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in parent_id)[:80]
    return check_id(f"{stem.lstrip('.-_') or 'run'}-followup-{uuid.uuid4().hex[:6]}")


async def parent_config(client: Client, parent_id: str) -> ResearchConfig:
    """The config the parent run was started with (its first run's input)."""
    handle = client.get_workflow_handle(parent_id)
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            try:
                [request] = await client.data_converter.decode(payloads[:1], [RunInput])
            except Exception:  # an input this code cannot read: the default config
                return ResearchConfig()
            return request.config
        break
    return ResearchConfig()


async def checked_follow_up(
    client: Client, parent_id: str, question: str, config: ResearchConfig | None
) -> RunInput:
    """The follow-up's input once the parent is known to be a finished research run; UsageError
    (nothing started) otherwise."""
    # Imported here: the worker-side module is slow to import for every client.py command.
    from activities.continuation import ParentError, parent_report

    try:
        await parent_report(client, parent_id)
    except ParentError as err:
        raise UsageError(f"cannot follow up: {err}") from None
    return RunInput(
        question=question,
        config=config or await parent_config(client, parent_id),
        continuation=ContinuationRequest(kind="follow_up", parent_id=parent_id),
    )


async def follow_up(args: argparse.Namespace) -> int:
    checked = build_request(args.question, args.config, args.max_iterations)
    config = checked.config if args.config or args.max_iterations is not None else None
    workflow_id = check_id(args.id) if args.id is not None else new_follow_up_id(args.parent)
    paths = report_paths(args.out, workflow_id)  # before any money is spent
    client = await connect_from_env()
    request = await checked_follow_up(client, args.parent, checked.question, config)
    if args.max_iterations is not None and args.config is None:
        merged = request.config.model_copy(update={"max_iterations": args.max_iterations})
        request = request.model_copy(update={"config": merged})
    handle = await start_or_attach(client, workflow_id, request)
    print(f"workflow_id: {workflow_id}")
    print(f"parent: {args.parent}")
    link = web_ui_link(client_settings(args).web_ui_url, workflow_id, client.namespace)
    print(f"web_ui: {link}", flush=True)
    if args.no_wait:
        return 0
    try:
        report = await follow(client, handle)
    except WorkflowFailureError as err:
        print(f"error: follow-up {workflow_id} failed: {innermost_message(err)}", file=sys.stderr)
        return 1
    print_done(report, paths)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "follow-up",
        help="ask a follow-up question on a finished run: its report is the new run's draft",
    )
    run.add_argument("parent", metavar="ID", help="workflow id of the finished research run")
    run.add_argument("question")
    run.add_argument("--id", help="workflow id of the follow-up (default: <ID>-followup-<random>)")
    run.add_argument("--max-iterations", type=int, help="override config.max_iterations")
    run.add_argument(
        "--config", type=Path, help="ResearchConfig as a JSON file (default: the parent's)"
    )
    run.add_argument(
        "--out", type=Path, help="report path (default reports/<id>.md; details in .json beside)"
    )
    run.add_argument("--no-wait", action="store_true", help="start the run and exit")
    run.set_defaults(handler=follow_up)


async def start_follow_up(
    connection: Connection, parent_id: str, question: str, workflow_id: str | None
) -> dict[str, object]:
    """The MCP tool `follow_up`: the CLI's checks, then the run started (not awaited) as an MCP
    run: its parent's config with the budgets lowered to the MCP server's caps, counted among
    the server's runs in flight (cli/mcp_tools.py start_counted)."""
    # The MCP layer's parts, imported only for this tool (client.py's other commands skip them).
    from cli.mcp_limits import McpLimitError
    from cli.mcp_tools import McpToolError, start_counted

    try:
        checked = validate_request(question, {})
        if workflow_id and (problem := id_problem(workflow_id)):
            raise UsageError(f"invalid workflow_id: {problem} (allowed: {ID_RULE})")
        run_id = workflow_id or new_follow_up_id(parent_id)
        client = await connection.client()
        request = await checked_follow_up(client, parent_id, checked.question, None)
        config = within_caps(request.config, connection.limits)
    except (CommandError, McpLimitError) as err:
        raise McpToolError(f"{err} (nothing was started)") from None
    request = request.model_copy(update={"config": config})
    await start_counted(connection, client, request, run_id)
    return {
        "workflow_id": run_id,
        "parent": parent_id,
        "status": "started",
        "web_ui": web_ui_link(connection.settings.web_ui_url, run_id, client.namespace),
        "budget": {
            "max_llm_calls": config.max_llm_calls,
            "max_total_tokens": config.max_total_tokens,
            "max_cost_usd": config.max_cost_usd,
        },
        "next": "research_status(workflow_id) shows progress; get_report(workflow_id) the report",
    }


def within_caps(config: ResearchConfig, limits: McpLimits) -> ResearchConfig:
    """The parent's config with each budget at most the MCP server's cap (the agent did not
    choose the parent's budgets, so they are lowered rather than refused)."""
    values = config.model_dump()
    for field, cap in (
        ("max_llm_calls", limits.max_llm_calls),
        ("max_total_tokens", limits.max_total_tokens),
        ("max_cost_usd", limits.max_cost_usd),
    ):
        if values[field] is not None and values[field] > cap:
            values[field] = cap
    return ResearchConfig.model_validate(limits.capped(values))
