"""`client.py batch` survives crashes: a SIGKILLed client (twice: once while the batch runs, once
after it ended) and a SIGKILLed worker. Every time OUT ends complete and well-formed, with one
line per question, and no question is researched twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from common.temporal_connection import local_server_env
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.processes import ROOT, WorkerProcess, run_client, wait_for, worker_env
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY
from workflows.batch import BatchResult

pytestmark = pytest.mark.slow

FAST = {"evolution": "off", "max_iterations": 1, "questions_per_iteration": 1}
CALLS_PER_QUESTION = 7  # plan, draft, gap, retrieval, integrator, judge, report
TOPICS = ["generators", "context managers", "decorators", "asyncio", "dataclasses", "json"]


def setup_files(tmp_path: Path, n: int) -> tuple[Path, Path, Path]:
    queries = tmp_path / "query.jsonl"
    queries.write_text(
        "".join(
            json.dumps({"id": i, "prompt": f"How do Python {TOPICS[i % len(TOPICS)]} work?"}) + "\n"
            for i in range(n)
        )
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps(FAST))
    return queries, config, tmp_path / "out.jsonl"


def out_lines(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.endswith("}")]


def assert_complete(out: Path, n: int) -> None:
    text = out.read_text()
    assert text.endswith("\n")
    lines = [json.loads(line) for line in text.splitlines()]  # every line is whole JSON
    assert sorted(line["id"] for line in lines) == list(range(n))  # each once, none missing
    assert all(set(line) == {"id", "prompt", "article"} and line["article"] for line in lines)
    runs = [json.loads(line) for line in out.with_name("out.runs.jsonl").open()]
    assert sorted(r["id"] for r in runs) == list(range(n))
    assert all(r["status"] == "completed" for r in runs)


async def start_client_py(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "client.py"), *args, env=env, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def kill(process: asyncio.subprocess.Process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    await process.wait()


async def test_killed_clients_resume_and_write_every_question_once(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> None:
    fake_server.set_delay(None, 0.15)
    n = 6
    queries, config, out = setup_files(tmp_path, n)
    batch_id = f"batch-kill-client-{uuid.uuid4().hex[:8]}"
    args = ("batch", str(queries), "--out", str(out), "--config", str(config))
    args += ("--concurrency", "2", "--id", batch_id)
    env = local_server_env(client.service_client.config.target_host)
    env["TTDR_TASK_QUEUE"] = task_queue

    first = await start_client_py(env, *args)  # killed while the batch runs
    await wait_for(lambda: len(out_lines(out)) >= 1, 60, "a first article")
    await kill(first)
    second = await start_client_py(env, *args)  # follows the running batch; killed too
    await wait_for(lambda: len(out_lines(out)) >= 3, 60, "a third article")
    await kill(second)
    # The batch goes on without any client and ends.
    await client.get_workflow_handle(batch_id, result_type=BatchResult).result()
    assert len(out_lines(out)) < n

    code, _, stderr = await run_client(client, task_queue, *args)  # picks up what is missing

    assert code == 0, stderr
    assert_complete(out, n)
    assert len(fake_server.calls("PlanAnswer")) == n  # no question researched twice
    assert fake_server.count() == n * CALLS_PER_QUESTION


@pytest_asyncio.fixture
async def worker_processes(
    temporal_env: WorkflowEnvironment,
    fake_server: FakeLLMServer,
    cache_dir: Path,
    local_search: LocalSearch,  # the demo-corpus index is built before any worker starts
    tmp_path: Path,
) -> AsyncIterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    try:
        yield started
    finally:
        for worker in started:
            worker.kill()


async def test_a_killed_worker_is_replaced_and_the_batch_completes(
    client: Client,
    fake_server: FakeLLMServer,
    script: Script,
    cache_dir: Path,
    tmp_path: Path,
    worker_processes: list[WorkerProcess],
) -> None:
    fake_server.set_delay(None, 0.2)
    n = 6
    queries, config, out = setup_files(tmp_path, n)
    queue = f"ttdr-batch-{uuid.uuid4().hex[:8]}"
    address = client.service_client.config.target_host

    async def new_worker(number: int) -> None:
        env = worker_env(
            temporal_address=address, task_queue=queue, llm_base_url=fake_server.base_url,
            api_key=FAKE_KEY, cache_dir=cache_dir,
        )  # fmt: skip
        worker = WorkerProcess(env, tmp_path / f"worker-{number}.log")
        worker_processes.append(worker)
        await worker.start()

    await new_worker(1)
    batch_id = f"batch-kill-worker-{uuid.uuid4().hex[:8]}"
    args = ("batch", str(queries), "--out", str(out), "--config", str(config))
    batch = asyncio.ensure_future(
        run_client(client, queue, *args, "--concurrency", "3", "--id", batch_id)
    )
    await wait_for(lambda: fake_server.count() >= 2 * CALLS_PER_QUESTION, 60, "two questions")
    killed_at = time.monotonic()
    in_flight = sum(r.finished_at is None for r in fake_server.requests)
    answered_just_before_kill = sum(
        r.finished_at is not None and killed_at - r.finished_at < 2.0 for r in fake_server.requests
    )
    worker_processes[0].kill()
    await new_worker(2)
    code, _, stderr = await batch

    assert code == 0, stderr
    assert_complete(out, n)
    for i in range(n):  # each question was one research run, never started again
        runs = [w async for w in client.list_workflows(f"WorkflowId = '{batch_id}.{i}'")]
        assert len(runs) == 1
    # Only calls whose activity had not completed at the kill were made again: every extra call
    # is a later attempt of an activity (Temporal never retries a completed one; an attempt may
    # also have died before sending its request, hence <=). A call the fake server had already
    # answered may be among them: its answer was in transit, or its completion not yet
    # reported, when the worker died.
    retried = 0
    for i in range(n):
        history = await client.get_workflow_handle(f"{batch_id}.{i}").fetch_history()
        retried += sum(
            event.activity_task_started_event_attributes.attempt - 1
            for event in history.events
            if event.HasField("activity_task_started_event_attributes")
        )
    extra = fake_server.count() - n * CALLS_PER_QUESTION
    assert extra <= retried, (extra, retried)
    assert extra <= in_flight + answered_just_before_kill, (extra, in_flight)
