"""Where the time between two dependent LLM calls goes, read off the run's history.

From one call's end to the next call's start (both at the fake LLM), the history's events
split the gap: the activity's own work after the call answered (until ActivityTaskCompleted),
the server's dispatch of the workflow task, the workflow task itself (the worker deciding and
the server taking its commands), the server's handling of the commands (activities scheduled,
search attributes, markers) and the next activity's own work before its call (from
ActivityTaskStarted). Each stretch between two marks is counted under the part its later mark
ends; a gap that waits for a sibling activity counts that wait under the sibling's parts.
"""

from __future__ import annotations

import collections
import itertools

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from bench.metrics import Interval

PARTS = (
    "activity after its call",
    "server: to the workflow task",
    "workflow task",
    "server: the commands",
    "activity before its call",
)
_PART_OF_EVENT = {
    "ACTIVITY_TASK_COMPLETED": PARTS[0],
    "WORKFLOW_TASK_SCHEDULED": PARTS[1],
    "WORKFLOW_TASK_STARTED": PARTS[1],
    "WORKFLOW_TASK_COMPLETED": PARTS[2],
}


def gap_parts(history: WorkflowHistory, chain: list[Interval], clock: float) -> dict[str, float]:
    """Seconds per part summed over the gaps of `chain` (monotonic times; `clock` is
    time.time() - time.monotonic(), to place the history's wall-clock events among them)."""
    marks = sorted(
        (event.event_time.ToDatetime().timestamp() - clock, _part(event.event_type))
        for event in history.events
    )
    parts: collections.Counter[str] = collections.Counter()
    for (_, end), (start, _) in itertools.pairwise(chain):
        inside = [(t, part) for t, part in marks if end < t < start]
        stretches = [(end, ""), *inside, (start, PARTS[4])]
        for (t0, _), (t1, part) in itertools.pairwise(stretches):
            parts[part] += t1 - t0
    return {part: parts[part] for part in PARTS}


def _part(event_type: int) -> str:
    name = EventType.Name(event_type).removeprefix("EVENT_TYPE_")
    return _PART_OF_EVENT.get(name, PARTS[3])
