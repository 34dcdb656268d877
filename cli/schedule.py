"""`client.py schedule "question" --every 7d | --cron "..."`: a watched topic, on Temporal
Schedules; and `schedule list | show ID | pause ID | resume ID | trigger ID | delete ID`.

Each scheduled run is a research run whose workflow id starts with the schedule's id (Temporal
appends the time). It starts from the previous scheduled run's report as its draft, re-checks
that report's claims against the current text of their documents, and its report opens with
"What changed since DATE" (workflows/continuation.py). Settings of every schedule: overlap
policy skip (a run still going when the next is due: the next is skipped), a bounded catch-up
window (runs missed while the server was down are made up only within it), a note.

All input is checked before the server is contacted: question and --config, the interval (one
minute at least; TTDR_SCHEDULE_ALLOW_SECONDS=true allows seconds, for tests only), the cron
expression's shape, --id, and --notify (http(s), a public address: activities/notify.py).
"""

from __future__ import annotations

import argparse
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError, RPCStatusCode

from cli.client_settings import client_settings
from cli.ids import check_id
from cli.request import build_request
from cli.typed import as_typed
from common.errors import UsageError
from common.temporal_connection import connect_from_env
from workflows.config import ResearchConfig
from workflows.continuation_models import ContinuationRequest
from workflows.research import WORKFLOW_NAME
from workflows.state import RunInput

ACTIONS = ("list", "show", "pause", "resume", "trigger", "delete")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_INTERVAL = re.compile(r"(\d{1,6})([smhdw])")
MAX_INTERVAL = timedelta(days=366)
MAX_CATCHUP = timedelta(days=1)
CRON_CATCHUP = timedelta(hours=1)
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?/,\-#LW]+")
_CRON_SHORTHAND = re.compile(r"@(yearly|annually|monthly|weekly|daily|midnight|hourly)")


def parse_interval(text: str, allow_seconds: bool = False) -> timedelta:
    """`allow_seconds`: TTDR_SCHEDULE_ALLOW_SECONDS (tests), from the caller's settings."""
    match = _INTERVAL.fullmatch(text.strip())
    if not match:
        raise UsageError(f"--every {text!r}: give a number and a unit, e.g. 30m, 12h, 7d, 2w")
    every = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    least = timedelta(seconds=1) if allow_seconds else timedelta(minutes=1)
    if every < least:
        raise UsageError(f"--every {text}: the interval must be at least {least.seconds} s")
    if every > MAX_INTERVAL:
        raise UsageError(f"--every {text}: the interval must be at most {MAX_INTERVAL.days} days")
    return every


def check_cron(expression: str) -> str:
    """The expression when it has a cron's shape: 5 to 7 fields of cron characters, or a
    shorthand like @daily (the server checks the values)."""
    text = " ".join(expression.split())
    fields = text.split(" ")
    if _CRON_SHORTHAND.fullmatch(text) or (
        5 <= len(fields) <= 7 and all(_CRON_FIELD.fullmatch(f) for f in fields)
    ):
        return text
    raise UsageError(
        f"--cron {expression!r} is not a cron expression: give 5 fields "
        '(minute hour day-of-month month day-of-week), e.g. "0 9 * * MON", or @daily'
    )


def new_schedule_id(question: str) -> str:
    slug = "-".join(re.findall(r"[a-z0-9]+", question.lower())[:5])[:40] or "topic"
    return f"watch-{slug}-{uuid.uuid4().hex[:6]}"


async def checked_notify_url(url: str, allow_loopback: bool) -> str:
    """`allow_loopback`: TTDR_NOTIFY_ALLOW_LOOPBACK, from the caller's ClientSettings."""
    # Imported here: the page fetcher's HTML extraction is slow to import for every command.
    from activities.notify import NotifyRefused, checked_target

    try:
        await checked_target(url, allow_loopback)
    except NotifyRefused as err:
        raise UsageError(f"--notify: {err}") from None
    return url


def _spec(every: timedelta | None, cron: str | None) -> tuple[ScheduleSpec, timedelta]:
    """The spec and its catch-up window: missed runs are made up within one interval, at most
    a day (a week-long outage does not start seven runs at once)."""
    if every is not None:
        window = min(max(every, timedelta(minutes=1)), MAX_CATCHUP)
        return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]), window
    return ScheduleSpec(cron_expressions=[cron or ""]), CRON_CATCHUP


