"""Benchmark: a provider's requests-per-minute limit held across workers (TTDR_LLM_MAX_RPM).

A real dev server, two workers (each on its own connection, as two worker processes) and the
latency fake enforcing `--rpm` requests per minute (bench/latency_llm.py: 429 + Retry-After
above it). `--runs` research runs start at once, first with the workers' limit set to the
provider's (`limited`), then without it (`unlimited`). For each: requests answered 200 / 429,
the share of 429s, runs completed, wall time, and the rate of answered requests while work was
queued — while some node activity of the runs was scheduled but not yet started (from their
histories: the server was holding work back), as a share of the limit.

    .venv/bin/python -m bench.rate_limit                   # 30 runs, 120/min, ~4 min on 2 cores
    .venv/bin/python -m bench.rate_limit --mode limited --partitions 0   # the server's 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.llm import LLMClient
from activities.llm_settings import LLMSettings
from bench.latency_llm import Latency, LatencyLLM
from common.temporal_plugin import ResearchPlugin
from embedded.temporal_server import dynamic_config_args, temporal_cli
from observability.search_attributes import ensure_search_attributes
from search.local_provider import LocalSearch
from worker import build_worker
from workflows.calls import llm_task_queue
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

QUESTION = "How do Python generators and context managers work?"
# 8 LLM calls a run: plan, draft, gap analysis, 2 answers, integration, judge, report.
CONFIG = {"evolution": "off", "max_iterations": 1, "quality_threshold": 1.0}


@dataclass
class Outcome:
    mode: str
    runs: int
    completed: int
    wall_seconds: float
    ok: int
    rejected: int
    queued_seconds: float
    served_while_queued: int

    @property
    def rejected_share(self) -> float:
        total = self.ok + self.rejected
        return self.rejected / total if total else 0.0

    def served_per_minute(self) -> float | None:
        if self.queued_seconds < 1:
            return None
        return self.served_while_queued / self.queued_seconds * 60


def queued_intervals(histories: list[WorkflowHistory], queue: str) -> list[tuple[float, float]]:
    """(scheduled, started) of every node activity on the LLM queue, as epoch seconds."""
    spans: list[tuple[float, float]] = []
    for history in histories:
        scheduled: dict[int, float] = {}
        for event in history.events:
            when = event.event_time.ToDatetime(tzinfo=UTC).timestamp()
            if event.HasField("activity_task_scheduled_event_attributes"):
                attrs = event.activity_task_scheduled_event_attributes
                if attrs.task_queue.name == queue:
                    scheduled[event.event_id] = when
            elif event.HasField("activity_task_started_event_attributes"):
                started = event.activity_task_started_event_attributes
                if started.scheduled_event_id in scheduled:
                    spans.append((scheduled.pop(started.scheduled_event_id), when))
    return spans


def union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        elif end > start:
            merged.append((start, end))
    return merged


async def one_mode(
    env: WorkflowEnvironment, llm: LatencyLLM, mode: str, args: argparse.Namespace, cache: Path
) -> Outcome:
    llm.configure(Latency(args.latency))
    queue = f"rpm-{mode}-{uuid.uuid4().hex[:6]}"
    rpm = args.rpm if mode == "limited" else None
    settings = LLMSettings(base_url=llm.base_url, model="bench", judge_model="bench", api_key="x")
    clients = [env.client] + [
        await Client.connect(
            env.client.service_client.config.target_host, plugins=[ResearchPlugin()]
        )
        for _ in range(args.workers - 1)
    ]
    llm_clients = [LLMClient(settings) for _ in clients]
    search = LocalSearch.from_env({"TTDR_CACHE_DIR": str(cache)})
    groups = [
        build_worker(c, queue, lc, search, llm_max_rpm=rpm)
        for c, lc in zip(clients, llm_clients, strict=True)
    ]
    ids = [f"rpm-{mode}-{i}-{uuid.uuid4().hex[:6]}" for i in range(args.runs)]
    request = ResearchRequest(question=QUESTION, config=ResearchConfig.model_validate(CONFIG))
    offset = time.time() - time.monotonic()
    for group in groups:
        await group.__aenter__()
    try:
        start = time.monotonic()
        results = await asyncio.gather(
            *(
                env.client.execute_workflow(
                    WORKFLOW_NAME, request, id=i, task_queue=queue, result_type=ResearchReport
                )
                for i in ids
            ),
            return_exceptions=True,
        )
        wall = time.monotonic() - start
    finally:
        for group in reversed(groups):
            await group.__aexit__(None, None, None)
        for lc in llm_clients:
            await lc.aclose()
    failures = [r for r in results if isinstance(r, BaseException)]
    for failure in failures[:3]:
        print(f"  a run failed: {failure!r}", file=sys.stderr)
    histories = [await env.client.get_workflow_handle(i).fetch_history() for i in ids]
    periods = union(queued_intervals(histories, llm_task_queue(queue)))
    requests = llm.requests
    ok = [r for r in requests if r.status == 200]
    served = sum(1 for r in ok if any(a <= r.started_at + offset < b for a, b in periods))
    return Outcome(
        mode=mode,
        runs=args.runs,
        completed=args.runs - len(failures),
        wall_seconds=wall,
        ok=len(ok),
        rejected=sum(1 for r in requests if r.status == 429),
        queued_seconds=sum(b - a for a, b in periods),
        served_while_queued=served,
    )


def table(outcomes: list[Outcome], args: argparse.Namespace) -> str:
    lines = [
        "| TTDR_LLM_MAX_RPM | runs completed | wall | requests 200 | 429s (share) | work queued "
        "| served while queued |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        rate = o.served_per_minute()
        served = (
            "-" if rate is None else f"{rate:.1f}/min = {rate / args.rpm:.0%} of {args.rpm}/min"
        )
        lines.append(
            f"| {args.rpm if o.mode == 'limited' else 'unset'} | {o.completed}/{o.runs} | "
            f"{o.wall_seconds:.0f} s | {o.ok} | {o.rejected} ({o.rejected_share:.1%}) | "
            f"{o.queued_seconds:.0f} s | {served} |"
        )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rpm", type=int, default=120, help="the provider's limit per minute")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per completion")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mode", choices=["both", "limited", "unlimited"], default="both")
    parser.add_argument(
        "--partitions",
        type=int,
        default=1,
        help="task queue partitions (dev server dynamic config; 0: the server's default, 4). "
        "The server applies the rate limit per partition: 1 is what deploy/ sets for the LLM "
        "queue",
    )
    args = parser.parse_args()
    modes = ["limited", "unlimited"] if args.mode == "both" else [args.mode]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip() or os.environ.get("BENCH_COMMIT", "?")  # run from a `git archive` copy
    extra = dynamic_config_args()  # as the embedded dev server runs (priority, fairness)
    if args.partitions:
        for key in ("numTaskqueueReadPartitions", "numTaskqueueWritePartitions"):
            extra += ["--dynamic-config-value", f"matching.{key}={args.partitions}"]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        plugins=[ResearchPlugin()],
        dev_server_extra_args=extra,
    )
    outcomes: list[Outcome] = []
    try:
        await ensure_search_attributes(env.client, "default")
        with (
            tempfile.TemporaryDirectory() as cache,
            LatencyLLM(Latency(args.latency), rpm=args.rpm) as llm,
        ):
            for mode in modes:
                print(f"{mode}: {args.runs} runs at once …", file=sys.stderr, flush=True)
                outcomes.append(await one_mode(env, llm, mode, args, Path(cache)))
    finally:
        await env.shutdown()
    print(
        f"{args.runs} runs at once ({CONFIG}, 8 LLM calls each), {args.workers} workers, provider "
        f"limit {args.rpm}/min (sliding 60 s), {args.latency:g} s per call · commit {commit} · "
        f"{platform.machine()}, 2 cores · task queue partitions: {args.partitions or 'default'}"
    )
    print(table(outcomes, args))


if __name__ == "__main__":
    asyncio.run(main())
