"""Benchmark: issue 15's two shortfalls with the default (`paper`) profile.

1. LLM-busy ratio of one run at 1 s per call (goal >= 0.95): bench.run's overhead method
   (union of request intervals at the latency fake / client wall), with the in-process worker.
2. N runs released at once on one `worker.py` process against one run on the same worker
   (goal <= 1.5x at 20): bench.run's concurrency method, but the default config (bench.run's
   concurrency rows use `evolution: off`, 2 iterations).

    .venv/bin/python -m bench.shortfalls                       # both, ~3 min on 2 cores
    .venv/bin/python -m bench.shortfalls --only overhead
    .venv/bin/python -m bench.shortfalls --only concurrency --runs 20 --latency 1

Each part prints the CPU seconds the worker used and the bench process (client + the fake LLM
server's threads) used, so a profile can say where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench import metrics
from bench.latency_llm import Latency, LatencyLLM
from bench.run import (
    QUESTION,
    ROOT,
    Bench,
    in_process_worker,
    research,
    start_env,
    tree_cpu_seconds,
    worker_process,
)
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport


def say(line: str) -> None:
    print(line, flush=True)


async def overhead(b: Bench, config: dict[str, Any], latency: float) -> None:
    async with in_process_worker(b.client, b.llm.base_url, b.cache, b.overrides):
        b.llm.configure(Latency(0.001))
        await research(b.client, config)  # warm-up
        b.llm.configure(Latency(latency))
        since, cpu0 = time.monotonic(), time.process_time()
        wall, report, workflow_id = await research(b.client, config)
        cpu = time.process_time() - cpu0
    intervals = metrics.request_intervals(b.llm.requests, since)
    busy = metrics.union_seconds(intervals)
    events = (await b.client.get_workflow_handle(workflow_id).fetch_history()).events
    dispatch = metrics.schedule_to_start(events)
    gaps = metrics.idle_gaps(intervals)
    path = metrics.critical_path_calls(ResearchConfig.model_validate(config), report.iterations)
    say(
        f"overhead: {json.dumps(config)}, {latency:g} s/call, {report.iterations} it, "
        f"{len(intervals)} calls: LLM-busy / wall {busy / wall:.3f} ({busy:.2f} / {wall:.2f} s); "
        f"wall / critical path {wall / (path * latency):.3f} ({path} calls); "
        f"LLM idle gaps: {len(gaps)}, median {metrics.median(gaps) * 1000:.0f} ms, "
        f"sum {sum(gaps):.2f} s; scheduled→started median "
        f"{metrics.median(dispatch) * 1000:.0f} ms, max {max(dispatch) * 1000:.0f} ms; "
        f"CPU of the bench process (worker + client + fake) {cpu:.1f} s"
    )


async def release(client: Client, queue: str, config: dict[str, Any], n: int) -> float:
    request = ResearchRequest(question=QUESTION, config=ResearchConfig.model_validate(config))
    start = time.monotonic()
    handles = await asyncio.gather(
        *(
            client.start_workflow(
                WORKFLOW_NAME,
                request,
                id=f"bench-s{n}-{i}-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
                result_type=ResearchReport,
            )
            for i in range(n)
        )
    )
    await asyncio.gather(*(h.result() for h in handles))
    return time.monotonic() - start


async def concurrency(
    b: Bench, config: dict[str, Any], latency: float, runs: int, script: Path, processes: int
) -> None:
    queue = f"bench-s-{uuid.uuid4().hex[:6]}"
    async with worker_process(b, queue, script, processes) as proc:
        b.llm.configure(Latency(0.001))
        await release(b.client, queue, config, 1)  # warm-up of this worker
        b.llm.configure(Latency(latency))
        walls, peaks = {}, {}
        for n in (1, runs):
            b.llm.configure(Latency(latency))
            cpu_w, cpu_b = tree_cpu_seconds(proc.pid), time.process_time()
            walls[n] = await asyncio.wait_for(release(b.client, queue, config, n), 900)
            intervals = metrics.request_intervals(b.llm.requests, 0)
            peaks[n] = max_in_flight(intervals)
            worker_cpu = tree_cpu_seconds(proc.pid) - cpu_w
            say(
                f"concurrency: {n} run(s) at once, {json.dumps(config)}, {latency:g} s/call, "
                f"{script.name} ({processes} process{'es' if processes > 1 else ''}): "
                f"{walls[n]:.1f} s = {walls[n] / walls[1]:.2f}x one run; "
                f"{len(intervals)} LLM calls, at most {peaks[n]} in flight; worker CPU "
                f"{worker_cpu:.1f} s ({worker_cpu / walls[n]:.0%} of a core); bench process "
                f"(client + fake) CPU {time.process_time() - cpu_b:.1f} s"
            )


def max_in_flight(intervals: list[metrics.Interval]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = now = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


async def main_async(args: argparse.Namespace) -> None:
    config = json.loads(args.config)
    overrides = {k: int(v) for k, v in (kv.split("=", 1) for kv in args.worker_setting)}
    with tempfile.TemporaryDirectory() as tmp, LatencyLLM(Latency()) as llm:
        env = await start_env()
        bench = Bench(env, llm, Path(tmp), [], overrides or None)
        try:
            if args.only in (None, "overhead"):
                await overhead(bench, config, args.latency)
            if args.only in (None, "concurrency"):
                await concurrency(
                    bench, config, args.latency, args.runs, args.worker_script, args.processes
                )
        finally:
            await env.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["overhead", "concurrency"])
    parser.add_argument("--config", default="{}", help="research config JSON (default: defaults)")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per LLM call")
    parser.add_argument("--runs", type=int, default=20, help="runs released at once")
    parser.add_argument("--worker-script", type=Path, default=ROOT / "worker.py")
    parser.add_argument(
        "--processes", type=int, default=1, help="worker processes (concurrency; worker.py's N)"
    )
    parser.add_argument("--worker-setting", action="append", default=[], metavar="NAME=INT")
    args = parser.parse_args()
    say(f"# bench.shortfalls · {os.cpu_count()} cores · load {os.getloadavg()[0]:.2f}")
    started = time.monotonic()
    asyncio.run(main_async(args))
    say(f"# {time.monotonic() - started:.0f} s · load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
