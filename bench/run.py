"""Benchmark: orchestration overhead, fan-out, concurrency, replay and the local model.

A real dev server and the real worker run research workflows against a latency-simulating
OpenAI-compatible server on loopback (bench/latency_llm.py), so every second a run takes that
is not simulated LLM time is orchestration. Prints one Markdown table; each row says its method.

    .venv/bin/python -m bench.run            # everything, ~5-6 min on 2 cores
    .venv/bin/python -m bench.run --quick    # smoke check, under 1 min
    .venv/bin/python -m bench.run --only concurrency --levels 50,100
    .venv/bin/python -m bench.run --only overhead \
        --worker-setting max_eager_activity_reservations_per_workflow_task=16

The benchmark measures whatever code is in the current directory; RESULTS.md says which commit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.llm import LLMClient
from activities.llm_settings import LLMSettings
from bench import metrics
from bench.latency_llm import Latency, LatencyLLM
from bench.tuned_worker import build_tuned_worker
from common.temporal_connection import local_server_env
from common.temporal_plugin import ResearchPlugin
from embedded.llama_server import MODEL_ALIAS, LlamaServer, local_llm_available
from embedded.temporal_server import temporal_cli
from inspection.history import replay
from observability.search_attributes import ensure_search_attributes
from search.local_provider import LocalSearch
from worker import build_worker
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "How do Python generators and context managers work?"
QUEUE = "bench"
OFF = {"evolution": "off"}
PAPER = {"evolution": "paper", "max_iterations": 3, "questions_per_iteration": 2}
LARGEST = {
    "evolution": "paper",
    "max_iterations": 30,
    "max_llm_calls": 5000,
    "max_total_tokens": 100_000_000,
}
CONCURRENCY_CONFIG = {"evolution": "off", "max_iterations": 2}


@dataclass
class Row:
    figure: str
    setting: str
    value: str
    goal: str = ""
    met: str = ""
    method: str = ""


@dataclass
class Bench:
    env: WorkflowEnvironment
    llm: LatencyLLM
    cache: Path
    rows: list[Row]
    overrides: dict[str, Any] | None = None  # Worker settings for the in-process worker

    @property
    def client(self) -> Client:
        return self.env.client

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  {row.figure} · {row.setting}: {row.value}", file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


# ---------------------------------------------------------------- runs


async def research(client: Client, config: dict[str, Any]) -> tuple[float, ResearchReport, str]:
    """One research run to completion: (wall seconds at the client, report, workflow id)."""
    workflow_id = f"bench-{uuid.uuid4().hex[:10]}"
    request = ResearchRequest(question=QUESTION, config=ResearchConfig.model_validate(config))
    start = time.monotonic()
    report = await client.execute_workflow(
        WORKFLOW_NAME,
        request,
        id=workflow_id,
        task_queue=QUEUE,
        result_type=ResearchReport,
    )
    return time.monotonic() - start, report, workflow_id


@contextlib.asynccontextmanager
async def in_process_worker(
    client: Client, base_url: str, cache: Path, overrides: dict[str, Any] | None = None
) -> AsyncIterator[None]:
    """worker.build_worker in this process; with overrides, bench/tuned_worker.py's copy of it
    with those Worker settings changed."""
    llm = LLMClient(LLMSettings(base_url=base_url, model="bench", judge_model="bench", api_key="x"))
    search = LocalSearch.from_env({"TTDR_CACHE_DIR": str(cache)})
    worker = (
        build_tuned_worker(client, QUEUE, llm, search, **overrides)
        if overrides
        else build_worker(client, QUEUE, llm, search)
    )
    try:
        async with worker:
            yield
    finally:
        await llm.aclose()


# ---------------------------------------------------------------- overhead and fan-out


async def overhead_and_fanout(b: Bench, latencies: list[float], profiles: list[str]) -> None:
    configs = {"off": OFF, "paper": PAPER}
    async with in_process_worker(b.client, b.llm.base_url, b.cache, b.overrides):
        b.llm.configure(Latency(0.001))
        await research(b.client, OFF)  # warm-up: imports, index, sticky cache
        for latency in latencies:
            for name in profiles:
                await overhead_row(b, latency, name, configs[name])


async def overhead_row(b: Bench, latency: float, name: str, config: dict[str, Any]) -> None:
    b.llm.configure(Latency(latency))
    since = time.monotonic()
    wall, report, workflow_id = await research(b.client, config)
    intervals = metrics.request_intervals(b.llm.requests, since)
    busy = metrics.union_seconds(intervals)
    gaps = metrics.idle_gaps(intervals)
    history = await b.client.get_workflow_handle(workflow_id).fetch_history()
    hist_gaps = metrics.completion_to_schedule_gaps(history.events)
    dispatch = metrics.schedule_to_start(history.events)
    setting = f"{name}, {latency:g} s/call, {report.iterations} it, {len(intervals)} calls"
    ratio = busy / wall
    goal = "≥ 0.95 at 1 s" if latency >= 1 else ""
    b.add(
        Row(
            "overhead: LLM-busy / wall",
            setting,
            f"{ratio:.3f} ({busy:.2f} / {wall:.2f} s)",
            goal,
            verdict(ratio >= 0.95) if goal else "",
            "union of request intervals at the fake server / client wall of execute_workflow",
        )
    )
    b.add(
        Row(
            "gap between dependent calls",
            setting,
            f"{metrics.median(gaps) * 1000:.0f} ms LLM idle; "
            f"{metrics.median(hist_gaps) * 1000:.0f} ms completed→scheduled; "
            f"{metrics.median(dispatch) * 1000:.0f} ms scheduled→started "
            f"(max {max(dispatch, default=0) * 1000:.0f} ms)",
            method="median idle gap between in-flight LLM segments (fake server); medians of "
            "ActivityTaskCompleted→next ActivityTaskScheduled and Scheduled→Started (history)",
        )
    )
    path = metrics.critical_path_calls(ResearchConfig.model_validate(config), report.iterations)
    ideal = path * latency
    b.add(
        Row(
            "fan-out: wall / critical path",
            setting,
            f"{wall / ideal:.3f} ({wall:.2f} / {ideal:.2f} s = {path} calls)",
            "≤ 1.10",
            verdict(wall / ideal <= 1.10),
            "client wall / (critical-path LLM calls of the config x latency)",
        )
    )


# ---------------------------------------------------------------- concurrency


def worker_env(b: Bench, queue: str, processes: int = 1) -> dict[str, str]:
    return {
        # The bench's own dev server, whatever TEMPORAL_* / temporal.toml say
        # (common/temporal_connection.py).
        **local_server_env(b.client.service_client.config.target_host),
        "TTDR_TASK_QUEUE": queue,
        "TTDR_LLM_BASE_URL": b.llm.base_url,
        "TTDR_LLM_MODEL": "bench",
        "TTDR_LLM_API_KEY": "x",
        "TTDR_CACHE_DIR": str(b.cache),
        "TTDR_LOG_LEVEL": "WARNING",
        # One process unless asked: the figures are then of one event loop, as before.
        "TTDR_WORKER_PROCESSES": str(processes),
    }


@contextlib.asynccontextmanager
async def worker_process(
    b: Bench, queue: str, script: Path, processes: int = 1
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`script` with `processes` worker processes (a supervisor and its children when more
    than one: read their CPU with `tree_cpu_seconds`), once all are ready."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env=worker_env(b, queue, processes),
        cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE,
    )
    ready = b"worker ready" if processes == 1 else b"worker processes ready"
    try:
        assert proc.stdout is not None
        while ready not in (line := await asyncio.wait_for(proc.stdout.readline(), 120)):
            if not line:
                raise RuntimeError(f"{script.name} exited before it was ready: {proc.returncode}")
        yield proc
    finally:
        proc.terminate()
        await proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far (/proc/<pid>/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` of a process and of every live process below it (a supervisor's
    worker processes)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone since the listing
    tree, grew = {pid}, True
    while grew:
        below = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    total = 0.0
    for member in tree:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += cpu_seconds(member)
    return total


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def concurrent_runs(client: Client, n: int, queue: str) -> float:
    request = ResearchRequest(
        question=QUESTION, config=ResearchConfig.model_validate(CONCURRENCY_CONFIG)
    )
    start = time.monotonic()
    handles = await asyncio.gather(
        *(
            client.start_workflow(
                WORKFLOW_NAME,
                request,
                id=f"bench-c{n}-{i}-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
                result_type=ResearchReport,
            )
            for i in range(n)
        )
    )
    await asyncio.gather(*(h.result() for h in handles))
    return time.monotonic() - start


async def concurrency(b: Bench, levels: list[int], latency: float, script: Path, tag: str) -> None:
    b.llm.configure(Latency(latency))
    single = None
    for n in levels:
        queue = f"bench-{tag}-{n}"
        async with worker_process(b, queue, script) as proc:
            await concurrent_runs(b.client, 1, queue)  # warm-up of this worker
            cpu_before = cpu_seconds(proc.pid)
            wall = await asyncio.wait_for(concurrent_runs(b.client, n, queue), 600)
            cpu = (cpu_seconds(proc.pid) - cpu_before) / wall
            peak = peak_rss_mib(proc.pid)
        single = single or wall
        ratio = wall / single
        goal = "≤ 1.5 at 50" if n == 50 else ""
        b.add(
            Row(
                f"concurrency ({tag})",
                f"{n} runs at once, off, 2 it, {latency:g} s/call",
                f"{ratio:.2f}x single ({wall:.1f} s), {n / wall * 60:.0f} runs/min, "
                f"peak RSS {peak:.0f} MiB, worker CPU {cpu:.0%} of a core",
                goal,
                verdict(ratio <= 1.5) if goal else "",
                f"{script.name} subprocess, fresh per level after 1 warm-up run; first start → "
                "last result; VmHWM of the worker; its utime+stime over the wall",
            )
        )


# ---------------------------------------------------------------- replay


async def chain_histories(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow id (a run that continued as new has successors), oldest first."""
    runs = [
        execution.run_id
        async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'")
    ]
    histories = [
        await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        for run_id in runs
    ]
    return sorted(histories, key=lambda h: h.events[0].event_time.ToDatetime())


