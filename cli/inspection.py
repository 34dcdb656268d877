"""Live inspection and control of a running research, as client.py commands:

progress / state / watch read the workflow's queries; pause / resume / step / break / feedback
are workflow updates (the caller gets an answer, or a clear rejection); cancel cancels the run
(its state stays queryable).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from temporalio.client import (
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from cli import batch_ids
from cli.typed import as_typed
from cli.views import control_text, progress_line, state_view
from common.errors import CommandError
from common.temporal_connection import connect_from_env
from inspection.waits import retry_waits
from workflows.config import EVOLUTION_NODE, NODE_NAMES
from workflows.results import ControlStatus, ResearchProgress, ResearchState

WATCH_SECONDS = 1.0


class InspectError(CommandError):
    """One-line reason, exit code 2."""


async def _described(workflow_id: str) -> tuple[WorkflowHandle, WorkflowExecutionDescription]:
    client = await connect_from_env()
    handle = client.get_workflow_handle(workflow_id)
    try:
        return handle, await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise InspectError(
                f"no workflow {workflow_id} in namespace {client.namespace}"
            ) from None
        raise


def closed_status(description: WorkflowExecutionDescription) -> str | None:
    """`cancelled`, `completed`, ... once the run has ended; None while it runs."""
    status = description.status
    if status is None or status == WorkflowExecutionStatus.RUNNING:
        return None
    return status.name.lower()


def waits_of(description: WorkflowExecutionDescription, *, countdown: bool = True) -> list[str]:
    """Nodes waiting out a retry's back-off (a provider's 429 with a long Retry-After)."""
    now = datetime.now(UTC)
    waits = retry_waits(description.raw_description.pending_activities, now)
    return [wait.text(now if countdown else None) for wait in waits]


# ---------------------------------------------------------------- commands


async def cmd_progress(args: argparse.Namespace) -> int:
    handle, description = await _described(args.id)
    if (code := await batch_ids.show_batch_progress(handle, description, args)) is not None:
        return code
    progress = await handle.query("progress", result_type=ResearchProgress)
    closed = closed_status(description)
    if closed:  # the last state a cancelled run answers may still show its hold: it has none
        progress = progress.model_copy(update={"held_before": None, "paused": False})
    if args.json:
        print(progress.model_dump_json(indent=2))
    else:
        print(progress_line(progress, closed, workflow_id=args.id, waits=waits_of(description)))
    return 0


async def cmd_state(args: argparse.Namespace) -> int:
    handle, description = await _described(args.id)
    batch_ids.not_a_run(args.id, description, "state")
    state = await handle.query("state", result_type=ResearchState)
    if args.json:
        print(state.model_dump_json(indent=2))
    else:
        closed = closed_status(description)
        print(state_view(state, closed, workflow_id=args.id, waits=waits_of(description)))
    return 0


async def cmd_watch(args: argparse.Namespace) -> int:
    """Follow a run to its end: one line per change, a redrawn screen in a terminal."""
    handle, described = await _described(args.id)
    batch_ids.not_a_run(args.id, described, "watch")
    args.interrupt_hint = (  # what Ctrl-C prints (cli/main.py)
        f"the run goes on in Temporal: `client.py watch {args.id}` follows it again, "
        f"`client.py report {args.id}` writes its report once it has finished"
    )
    tty = sys.stdout.isatty()
    last = ""
    while True:
        description = await handle.describe()
        running = description.status == WorkflowExecutionStatus.RUNNING
        try:
            state = await handle.query("state", result_type=ResearchState)
        except RPCError:
            state = None  # no worker to answer queries right now
        closed = closed_status(description)
        view = (
            state_view(state, closed, workflow_id=args.id, waits=waits_of(description))
            if state
            else "(waiting for a worker to answer)"
        )
        if tty:
            sys.stdout.write("\x1b[2J\x1b[H" + f"{args.id} · {description.status.name}\n\n{view}\n")
            sys.stdout.flush()
        elif (
            state
            and (
                line := progress_line(
                    state.progress,
                    closed,
                    workflow_id=args.id,
                    waits=waits_of(description, countdown=False),  # one line per change, not second
                )
            )
            != last
        ):
            print(line, flush=True)
            last = line
        if not running:
            status = description.status.name if description.status else "UNKNOWN"
            print(f"{args.id}: {status.lower()}")
            return 0 if description.status == WorkflowExecutionStatus.COMPLETED else 1
        await asyncio.sleep(WATCH_SECONDS)


async def _update(
    args: argparse.Namespace, name: str, argument: str | None = None
) -> ControlStatus:
    handle, _ = await _described(args.id)
    try:
        if argument is None:
            return await handle.execute_update(name, result_type=ControlStatus)
        return await handle.execute_update(name, argument, result_type=ControlStatus)
    except WorkflowUpdateFailedError as err:
        reason = str(err.cause) if err.cause else str(err)
        raise InspectError(f"{name} rejected: {reason}") from None
    except RPCError as err:
        raise InspectError(f"{name} failed: {err.message}") from None


def _print_status(status: ControlStatus) -> int:
    print(f"{status.message} (now {control_text(status)})")
    return 0


def _simple_update(name: str) -> Callable[[argparse.Namespace], Awaitable[int]]:
    async def run(args: argparse.Namespace) -> int:
        return _print_status(await _update(args, name))

    return run


async def cmd_break(args: argparse.Namespace) -> int:
    node = args.before
    if node not in (*NODE_NAMES, EVOLUTION_NODE):
        raise InspectError(
            f"unknown node {node!r}: use one of {', '.join((*NODE_NAMES, EVOLUTION_NODE))}"
        )
    return _print_status(await _update(args, "clear_break" if args.clear else "break_before", node))


async def cmd_feedback(args: argparse.Namespace) -> int:
    if not args.text.strip():
        raise InspectError("feedback is empty")
    return _print_status(await _update(args, "feedback", args.text))


async def cmd_cancel(args: argparse.Namespace) -> int:
    handle, _ = await _described(args.id)
    await handle.cancel()
    print(
        as_typed(
            f"cancellation requested for {args.id}; its state stays queryable (client.py state)"
        )
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    def add(
        name: str, handler: Callable[..., Awaitable[int]], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("id", help="workflow id")
        sub.set_defaults(handler=handler)
        return sub

    add("progress", cmd_progress, "phase, node, iteration, quality, usage").add_argument(
        "--json", action="store_true"
    )
    add("state", cmd_state, "plan, questions and answers, current draft, usage").add_argument(
        "--json", action="store_true"
    )
    add("watch", cmd_watch, "follow a run live until it ends")
    add("pause", _simple_update("pause"), "hold before the next node")
    add("resume", _simple_update("resume"), "continue a paused or held run")
    add("step", _simple_update("step"), "run one node, then hold again")
    brk = add("break", cmd_break, "hold every time the run reaches NODE")
    brk.add_argument("--before", required=True, metavar="NODE")
    brk.add_argument("--clear", action="store_true", help="remove that breakpoint")
    add("feedback", cmd_feedback, "a note the next gap analysis and revision use").add_argument(
        "text"
    )
    add("cancel", cmd_cancel, "cancel the run cleanly")
