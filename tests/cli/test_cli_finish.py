"""The small things that tell a user the CLI is finished: the done line (sources as listed,
`1 LLM call`, an unknown cost explained), Ctrl-C naming the commands that pick the run up,
output piped into `head` without a traceback, and a worker log not drowned in HTTP lines."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli.output import report_paths
from cli.research import print_done
from cli.views import plural, progress_line
from common.temporal_connection import local_server_env
from testing.fake_llm import FakeLLMServer
from testing.processes import WorkerProcess, worker_env
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY
from tests.support.paths import ROOT
from workflows.citing.citations import finalise_report
from workflows.config import ResearchConfig
from workflows.models import LLMUsage, NumberedSource, ResearchPlan, ResearchRequest, Source
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchProgress, ResearchReport


def passage(number: int, document: str, anchor: str) -> NumberedSource:
    source = Source(
        id=f"s{number}",
        title=document,
        location=f"corpus/{document}",
        provider="local",
        retrieved_at="2026-01-01T00:00:00Z",
        document=document,
        anchor=anchor,
    )
    return NumberedSource(number=number, source=source)


def report_of(usage: LLMUsage) -> ResearchReport:
    """Four passages of three documents cited: the Sources list has three entries."""
    known = [
        passage(1, "a.md", "Intro"),
        passage(2, "a.md", "Details"),
        passage(3, "b.md", ""),
        passage(4, "c.md", ""),
    ]
    markdown, cited, _ = finalise_report("# Q\n\nOne [1]. Two [2]. Three [3]. Four [4].", known)
    return ResearchReport(
        question="Q",
        markdown=markdown,
        plan=ResearchPlan(sections=[]),
        sources=cited,
        sources_retrieved=4,
        removed_citations=0,
        iterations=1,
        quality_history=[0.5],
        stop_reason="max_iterations",
        usage_by_node={},
        usage_total=usage,
    )


def test_the_done_line_counts_sources_as_listed_and_explains_an_unknown_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = report_of(LLMUsage(calls=1, input_tokens=10, output_tokens=5, unpriced_calls=1))
    print_done(report, report_paths(tmp_path / "r.md", "w"))
    out = capsys.readouterr().out
    listed = re.findall(r"^\d+\. ", report.markdown.split("## Sources")[1], re.MULTILINE)
    assert len(listed) == 3 and len(report.sources) == 4
    assert "done: 1 iteration, stop: max_iterations, 3 sources cited, 1 LLM call, 15 tokens" in out
    assert "cost unknown (the worker's model has no price" in out and "$?" not in out
    assert "TTDR_LLM_PRICES" in out and "input_per_million" in out

    priced = report_of(LLMUsage(calls=2, input_tokens=10, output_tokens=5, cost_usd=0.0123))
    print_done(priced, report_paths(tmp_path / "p.md", "w"))
    out = capsys.readouterr().out
    assert "2 LLM calls, 15 tokens, cost $0.0123\n" in out and "TTDR_LLM_PRICES" not in out


def test_counts_are_singular_for_one() -> None:
    assert plural(1, "LLM call") == "1 LLM call" and plural(0, "source") == "0 sources"
    progress = ResearchProgress(
        phase="planning",
        node="research_planner",
        iteration=0,
        max_iterations=3,
        quality_history=[],
        questions_asked=0,
        sources_found=0,
        usage=LLMUsage(calls=1, input_tokens=3, output_tokens=4),
    )
    assert "1 LLM call, 7 tokens" in progress_line(progress)


async def test_ctrl_c_names_the_commands_that_pick_the_run_up(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> None:
    fake_server.set_delay("PlanAnswer", 30)  # the run is still planning when Ctrl-C comes
    workflow_id = f"ctrl-c-{uuid.uuid4().hex[:8]}"
    env = {**local_server_env(client.service_client.config.target_host)}
    env["TTDR_TASK_QUEUE"] = task_queue
    process = await asyncio.create_subprocess_exec(
        sys.executable, "client.py", "research", "How do Python decorators work?",
        "--id", workflow_id, "--out", str(tmp_path / "r.md"), "--config",
        str(_config(tmp_path)), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    try:
        while b"web_ui:" not in await asyncio.wait_for(process.stdout.readline(), 60):
            pass
        process.send_signal(signal.SIGINT)
        err = (await asyncio.wait_for(process.stderr.read(), 30)).decode()
        assert await process.wait() == 130
        assert f"`client.py watch {workflow_id}` follows it" in err
        assert f"`client.py report {workflow_id}` writes its report" in err
        assert "Traceback" not in err

        # `watch` of the same run (still planning), interrupted, says the same.
        process = await asyncio.create_subprocess_exec(
            sys.executable, "client.py", "watch", workflow_id, cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        await asyncio.wait_for(process.stdout.readline(), 60)  # its first progress line
        process.send_signal(signal.SIGINT)
        err = (await asyncio.wait_for(process.stderr.read(), 30)).decode()
        assert await process.wait() == 130
        assert f"`client.py watch {workflow_id}` follows it again" in err, err
        assert "Traceback" not in err
    finally:
        if process.returncode is None:
            process.kill()
        await client.get_workflow_handle(workflow_id).cancel()
        fake_server.set_delay("PlanAnswer", 0)


def _config(folder: Path) -> Path:
    path = folder / "config.json"
    path.write_text('{"evolution": "off", "max_iterations": 1}')
    return path


def client_into_closed_pipe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """client.py whose reader has gone away (`| head -1` once it has its line)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "client.py", *args],
            cwd=ROOT, env=env, stdout=write, stderr=subprocess.PIPE, text=True, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write)


@pytest.mark.slow  # a worker process: about 20 s on 2 loaded cores
async def test_a_worker_log_and_piped_output_stay_readable(
    temporal_env: WorkflowEnvironment,
    fake_server: FakeLLMServer,
    script: Script,
    cache_dir: Path,
    tmp_path: Path,
) -> None:
    client = temporal_env.client
    queue = f"finish-{uuid.uuid4().hex[:6]}"
    env = worker_env(
        temporal_address=client.service_client.config.target_host,
        task_queue=queue,
        llm_base_url=fake_server.base_url,
        api_key=FAKE_KEY,
        cache_dir=cache_dir,
    )
    worker = await WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        workflow_id = f"finish-{uuid.uuid4().hex[:8]}"
        request = ResearchRequest(
            question="How do Python decorators work?",
            config=ResearchConfig.model_validate({"evolution": "off", "max_iterations": 1}),
        )
        await client.execute_workflow(WORKFLOW_NAME, request, id=workflow_id, task_queue=queue)
        log = worker.output()
        assert fake_server.count() >= 5
        assert "HTTP Request:" not in log, "httpx request lines drown the worker's own"
        assert "worker ready:" in log

        for args in (["state", workflow_id], ["profile", workflow_id], ["stats"]):
            done = client_into_closed_pipe(env, *args)
            assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, args
            assert done.returncode == 141, (args, done.stderr)
    finally:
        worker.stop()