async def replay_row(b: Bench, label: str, config: dict[str, Any], goal: bool) -> None:
    b.llm.configure(Latency(0.001))
    async with in_process_worker(b.client, b.llm.base_url, b.cache):
        _, report, workflow_id = await research(b.client, config)
    for _ in range(50):  # visibility is eventually consistent: wait for every run to show
        histories = await chain_histories(b.client, workflow_id)
        if histories and histories[-1].events[-1].HasField(
            "workflow_execution_completed_event_attributes"
        ):
            break
        await asyncio.sleep(0.2)
    largest = max(histories, key=lambda h: len(h.events))
    start = time.monotonic()
    outcome = await replay(largest)
    seconds = time.monotonic() - start
    suggested = [metrics.continue_as_new_suggested(h.events) for h in histories]
    replayed = "ok" if outcome.ok else outcome.problem
    sizes = ", ".join(
        f"{len(h.events)} ev / {metrics.history_bytes(h) / 1e6:.2f} MB" for h in histories
    )
    b.add(
        Row(
            "replay + history size",
            f"{label}: {report.iterations} it, {report.usage_total.calls} LLM calls",
            f"replay of the largest run {seconds:.2f} s ({replayed});"
            f" {len(histories)} run(s) in the chain: {sizes}; continue-as-new suggested: "
            + "/".join("yes" if x else "no" for x in suggested),
            "replay < 2 s" if goal else "",
            verdict(seconds < 2 and outcome.ok) if goal else "",
            "inspection.history.replay (temporalio Replayer) wall on the run with the most "
            "events; protobuf size of each fetched run history; suggest_continue_as_new of its "
            "WorkflowTaskStarted events",
        )
    )


