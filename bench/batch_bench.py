"""Benchmark: a batch of questions through BatchResearchWorkflow against the latency fake.

    .venv/bin/python -m bench.batch_bench                      # 100 questions at 10 and 50
    .venv/bin/python -m bench.batch_bench --n 20 --levels 10   # a quick check

For each concurrency N: a fresh worker subprocess (worker.py), one batch of `--n` questions
(evolution off, 1 iteration, 2 questions per iteration: 8 LLM calls, 7 on the critical path,
each taking `--latency` seconds at the fake). Reported: the batch's wall time against
⌈n/N⌉ x one run (one question alone on the same worker; goal ≤ 1.2x) and the worker's peak
RSS. Then the same batch at the highest N with the worker SIGKILLed `--kills` times mid-batch
(a new one started each time): questions completed, and LLM calls made beyond the n x 8
needed, against the activity attempts that never completed (their worker was killed; the
histories record each activity's last attempt number): a call made again for an attempt that
had completed would be a completed call repeated (goal 0).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.client import Client

from bench.latency_llm import Latency, LatencyLLM
from bench.run import cpu_seconds, peak_rss_mib, start_env
from common.temporal_connection import local_server_env
from workflows.batch import WORKFLOW_NAME, BatchQuestion, BatchRequest, BatchResult
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME as CHILD_WORKFLOW

ROOT = Path(__file__).resolve().parent.parent
CONFIG = {
    "evolution": "off",
    "max_iterations": 1,
    "questions_per_iteration": 2,
    "timeouts": {"heartbeat_seconds": 5},  # a killed worker's calls are retried after 5 s
}
CALLS_PER_QUESTION = 8  # plan, draft, gap, 2 retrievals, integrator, judge, report
TOPICS = ["generators", "context managers", "decorators", "asyncio", "dataclasses", "json"]


class Worker:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")], cwd=ROOT, env=env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    async def ready(self) -> Worker:
        while "worker ready" not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-2000:]}")
            await asyncio.sleep(0.1)
        return self

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def batch_request(n: int, concurrency: int) -> BatchRequest:
    questions = [
        BatchQuestion(id=f"q{i}", prompt=f"How do Python {TOPICS[i % len(TOPICS)]} work? ({i})")
        for i in range(n)
    ]
    return BatchRequest(
        questions=questions,
        config=ResearchConfig.model_validate(CONFIG),
        concurrency=concurrency,
    )


async def run_batch(
    client: Client, queue: str, n: int, concurrency: int
) -> tuple[float, BatchResult]:
    started = time.monotonic()
    result = await client.execute_workflow(
        WORKFLOW_NAME,
        batch_request(n, concurrency),
        id=f"bench-batch-{n}-{concurrency}-{uuid.uuid4().hex[:6]}",
        task_queue=queue,
        result_type=BatchResult,
    )
    return time.monotonic() - started, result


async def client_side(client: Client, queue: str, n: int, concurrency: int) -> float:
    """The control: the same questions as plain runs, N at a time, held by the client."""
    request = batch_request(n, concurrency)
    gate = asyncio.Semaphore(concurrency)

    async def one(question: BatchQuestion) -> None:
        async with gate:
            await client.execute_workflow(
                CHILD_WORKFLOW,
                ResearchRequest(question=question.prompt, config=request.config),
                id=f"bench-plain-{question.id}-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
            )

    started = time.monotonic()
    await asyncio.gather(*(one(q) for q in request.questions))
    return time.monotonic() - started


async def failed_attempts(client: Client, workflow_id: str) -> int:
    """Activity attempts of a run that did not complete (lost with a killed worker, then
    retried): its history records each activity's last attempt number."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return sum(
        event.activity_task_started_event_attributes.attempt - 1
        for event in history.events
        if event.HasField("activity_task_started_event_attributes")
    )


