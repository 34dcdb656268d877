"""bench.side_by_side's reading of a run: which LLM calls were dependent, the time between them
(what the bench reports as the per-call overhead against the floor), and where that time went."""

from __future__ import annotations

import itertools

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.client import WorkflowHistory

from bench.gap_parts import PARTS, gap_parts
from bench.side_by_side import dependent_chain


def test_a_fan_out_counts_once_and_waits_for_its_last_sibling() -> None:
    plan = (0.0, 1.0)
    siblings = [(1.01, 2.0), (1.02, 2.05)]  # two answers at once; the next step waits for both
    integrate = (2.08, 3.0)
    judge = (3.02, 4.0)
    chain = dependent_chain([judge, siblings[0], integrate, plan, siblings[1]])
    assert chain == [plan, siblings[1], integrate, judge]
    gaps = [nxt[0] - prev[1] for prev, nxt in itertools.pairwise(chain)]
    assert gaps == pytest.approx([0.02, 0.03, 0.02])


def test_calls_that_overlap_are_not_a_chain() -> None:
    assert dependent_chain([(0.0, 1.0), (0.5, 1.5), (0.9, 2.0)]) == [(0.0, 1.0)]
    assert dependent_chain([]) == []


def test_a_gap_is_split_by_the_history_events_inside_it() -> None:
    def event(kind: str, at: float) -> HistoryEvent:
        e = HistoryEvent(event_type=EventType.Value(f"EVENT_TYPE_{kind}"))
        e.event_time.FromNanoseconds(int(at * 1e9))
        return e

    clock = 1_000.0  # wall clock = monotonic + 1000 s
    events = [
        event("ACTIVITY_TASK_COMPLETED", 1_001.004),
        event("WORKFLOW_TASK_SCHEDULED", 1_001.004),
        event("WORKFLOW_TASK_STARTED", 1_001.007),
        event("WORKFLOW_TASK_COMPLETED", 1_001.015),
        event("ACTIVITY_TASK_SCHEDULED", 1_001.016),
        event("ACTIVITY_TASK_STARTED", 1_001.016),
    ]
    history = WorkflowHistory("wf", list(History(events=events).events))
    parts = gap_parts(history, [(0.0, 1.0), (1.020, 2.0)], clock)
    assert list(parts) == list(PARTS)
    assert [round(parts[p] * 1000, 3) for p in PARTS] == [4.0, 3.0, 8.0, 1.0, 4.0]