# ---------------------------------------------------------------- local model


async def tokens_per_second(base_url: str, calls: int) -> tuple[float, int]:
    tokens, seconds = 0, 0.0
    async with httpx.AsyncClient(timeout=300) as http:
        for i in range(calls):
            body = {
                "model": MODEL_ALIAS,
                "messages": [{"role": "user", "content": f"Explain Python generators ({i})."}],
                "max_tokens": 128,
                "temperature": 0.3,
            }
            start = time.monotonic()
            reply = await http.post(f"{base_url}/chat/completions", json=body)
            seconds += time.monotonic() - start
            tokens += reply.json()["usage"]["completion_tokens"]
    return tokens / seconds, tokens


async def local_model(b: Bench) -> None:
    if not local_llm_available():
        b.add(Row("local model", "llama.cpp SmolLM2-135M", "skipped: local-llm extra missing"))
        return
    server = await asyncio.to_thread(LlamaServer(b.cache / "llama-server.log").start)
    try:
        rate, tokens = await tokens_per_second(server.base_url, 3)
        b.add(
            Row(
                "local model: generation speed",
                "llama.cpp SmolLM2-135M Q4_1, 2 threads",
                f"{rate:.0f} completion tokens/s ({tokens} tokens)",
                method="3 direct chat completions (max_tokens 128): completion tokens / time",
            )
        )
        await local_demo_run(b, server.base_url)
    finally:
        server.stop()


