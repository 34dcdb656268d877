"""Where a research run spent its time and tokens, computed from its history alone.

Per node (activity type, so evolution steps are their own rows, as in `usage_by_node`):
- wall: the sum over its activities of scheduled → closed;
- share: the part of the run during which the node had at least one activity open (parallel
  activities of one node count once, so a share never exceeds 100%);
- in activity: started → closed, the time spent inside the activity (the LLM call);
- wait: scheduled → started. Temporal records only the last attempt's start, so for a retried
  activity this includes the failed attempts and the back-off between them;
- attempts / retries: from the started event's attempt; failures: failed or timed-out events
  (only an activity whose retries ran out leaves one);
- LLM calls, tokens and cost (USD, priced by the worker): the `usage` of each completed
  activity's result; "?" is a cost the worker could not price (its model has no price).
The bottleneck is the node with the most time in activity, unless the run waited longer for a
person to review its plan (inspection/waits.py): that wait is no node's time, and is shown as
such.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError, computed_field
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter

from inspection.waits import PERSON, review_wait_seconds
from workflows.models import LLMUsage


class NodeProfile(BaseModel):
    node: str
    activities: int = 0
    attempts: int = 0
    retries: int = 0
    failures: int = 0
    wall_seconds: float = 0.0
    busy_seconds: float = 0.0
    share: float = 0.0
    in_activity_seconds: float = 0.0
    wait_seconds: float = 0.0
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class RunProfile(BaseModel):
    workflow_id: str
    run_id: str
    status: str
    started_at: datetime
    closed_at: datetime | None
    duration_seconds: float
    events: int
    iterations: int | None = None
    stop_reason: str | None = None
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    bottleneck: str | None = None
    waiting_for_person_seconds: float = 0.0  # the plan review's wait: no node's time
    nodes: list[NodeProfile]
    grounding: dict[str, Any] | None = None  # the report's citation check, when completed

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class NodeTrend(BaseModel):
    """One node over several runs."""

    node: str
    runs: int = 0
    activities: int = 0
    retries: int = 0
    failures: int = 0
    in_activity_seconds: float = 0.0
    llm_calls: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    bottleneck_in: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mean_in_activity_seconds(self) -> float:
        return self.in_activity_seconds / self.activities if self.activities else 0.0


class Stats(BaseModel):
    runs: list[RunProfile]
    nodes: list[NodeTrend]


# ---------------------------------------------------------------- from events to numbers


@dataclass
class _Activity:
    node: str
    scheduled: datetime
    started: datetime | None = None
    closed: datetime | None = None
    attempt: int = 0
    failed: bool = False
    usage: LLMUsage = field(default_factory=LLMUsage)


_CLOSE_STATUS = {
    "workflow_execution_completed_event_attributes": "completed",
    "workflow_execution_failed_event_attributes": "failed",
    "workflow_execution_timed_out_event_attributes": "timed_out",
    "workflow_execution_canceled_event_attributes": "canceled",
    "workflow_execution_terminated_event_attributes": "terminated",
    "workflow_execution_continued_as_new_event_attributes": "continued_as_new",
}


def _time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


def decode_result(payloads: Payloads) -> Any:
    """The first payload as plain data (a dict for our pydantic results), or None."""
    if not payloads.payloads:
        return None
    payload: Payload = payloads.payloads[0]
    try:
        return pydantic_data_converter.payload_converter.from_payload(payload)
    except Exception:  # an encrypted or foreign payload: no usage to read, not an error
        return None


def _usage_of(result: Any) -> LLMUsage:
    if not isinstance(result, dict) or not isinstance(result.get("usage"), dict):
        return LLMUsage()
    try:
        return LLMUsage.model_validate(result["usage"])
    except ValidationError:
        return LLMUsage()


def _activities(events: Sequence[HistoryEvent]) -> list[_Activity]:
    by_scheduled: dict[int, _Activity] = {}
    for event in events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            attrs = event.activity_task_scheduled_event_attributes
            by_scheduled[event.event_id] = _Activity(attrs.activity_type.name, _time(event))
        elif event.HasField("activity_task_started_event_attributes"):
            started = event.activity_task_started_event_attributes
            if activity := by_scheduled.get(started.scheduled_event_id):
                activity.started, activity.attempt = _time(event), started.attempt
        elif event.HasField("activity_task_completed_event_attributes"):
            completed = event.activity_task_completed_event_attributes
            if activity := by_scheduled.get(completed.scheduled_event_id):
                activity.closed = _time(event)
                activity.usage = _usage_of(decode_result(completed.result))
        else:
            for name in (
                "activity_task_failed_event_attributes",
                "activity_task_timed_out_event_attributes",
                "activity_task_canceled_event_attributes",
            ):
                if event.HasField(name):
                    closing = getattr(event, name)
                    if activity := by_scheduled.get(closing.scheduled_event_id):
                        activity.closed = _time(event)
                        activity.failed = name != "activity_task_canceled_event_attributes"
    return list(by_scheduled.values())


def _union_seconds(spans: Iterable[tuple[datetime, datetime]]) -> float:
    total, end_so_far = 0.0, None
    for start, end in sorted(spans):
        if end_so_far is None or start > end_so_far:
            total += (end - start).total_seconds()
            end_so_far = end
        elif end > end_so_far:
            total += (end - end_so_far).total_seconds()
            end_so_far = end
    return total


def profile_history(history: WorkflowHistory) -> RunProfile:
    events = history.events
    started_at = _time(events[0])
    last_at = _time(events[-1])
    status, closed_at, result = "running", None, None
    for event in events:
        for attr, name in _CLOSE_STATUS.items():
            if event.HasField(attr):
                status, closed_at = name, _time(event)
                if name == "completed":
                    result = decode_result(
                        event.workflow_execution_completed_event_attributes.result
                    )
    run_seconds = ((closed_at or last_at) - started_at).total_seconds()

    nodes: dict[str, NodeProfile] = {}
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for activity in _activities(events):
        node = nodes.setdefault(activity.node, NodeProfile(node=activity.node))
        end = activity.closed or last_at  # still open when the history was read
        node.activities += 1
        node.attempts += max(activity.attempt, 1 if activity.started else 0)
        node.retries += max(activity.attempt - 1, 0)
        node.failures += int(activity.failed)
        node.wall_seconds += (end - activity.scheduled).total_seconds()
        spans.setdefault(activity.node, []).append((activity.scheduled, end))
        if activity.started:
            node.in_activity_seconds += (end - activity.started).total_seconds()
            node.wait_seconds += (activity.started - activity.scheduled).total_seconds()
        node.llm_calls += activity.usage.calls
        node.input_tokens += activity.usage.input_tokens
        node.output_tokens += activity.usage.output_tokens
        node.cost_usd += activity.usage.cost_usd
        node.unpriced_calls += activity.usage.unpriced_calls
    for name, node in nodes.items():
        node.busy_seconds = _union_seconds(spans[name])
        node.share = node.busy_seconds / run_seconds if run_seconds > 0 else 0.0

    ordered = list(nodes.values())  # in order of first appearance: the pipeline's order
    bottleneck = max(ordered, key=lambda n: n.in_activity_seconds, default=None)
    person = review_wait_seconds(events)
    slowest = bottleneck.node if bottleneck else None
    if person and (bottleneck is None or person > bottleneck.in_activity_seconds):
        slowest = PERSON
    report = result if isinstance(result, dict) else {}
    return RunProfile(
        workflow_id=history.workflow_id,
        run_id=history.run_id,
        status=status,
        started_at=started_at,
        closed_at=closed_at,
        duration_seconds=run_seconds,
        events=len(events),
        iterations=report.get("iterations"),
        stop_reason=report.get("stop_reason"),
        llm_calls=sum(n.llm_calls for n in ordered),
        input_tokens=sum(n.input_tokens for n in ordered),
        output_tokens=sum(n.output_tokens for n in ordered),
        cost_usd=sum(n.cost_usd for n in ordered),
        unpriced_calls=sum(n.unpriced_calls for n in ordered),
        bottleneck=slowest,
        waiting_for_person_seconds=person,
        nodes=ordered,
        grounding=report.get("grounding"),
    )


def stats(profiles: Sequence[RunProfile]) -> Stats:
    """Runs newest first, and each node's totals over them."""
    runs = sorted(profiles, key=lambda p: p.started_at, reverse=True)
    trends: dict[str, NodeTrend] = {}
    for run in runs:
        for node in run.nodes:
            trend = trends.setdefault(node.node, NodeTrend(node=node.node))
            trend.runs += 1
            trend.activities += node.activities
            trend.retries += node.retries
            trend.failures += node.failures
            trend.in_activity_seconds += node.in_activity_seconds
            trend.llm_calls += node.llm_calls
            trend.total_tokens += node.total_tokens
            trend.cost_usd += node.cost_usd
            trend.unpriced_calls += node.unpriced_calls
        if run.bottleneck in trends:
            trends[run.bottleneck].bottleneck_in += 1
    return Stats(runs=runs, nodes=list(trends.values()))