@dataclass(frozen=True)
class Timing:
    """When a schedule's runs start, checked: its spec, catch-up window and one-line summary."""

    spec: ScheduleSpec
    window: timedelta
    summary: str  # "every: 7d" or "cron: 0 9 * * MON"


def checked_timing(
    every_text: str | None, cron_text: str | None, allow_seconds: bool = False
) -> Timing:
    """Exactly one of an interval and a cron expression, checked (UsageError otherwise); also
    used by the research desk's schedule form (desk/actions.py)."""
    if (every_text is None) == (cron_text is None):
        raise UsageError("give exactly one of --every INTERVAL or --cron EXPRESSION")
    every = parse_interval(every_text, allow_seconds) if every_text is not None else None
    cron = check_cron(cron_text) if cron_text is not None else None
    spec, window = _spec(every, cron)
    return Timing(spec, window, f"every: {every_text}" if every else f"cron: {cron}")


def schedule_note(note: str | None, question: str) -> str:
    return (note or f"watching: {question}")[:500]


async def create_schedule(
    client: Client,
    schedule_id: str,
    question: str,
    config: ResearchConfig,
    timing: Timing,
    note: str,
    task_queue: str,
    notify: str = "",
    memo: dict[str, str] | None = None,
) -> None:
    """The watched topic on Temporal Schedules (overlap skip, the bounded catch-up window, the
    note); UsageError with one line when the server refuses it. `memo` goes on every run (the
    MCP server's `started_by`, cli/mcp_watch.py)."""
    run_input = RunInput(
        question=question,
        config=config,
        continuation=ContinuationRequest(kind="watch", schedule_id=schedule_id, notify_url=notify),
    )
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            WORKFLOW_NAME,
            run_input,
            id=schedule_id,  # each run: <schedule id>-<time>
            task_queue=task_queue,
            static_summary=question[:200],
            memo=memo,
        ),
        spec=timing.spec,
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timing.window),
        state=ScheduleState(note=note),
    )
    try:
        # The server keeps a cron expression only as calendar ranges: the memo keeps its text.
        memo = {"question": question, "when": timing.summary}
        await client.create_schedule(schedule_id, schedule, memo=memo)
    except ScheduleAlreadyRunningError:
        raise UsageError(f"schedule {schedule_id} already exists: choose another --id") from None
    except RPCError as err:
        raise UsageError(f"could not create schedule {schedule_id}: {err.message}") from None


async def create(args: argparse.Namespace) -> int:
    settings = client_settings(args)
    timing = checked_timing(args.every, args.cron, settings.schedule_allow_seconds)
    request = build_request(args.words[0], args.config, None)
    schedule_id = check_id(args.id) if args.id is not None else new_schedule_id(request.question)
    note = schedule_note(args.note, request.question)
    notify = (
        await checked_notify_url(args.notify, settings.notify_allow_loopback) if args.notify else ""
    )
    client = await connect_from_env()
    await create_schedule(
        client, schedule_id, request.question, request.config, timing, note,
        settings.task_queue, notify,
    )  # fmt: skip
    print(f"schedule_id: {schedule_id}")
    print(timing.summary)
    print(f"catch-up window: {timing.window}, overlap: skip")
    print(
        as_typed(
            f"runs: workflow ids {schedule_id}-<time>; `client.py schedule show {schedule_id}`"
        )
    )
    return 0


async def _handle(client: Client, schedule_id: str) -> tuple[ScheduleHandle, object]:
    handle = client.get_schedule_handle(schedule_id)
    try:
        return handle, await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise UsageError(f"no schedule {schedule_id} in namespace {client.namespace}") from None
        raise UsageError(f"cannot read schedule {schedule_id}: {err.message}") from None


def spec_text(spec: ScheduleSpec) -> str:
    if spec.intervals:
        return "every " + ", ".join(str(i.every) for i in spec.intervals)
    if spec.cron_expressions:
        return "cron " + "; ".join(spec.cron_expressions)
    return "calendar"