async def local_demo_run(b: Bench, base_url: str) -> None:
    config = json.loads((ROOT / "scripts" / "demo-config-local-model.json").read_text())
    settings = LLMSettings(
        base_url=base_url,
        model=MODEL_ALIAS,
        judge_model=MODEL_ALIAS,
        response_format="json_object",
    )
    llm = LLMClient(settings)
    search = LocalSearch.from_env({"TTDR_CACHE_DIR": str(b.cache)})
    try:
        async with build_worker(b.client, QUEUE, llm, search):
            wall, report, workflow_id = await research(b.client, config)
    finally:
        await llm.aclose()
    events = (await b.client.get_workflow_handle(workflow_id).fetch_history()).events
    busy = metrics.union_seconds(metrics.activity_intervals(events))
    run = metrics.run_seconds(events)
    b.add(
        Row(
            "local model: demo run",
            f"demo-config-local-model.json, {report.iterations} it, "
            f"{report.usage_total.calls} LLM calls",
            f"{wall:.1f} s wall; in activities {busy / run:.1%} of the run",
            method="union of activity started→closed intervals (history) / workflow start→close;"
            " activities are LLM calls (retrieval also runs a local BM25 search, milliseconds)",
        )
    )


# ---------------------------------------------------------------- main


@dataclass(frozen=True)
class Plan:
    latencies: list[float]
    profiles: list[str]
    levels: list[int]
    concurrency_latency: float
    largest: dict[str, Any]
    local: bool


FULL = Plan([0.2, 1.0], ["off", "paper"], [1, 10, 50, 100], 1.0, LARGEST, True)
QUICK = Plan([0.2], ["off", "paper"], [1, 10], 0.2, {**LARGEST, "max_iterations": 8}, False)


async def start_env() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(), plugins=[ResearchPlugin()]
    )
    await ensure_search_attributes(env.client, "default")
    return env


Step = Callable[[Bench], Any]


async def main_async(
    plan: Plan, only: set[str], worker_script: Path, overrides: dict[str, Any] | None
) -> list[Row]:
    steps: dict[str, Step] = {
        "overhead": lambda b: overhead_and_fanout(b, plan.latencies, plan.profiles),
        "concurrency": lambda b: concurrency(
            b, plan.levels, plan.concurrency_latency, worker_script, worker_script.stem
        ),
        "replay": lambda b: replay_sizes(b, plan),
        "local": lambda b: local_model(b) if plan.local else asyncio.sleep(0),
    }
    with tempfile.TemporaryDirectory() as tmp, LatencyLLM(Latency()) as llm:
        env = await start_env()
        bench = Bench(env, llm, Path(tmp), [], overrides)
        try:
            for name, step in steps.items():
                if not only or name in only:
                    print(f"# {name}", file=sys.stderr, flush=True)
                    await step(bench)
        finally:
            await env.shutdown()
    return bench.rows


async def replay_sizes(b: Bench, plan: Plan) -> None:
    await replay_row(b, "default config (paper, 5 it)", {}, goal=False)
    largest = f"largest (paper, {plan.largest['max_iterations']} it)"
    await replay_row(b, largest, plan.largest, goal=True)


def render(rows: list[Row]) -> str:
    lines = [
        "| figure | setting | value | goal | met | method |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r.figure} | {r.setting} | {r.value} | {r.goal} | {r.met} | {r.method} |"
            for r in rows
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke check, under a minute")
    parser.add_argument(
        "--only",
        action="append",
        choices=["overhead", "concurrency", "replay", "local"],
        help="run only these parts (repeatable)",
    )
    parser.add_argument(
        "--worker-script",
        type=Path,
        default=ROOT / "worker.py",
        help="worker program for the concurrency runs (bench/tuned_worker.py: tuned settings)",
    )
    parser.add_argument(
        "--levels", help="concurrency levels, comma-separated (default 1,10,50,100; quick 1,10)"
    )
    parser.add_argument(
        "--worker-setting",
        action="append",
        default=[],
        metavar="NAME=INT",
        help="override a temporalio Worker setting of the in-process worker (overhead runs), "
        "e.g. max_eager_activity_reservations_per_workflow_task=16",
    )
    args = parser.parse_args()
    overrides = {k: int(v) for k, v in (kv.split("=", 1) for kv in args.worker_setting)}
    plan = QUICK if args.quick else FULL
    if args.levels:
        plan = dataclasses.replace(plan, levels=[int(n) for n in args.levels.split(",")])
    started = time.monotonic()
    only = set(args.only or [])
    rows = asyncio.run(main_async(plan, only, args.worker_script, overrides or None))
    print(
        f"# bench.run{' --quick' if args.quick else ''} · {platform.machine()}, "
        f"{os.cpu_count()} cores · {time.monotonic() - started:.0f} s\n"
    )
    print(render(rows))


if __name__ == "__main__":
    main()
