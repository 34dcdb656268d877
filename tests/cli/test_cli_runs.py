"""client.py against runs that already exist (issue 18 items 10, 11): `report` writes a finished
run's report, a repeated --id attaches or refuses (never a second paid run), and `progress` of a
cancelled run shows no hold."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from testing.fake_llm import FakeLLMServer
from testing.processes import Hold, released, run_client
from testing.scripted_llm import Script
from tests.workflows.test_follow_up import run_client_until
from workflows.results import ControlStatus, ResearchProgress, ResearchReport

QUESTION = "What does a context manager's __exit__ return value mean?"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"max_iterations": 1, "evolution": "off"}))
    return path


async def runs_with_id(client: Client, workflow_id: str) -> int:
    return len([w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")])


async def start_no_wait(
    client: Client, task_queue: str, config_file: Path, question: str = QUESTION
) -> str:
    workflow_id = f"again-{uuid.uuid4().hex[:8]}"
    code, out, err = await run_client(
        client, task_queue, "research", question, "--id", workflow_id,
        "--config", str(config_file), "--no-wait",
    )  # fmt: skip
    assert code == 0, err
    assert f"workflow_id: {workflow_id}" in out
    return workflow_id


async def test_report_writes_a_finished_runs_report(
    client: Client, task_queue: str, script: Script, config_file: Path, tmp_path: Path
) -> None:
    workflow_id = await start_no_wait(client, task_queue, config_file)
    report = await client.get_workflow_handle(workflow_id, result_type=ResearchReport).result()

    out_file = tmp_path / "late" / "report.md"
    code, out, err = await run_client(
        client, task_queue, "report", workflow_id, "--out", str(out_file)
    )
    assert code == 0, err
    assert f"report: {out_file}" in out
    assert out_file.read_text() == report.markdown
    details = ResearchReport.model_validate_json(out_file.with_suffix(".json").read_text())
    assert details == report


async def test_report_of_a_run_that_is_missing_or_still_running_is_refused(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    script: Script,
    config_file: Path,
    tmp_path: Path,
) -> None:
    code, _, err = await run_client(client, task_queue, "report", "no-such-run")
    assert code == 2 and "no workflow no-such-run" in err and err.count("\n") == 1

    # The plan is held at the fake model until `report` has answered: on a loaded machine a
    # fixed delay ran out first, the run finished, and its report landed in the work tree.
    plan = Hold(fake_server, "PlanAnswer", script.plan, abandon=False)
    with released(plan):
        workflow_id = await start_no_wait(client, task_queue, config_file)
        await plan.wait_arrived()
        out = tmp_path / "report.md"
        code, _, err = await run_client(
            client, task_queue, "report", workflow_id, "--out", str(out)
        )
        assert code == 2 and "still running" in err and err.count("\n") == 1, err
        assert not out.exists()
    await client.get_workflow_handle(workflow_id).result()


async def test_research_again_with_the_same_id_attaches_to_the_running_run(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    script: Script,
    config_file: Path,
    tmp_path: Path,
) -> None:
    # The plan is held at the fake model until the repeat has attached (a 6 s delay ran out on a
    # loaded machine: the run had ended before the repeat asked, and it was refused).
    plan = Hold(fake_server, "PlanAnswer", script.plan, abandon=False)
    with released(plan):
        workflow_id = await start_no_wait(client, task_queue, config_file)
        await plan.wait_arrived()
        out_file = tmp_path / "report.md"
        code, out, err = await run_client_until(
            client, task_queue, "attached:", plan, "research", QUESTION, "--id", workflow_id,
            "--config", str(config_file), "--out", str(out_file),
        )  # fmt: skip

    assert code == 0, err
    assert f"attached: {workflow_id}" in out
    # The title is the question, its names shown as code ("__exit__" is no bold "exit").
    assert out_file.read_text().startswith(f"# {QUESTION.replace('__exit__', '`__exit__`')}\n")
    assert fake_server.count("PlanAnswer") == 1, "one plan: one paid run"
    assert await runs_with_id(client, workflow_id) == 1


async def test_research_again_with_the_same_id_but_another_question_is_refused(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, config_file: Path
) -> None:
    plan = Hold(fake_server, "PlanAnswer", script.plan, abandon=False)
    with released(plan):
        workflow_id = await start_no_wait(client, task_queue, config_file)
        await plan.wait_arrived()  # running until released
        code, out, err = await run_client(
            client, task_queue, "research", "Another question?", "--id", workflow_id
        )
    assert code == 2, (out, err)
    assert "already running a different question or config" in err and err.count("\n") == 1
    await client.get_workflow_handle(workflow_id).result()
    assert fake_server.count("PlanAnswer") == 1


async def test_research_again_after_the_run_ended_is_refused(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, config_file: Path
) -> None:
    workflow_id = await start_no_wait(client, task_queue, config_file)
    await client.get_workflow_handle(workflow_id).result()
    plans = fake_server.count("PlanAnswer")

    code, _, err = await run_client(
        client, task_queue, "research", QUESTION, "--id", workflow_id,
        "--config", str(config_file),
    )  # fmt: skip

    assert code == 2, err
    assert f"belongs to a run that has ended (completed): `client.py report {workflow_id}`" in err
    assert fake_server.count("PlanAnswer") == plans, "no second paid run"
    assert await runs_with_id(client, workflow_id) == 1


async def test_progress_of_a_cancelled_run_shows_no_hold(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, config_file: Path
) -> None:
    fake_server.set_delay("DraftAnswer", 2)
    workflow_id = await start_no_wait(client, task_queue, config_file)
    handle = client.get_workflow_handle(workflow_id, result_type=ResearchReport)
    await handle.execute_update("pause", result_type=ControlStatus)

    async def held() -> bool:
        progress = await handle.query("progress", result_type=ResearchProgress)
        return progress.held_before is not None

    await wait_until(held, 20, "the run to hold after pause")
    code, out, _ = await run_client(client, task_queue, "progress", workflow_id)
    assert code == 0 and "HELD before" in out, "a held running run says so"

    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), 15)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED

    code, out, err = await run_client(client, task_queue, "progress", workflow_id)
    assert code == 0, err
    assert "HELD" not in out and "canceled" in out, out
    code, out, _ = await run_client(client, task_queue, "progress", workflow_id, "--json")
    assert json.loads(out)["held_before"] is None


async def wait_until(check: object, timeout_seconds: float, what: str) -> None:
    done = False

    async def poll() -> None:
        nonlocal done
        while not await check():  # type: ignore[operator]
            await asyncio.sleep(0.1)
        done = True

    try:
        await asyncio.wait_for(poll(), timeout_seconds)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout_seconds}s waiting for {what}") from None
    assert done
