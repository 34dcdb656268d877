"""A batch id, as `client.py batch` prints it, given to every per-run command and MCP tool: the
command serves it (progress of its questions; MCP's research_status lists their runs) or says in
one line that it is a batch and which command serves it. No traceback, no empty profile."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from cli.main import main
from common.temporal_connection import local_server_env
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from tests.cli.test_mcp import error_text, server, structured
from workflows.batch import WORKFLOW_NAME, BatchQuestion, BatchRequest, BatchResult
from workflows.config import ResearchConfig

FAST = ResearchConfig(evolution="off", max_iterations=1, questions_per_iteration=1)


async def finished_batch(client: Client, task_queue: str) -> str:
    batch_id = f"batch-ids-{uuid.uuid4().hex[:8]}"
    request = BatchRequest(
        questions=[BatchQuestion(id="q1", prompt="How do Python generators work?")], config=FAST
    )
    result = await client.execute_workflow(
        WORKFLOW_NAME, request, id=batch_id, task_queue=task_queue, result_type=BatchResult
    )
    assert result.completed == 1
    return batch_id


async def run_command(*argv: str) -> tuple[int, str, str]:
    """`client.py ARGV` in this process (main() in a thread of its own, as it runs its own event
    loop): the exit code and what it printed. Nine subprocesses took a minute on 2 cores."""
    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                return main(list(argv))
            except SystemExit as exit_:
                return int(exit_.code or 0)

    code = await asyncio.to_thread(run)
    return code, out.getvalue(), err.getvalue()


def one_line_pointing_to(stderr: str, *commands: str) -> None:
    assert "Traceback" not in stderr and stderr.count("\n") == 1, stderr
    assert "is a batch of research runs" in stderr, stderr
    for command in commands:
        assert command in stderr, stderr


async def test_every_per_run_command_understands_a_batch_id(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    script: Script,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [k for k in os.environ if k.startswith("TEMPORAL_")]:
        monkeypatch.delenv(name)
    for name, value in local_server_env(client.service_client.config.target_host, {}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TTDR_TASK_QUEUE", task_queue)
    batch_id = await finished_batch(client, task_queue)
    child = f"{batch_id}.q1"

    code, out, err = await run_command("progress", batch_id)
    assert code == 0, err
    assert out.startswith(f"batch {batch_id} · completed · 1 of 1 done · 0 failed"), out
    code, out, err = await run_command("progress", batch_id, "--json")
    assert code == 0 and json.loads(out)["finished"][0]["workflow_id"] == child

    expected = {
        "state": (f"client.py progress {batch_id}", f"client.py state {batch_id}.<question id>"),
        "watch": ("client.py batch FILE", f"client.py watch {batch_id}.<question id>"),
        "report": (f"reports/{batch_id}.jsonl", f"client.py report {batch_id}.<question id>"),
        "export": (f"reports/{batch_id}.jsonl", f"client.py export {batch_id}.<question id>"),
        "profile": (f"client.py profile {batch_id}.<question id>",),
    }
    out_dir = tmp_path / "exports"
    for command, pointers in expected.items():
        extra = ["--out", str(out_dir)] if command == "export" else []
        code, out, err = await run_command(command, batch_id, *extra)
        assert code == 2, (command, out, err)
        one_line_pointing_to(err, *pointers)
    assert not out_dir.exists(), "nothing is exported for a batch id"

    async with server(client, task_queue) as mcp:
        status = structured(await mcp.call_tool("research_status", {"workflow_id": batch_id}))
        assert status["kind"] == "batch" and status["status"] == "completed"
        assert (status["total"], status["completed"], status["failed"]) == (1, 1, 0)
        assert status["questions"] == [{"id": "q1", "workflow_id": child, "status": "completed"}]
        text = error_text(await mcp.call_tool("get_report", {"workflow_id": batch_id}))
        assert "is a batch of research runs" in text and f"get_report('{batch_id}." in text
        assert "client.py" not in text  # an agent is told about tools, not CLI commands
        report = await mcp.call_tool("get_report", {"workflow_id": child})
        assert not report.is_error and report.content[0].text.startswith("# ")
