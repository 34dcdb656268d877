"""Gauges of the runs in flight, from the same snapshot `client.py top` shows (runs.py).

Every TTDR_RUN_METRICS_SECONDS (WorkerSettings.run_metrics_seconds: default 30; 0 turns it
off) the worker reads the open runs of its task queue from Temporal and exports:
- ttdr.runs.in_flight {ttdr.phase, ttdr.held}: open runs;
- ttdr.run.idle {run_id}: seconds since the run's newest history event, for runs not paused,
  held or waiting for a person (the "no progress" alert);
- ttdr.run.review_wait {run_id}: seconds a run has waited for a person to review its plan
  (phase `plan_review`; the "no progress" alert leaves such a run alone);
- ttdr.run.budget.used {run_id}: the larger of calls/max_llm_calls and tokens/max_total_tokens
  (the "near its budget" alert).
Every worker of a queue reports the same runs: aggregate with max() across instances. The run
label is Temporal's run id (a random UUID): workflow ids may carry a slug of the question.
With many workers, switch it off on all but a few (each refresh costs a query, a describe and
one history read per open run).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from temporalio.client import Client

from inspection.runs import RunInspector, RunRow

log = logging.getLogger(__name__)


class RunGauges:
    """Holds the latest snapshot; the meter reads it at each collection."""

    def __init__(self, meter: Meter) -> None:
        self.rows: list[RunRow] = []
        meter.create_observable_gauge(
            "ttdr.runs.in_flight", [self._in_flight], "{run}", "Open research runs"
        )
        meter.create_observable_gauge(
            "ttdr.run.idle", [self._idle], "s", "Seconds since an open run's newest event"
        )
        meter.create_observable_gauge(
            "ttdr.run.review_wait",
            [self._review_wait],
            "s",
            "Seconds an open run has waited for a person to review its plan",
        )
        meter.create_observable_gauge(
            "ttdr.run.budget.used", [self._budget], "1", "Share of its budget an open run used"
        )

    def _in_flight(self, _: CallbackOptions) -> Iterable[Observation]:
        counts = Counter((row.phase or "unknown", row.held) for row in self.rows)
        for (phase, held), count in counts.items():
            yield Observation(count, {"ttdr.phase": phase, "ttdr.held": str(held).lower()})

    def _idle(self, _: CallbackOptions) -> Iterable[Observation]:
        for row in self.rows:
            if row.idle_seconds is not None:
                yield Observation(row.idle_seconds, {"run_id": row.run_id})

    def _review_wait(self, _: CallbackOptions) -> Iterable[Observation]:
        for row in self.rows:
            if row.review_wait_seconds is not None:
                yield Observation(row.review_wait_seconds, {"run_id": row.run_id})

    def _budget(self, _: CallbackOptions) -> Iterable[Observation]:
        for row in self.rows:
            if row.budget_used is not None:
                yield Observation(row.budget_used, {"run_id": row.run_id})


@contextlib.asynccontextmanager
async def collect_runs(
    client: Client, meter: Meter, task_queue: str, interval: float
) -> AsyncIterator[RunGauges | None]:
    """Refresh the gauges every `interval` seconds while the block runs (nothing when 0)."""
    if interval <= 0:
        yield None
        return
    gauges = RunGauges(meter)
    inspector = RunInspector(client)
    query = f"TaskQueue = '{task_queue}'"

    async def refresh() -> None:
        while True:
            try:
                snapshot = await inspector.snapshot(query, closed_within=None)
                gauges.rows = [row for row in snapshot if row.open]
            except Exception as err:  # a visibility hiccup must not stop the worker
                log.warning("run metrics: could not read the runs in flight (%s)", err)
            await asyncio.sleep(interval)

    task = asyncio.create_task(refresh(), name="ttdr-run-metrics")
    try:
        yield gauges
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
