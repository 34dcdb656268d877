"""Pure measurements over recorded LLM requests and workflow histories (no I/O)."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.client import WorkflowHistory

from testing.fake_llm import RecordedRequest
from workflows.config import ResearchConfig

Interval = tuple[float, float]


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """Overlapping intervals joined, in time order."""
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def union_seconds(intervals: Iterable[Interval]) -> float:
    return sum(end - start for start, end in merged(intervals))


def idle_gaps(intervals: Iterable[Interval]) -> list[float]:
    """The gaps during which no interval is open, between the first start and the last end:
    with LLM request intervals, each one is a completion waiting for the next dependent call."""
    segments = merged(intervals)
    return [b[0] - a[1] for a, b in itertools.pairwise(segments)]


def request_intervals(requests: Sequence[RecordedRequest], since: float) -> list[Interval]:
    return [
        (r.started_at, r.finished_at)
        for r in requests
        if r.started_at >= since and r.finished_at is not None
    ]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


def completion_to_schedule_gaps(events: Sequence[HistoryEvent]) -> list[float]:
    """Seconds from an ActivityTaskCompleted to the next ActivityTaskScheduled that followed it
    (the workflow task in between decided the next, dependent activity). A completion that
    schedules nothing (a sibling of a parallel fan-in still open) is skipped."""
    gaps: list[float] = []
    pending: datetime | None = None
    for event in events:
        if event.HasField("activity_task_completed_event_attributes"):
            pending = _time(event)
        elif event.HasField("activity_task_scheduled_event_attributes") and pending is not None:
            gaps.append((_time(event) - pending).total_seconds())
            pending = None
    return gaps


def schedule_to_start(events: Sequence[HistoryEvent]) -> list[float]:
    """Seconds from ActivityTaskScheduled to ActivityTaskStarted (task dispatch to the worker;
    first attempts only, so no retry back-off is in it)."""
    scheduled: dict[int, datetime] = {}
    out: list[float] = []
    for event in events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            scheduled[event.event_id] = _time(event)
        elif event.HasField("activity_task_started_event_attributes"):
            attrs = event.activity_task_started_event_attributes
            if attrs.attempt == 1 and (at := scheduled.get(attrs.scheduled_event_id)):
                out.append((_time(event) - at).total_seconds())
    return out


def activity_intervals(events: Sequence[HistoryEvent]) -> list[Interval]:
    """started → closed of every activity, in seconds since the epoch (server clock)."""
    started: dict[int, float] = {}
    out: list[Interval] = []
    for event in events:
        if event.HasField("activity_task_started_event_attributes"):
            attrs = event.activity_task_started_event_attributes
            started[attrs.scheduled_event_id] = _time(event).timestamp()
        elif event.HasField("activity_task_completed_event_attributes"):
            attrs_c = event.activity_task_completed_event_attributes
            if (start := started.get(attrs_c.scheduled_event_id)) is not None:
                out.append((start, _time(event).timestamp()))
    return out


def run_seconds(events: Sequence[HistoryEvent]) -> float:
    return (_time(events[-1]) - _time(events[0])).total_seconds()


def history_bytes(history: WorkflowHistory) -> int:
    """Size of the history as the server sends it (protobuf)."""
    return History(events=history.events).ByteSize()


def continue_as_new_suggested(events: Sequence[HistoryEvent]) -> bool:
    return any(
        e.HasField("workflow_task_started_event_attributes")
        and e.workflow_task_started_event_attributes.suggest_continue_as_new
        for e in events
    )


def critical_path_calls(config: ResearchConfig, iterations: int) -> int:
    """LLM calls one after another: the plan unit, the draft, per iteration the questions
    unit, the answers unit (questions and variants run side by side), the integrator and the
    assessor, then the report unit."""
    evo = config.evolution
    step = evo.questions.critical_path() + evo.answers.critical_path() + 2
    return evo.plan.critical_path() + 1 + iterations * step + evo.report.critical_path()