async def show(client: Client, schedule_id: str) -> None:
    _, description = await _handle(client, schedule_id)
    schedule, info = description.schedule, description.info  # type: ignore[attr-defined]
    question = await description.memo_value("question", default="")  # type: ignore[attr-defined]
    print(f"schedule_id: {schedule_id}")
    print(f"question: {question}")
    when = await description.memo_value("when", default="")  # type: ignore[attr-defined]
    print(f"spec: {when or spec_text(schedule.spec)}")
    policy = schedule.policy
    print(f"overlap: {policy.overlap.name.lower()}, catch-up window: {policy.catchup_window}")
    print(f"paused: {'yes' if schedule.state.paused else 'no'}")
    print(f"note: {schedule.state.note}")
    skipped = info.num_actions_skipped_overlap
    print(f"runs started: {info.num_actions} (skipped while one ran: {skipped})")
    for action in info.recent_actions[-10:]:
        started = action.started_at.isoformat(timespec="seconds")
        print(f"  {started} {getattr(action.action, 'workflow_id', '')}")
    for running in info.running_actions:
        print(f"running: {running.workflow_id}")
    if info.next_action_times and not schedule.state.paused:
        print(f"next: {info.next_action_times[0].isoformat(timespec='seconds')}")


async def list_schedules(client: Client) -> None:
    found = 0
    try:
        async for entry in await client.list_schedules():
            found += 1
            state = entry.schedule.state if entry.schedule else None
            spec = spec_text(entry.schedule.spec) if entry.schedule else ""
            paused = " (paused)" if state and state.paused else ""
            print(f"{entry.id}{paused}  {spec}  {state.note if state else ''}")
    except RPCError as err:
        raise UsageError(f"cannot list schedules: {err.message}") from None
    if not found:
        print("no schedules")


async def delete_schedule(client: Client, schedule_id: str) -> list[str]:
    """Delete the schedule, then cancel the run it has in flight: nothing is left running.
    Returns the cancelled runs' ids."""
    handle, description = await _handle(client, schedule_id)
    running = [r.workflow_id for r in description.info.running_actions]  # type: ignore[attr-defined]
    await handle.delete()
    cancelled = []
    for workflow_id in running:
        run = client.get_workflow_handle(workflow_id)
        if (await run.describe()).status == WorkflowExecutionStatus.RUNNING:
            await run.cancel()
            cancelled.append(workflow_id)
    return cancelled


async def delete(client: Client, schedule_id: str) -> None:
    for workflow_id in await delete_schedule(client, schedule_id):
        print(f"cancelled run in flight: {workflow_id}")
    print(f"deleted schedule {schedule_id}")


async def schedule(args: argparse.Namespace) -> int:
    words = args.words
    if words[0] not in ACTIONS:
        if len(words) != 1:
            raise UsageError(
                'give one question in quotes: client.py schedule "question" --every 7d'
            )
        return await create(args)
    action = words[0]
    if action == "list":
        if len(words) != 1:
            raise UsageError("schedule list takes no argument")
        await list_schedules(await connect_from_env())
        return 0
    if len(words) != 2:
        raise UsageError(f"give one schedule id: client.py schedule {action} ID")
    client = await connect_from_env()
    schedule_id = words[1]
    if action == "show":
        await show(client, schedule_id)
    elif action == "delete":
        await delete(client, schedule_id)
    else:
        handle, _ = await _handle(client, schedule_id)
        if action == "pause":
            await handle.pause(note=args.note or "paused with client.py schedule pause")
        elif action == "resume":
            await handle.unpause(note=args.note or "resumed with client.py schedule resume")
        else:
            await handle.trigger()
        print(f"{action}: schedule {schedule_id}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser(
        "schedule",
        help='watch a topic on a schedule: schedule "question" --every 7d | --cron "..."; '
        "schedule list | show | pause | resume | trigger | delete ID",
    )
    cmd.add_argument("words", nargs="+", metavar="QUESTION | ACTION [ID]")
    cmd.add_argument("--every", help="interval: 30m, 12h, 7d, 2w (one minute at least)")
    cmd.add_argument("--cron", help='cron expression, e.g. "0 9 * * MON" (UTC)')
    cmd.add_argument("--id", help="schedule id (default: watch-<slug>-<random>)")
    cmd.add_argument("--config", type=Path, help="ResearchConfig as a JSON file")
    cmd.add_argument("--notify", metavar="URL", help="POST each run's changes here as JSON")
    cmd.add_argument("--note", help="the schedule's note (shown in the Web UI's Schedules page)")
    cmd.set_defaults(handler=schedule)
