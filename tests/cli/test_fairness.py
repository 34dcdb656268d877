"""Fair sharing: `client.py research --priority/--fairness-key` start the run with Temporal's task
Priority, which its node activities inherit; with the LLM queue backlogged (a provider rate limit,
TTDR_LLM_MAX_RPM), a run of a higher priority, or of another fairness key, is served before the
backlog of a big batch has drained."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.common import Priority

from activities.llm import LLMClient
from cli.priority import priority_from_args
from common.errors import UsageError
from common.settings import ClientSettings
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.processes import run_client, run_client_py
from testing.scripted_llm import Script
from testing.settings import fake_llm_settings
from tests.support.paths import ROOT
from worker import build_worker
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

RPM = 240  # 4 node activities a second: the LLM queue backs up behind the batch
BATCH = 8  # runs of 8 LLM calls each: 64 calls, 16 s at the limit


def client_env(client: Client, queue: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "OTEL_"))}
    env["TEMPORAL_ADDRESS"] = client.service_client.config.target_host
    env["TTDR_TASK_QUEUE"] = queue
    return env


@pytest_asyncio.fixture
async def limited_queue(
    client: Client, fake_server: FakeLLMServer, script: Script, local_search: LocalSearch
) -> AsyncIterator[str]:
    queue = f"ttdr-fair-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server))
    async with build_worker(client, queue, llm, local_search, llm_max_rpm=RPM):
        yield queue
    await llm.aclose()


async def run(client: Client, queue: str, priority: Priority, tag: str) -> float:
    """Seconds until the run's report, from when it was started."""
    request = ResearchRequest(
        question=f"How does Python's with statement work? ({tag})",
        config=ResearchConfig(evolution="off", max_iterations=1, quality_threshold=1.0),
    )
    start = time.monotonic()
    await client.execute_workflow(
        WORKFLOW_NAME,
        request,
        id=f"fair-{tag}-{uuid.uuid4().hex[:6]}",
        task_queue=queue,
        result_type=ResearchReport,
        priority=priority,
    )
    return time.monotonic() - start


async def test_research_takes_priority_and_fairness_key_onto_the_run(
    client: Client, task_queue: str, tmp_path: Path
) -> None:
    workflow_id = f"fair-cli-{uuid.uuid4().hex[:8]}"
    code, _, err = await run_client_py(
        "research",
        "How does Python's with statement work?",
        "--id",
        workflow_id,
        "--out",  # the report goes to the test's folder, not the work tree's reports/
        str(tmp_path / "report.md"),
        "--max-iterations",
        "1",
        "--priority",
        "1",
        "--fairness-key",
        "alice",
        "--fairness-weight",
        "2",
        env=client_env(client, task_queue),
    )
    assert code == 0, err
    assert (tmp_path / "report.md").is_file()
    assert not (ROOT / "reports" / f"{workflow_id}.md").exists(), "a test leaves no report behind"

    info = (await client.get_workflow_handle(workflow_id).describe()).raw_description
    priority = info.workflow_execution_info.priority
    assert (priority.priority_key, priority.fairness_key, priority.fairness_weight) == (
        1,
        "alice",
        2.0,
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--priority", "0"], "--priority must be 1..5, not 0"),
        (["--priority", "6"], "--priority must be 1..5, not 6"),
        (["--fairness-key", " "], "--fairness-key must be printable text"),
        (["--fairness-key", "x" * 65], "--fairness-key is over 64 bytes"),
        (["--fairness-weight", "2"], "--fairness-weight needs a --fairness-key"),
    ],
)
async def test_bad_priority_options_are_rejected_before_anything_starts(
    options: list[str], message: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "OTEL_"))}
    env["TEMPORAL_ADDRESS"] = "127.0.0.1:1"  # nothing listens: the check comes first
    code, _, err = await run_client_py("research", "A question?", *options, env=env)
    assert code == 2
    assert message in err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("batch", "single"),
    [
        (Priority(priority_key=5), Priority(priority_key=1)),
        (Priority(fairness_key="batch-user"), Priority(fairness_key="alice")),
    ],
    ids=["priority", "fairness-key"],
)
async def test_a_single_run_is_not_starved_by_a_big_batch(
    client: Client, limited_queue: str, batch: Priority, single: Priority
) -> None:
    batch_runs = [
        asyncio.create_task(run(client, limited_queue, batch, f"batch{i}")) for i in range(BATCH)
    ]
    await asyncio.sleep(2)  # the batch's backlog builds up first
    single_seconds = await run(client, limited_queue, single, "single")
    still_running = sum(not task.done() for task in batch_runs)
    batch_seconds = await asyncio.gather(*batch_runs)

    # Served first in order of arrival, the single run would wait behind the batch's backlog
    # and finish with the last of it; it finishes while most of the batch is still queued.
    assert still_running >= BATCH // 2, (single_seconds, batch_seconds)
    assert single_seconds < max(batch_seconds) * 0.75, (single_seconds, batch_seconds)


def test_the_environment_gives_defaults_that_the_options_override() -> None:
    def args(**given: object) -> argparse.Namespace:
        return argparse.Namespace(
            **{"priority": None, "fairness_key": None, "fairness_weight": None, **given}
        )

    env = {"TTDR_FAIRNESS_KEY": "bob", "TTDR_PRIORITY": "2"}
    settings = ClientSettings.load(env)
    assert priority_from_args(args(), settings) == Priority(priority_key=2, fairness_key="bob")
    assert priority_from_args(args(fairness_key="carol", priority=4), settings) == Priority(
        priority_key=4, fairness_key="carol"
    )
    assert priority_from_args(args(), ClientSettings.load({})) == Priority()
    # A bad variable is the client's settings model's one line (cli/main.py, at start).
    for raw in ("hi", "9"):
        with pytest.raises(
            UsageError, match=rf"TTDR_PRIORITY must be an integer from 1 to 5 .*{raw}"
        ):
            ClientSettings.load({"TTDR_PRIORITY": raw})


async def test_a_batchs_child_runs_and_their_activities_inherit_its_priority(
    client: Client, task_queue: str, tmp_path: Path
) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": 1, "prompt": "How do Python generators work?"}\n')
    config = tmp_path / "config.json"
    config.write_text('{"evolution": "off", "max_iterations": 1}')
    batch_id = f"fair-batch-{uuid.uuid4().hex[:8]}"
    code, _, err = await run_client(
        client, task_queue, "batch", str(questions), "--out", str(tmp_path / "out.jsonl"),
        "--config", str(config), "--id", batch_id, "--priority", "2", "--fairness-key", "team-b",
    )  # fmt: skip
    assert code == 0, err

    child = client.get_workflow_handle(f"{batch_id}.1")
    priority = (await child.describe()).raw_description.workflow_execution_info.priority
    assert (priority.priority_key, priority.fairness_key) == (2, "team-b")
    # Its activities carry no priority of their own, so the server dispatches them with the
    # run's: test_a_single_run_is_not_starved_by_a_big_batch shows it on the LLM queue.
