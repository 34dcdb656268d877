"""Benchmark: a single research beside a 50-question batch (fairness keys, issue 15 item 3).

A dev server with the embedded server's dynamic config (priority/fairness matcher on; the LLM
queue in one partition), one worker whose LLM queue is rate-limited (TTDR_LLM_MAX_RPM, the
contention a shared provider creates: without a limit nothing waits in Temporal) and the
latency fake (1 s per call). Three timings of one research run (8 LLM calls):
1. alone, on the idle worker;
2. started 3 s after 50 runs with fairness key `batch`, with fairness key `alice`;
3. the same, but without fairness keys (first come, first served), for comparison.
The goal: (2) within 1.5x (1).

    .venv/bin/python -m bench.fairness              # ~4 min on 2 cores
    .venv/bin/python -m bench.fairness --rpm 600 --batch 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.common import Priority
from temporalio.testing import WorkflowEnvironment

from activities.llm import LLMClient
from activities.llm_settings import LLMSettings
from bench.latency_llm import Latency, LatencyLLM
from common.temporal_plugin import ResearchPlugin
from embedded.temporal_server import dynamic_config_args, temporal_cli
from observability.search_attributes import ensure_search_attributes
from search.local_provider import LocalSearch
from worker import build_worker
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

CONFIG = {"evolution": "off", "max_iterations": 1, "quality_threshold": 1.0}  # 8 LLM calls


async def one_run(client: Client, queue: str, priority: Priority, tag: str) -> float:
    request = ResearchRequest(
        question=f"How do Python generators work? ({tag})",
        config=ResearchConfig.model_validate(CONFIG),
    )
    start = time.monotonic()
    await client.execute_workflow(
        WORKFLOW_NAME,
        request,
        id=f"fair-{tag}-{uuid.uuid4().hex[:8]}",
        task_queue=queue,
        result_type=ResearchReport,
        priority=priority,
    )
    return time.monotonic() - start


async def beside_batch(
    client: Client, queue: str, batch_key: str | None, single_key: str | None, size: int
) -> tuple[float, float]:
    """(single run's seconds, the batch's seconds) with the single run started 3 s in."""
    start = time.monotonic()
    batch = [
        asyncio.create_task(one_run(client, queue, Priority(fairness_key=batch_key), f"b{i}"))
        for i in range(size)
    ]
    await asyncio.sleep(3)
    single = await one_run(client, queue, Priority(fairness_key=single_key), "single")
    await asyncio.gather(*batch)
    return single, time.monotonic() - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--rpm", type=int, default=300, help="TTDR_LLM_MAX_RPM of the worker")
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip() or os.environ.get("BENCH_COMMIT", "?")
    extra = dynamic_config_args()
    for key in ("numTaskqueueReadPartitions", "numTaskqueueWritePartitions"):
        extra += ["--dynamic-config-value", f"matching.{key}=1"]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        plugins=[ResearchPlugin()],
        dev_server_extra_args=extra,
    )
    try:
        await ensure_search_attributes(env.client, "default")
        with tempfile.TemporaryDirectory() as cache, LatencyLLM(Latency(args.latency)) as fake:
            settings = LLMSettings(
                base_url=fake.base_url, model="bench", judge_model="bench", api_key="x"
            )
            llm = LLMClient(settings)
            search = LocalSearch.from_env({"TTDR_CACHE_DIR": str(Path(cache))})
            queue = f"fair-{uuid.uuid4().hex[:6]}"
            async with build_worker(env.client, queue, llm, search, llm_max_rpm=args.rpm):
                idle = await one_run(env.client, queue, Priority(fairness_key="alice"), "idle")
                fair, fair_batch = await beside_batch(
                    env.client, queue, "batch", "alice", args.batch
                )
                fifo, fifo_batch = await beside_batch(env.client, queue, None, None, args.batch)
            await llm.aclose()
    finally:
        await env.shutdown()
    print(
        f"one run (8 LLM calls, {args.latency:g} s each) beside {args.batch} runs, worker "
        f"TTDR_LLM_MAX_RPM={args.rpm}, LLM queue in 1 partition · commit {commit} · "
        f"{platform.machine()}, 2 cores"
    )
    rows = [
        ("alone, idle worker", idle, None),
        ("fairness key `alice`, batch `batch`", fair, fair_batch),
        ("no fairness keys (first come, first served)", fifo, fifo_batch),
    ]
    print("| single run | seconds | / alone | the batch took |")
    print("|---|---|---|---|")
    for label, seconds, batch in rows:
        took = "—" if batch is None else f"{batch:.0f} s"
        print(f"| {label} | {seconds:.1f} | {seconds / idle:.2f}x | {took} |")


if __name__ == "__main__":
    asyncio.run(main())
