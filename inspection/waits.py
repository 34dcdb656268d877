"""Why a run is not moving although nothing is broken: a node waiting out a retry's back-off
(a provider's 429 with a long Retry-After holds a node up to 600 s), or a person who has not
reviewed the plan yet. `client.py progress`, `state`, `watch`, `research` and `top` say so, and
`profile` counts the person's wait as such, not as a node's time.

Retry waits come from describe's pending activities (Temporal knows when the next attempt
starts and why the last one failed); the review wait from the history: the plan review is the
only timer a DeepResearchWorkflow starts, and it ends when a `review_plan` update is accepted or
the timer fires.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.history.v1 import HistoryEvent

RETRY_WAIT_SHOWN_SECONDS = 5.0  # shorter back-offs are the usual quick retry: not worth a line
CAUSE_MAX_CHARS = 160
REVIEW_UPDATE = "review_plan"
PERSON = "waiting for a person (plan review)"


def duration(seconds: float) -> str:
    """`9m58s`, `1h02m`, `45s`."""
    minutes, secs = divmod(max(int(seconds), 0), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _cause(failure: Any) -> str:
    kind = ""
    if failure.HasField("application_failure_info"):
        kind = failure.application_failure_info.type
    message = " ".join((failure.message or "").split())
    if len(message) > CAUSE_MAX_CHARS:
        message = message[: CAUSE_MAX_CHARS - 1] + "…"
    return ": ".join(part for part in (kind, message) if part) or "a failure"


@dataclass(frozen=True)
class RetryWait:
    """An activity waiting out a back-off before its next attempt."""

    node: str
    attempt: int
    starts_at: datetime
    cause: str

    def text(self, now: datetime | None = None) -> str:
        """`gap_analyzer retries in 9m58s (attempt 2 at 18:02:11 UTC) after LLMRateLimited: …`;
        without `now`, no countdown (a line that changes every second is no log line)."""
        when = f"attempt {self.attempt} at {self.starts_at:%H:%M:%S} UTC"
        if now is None:
            return f"{self.node} retries ({when}) after {self.cause}"
        left = duration((self.starts_at - now).total_seconds())
        return f"{self.node} retries in {left} ({when}) after {self.cause}"


def retry_waits(pending: Iterable[Any], now: datetime | None = None) -> list[RetryWait]:
    """The activities waiting out a back-off of at least RETRY_WAIT_SHOWN_SECONDS."""
    now = now or datetime.now(UTC)
    waits = []
    for activity in pending:
        if activity.state != PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED:
            continue
        if activity.attempt < 2 or not activity.HasField("next_attempt_schedule_time"):
            continue
        starts = activity.next_attempt_schedule_time.ToDatetime(tzinfo=UTC)
        if (starts - now).total_seconds() < RETRY_WAIT_SHOWN_SECONDS:
            continue
        waits.append(
            RetryWait(
                activity.activity_type.name, activity.attempt, starts, _cause(activity.last_failure)
            )
        )
    return waits


def _time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


def review_wait_seconds(events: Sequence[HistoryEvent]) -> float:
    """Seconds the run waited for a person to review its plan: from the review timer's start
    to the accepted `review_plan` update or the timer firing (to the last event while it still
    waits). 0 for a run without plan review."""
    started: datetime | None = None
    for event in events:
        if started is None:
            if event.HasField("timer_started_event_attributes"):
                started = _time(event)
            continue
        accepted = event.HasField("workflow_execution_update_accepted_event_attributes")
        if accepted:
            name = event.workflow_execution_update_accepted_event_attributes.accepted_request
            accepted = name.input.name == REVIEW_UPDATE
        if accepted or event.HasField("timer_fired_event_attributes"):
            return max((_time(event) - started).total_seconds(), 0.0)
    if started is None or not events:
        return 0.0
    return max((_time(events[-1]) - started).total_seconds(), 0.0)
