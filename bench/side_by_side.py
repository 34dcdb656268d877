"""Benchmark: the product against the bare-`temporalio` floor, side by side in one run.

One dev server, one fake LLM (bench/latency_llm.py, fixed latency per call), two worker
processes started once: the floor (bench/floor.py: a chain of dependent httpx activities) and
`worker.py --processes 1` (`--processes N`: N, their CPU read over the supervisor's tree). Each
repeat runs, one after the other: the floor chain (`--calls`), the product with evolution off,
the product on the paper profile (the default config), and right after each product run the
floor chain at that run's number of dependent calls (`floor@off`, `floor@paper`): the product
is compared with that one. Per run:

- per-call overhead: (client wall - dependent steps x latency) / dependent steps, the
  orchestration each dependent call adds; dependent steps are the longest chain of LLM calls
  each started after the previous one finished (at the fake LLM), so a run that stops early
  counts what it did, and a skew between the siblings of a fan-out counts as overhead. A run
  also has fixed costs (the client's start and result, the first and the last workflow task),
  spread over its own steps: hence the floor at the same depth;
- between dependent calls: the median time from one dependent call's end to the next one's
  start (the workflow task and the two activities' own work), and the start and end of the
  run: the wall outside the dependent calls and those gaps;
- worker CPU per LLM call: utime+stime of that worker process during the run / LLM calls;
- history bytes per LLM call (protobuf size of the fetched history), and events per call;
- LLM-busy / wall: union of the fake server's request intervals over the client wall.

The table gives medians over the repeats and each figure as a ratio to its floor's.

    .venv/bin/python -m bench.side_by_side                    # 3 repeats at 1 s/call, ~9 min
    .venv/bin/python -m bench.side_by_side --repeats 1 --latency 0.2 --profiles off
    .venv/bin/python -m bench.side_by_side --worker-env TTDR_LLM_MAX_RPM=1000000  # no eager start
    .venv/bin/python -m bench.side_by_side --processes 2  # the product as worker.py runs it here
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
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
from bench.gap_parts import PARTS, gap_parts
from bench.latency_llm import Latency, LatencyLLM
from bench.run import QUESTION, ROOT, Bench, start_env, tree_cpu_seconds, worker_env
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

PROFILES: dict[str, dict[str, Any]] = {
    "off": {"evolution": "off"},
    "paper": {},
    "paper-2it": {"max_iterations": 2},
}
# --fresh-questions: a question of its own for every product run (warm-up included, 2 + 3 x 2
# runs by default), all on the demo corpus, so that no memo of the worker's (search hits,
# sentence splits) holds an answer from an earlier run of the same question.
FRESH_QUESTIONS = (
    "How does asyncio schedule and run coroutines as tasks?",
    "How do Python dataclasses generate their methods?",
    "How does Python's import system find and load modules?",
    "How do try, except and finally handle exceptions in Python?",
    "How do Python decorators and closures work?",
    "How does the csv module read and write files?",
    "How do Python's comparison operators and rich comparisons work?",
    "How does argparse parse command-line arguments?",
    "How do concurrent.futures executors run work in threads and processes?",
    "How does Python format strings with f-strings and str.format?",
)
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
    gaps: list[float]  # seconds from each dependent call's end to the next one's start
    chain_calls: float  # seconds the dependent calls themselves took at the fake LLM
    parts: dict[str, float]  # the gaps' seconds by where they went (bench/gap_parts.py)

    def overhead_ms(self, latency: float) -> float:
        return (self.wall - self.path * latency) / self.path * 1000

    def gap_ms(self) -> float:
        return metrics.median(self.gaps) * 1000

    def ends_ms(self) -> float:
        """What the run costs outside its dependent calls and the gaps between them: the
        client's start and result, the first workflow task, the last (the final report)."""
        return (self.wall - self.chain_calls - sum(self.gaps)) * 1000

    def cpu_ms(self) -> float:
        return self.cpu / self.calls * 1000


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def worker(
    command: list[str], env: dict[str, str], log: Path, ready: str = "worker ready"
) -> AsyncIterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while ready not in log.read_text(errors="replace"):
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


