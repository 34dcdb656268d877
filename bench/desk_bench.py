"""The research desk under load: page load and progress-update latency with N runs in flight.

    .venv/bin/python -m bench.desk_bench [--runs 50] [--latency 1.0] [--samples 20]

Everything is real but the model: the dev server, `python worker.py` and `client.py serve` as
processes of their own, and the scripted fake LLM answering every call after `--latency`
seconds (bench/latency_llm.py). N runs are started (evolution off, a judge that never says
done; a run that ends is replaced at once) and kept in flight while the bench, as a browser
would, measures over HTTP:

- `/` — the desk: the ask form, the runs list (visibility, N+ runs) and the batches;
- `/runs/ID` — one run's page (describe + `state` query);
- `/runs/ID/progress` — what the page polls (describe + `progress` query);
- progress update latency — a run in flight is paused (the update returns when the workflow has
  applied it), then `/progress` is polled at the page's cadence (1 s, from a random phase, as
  a page opened at any moment) until it shows the pause; and polled back to back, the floor.

Prints a Markdown table for bench/RESULTS.md; every run is cancelled at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from bench.latency_llm import Latency, LatencyLLM
from bench.run import start_env
from embedded.process import free_port
from testing.processes import ROOT, WorkerProcess, worker_env
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME

QUEUE = "desk-bench"
POLL_SECONDS = 1.0  # the page's cadence (desk/settings.py poll_seconds)
CONFIG = {
    "evolution": "off",
    "max_iterations": 30,
    "quality_threshold": 1.0,
    "max_llm_calls": 5000,
    "max_total_tokens": 100_000_000,
}


def quantiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms (n={len(ordered)})"
    )


ERRORS: list[str] = []  # answers other than 200: counted and shown, not hidden


async def timed_get(http: httpx.AsyncClient, path: str) -> tuple[float, httpx.Response]:
    start = time.monotonic()
    response = await http.get(path)
    elapsed = time.monotonic() - start
    if response.status_code != 200:
        ERRORS.append(f"{response.status_code} {path.split('/')[-1] or '/'}")
    return elapsed, response


RUNNING = f"WorkflowType = '{WORKFLOW_NAME}' AND ExecutionStatus = 'Running'"


async def start_runs(client: Client, count: int) -> list[str]:
    ids = [f"desk-bench-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    request = ResearchRequest(
        question="How do Python generators and context managers work?",
        config=ResearchConfig.model_validate(CONFIG),
    )
    await asyncio.gather(
        *(client.start_workflow(WORKFLOW_NAME, request, id=i, task_queue=QUEUE) for i in ids)
    )
    return ids


async def running_ids(client: Client) -> list[str]:
    return [execution.id async for execution in client.list_workflows(RUNNING)]


async def keep_in_flight(client: Client, count: int, started: list[str]) -> None:
    """A run ends after a few iterations (the scripted gap analysis runs out of new
    questions): start another in its place, so `count` stay in flight while the bench
    measures."""
    while True:
        missing = count - (await client.count_workflows(RUNNING)).count
        if missing > 0:
            started += await start_runs(client, missing)
        await asyncio.sleep(1.0)


async def update_latency(
    client: Client, http: httpx.AsyncClient, cadence: float | None
) -> float:
    """Seconds from a pause being applied to /progress showing it, polled every `cadence`
    seconds from a random phase (None: back to back), on a run in flight."""
    while True:
        handle = client.get_workflow_handle(random.choice(await running_ids(client)))
        try:
            await handle.execute_update("pause")
            break
        except RPCError:  # it ended meanwhile: take another
            continue
    applied = time.monotonic()
    if cadence:
        await asyncio.sleep(random.uniform(0, cadence))
    try:
        while True:
            _, response = await timed_get(http, f"/runs/{handle.id}/progress")
            progress = response.json().get("progress") or {} if response.is_success else {}
            if progress.get("paused") or progress.get("held_before"):
                return time.monotonic() - applied
            if cadence:
                await asyncio.sleep(cadence)
    finally:
        with contextlib.suppress(RPCError):
            await handle.execute_update("resume")


async def measure(args: argparse.Namespace, client: Client, base: str) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        await timed_get(http, "/")  # warm-up: templates compiled, session cookie set
        in_flight = (await client.count_workflows(RUNNING)).count
        index, page, poll = [], [], []
        for _ in range(args.samples):
            ids = await running_ids(client)
            seconds, response = await timed_get(http, "/")
            index.append(seconds)
            listed = len(re.findall(r'href="/runs/desk-bench-', response.text))
            seconds, _ = await timed_get(http, f"/runs/{random.choice(ids)}")
            page.append(seconds)
            for _ in range(3):
                seconds, _ = await timed_get(http, f"/runs/{random.choice(ids)}/progress")
                poll.append(seconds)
        page_cadence = [
            await update_latency(client, http, POLL_SECONDS) for _ in range(args.samples)
        ]
        floor = [await update_latency(client, http, None) for _ in range(args.samples)]
        still = (await client.count_workflows(RUNNING)).count
    setting = f"{in_flight} runs in flight ({still} at the end), {args.latency:g} s/LLM call"
    figures = [
        (f"`/` (ask form, runs list of {listed}, batches)", index),
        ("`/runs/ID` (describe + state query)", page),
        ("`/runs/ID/progress` (describe + progress query)", poll),
        (f"progress update → shown, page polling every {POLL_SECONDS:g} s", page_cadence),
        ("progress update → shown, polled back to back (floor)", floor),
    ]
    rows = [f"| {label} | {setting} | {quantiles(values)} |" for label, values in figures]
    if ERRORS:
        rows.append(f"| answers other than 200 | {setting} | {len(ERRORS)}: {', '.join(ERRORS)} |")
    return rows


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, LatencyLLM(Latency(args.latency)) as llm:
        env = await start_env()
        address = env.client.service_client.config.target_host
        worker = WorkerProcess(
            worker_env(
                temporal_address=address, task_queue=QUEUE, llm_base_url=llm.base_url,
                api_key="bench-key", cache_dir=Path(tmp) / "cache",
            ),
            Path(tmp) / "worker.log",
        )  # fmt: skip
        desk: subprocess.Popen[bytes] | None = None
        ids: list[str] = []
        keeper: asyncio.Task[None] | None = None
        try:
            await worker.start(timeout_seconds=120)
            port = free_port()
            desk_env = {**worker.env, "TTDR_WEB_UI_URL": "http://localhost:8233"}
            desk_log = (Path(tmp) / "desk.log").open("wb")
            desk = subprocess.Popen(
                [sys.executable, str(ROOT / "client.py"), "serve", "--port", str(port)],
                cwd=ROOT, env=desk_env, stdout=desk_log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            keeper = asyncio.create_task(keep_in_flight(env.client, args.runs, ids))
            try:
                await wait_until_up(base, 300)  # client.py starts slowly on a loaded machine
            except SystemExit:
                print((Path(tmp) / "desk.log").read_text(errors="replace"), file=sys.stderr)
                raise
            await asyncio.sleep(args.latency * 3)  # every run past its plan
            rows = await measure(args, env.client, base)
        finally:
            if keeper is not None:
                keeper.cancel()
            await asyncio.gather(
                *(env.client.get_workflow_handle(i).cancel() for i in ids), return_exceptions=True
            )
            if desk is not None:
                desk.terminate()
                desk.wait(10)
            worker.stop()
            await env.shutdown()
    load = os.getloadavg()
    print(f"\nmachine: {platform.node()} {os.cpu_count()} cores, load {load[0]:.1f} {load[1]:.1f}")
    print("| figure | setting | latency |\n|---|---|---|")
    print("\n".join(rows))


async def wait_until_up(base: str, timeout_seconds: float = 60) -> None:
    deadline = time.monotonic() + timeout_seconds
    async with httpx.AsyncClient(base_url=base) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get("/")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"the desk did not answer at {base} within {timeout_seconds:g} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per LLM call")
    parser.add_argument("--samples", type=int, default=20)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
