"""client.py as a user runs it: a subprocess against the real dev server and a real worker."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from testing.fake_llm import FakeLLMServer
from testing.processes import run_client
from testing.scripted_llm import Script
from tests.support.paths import ROOT
from workflows.results import ResearchReport


async def assert_not_started(client: Client, workflow_id: str) -> None:
    with pytest.raises(RPCError):
        await client.get_workflow_handle(workflow_id).describe()


async def test_research_command_writes_the_report(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> None:
    # Slow nodes, so that the client's once-a-second progress poll sees every iteration.
    fake_server.set_delay("IntegratorAnswer", 1.2)
    fake_server.set_delay("JudgeAnswer", 1.2)
    workflow_id = f"cli-{uuid.uuid4().hex[:8]}"
    out_file = tmp_path / "out" / "report.md"
    code, out, err = await run_client(
        client,
        task_queue,
        "research",
        "What does a context manager's __exit__ return value mean?",
        "--id",
        workflow_id,
        "--max-iterations",
        "2",
        "--out",
        str(out_file),
    )

    assert code == 0, err
    assert f"workflow_id: {workflow_id}\n" in out
    assert f"/namespaces/default/workflows/{workflow_id}" in out
    assert "iteration 2/2" in out, "live progress shows the iteration"
    assert "quality 0.30" in out, "live progress shows the judge's score"
    assert f"report: {out_file}" in out
    markdown = out_file.read_text()
    assert markdown.startswith("# What does a context manager's `__exit__` return value mean?\n")
    assert "## Sources" in markdown
    details = ResearchReport.model_validate_json(out_file.with_suffix(".json").read_text())
    assert details.iterations == 2
    assert details.markdown == markdown


@pytest.mark.parametrize(
    ("question", "config", "message"),
    [
        ("", None, "invalid question: question: the question is empty"),
        ("   \n\t ", None, "the question is empty"),
        ("x" * 2001, None, "the limit is 2000"),
        ("why \x01\x7f?", None, "control or binary characters"),  # argv cannot hold NUL
        ("ok?", {"max_iterations": 0}, "max_iterations: Input should be greater than or equal"),
        ("ok?", {"quality_threshold": 1.5}, "quality_threshold: Input should be less than"),
        ("ok?", {"questions_per_iteration": 2, "max_llm_calls": 5}, "cannot fit a single"),
        ("ok?", {"max_iteratons": 3}, "max_iteratons: Extra inputs are not permitted"),
        ("ok?", "not json", "is not valid JSON"),
    ],
)
async def test_bad_input_is_rejected_before_any_workflow_starts(
    client: Client,
    tmp_path: Path,
    question: str,
    config: dict[str, object] | str | None,
    message: str,
) -> None:
    workflow_id = f"bad-{uuid.uuid4().hex[:8]}"
    args = ["research", question, "--id", workflow_id]
    if config is not None:
        config_file = tmp_path / "config.json"
        config_file.write_text(config if isinstance(config, str) else json.dumps(config))
        args += ["--config", str(config_file)]

    code, out, err = await run_client(client, "unused-queue", *args)

    assert code == 2
    assert message in err
    assert err.count("\n") == 1, "one line"
    assert "workflow_id" not in out
    await assert_not_started(client, workflow_id)


async def test_unreachable_server_is_a_clear_error(client: Client) -> None:
    env = {**os.environ, "TEMPORAL_ADDRESS": "127.0.0.1:1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "client.py"),
        "research",
        "Is this reachable?",
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    _, raw_err = await process.communicate()
    err = raw_err.decode()
    assert process.returncode == 2, err
    assert err.startswith("error: cannot reach the Temporal server at 127.0.0.1:1"), err


async def test_failed_research_exits_nonzero_with_the_reason(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    fake_server.inject_fault("PlanAnswer", 401, times=10)
    code, out, err = await run_client(client, task_queue, "research", "Will this fail?")

    assert code == 1
    assert "workflow_id: " in out
    assert "failed" in err and "TTDR_LLM_API_KEY" in err
    assert fake_server.count("PlanAnswer") == 1, "a bad key is not retried"