async def product_run(
    client: Client, queue: str, config: dict[str, Any], question: str = QUESTION
) -> str:
    workflow_id = f"side-{uuid.uuid4().hex[:8]}"
    await client.execute_workflow(
        WORKFLOW_NAME,
        ResearchRequest(question=question, config=ResearchConfig.model_validate(config)),
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
    clock = time.time() - time.monotonic()
    cpu0 = tree_cpu_seconds(pid)  # a supervisor's worker processes too (--processes)
    since = time.monotonic()
    workflow_id = await run()
    wall = time.monotonic() - since
    await asyncio.sleep(SETTLE_SECONDS)
    cpu = tree_cpu_seconds(pid) - cpu0
    intervals = metrics.request_intervals(llm.requests, since)
    chain = dependent_chain(intervals)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    sample = Sample(
        kind,
        wall,
        len(intervals),
        len(chain),
        cpu,
        metrics.history_bytes(history),
        len(history.events),
        metrics.union_seconds(intervals),
        metrics.median(metrics.schedule_to_start(history.events)),
        [nxt[0] - prev[1] for prev, nxt in itertools.pairwise(chain)],
        sum(end - start for start, end in chain),
        gap_parts(history, chain, clock),
    )
    return sample, history


def dependent_chain(intervals: list[metrics.Interval]) -> list[metrics.Interval]:
    """The longest chain of LLM calls each started after the one before it finished: the
    dependent steps the run could not have avoided (wall >= depth x latency). Counted from what
    reached the LLM, so a run that stops early, or a fan-out whose siblings overlap only in part,
    counts what it really did. Of two such calls before a step, the one that ended last is its
    predecessor: the step waited for it."""
    ordered = sorted(intervals)
    depth: list[int] = []
    previous: list[int | None] = []
    for start, _ in ordered:
        before = [i for i in range(len(depth)) if ordered[i][1] <= start]
        best = max(before, key=lambda i: (depth[i], ordered[i][1]), default=None)
        depth.append(1 + (depth[best] if best is not None else 0))
        previous.append(best)
    at = max(range(len(depth)), key=depth.__getitem__, default=None)
    chain: list[metrics.Interval] = []
    while at is not None:
        chain.append(ordered[at])
        at = previous[at]
    return chain[::-1]


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
    """One row per kind; each product kind is compared with the floor chain run right after it
    at the same number of dependent calls (`floor@kind`): a run's fixed costs (the client's
    start and result, the first and the last workflow task) are spread over its own calls, so
    only chains of one length compare per call."""
    by_kind: dict[str, list[Sample]] = collections.defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample)

    def med(kind: str, figure: Callable[[Sample], float]) -> float:
        return metrics.median([figure(s) for s in by_kind[kind]])

    lines = [
        "| run | LLM calls (dependent steps) | overhead per dependent step | vs floor "
        "| between dependent calls | vs floor | start and end of the run "
        "| worker CPU per LLM call | vs floor | history bytes per LLM call (events) "
        "| LLM-busy / wall | scheduled→started |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [k for kind in kinds for k in (kind, f"floor@{kind}") if by_kind.get(k)]
    for kind in rows:
        runs = by_kind[kind]
        floor = f"floor@{kind}" if by_kind.get(f"floor@{kind}") else "floor"
        overhead = med(kind, lambda s: s.overhead_ms(latency))
        gap = med(kind, Sample.gap_ms)
        cpu = med(kind, Sample.cpu_ms)
        floor_cpu = med(floor, Sample.cpu_ms)
        spread = " to ".join(f"{s.overhead_ms(latency):.1f}" for s in runs)
        lines.append(
            f"| {kind} | {metrics.median([s.calls for s in runs]):g} "
            f"({metrics.median([s.path for s in runs]):g}) "
            f"| {overhead:.1f} ms ({spread}) "
            f"| {overhead / med(floor, lambda s: s.overhead_ms(latency)):.2f}x "
            f"| {gap:.1f} ms | {gap / med(floor, Sample.gap_ms):.2f}x "
            f"| {med(kind, Sample.ends_ms):.0f} ms "
            f"| {cpu:.1f} ms | {cpu / floor_cpu:.2f}x ({cpu - floor_cpu:+.1f} ms) "
            f"| {med(kind, lambda s: s.history / s.calls):,.0f} B "
            f"({med(kind, lambda s: s.events / s.calls):.1f}) "
            f"| {med(kind, lambda s: s.busy / s.wall):.3f} "
            f"| {med(kind, lambda s: s.dispatch) * 1000:.1f} ms |"
        )
    return "\n".join(lines)


def render_parts(samples: list[Sample]) -> str:
    """The time between dependent calls by part, ms per gap (medians over the repeats)."""
    kinds = list(dict.fromkeys(s.kind for s in samples))
    lines = [
        "\n| between dependent calls, ms per gap | " + " | ".join(PARTS) + " |",
        "|---|" + "---|" * len(PARTS),
    ]
    for kind in kinds:
        runs = [s for s in samples if s.kind == kind and s.gaps]
        cells = [
            metrics.median([s.parts[part] / len(s.gaps) * 1000 for s in runs]) for part in PARTS
        ]
        lines.append(f"| {kind} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    kinds = ["floor", *args.profiles]
    samples: list[Sample] = []
    last: dict[str, WorkflowHistory] = {}
    with tempfile.TemporaryDirectory() as tmp, LatencyLLM(Latency()) as llm:
        env = await start_env()
        address = env.client.service_client.config.target_host
        floor_client = await Client.connect(address)  # the floor: SDK defaults, JSON converter
        product_env = worker_env(Bench(env, llm, Path(tmp), []), "side-product", args.processes)
        product_env.update(kv.split("=", 1) for kv in args.worker_env)
        floor_cmd = [sys.executable, "-m", "bench.floor", "--address", address]
        floor_cmd += ["--queue", "side-floor", "--llm-url", llm.base_url]
        questions = itertools.cycle(FRESH_QUESTIONS if args.fresh_questions else [QUESTION])
        try:
            async with (
                worker(floor_cmd, dict(os.environ), Path(tmp) / "floor.log") as floor,
                worker(
                    [sys.executable, str(ROOT / "worker.py"), "--processes", str(args.processes)],
                    product_env,
                    Path(tmp) / "product.log",
                    "worker ready" if args.processes == 1 else "worker processes ready",
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
                            lambda c=PROFILES[name]: product_run(
                                env.client, "side-product", c, next(questions)
                            ),
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
                        say(f"  {repeat + 1}/{args.repeats} {_said(sample, args.latency)}")
                        if kind == "floor":
                            continue
                        # The floor at this run's depth, right after it (see render).
                        matched, _ = await measure(
                            f"floor@{kind}",
                            floor_client,
                            llm,
                            floor.pid,
                            lambda n=sample.path: floor_run(floor_client, "side-floor", n),
                        )
                        samples.append(matched)
                        say(f"  {repeat + 1}/{args.repeats} {_said(matched, args.latency)}")
        finally:
            await env.shutdown()
    print(render(samples, args.latency, kinds))
    print(render_parts(samples))
    for kind in kinds:
        parts = ", ".join(
            f"{name} {n} x {size / n:,.0f} B"
            for name, n, size in bytes_by_event_type(last[kind])[:6]
        )
        print(f"\n{kind}, history by event type (largest first): {parts}")


def _said(sample: Sample, latency: float) -> str:
    return (
        f"{sample.kind}: {sample.wall:.1f} s, {sample.calls} calls ({sample.path} dependent), "
        f"overhead {sample.overhead_ms(latency):.1f} ms/call, between calls "
        f"{sample.gap_ms():.1f} ms, CPU {sample.cpu_ms():.1f} ms/call, "
        f"load {os.getloadavg()[0]:.1f}"
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: the finally blocks stop the workers and server


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per LLM call")
    parser.add_argument("--calls", type=int, default=20, help="dependent calls of the floor")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="the product's worker processes (worker.py --processes; its default is one per "
        "core): 1 reads one event loop, as the floor's one process",
    )
    parser.add_argument(
        "--profiles",
        type=lambda v: v.split(","),
        default=["off", "paper"],
        help="of: off, paper, paper-2it",
    )
    parser.add_argument(
        "--fresh-questions",
        action="store_true",
        help="a new question for every product run (default: the bench's one question, "
        "asked again, which the worker's memos may have seen)",
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
        f"{args.repeats} repeats · product worker processes {args.processes} · "
        f"{'a new question each product run' if args.fresh_questions else 'one question'} · "
        f"load {os.getloadavg()[0]:.2f} at start"
    )
    print(head, flush=True)
    asyncio.run(main_async(args))
    print(f"\n# {time.monotonic() - started:.0f} s · load {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    sys.exit(main())
