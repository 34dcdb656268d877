"""Replay debugging and profiling: committed histories replay against the current workflow code
(so a change that would break running workflows fails here), and the client.py commands
history / replay / profile / stats work as a user runs them, against a real server and worker."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cli.replay import replay_failure_text
from inspection.history import NONDETERMINISM_HINT, load_history, replay
from inspection.profile import profile_history
from testing.fake_llm import FakeLLMServer
from testing.processes import run_client_py
from testing.scripted_llm import Script
from tests.support.paths import HISTORIES as HISTORY_DIR
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport
from workflows.state import RunInput

HISTORIES = sorted(HISTORY_DIR.glob("*.json"))
PLAIN_HISTORY = HISTORY_DIR / "replay-evolution-off.json"
RERECORD = ".venv/bin/python -m tests.histories.record"


async def client_py(*args: str, address: str | None = None) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "OTEL_"))}
    env["TEMPORAL_ADDRESS"] = address or "127.0.0.1:1"  # commands on files need no server
    return await run_client_py(*args, env=env, timeout_seconds=60)


def address_of(client: Client) -> str:
    return client.service_client.config.target_host


async def research(client: Client, task_queue: str, **config: object) -> tuple[str, ResearchReport]:
    workflow_id = f"replay-test-{uuid.uuid4().hex[:8]}"
    request = ResearchRequest(
        question="How does Python's with statement work?",
        config=ResearchConfig.model_validate({"evolution": "off", **config}),
    )
    report = await client.execute_workflow(
        WORKFLOW_NAME, request, id=workflow_id, task_queue=task_queue, result_type=ResearchReport
    )
    return workflow_id, report


# ---------------------------------------------------------------- committed histories


def test_the_recorded_scenarios_are_committed() -> None:
    stops = {p.stem: profile_history(load_history(p)) for p in HISTORIES}
    assert stops["replay-evolution-off"].iterations == 2
    assert not [n for n in stops["replay-evolution-off"].nodes if "self_evolution" in n.node]
    assert any(
        n.node == "self_evolution_enhancer.questions.merge"
        for n in stops["replay-self-evolution"].nodes
    )
    assert stops["replay-judge-done"].stop_reason == "judge_done"


def test_a_continued_research_is_committed_run_by_run() -> None:
    """Run 1 ends by continuing as new with the whole RunState; run 2 starts from it. Run 1 was
    recorded with the seed-by-call-identity patch, the three older histories without it: both
    sides of workflow.patched() replay."""
    first = load_history(HISTORY_DIR / "replay-continued.json").events
    second = load_history(HISTORY_DIR / "replay-continued.run2.json").events
    assert first[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    converter = pydantic_data_converter.payload_converter
    [carried] = converter.from_payloads(
        first[-1].workflow_execution_continued_as_new_event_attributes.input.payloads, [RunInput]
    )
    [started] = converter.from_payloads(
        second[0].workflow_execution_started_event_attributes.input.payloads, [RunInput]
    )
    assert started == carried and carried.resume is not None
    assert (carried.resume.iteration, carried.resume.seed_scheme) == (1, "identity")
    assert second[-1].HasField("workflow_execution_completed_event_attributes")
    markers = {
        p.stem: [
            e for e in load_history(p).events if e.HasField("marker_recorded_event_attributes")
        ]
        for p in HISTORIES
    }
    assert markers["replay-continued"] and not markers["replay-evolution-off"]


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_committed_history_replays_on_the_current_code(path: Path) -> None:
    outcome = await replay(load_history(path))

    assert outcome.ok, (
        f"{replay_failure_text(outcome)}\n(if the change is deliberate and running workflows "
        f"are protected from it, re-record: {RERECORD})"
    )
    assert outcome.workflow_id == path.stem.split(".")[0]  # <id>.run<n>.json: a later run


async def test_replay_command_accepts_a_good_history() -> None:
    path = PLAIN_HISTORY
    code, out, err = await client_py("replay", str(path))

    events = len(load_history(path).events)
    assert code == 0, err
    assert out.strip() == f"replay ok: {events} events, workflow id {path.stem}"


async def test_replay_command_explains_non_determinism(tmp_path: Path) -> None:
    history = json.loads(PLAIN_HISTORY.read_text())
    scheduled = [e for e in history["events"] if "activityTaskScheduledEventAttributes" in e]
    # What a renamed activity in the workflow code looks like from the recorded side.
    scheduled[2]["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "renamed_node"
    broken = tmp_path / "replay-evolution-off.json"
    broken.write_text(json.dumps(history))

    code, out, err = await client_py("replay", str(broken))

    assert code == 1, out + err
    assert "replay failed: non-determinism in workflow replay-evolution-off" in err
    assert "'renamed_node' does not match activity type of activity command" in err
    assert f"where: event {scheduled[2]['eventId']} ActivityTaskScheduled" in err
    assert f"hint: {NONDETERMINISM_HINT}" in err
    assert "Failure {" not in err, "no Rust debug dump"


async def test_replay_command_rejects_a_file_that_is_not_a_history(tmp_path: Path) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('{"question": "not a history"}')

    code, _, err = await client_py("replay", str(notes))

    assert code == 2
    assert err.startswith(f"error: {notes}: not a Temporal workflow history")


# ---------------------------------------------------------------- against a fresh run


async def test_history_export_round_trip(
    client: Client, task_queue: str, script: Script, tmp_path: Path
) -> None:
    workflow_id, _ = await research(client, task_queue, max_iterations=1)
    out = tmp_path / "exported.json"

    code, stdout, err = await client_py(
        "history", workflow_id, "--out", str(out), address=address_of(client)
    )

    events = (await client.get_workflow_handle(workflow_id).fetch_history()).events
    assert code == 0, err
    assert stdout.strip() == f"history: {out} ({len(events)} events)"
    assert list(load_history(out).events) == list(events)
    for args in (["replay", str(out)], ["replay", "--id", workflow_id]):
        code, stdout, err = await client_py(*args, address=address_of(client))
        assert code == 0, err
        assert stdout.strip() == f"replay ok: {len(events)} events, workflow id {workflow_id}"

    code, _, err = await client_py("profile", "no-such-run", address=address_of(client))
    assert code == 2
    assert err.strip() == "error: no workflow no-such-run in namespace default"


async def test_profile_finds_the_bottleneck_retries_and_usage(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    fake_server.set_delay("RetrievalAnswer", 0.5)
    fake_server.inject_fault("GapAnswer", 500)
    retry = {"initial_interval_seconds": 0.1, "maximum_interval_seconds": 0.5}
    workflow_id, report = await research(
        client, task_queue, max_iterations=1, questions_per_iteration=2, retry=retry
    )

    code, out, err = await client_py("profile", workflow_id, "--json", address=address_of(client))

    assert code == 0, err
    profile = json.loads(out)
    nodes = {n["node"]: n for n in profile["nodes"]}
    assert profile["bottleneck"] == "retrieval_engine"
    assert nodes["retrieval_engine"]["in_activity_seconds"] >= 2 * 0.5
    assert nodes["gap_analyzer"]["retries"] == 1 and nodes["gap_analyzer"]["attempts"] == 2
    assert all(n["retries"] == 0 for name, n in nodes.items() if name != "gap_analyzer")
    usage = {
        name: (n["llm_calls"], n["input_tokens"], n["output_tokens"]) for name, n in nodes.items()
    }
    assert usage == {
        name: (u.calls, u.input_tokens, u.output_tokens) for name, u in report.usage_by_node.items()
    }
    assert profile["iterations"] == 1 and profile["llm_calls"] == report.usage_total.calls
    assert 0 < nodes["retrieval_engine"]["share"] <= 1

    code, out, err = await client_py("profile", workflow_id, address=address_of(client))
    assert code == 0, err
    assert "bottleneck: retrieval_engine" in out
    assert out.splitlines()[3].split()[:3] == ["node", "acts", "attempts"]

    # The same run in the trend over recent runs (visibility may lag the run's end a little).
    for _ in range(20):
        code, out, err = await client_py("stats", "--limit", "5", address=address_of(client))
        assert code == 0, err
        if workflow_id in out:
            break
        await asyncio.sleep(0.5)
    [row] = [line for line in out.splitlines() if line.startswith(workflow_id)]
    assert row.split()[-1] == "retrieval_engine"
    assert "per node over these runs" in out
