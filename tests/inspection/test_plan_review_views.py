"""A run waiting for its plan review is visibly waiting for a person, everywhere: `progress`,
`state`, `watch`, `top`, the TtdrPhase search attribute, the run gauges (no idle time, so no
stall alert) and `profile` (the wait is nobody's node time). Real dev server, real worker,
client.py as a user runs it; the scripted fake LLM stands in for the paid API."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from temporalio.client import Client

from inspection.history import load_history, replay
from inspection.profile import profile_history, render_profile
from inspection.runs import RunInspector
from inspection.waits import PERSON
from observability.run_metrics import RunGauges
from testing.fake_llm import FakeLLMServer
from testing.processes import run_client
from testing.scripted_llm import Script
from tests.support.paths import HISTORIES
from tests.workflows.test_plan_review import start, waiting
from workflows.plan_review import REVIEW_PHASE_PATCH
from workflows.results import ResearchProgress, ResearchReport
from workflows.visibility import PHASE


def gauge_points(reader: InMemoryMetricReader) -> dict[str, list[tuple[float, dict]]]:
    data = reader.get_metrics_data()
    points: dict[str, list[tuple[float, dict]]] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    points.setdefault(metric.name, []).append(
                        (point.value, dict(point.attributes or {}))
                    )
    return points


async def test_a_run_waiting_for_its_review_shows_as_waiting_for_a_person_everywhere(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    handle = await start(client, task_queue)
    await waiting(handle)
    progress = await handle.query("progress", result_type=ResearchProgress)
    assert progress.phase == "plan_review"
    assert progress.proposed_plan is not None  # what an agent reviews (MCP)
    assert progress.proposed_plan.sections[0].title == "Mechanism"
    described = await handle.describe()
    assert described.typed_search_attributes.get(PHASE) == "plan_review"

    code, out, err = await run_client(client, task_queue, "progress", handle.id)
    assert code == 0, err
    assert out.startswith("plan_review · WAITING for a person to review the plan")
    assert f"client.py review {handle.id}" in out and "research_planner" not in out
    assert "1 LLM call," in out or "LLM calls" in out

    code, out, err = await run_client(client, task_queue, "state", handle.id)
    assert code == 0, err
    assert f"plan review: waiting for a person: client.py review {handle.id}" in out
    assert "control: running" in out
    for repr_text in ("paused=", "held_before=", "[]", "None"):
        assert repr_text not in out, repr_text

    code, out, err = await run_client(
        client, task_queue, "top", "--once", "--query", f"TaskQueue = '{task_queue}'"
    )
    assert code == 0, err
    [row] = [line for line in out.splitlines() if line.startswith(handle.id)]
    assert " plan_review " in row and " plan review " in row
    assert "1 in flight (1 held)" in out and "no progress" not in out

    # What the worker's run gauges export: held, no idle time (the stall alert's input), and
    # the time waited for the person.
    [snapshot] = await RunInspector(client).snapshot(f"TaskQueue = '{task_queue}'")
    assert snapshot.held and snapshot.idle_seconds is None
    assert snapshot.review_wait_seconds is not None
    reader = InMemoryMetricReader()
    gauges = RunGauges(MeterProvider(metric_readers=[reader]).get_meter("test"))
    gauges.rows = [snapshot]
    points = gauge_points(reader)
    assert "ttdr.run.idle" not in points
    assert [attrs for _, attrs in points["ttdr.run.review_wait"]] == [
        {"run_id": handle.result_run_id}
    ]
    assert [attrs for _, attrs in points["ttdr.runs.in_flight"]] == [
        {"ttdr.phase": "plan_review", "ttdr.held": "true"}
    ]

    # `watch` (not a terminal: one line per change) shows the wait, then the run to its end.
    watch = asyncio.ensure_future(run_client(client, task_queue, "watch", handle.id))
    await asyncio.sleep(3)  # a person takes a while; the profile sees it
    code, out, err = await run_client(client, task_queue, "review", handle.id)
    assert code == 0, err
    report = ResearchReport.model_validate(await handle.result())
    code, out, err = await watch
    assert code == 0, err
    assert "plan_review · WAITING for a person" in out.splitlines()[0]
    assert out.splitlines()[-2].startswith("completed · ")  # not `completed · completed`
    assert (await handle.describe()).typed_search_attributes.get(PHASE) == "completed"

    profile = profile_history(await handle.fetch_history())
    assert profile.waiting_for_person_seconds >= 3
    assert profile.bottleneck == PERSON
    text = render_profile(profile)
    assert f"{PERSON}: " in text and "longer than any node" in text
    assert report.iterations == 1


def test_the_profile_of_a_run_without_review_has_no_person_in_it() -> None:
    history = HISTORIES / "replay-evolution-off.json"
    profile = profile_history(load_history(history))
    assert profile.waiting_for_person_seconds == 0
    assert profile.bottleneck != PERSON and PERSON not in render_profile(profile)


PRE_PATCH = HISTORIES / "replay-plan-review.json"


async def test_a_review_recorded_before_the_phase_upsert_replays_and_profiles() -> None:
    """replay-plan-review.json was recorded by the code before REVIEW_PHASE_PATCH (no marker,
    no upsert of `plan_review`): it replays on the current code (without the patch guard it
    fails: an upsert where the history has the review's timer), and its profile counts the
    1-second review timeout as the person's wait."""
    history = load_history(PRE_PATCH)
    patches = [
        payload.data
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        for details in e.marker_recorded_event_attributes.details.values()
        for payload in details.payloads
    ]
    assert patches and not [p for p in patches if REVIEW_PHASE_PATCH.encode() in p]
    outcome = await replay(history)
    assert outcome.ok, outcome.problem
    profile = profile_history(history)
    assert 0.9 <= profile.waiting_for_person_seconds < 5
