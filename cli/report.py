"""`client.py report ID [--out FILE]`: write the report of a run that has finished.

For a client that was stopped while its run went on: the run's result is read from Temporal
(following continue-as-new), nothing is run again.
"""

from __future__ import annotations

import argparse
import sys

from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from cli.batch_ids import not_a_run
from cli.output import OUT_HELP, report_paths
from cli.research import print_done
from common.errors import UsageError
from common.temporal_connection import connect_from_env
from workflows.failures import innermost_message
from workflows.results import ResearchReport


async def cmd_report(args: argparse.Namespace) -> int:
    paths = report_paths(args.out, args.id)
    client = await connect_from_env()
    handle = client.get_workflow_handle(args.id, result_type=ResearchReport)
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise UsageError(f"no workflow {args.id} in namespace {client.namespace}") from None
        raise UsageError(f"cannot read workflow {args.id}: {err.message}") from None
    not_a_run(args.id, description, "report")
    if description.status == WorkflowExecutionStatus.RUNNING:
        raise UsageError(
            f"{args.id} is still running: `client.py watch {args.id}` follows it; "
            "ask for the report once it has finished"
        )
    try:
        report = await handle.result()
    except WorkflowFailureError as err:
        print(f"error: research {args.id} has no report: {innermost_message(err)}", file=sys.stderr)
        return 1
    print_done(report, paths)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("report", help="write the report of a finished run")
    sub.add_argument("id", help="workflow id")
    sub.add_argument("--out", help=f"{OUT_HELP}; details in .json beside the Markdown")
    sub.set_defaults(handler=cmd_report)
