"""A worker host cut off mid-run: the dev server and three workers each in a network namespace
of its own, joined by veth links (tests/support/netns.py). With 10 runs under way, one worker's
link goes down and another worker is SIGKILLed: every run completes on the survivor, no LLM call
whose activity had completed is made again, and the time until the lost workers' activities are
retried is printed. Skips (with the reason) where namespaces cannot be made, e.g. without root."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter

from common.temporal_plugin import ResearchPlugin
from embedded.process import port_open
from embedded.temporal_server import dynamic_config_args, temporal_cli
from testing.fake_llm import FakeLLMServer
from testing.processes import READY_LINE, ROOT, wait_for, worker_env
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY
from tests.support import netns
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

pytestmark = pytest.mark.slow

RUNS = 10
SEED_STRIDE = 10_000_000  # seeds of different runs never meet (a call's identity is < 2^22)
HEARTBEAT_SECONDS = 3


class Proc:
    """A process started in a namespace, its output in a log file; killed by its own pid."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                argv, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def topology() -> Iterator[netns.Topology]:
    if reason := netns.unavailable():
        pytest.skip(f"cannot make network namespaces: {reason}")
    with netns.Topology() as topo:
        yield topo


def seed_of(payloads: object) -> int | None:
    data = pydantic_data_converter.payload_converter.from_payload(payloads.payloads[0])
    sampling = data.get("sampling") if isinstance(data, dict) else None
    return sampling.get("seed") if isinstance(sampling, dict) else None


def completed_calls(history: WorkflowHistory) -> dict[int, float]:
    """seed → epoch time its activity completed, for every completed activity."""
    seeds: dict[int, int] = {}
    done: dict[int, float] = {}
    for event in history.events:
        when = event.event_time.ToDatetime(tzinfo=UTC).timestamp()
        if event.HasField("activity_task_scheduled_event_attributes"):
            seed = seed_of(event.activity_task_scheduled_event_attributes.input)
            if seed is not None:
                seeds[event.event_id] = seed
        elif event.HasField("activity_task_completed_event_attributes"):
            scheduled = event.activity_task_completed_event_attributes.scheduled_event_id
            if scheduled in seeds:
                done[seeds[scheduled]] = when
    return done


def retried_starts(history: WorkflowHistory) -> list[tuple[float, str]]:
    """(epoch time, worker identity) of every activity attempt after a first one."""
    return [
        (
            event.event_time.ToDatetime(tzinfo=UTC).timestamp(),
            event.activity_task_started_event_attributes.identity,
        )
        for event in history.events
        if event.HasField("activity_task_started_event_attributes")
        and event.activity_task_started_event_attributes.attempt > 1
    ]


async def test_runs_complete_on_the_survivor_when_a_worker_is_cut_off_and_another_killed(
    topology: netns.Topology, tmp_path: Path
) -> None:
    server_ns = topology.add("srv")
    worker_ns = [topology.add(f"w{i}") for i in (1, 2, 3)]
    port = 7233
    address = f"{server_ns.address}:{port}"
    procs: list[Proc] = []
    fake = FakeLLMServer(api_key=FAKE_KEY, host=topology.host_address)
    try:
        server_argv = [
            *server_ns.exec_prefix(),
            temporal_cli(), "server", "start-dev", "--headless",
            # Every address of its own namespace (loopback and its veth link, nothing else):
            # the dev server's services dial each other on loopback.
            "--ip", "0.0.0.0", "--port", str(port),
            "--namespace", "default", "--log-level", "error",
            *dynamic_config_args(),
        ]  # fmt: skip
        server = Proc(
            server_argv,
            dict(os.environ),
            tmp_path / "server.log",
        )
        procs.append(server)
        await wait_for(lambda: port_open(server_ns.address, port), 60, "the dev server")
        fake.start()
        Script().install(fake)
        fake.set_delay(None, 0.5)  # calls in flight when the cut comes
        queue = f"ttdr-partition-{uuid.uuid4().hex[:6]}"
        env = worker_env(
            temporal_address=address,
            task_queue=queue,
            llm_base_url=fake.base_url,
            api_key=FAKE_KEY,
            cache_dir=tmp_path / "cache",
        )
        workers = [
            Proc(
                [*ns.exec_prefix(), sys.executable, str(ROOT / "worker.py")],
                env,
                tmp_path / f"worker-{i}.log",
            )
            for i, ns in enumerate(worker_ns, 1)
        ]
        procs.extend(workers)
        for worker in workers:
            await wait_for(lambda w=worker: READY_LINE in w.output(), 90, "a worker to be ready")
        client = await Client.connect(address, plugins=[ResearchPlugin()])

        handles = [
            await client.start_workflow(
                WORKFLOW_NAME,
                ResearchRequest(
                    question=f"How does Python's with statement work? (run {i})",
                    config=ResearchConfig.model_validate(
                        {
                            "evolution": "off",
                            "max_iterations": 2,
                            "quality_threshold": 1.0,
                            "seed": i * SEED_STRIDE,
                            "timeouts": {"heartbeat_seconds": HEARTBEAT_SECONDS},
                        }
                    ),
                ),
                id=f"partition-{i}-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
                result_type=ResearchReport,
            )
            for i in range(RUNS)
        ]
        await wait_for(lambda: fake.count() >= 25, 60, "LLM calls under way")

        # Worker 1's host drops off the network; worker 2 dies.
        cut_at = time.time()
        worker_ns[0].cut()
        workers[1].kill()
        reports = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 300)

        assert all(r.usage_total.calls > 0 for r in reports)
        histories = [await h.fetch_history() for h in handles]
        offset = time.time() - time.monotonic()
        repeated, checked = 0, 0
        for history in histories:
            for seed, completed_at in completed_calls(history).items():
                checked += 1
                repeated += sum(
                    1
                    for r in fake.requests
                    if r.body.get("seed") == seed and r.started_at + offset > completed_at
                )
        assert checked == sum(r.usage_total.calls for r in reports)  # every call, by its seed
        assert repeated == 0, f"{repeated} LLM calls made again after their activity completed"

        retries = [start for h in histories for start in retried_starts(h) if start[0] > cut_at]
        survivor = f"{workers[2].process.pid}@"
        assert retries, "the lost workers' activities were retried"
        assert all(identity.startswith(survivor) for _, identity in retries)
        delays = sorted(start - cut_at for start, _ in retries)
        print(
            f"\n{len(retries)} activities retried on the survivor after the cut: "
            f"{delays[0]:.1f} s first, median {statistics.median(delays):.1f} s, last "
            f"{delays[-1]:.1f} s (heartbeat timeout {HEARTBEAT_SECONDS} s, retry from 1 s)"
        )
    finally:
        fake.stop()
        for proc in reversed(procs):
            proc.kill()