# ---------------------------------------------------------------- text

Column = tuple[str, Callable[[Any], object]]


def money(cost_usd: float, unpriced_calls: int) -> str:
    """USD to 4 decimals; "?" when no call was priced, "≥" when some were not."""
    if unpriced_calls and not cost_usd:
        return "?"
    return f"{'≥' if unpriced_calls else ''}{cost_usd:.4f}"


NODE_COLUMNS: list[Column] = [
    ("node", lambda n: n.node),
    ("acts", lambda n: n.activities),
    ("attempts", lambda n: n.attempts),
    ("retries", lambda n: n.retries),
    ("fails", lambda n: n.failures),
    ("wall s", lambda n: f"{n.wall_seconds:.2f}"),
    ("share", lambda n: f"{n.share:.0%}"),
    ("in activity s", lambda n: f"{n.in_activity_seconds:.2f}"),
    ("wait s", lambda n: f"{n.wait_seconds:.2f}"),
    ("LLM calls", lambda n: n.llm_calls),
    ("tokens", lambda n: n.total_tokens),
    ("cost $", lambda n: money(n.cost_usd, n.unpriced_calls)),
]
RUN_COLUMNS: list[Column] = [
    ("workflow id", lambda r: r.workflow_id),
    ("started", lambda r: _when(r.started_at)),
    ("duration s", lambda r: f"{r.duration_seconds:.2f}"),
    ("status", lambda r: r.status),
    ("iterations", lambda r: "-" if r.iterations is None else r.iterations),
    ("LLM calls", lambda r: r.llm_calls),
    ("tokens", lambda r: r.total_tokens),
    ("cost $", lambda r: money(r.cost_usd, r.unpriced_calls)),
    ("bottleneck", lambda r: r.bottleneck or "-"),
]
TREND_COLUMNS: list[Column] = [
    ("node", lambda n: n.node),
    ("runs", lambda n: n.runs),
    ("acts", lambda n: n.activities),
    ("retries", lambda n: n.retries),
    ("fails", lambda n: n.failures),
    ("in activity s", lambda n: f"{n.in_activity_seconds:.2f}"),
    ("mean s/act", lambda n: f"{n.mean_in_activity_seconds:.3f}"),
    ("LLM calls", lambda n: n.llm_calls),
    ("tokens", lambda n: n.total_tokens),
    ("cost $", lambda n: money(n.cost_usd, n.unpriced_calls)),
    ("bottleneck in", lambda n: n.bottleneck_in),
]


