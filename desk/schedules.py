"""Watched topics from the desk: a schedule started from a finished run's report, through
`client.py schedule`'s own checks and create path (cli/schedule.py), and one schedule's page.

The schedule watches the report's question with the run's config (as a follow-up takes its
parent's), on the desk's task queue. Its runs are unattended, so plan review is off for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from cli.schedule import (
    Timing,
    checked_timing,
    create_schedule,
    new_schedule_id,
    schedule_note,
    spec_text,
)
from desk.runs import DeskError
from workflows.config import ResearchConfig

RPC_TIMEOUT = timedelta(seconds=5)
RECENT_RUNS = 10


@dataclass(frozen=True)
class WatchForm:
    timing: Timing
    note: str | None


def read_watch_form(every: str, cron: str, note: str, allow_seconds: bool = False) -> WatchForm:
    """The form's interval or cron expression, checked as `client.py schedule` checks --every
    and --cron (an empty field is an option not given); UsageError with the CLI's one line."""
    timing = checked_timing(every.strip() or None, cron.strip() or None, allow_seconds)
    return WatchForm(timing, note.strip() or None)


async def watch_config(client: Client, workflow_id: str) -> ResearchConfig:
    """The run's own config, without plan review: nobody is there to approve each run's plan."""
    # Imported here: cli/follow_up.py brings worker-side code, slow to import.
    from cli.follow_up import parent_config

    try:
        config = await parent_config(client, workflow_id)
    except RPCError as err:
        raise DeskError(f"cannot read run {workflow_id}'s config: {err.message}") from None
    return config.model_copy(update={"review_plan": False})


async def start_watch(
    client: Client, task_queue: str, question: str, config: ResearchConfig, form: WatchForm
) -> str:
    """Create the schedule (cli/schedule.py's create path); its id."""
    schedule_id = new_schedule_id(question)
    note = schedule_note(form.note, question)
    await create_schedule(client, schedule_id, question, config, form.timing, note, task_queue)
    return schedule_id


def schedule_web_ui_link(web_ui_url: str, namespace: str, schedule_id: str) -> str:
    """The schedule in the Temporal Web UI's Schedules pages."""
    return (
        f"{web_ui_url}/namespaces/{quote(namespace, safe='')}"
        f"/schedules/{quote(schedule_id, safe='')}"
    )


class ScheduleView(BaseModel):
    """What the desk's schedule page shows (as `client.py schedule show`)."""

    schedule_id: str
    question: str
    spec: str
    note: str
    paused: bool
    overlap: str
    catchup_window: str
    runs_started: int
    recent_runs: list[str]
    running: list[str]
    next_run: datetime | None
    web_ui: str


async def describe_schedule(client: Client, schedule_id: str, web_ui_url: str) -> ScheduleView:
    handle = client.get_schedule_handle(schedule_id)
    try:
        description = await handle.describe(rpc_timeout=RPC_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            message = f"no schedule {schedule_id} in namespace {client.namespace}"
            raise DeskError(message, 404) from None
        raise DeskError(f"cannot read schedule {schedule_id}: {err.message}") from None
    schedule, info = description.schedule, description.info
    question = await description.memo_value("question", default="")
    when = await description.memo_value("when", default="")  # "cron: 0 9 * * MON"
    recent = [getattr(a.action, "workflow_id", "") for a in info.recent_actions[-RECENT_RUNS:]]
    paused = schedule.state.paused
    return ScheduleView(
        schedule_id=schedule_id,
        question=str(question),
        spec=str(when) or spec_text(schedule.spec),
        note=schedule.state.note or "",
        paused=paused,
        overlap=schedule.policy.overlap.name.lower(),
        catchup_window=str(schedule.policy.catchup_window),
        runs_started=info.num_actions,
        recent_runs=[run for run in reversed(recent) if run],
        running=[r.workflow_id for r in info.running_actions],
        next_run=(
            info.next_action_times[0].astimezone(UTC)
            if info.next_action_times and not paused
            else None
        ),
        web_ui=schedule_web_ui_link(web_ui_url, client.namespace, schedule_id),
    )
