"""Benchmark: the product against the bare-`temporalio` floor, side by side in one run.

One dev server, one fake LLM (bench/latency_llm.py, fixed latency per call), two worker
processes started once: the floor (bench/floor.py: a chain of dependent httpx activities) and
`worker.py --processes 1`. Each repeat runs, one after the other: the floor chain, the product
with evolution off, the product on the paper profile (the default config). Per run:

- per-call overhead: (client wall - dependent steps x latency) / dependent steps, the
  orchestration each dependent call adds; dependent steps are the longest chain of LLM calls
  each started after the previous one finished (at the fake LLM), so a run that stops early
  counts what it did, and a skew between the siblings of a fan-out counts as overhead;
- worker CPU per LLM call: utime+stime of that worker process during the run / LLM calls;
- history bytes per LLM call (protobuf size of the fetched history), and events per call;
- LLM-busy / wall: union of the fake server's request intervals over the client wall.

The table gives medians over the repeats and each figure as a ratio to the floor's.

    .venv/bin/python -m bench.side_by_side                    # 3 repeats at 1 s/call, ~6 min
    .venv/bin/python -m bench.side_by_side --repeats 1 --latency 0.2 --profiles off
    .venv/bin/python -m bench.side_by_side --worker-env TTDR_LLM_MAX_RPM=1000000  # no eager start
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from bench import metrics
from bench.floor import WORKFLOW_NAME as FLOOR_WORKFLOW
from bench.floor import ChainInput
from bench.latency_llm import Latency, LatencyLLM
from bench.run import QUESTION, ROOT, Bench, cpu_seconds, start_env, worker_env
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

PROFILES: dict[str, dict[str, Any]] = {
    "off": {"evolution": "off"},
    "paper": {},
    "paper-2it": {"max_iterations": 2},
}
SETTLE_SECONDS = 0.3  # lets the worker finish the run's last workflow task before CPU is read


@dataclass
class Sample:
    kind: str
    wall: float
    calls: int  # LLM calls made
    path: int  # of which one after another
    cpu: float  # worker CPU seconds
    history: int  # bytes
    events: int
    busy: float  # seconds with an LLM call in flight
    dispatch: float  # median ActivityTaskScheduled -> Started, seconds (0: started eagerly)

    def overhead_ms(self, latency: float) -> float:
        return (self.wall - self.path * latency) / self.path * 1000

    def cpu_ms(self) -> float:
        return self.cpu / self.calls * 1000


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def worker(
    command: list[str], env: dict[str, str], log: Path
) -> AsyncIterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while "worker ready" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[-1]} did not start: {log.read_text()[-2000:]}")
            await asyncio.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


async def floor_run(client: Client, queue: str, calls: int) -> str:
    workflow_id = f"floor-{uuid.uuid4().hex[:8]}"
    await client.execute_workflow(
        FLOOR_WORKFLOW, ChainInput(calls), id=workflow_id, task_queue=queue, result_type=int
    )
    return workflow_id


async def product_run(client: Client, queue: str, config: dict[str, Any]) -> str:
    workflow_id = f"side-{uuid.uuid4().hex[:8]}"
    await client.execute_workflow(
        WORKFLOW_NAME,
        ResearchRequest(question=QUESTION, config=ResearchConfig.model_validate(config)),
        id=workflow_id,
        task_queue=queue,
        result_type=ResearchReport,
    )
    return workflow_id


async def measure(
    kind: str,
    client: Client,
    llm: LatencyLLM,
    pid: int,
    run: Callable[[], Awaitable[str]],
) -> tuple[Sample, WorkflowHistory]:
    since, cpu0 = time.monotonic(), cpu_seconds(pid)
    workflow_id = await run()
    wall = time.monotonic() - since
    await asyncio.sleep(SETTLE_SECONDS)
    cpu = cpu_seconds(pid) - cpu0
    intervals = metrics.request_intervals(llm.requests, since)
    path = chain_depth(intervals)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    sample = Sample(
        kind,
        wall,
        len(intervals),
        path,
        cpu,
        metrics.history_bytes(history),
        len(history.events),
        metrics.union_seconds(intervals),
        metrics.median(metrics.schedule_to_start(history.events)),
    )
    return sample, history


def chain_depth(intervals: list[metrics.Interval]) -> int:
    """The longest chain of LLM calls each started after the one before it finished: the
    dependent steps the run could not have avoided (wall >= depth x latency). Counted from what
    reached the LLM, so a run that stops early, or a fan-out whose siblings overlap only in part,
    counts what it really did."""
    ordered = sorted(intervals)
    depth: list[int] = []
    for start, _ in ordered:
        before = [d for (_, end), d in zip(ordered, depth, strict=False) if end <= start]
        depth.append(1 + max(before, default=0))
    return max(depth, default=0)


def bytes_by_event_type(history: WorkflowHistory) -> list[tuple[str, int, int]]:
    """(event type, count, bytes) of a history, largest first."""
    count: collections.Counter[str] = collections.Counter()
    size: collections.Counter[str] = collections.Counter()
    for event in history.events:
        name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        count[name] += 1
        size[name] += event.ByteSize()
    return [(name, count[name], size[name]) for name, _ in size.most_common()]


def render(samples: list[Sample], latency: float, kinds: list[str]) -> str:
    by_kind = {k: [s for s in samples if s.kind == k] for k in kinds}

    def med(kind: str, figure: Callable[[Sample], float]) -> float:
        return metrics.median([figure(s) for s in by_kind[kind]])

    floor_overhead = med("floor", lambda s: s.overhead_ms(latency))
    floor_cpu = med("floor", Sample.cpu_ms)
    floor_bytes = med("floor", lambda s: s.history / s.calls)
    lines = [
        "| run | LLM calls (dependent steps) | overhead per dependent step | vs floor "
        "| worker CPU per LLM call | vs floor | history bytes per LLM call (events) "
        "| LLM-busy / wall | scheduled→started |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in kinds:
        runs = by_kind[kind]
        overhead = med(kind, lambda s: s.overhead_ms(latency))
        cpu = med(kind, Sample.cpu_ms)
        per_call = med(kind, lambda s: s.history / s.calls)
        events = med(kind, lambda s: s.events / s.calls)
        busy = med(kind, lambda s: s.busy / s.wall)
        dispatch = med(kind, lambda s: s.dispatch) * 1000
        spread = " to ".join(f"{s.overhead_ms(latency):.1f}" for s in runs)
        lines.append(
            f"| {kind} | {runs[0].calls} ({runs[0].path}) | {overhead:.1f} ms ({spread}) "
            f"| {overhead / floor_overhead:.2f}x | {cpu:.1f} ms | {cpu / floor_cpu:.2f}x "
            f"({cpu - floor_cpu:+.1f} ms) | {per_call:,.0f} B ({events:.1f}) "
            f"| {busy:.3f} | {dispatch:.1f} ms |"
        )
    lines.append(f"\nfloor history bytes per call: {floor_bytes:,.0f} B")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    kinds = ["floor", *args.profiles]
    samples: list[Sample] = []
    last: dict[str, WorkflowHistory] = {}
    with tempfile.TemporaryDirectory() as tmp, LatencyLLM(Latency()) as llm:
        env = await start_env()
        address = env.client.service_client.config.target_host
        floor_client = await Client.connect(address)  # the floor: SDK defaults, JSON converter
        product_env = worker_env(Bench(env, llm, Path(tmp), []), "side-product")
        product_env.update(kv.split("=", 1) for kv in args.worker_env)
        floor_cmd = [sys.executable, "-m", "bench.floor", "--address", address]
        floor_cmd += ["--queue", "side-floor", "--llm-url", llm.base_url]
        try:
            async with (
                worker(floor_cmd, dict(os.environ), Path(tmp) / "floor.log") as floor,
                worker(
                    [sys.executable, str(ROOT / "worker.py"), "--processes", "1"],
                    product_env,
                    Path(tmp) / "product.log",
                ) as product,
            ):
                runs: dict[str, tuple[Client, int, Callable[[], Awaitable[str]]]] = {
                    "floor": (
                        floor_client,
                        floor.pid,
                        lambda: floor_run(floor_client, "side-floor", args.calls),
                    ),
                    **{
                        name: (
                            env.client,
                            product.pid,
                            lambda c=PROFILES[name]: product_run(env.client, "side-product", c),
                        )
                        for name in args.profiles
                    },
                }
                llm.configure(Latency(0.001))
                for kind in kinds:  # warm-up: imports, sandbox, index, connection pools
                    await runs[kind][2]()
                llm.configure(Latency(args.latency))
                for repeat in range(args.repeats):
                    for kind in kinds:  # interleaved: a drift in load hits every kind alike
                        client, pid, run = runs[kind]
                        sample, last[kind] = await measure(kind, client, llm, pid, run)
                        samples.append(sample)
                        say(
                            f"  {repeat + 1}/{args.repeats} {kind}: {sample.wall:.1f} s, "
                            f"{sample.calls} calls, overhead "
                            f"{sample.overhead_ms(args.latency):.1f} ms/call, CPU "
                            f"{sample.cpu_ms():.1f} ms/call, load {os.getloadavg()[0]:.1f}"
                        )
        finally:
            await env.shutdown()
    print(render(samples, args.latency, kinds))
    for kind in kinds:
        parts = ", ".join(
            f"{name} {n} x {size / n:,.0f} B"
            for name, n, size in bytes_by_event_type(last[kind])[:6]
        )
        print(f"\n{kind}, history by event type (largest first): {parts}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: the finally blocks stop the workers and server


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per LLM call")
    parser.add_argument("--calls", type=int, default=20, help="dependent calls of the floor")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--profiles",
        type=lambda v: v.split(","),
        default=["off", "paper"],
        help="of: off, paper, paper-2it",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the product's worker, e.g. TTDR_LLM_MAX_RPM=1000000 (node "
        "activities on the rate-limited queue, not started eagerly)",
    )
    args = parser.parse_args()
    started = time.monotonic()
    head = (
        f"# bench.side_by_side · {os.cpu_count()} cores · {args.latency:g} s/call · "
        f"{args.repeats} repeats · load {os.getloadavg()[0]:.2f} at start"
    )
    print(head, flush=True)
    asyncio.run(main_async(args))
    print(f"\n# {time.monotonic() - started:.0f} s · load {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    sys.exit(main())