async def main_async(args: argparse.Namespace) -> list[str]:
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, LatencyLLM(Latency(args.latency)) as llm:
        env = await start_env()
        client = env.client
        base_env = {
            **local_server_env(client.service_client.config.target_host),
            "TTDR_LLM_BASE_URL": llm.base_url,
            "TTDR_LLM_MODEL": "bench",
            "TTDR_LLM_API_KEY": "x",
            "TTDR_CACHE_DIR": str(Path(tmp) / "cache"),
            "TTDR_LOG_LEVEL": "WARNING",
        }
        workers: list[Worker] = []

        async def new_worker(queue: str) -> Worker:
            log = Path(tmp) / f"worker-{len(workers)}.log"
            worker = Worker({**base_env, "TTDR_TASK_QUEUE": queue}, log)
            workers.append(worker)
            return await worker.ready()

        try:
            for concurrency in args.levels:
                queue = f"batch-bench-{concurrency}"
                worker = await new_worker(queue)
                one, _ = await run_batch(client, queue, 1, 1)  # one run alone (also warm-up)
                llm.configure(Latency(args.latency))
                cpu_before = cpu_seconds(worker.process.pid)
                wall, result = await run_batch(client, queue, args.n, concurrency)
                cpu = (cpu_seconds(worker.process.pid) - cpu_before) / wall
                ideal = math.ceil(args.n / concurrency) * one
                rows.append(
                    f"| batch of {args.n}, concurrency {concurrency} | {wall:.1f} s = "
                    f"{wall / ideal:.2f}x ⌈{args.n}/{concurrency}⌉ x one run ({one:.1f} s); "
                    f"{result.completed} completed; peak worker RSS "
                    f"{peak_rss_mib(worker.process.pid):.0f} MiB; worker CPU {cpu:.0%} of a core; "
                    f"load average {os.getloadavg()[0]:.1f} | ≤ 1.2x | "
                    f"{'met' if wall / ideal <= 1.2 else 'NOT met'} |"
                )
                print(rows[-1], flush=True)
                if args.control:
                    llm.configure(Latency(args.latency))
                    plain = await client_side(client, queue, args.n, concurrency)
                    rows.append(
                        f"| control: {args.n} plain runs, {concurrency} at a time from the client "
                        f"| {plain:.1f} s = {plain / ideal:.2f}x ⌈{args.n}/{concurrency}⌉ x one "
                        f"run; batch / control {wall / plain:.2f} | | |"
                    )
                    print(rows[-1], flush=True)
                worker.stop()

            if not args.kills:
                return rows
            concurrency = max(args.levels)
            queue = f"batch-bench-kill-{concurrency}"
            worker = await new_worker(queue)
            llm.configure(Latency(args.latency))
            expected = args.n * CALLS_PER_QUESTION
            batch = asyncio.ensure_future(run_batch(client, queue, args.n, concurrency))
            in_flight = 0
            for k in range(args.kills):
                threshold = expected * (k + 1) // (args.kills + 1)
                while len(llm.requests) < threshold:
                    await asyncio.sleep(0.05)
                in_flight += sum(r.finished_at is None for r in llm.requests)
                worker.kill()
                worker = await new_worker(queue)
            wall, result = await batch
            made = len(llm.requests)
            repeated = made - expected
            lost = sum([await failed_attempts(client, r.workflow_id) for r in result.records])
            ok = result.completed == args.n and repeated <= lost
            rows.append(
                f"| batch of {args.n}, concurrency {concurrency}, worker SIGKILLed "
                f"{args.kills}x | {result.completed}/{args.n} completed in {wall:.1f} s; LLM "
                f"calls {made} for {expected} needed; {in_flight} in flight at the kills, "
                f"{lost} activity attempts lost with the workers; completed calls repeated "
                f"{max(0, repeated - lost)} | all complete, "
                f"0 repeated | {'met' if ok else 'NOT met'} |"
            )
            print(rows[-1], flush=True)
        finally:
            for worker in workers:
                worker.kill()
            await env.shutdown()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--levels", default="10,50", help="concurrency levels, e.g. 10,50")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per LLM call")
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument(
        "--control", action="store_true", help="also time plain runs held N at a time by a client"
    )
    args = parser.parse_args()
    args.levels = [int(x) for x in args.levels.split(",")]
    rows = asyncio.run(main_async(args))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nmachine: {machine}")
    print("| figure | value | goal | met |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