def table(columns: Sequence[Column], items: Iterable[Any]) -> list[str]:
    """Text table: first column left-aligned, the numbers right-aligned."""
    cells = [[h for h, _ in columns], *[[str(get(i)) for _, get in columns] for i in items]]
    widths = [max(len(row[c]) for row in cells) for c in range(len(columns))]
    return [
        "  ".join(
            cell.ljust(widths[c]) if c == 0 else cell.rjust(widths[c]) for c, cell in enumerate(row)
        ).rstrip()
        for row in cells
    ]


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def render_profile(p: RunProfile) -> str:
    lines = [
        f"workflow {p.workflow_id} · {p.status} · started {_when(p.started_at)} · "
        f"{p.duration_seconds:.2f} s · {p.events} events",
        f"iterations {'-' if p.iterations is None else p.iterations} · "
        f"stop {p.stop_reason or '-'} · {p.llm_calls} LLM calls · {p.total_tokens} tokens "
        f"({p.input_tokens} in, {p.output_tokens} out) · "
        f"cost ${money(p.cost_usd, p.unpriced_calls)}",
        "",
        *table(NODE_COLUMNS, p.nodes),
        "",
    ]
    if p.grounding:
        lines.append(grounding_line(p.grounding))
    if p.waiting_for_person_seconds:
        share = p.waiting_for_person_seconds / p.duration_seconds if p.duration_seconds else 0.0
        lines.append(
            f"{PERSON}: {p.waiting_for_person_seconds:.2f} s ({share:.0%} of the run)"
            + (" — longer than any node" if p.bottleneck == PERSON else "")
        )
    bottleneck = max(p.nodes, key=lambda n: n.in_activity_seconds, default=None)
    if bottleneck:
        plural = "activity" if bottleneck.activities == 1 else "activities"
        lines.append(
            f"{'slowest node' if p.bottleneck == PERSON else 'bottleneck'}: {bottleneck.node} "
            f"({bottleneck.in_activity_seconds:.2f} s in activity "
            f"over {bottleneck.activities} {plural}, open {bottleneck.share:.0%} of the run)"
        )
    lines.append(
        "wall = sum of scheduled→closed; share = part of the run with one of the node's "
        "activities open; wait = scheduled→started (includes earlier attempts when retried)"
    )
    return "\n".join(lines)


def grounding_line(grounding: dict[str, Any]) -> str:
    """The report's citation check in one line (workflows/citing/grounding.py's figures)."""
    body = grounding.get("body", {})
    return (
        f"citations: {body.get('claims_supported', 0)} of {body.get('claims', 0)} claims backed · "
        f"kept {body.get('citations_kept', 0)} · moved {body.get('citations_reattributed', 0)} · "
        f"removed {body.get('citations_removed', 0)} · mean support "
        f"{body.get('mean_support', 0.0):.2f} (threshold {grounding.get('threshold', 0.0):.2f})"
        + (" · Research notes appended" if grounding.get("appendix") else "")
    )


def render_stats(s: Stats) -> str:
    if not s.runs:
        return "no closed DeepResearchWorkflow runs"
    return "\n".join(
        [
            f"{len(s.runs)} most recent closed run(s), newest first",
            "",
            *table(RUN_COLUMNS, s.runs),
            "",
            "per node over these runs",
            "",
            *table(TREND_COLUMNS, s.nodes),
        ]
    )
