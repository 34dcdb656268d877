"""`worker.py --processes N` (worker_processes/): N worker processes on the same task queues under
one supervisor, which starts a killed child again (no run lost), serves the children's metrics
as one page, and stops them all on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from testing.fake_llm import FakeLLMServer
from testing.processes import ROOT, Hold, WorkerProcess, released, wait_for, worker_env
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY
from worker_processes import child_env
from worker_processes.metrics import free_port, merge_pages
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

ALL_READY = "2 worker processes ready"


def children(pid: int) -> set[int]:
    raw = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(p) for p in raw.split()}


def connected_to(pid: int, port: int) -> bool:
    """Whether process `pid` holds an established TCP connection to 127.0.0.1:`port`."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state, inode = fields[2], fields[3], fields[9]
        if state == "01" and int(remote.split(":")[1], 16) == port:
            inodes.add(f"socket:[{inode}]")
    fds = Path(f"/proc/{pid}/fd")
    return any(os.readlink(fd) in inodes for fd in fds.iterdir() if fd.is_symlink())


@pytest.mark.slow  # two worker processes, a kill, a restart and a drain: 20-60 s on 2 cores
async def test_a_killed_child_is_replaced_and_its_run_completes(
    temporal_env: WorkflowEnvironment,
    fake_server: FakeLLMServer,
    script: Script,
    cache_dir: Path,
    tmp_path: Path,
) -> None:
    queue = f"ttdr-procs-{uuid.uuid4().hex[:8]}"
    ports = {"product": free_port(), "sdk": free_port()}
    env = worker_env(
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=queue,
        llm_base_url=fake_server.base_url,
        api_key=FAKE_KEY,
        cache_dir=cache_dir,
        extra={
            "TTDR_WORKER_PROCESSES": "2",
            "TTDR_METRICS_PORT": str(ports["product"]),
            "TTDR_SDK_METRICS_PORT": str(ports["sdk"]),
            "TTDR_METRICS_HOST": "127.0.0.1",
        },
    )
    supervisor = await WorkerProcess(env, tmp_path / "worker.log").start(timeout_seconds=120)
    try:
        await wait_for(lambda: ALL_READY in supervisor.output(), 120, "both children ready")
        before = children(supervisor.pid)
        assert len(before) == 2

        # A run whose draft call is held at the fake LLM while the child running it is killed.
        hold = Hold(fake_server, "DraftAnswer", script.draft, max_seconds=60)
        config = ResearchConfig.model_validate(
            {
                "evolution": "off",
                "max_iterations": 1,
                "timeouts": {"heartbeat_seconds": 2},
                "retry": {"initial_interval_seconds": 0.2, "maximum_interval_seconds": 1},
            }
        )
        handle = await temporal_env.client.start_workflow(
            WORKFLOW_NAME,
            ResearchRequest(question="How do Python context managers work?", config=config),
            id=f"procs-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            result_type=ResearchReport,
        )
        with released(hold):
            await hold.wait_arrived()
            port = int(fake_server.base_url.rsplit(":", 1)[1].split("/")[0])
            busy = [pid for pid in sorted(before) if connected_to(pid, port)]
            assert busy, "a child is calling the LLM"
            victim = busy[0]
            os.kill(victim, signal.SIGKILL)
            await wait_for(
                lambda: "killed by signal 9" in supervisor.output(), 30, "the supervisor notices"
            )
        report = await asyncio.wait_for(handle.result(), 120)

        assert report.usage_total.calls == 8, "the run completed, every call answered"
        await wait_for(
            lambda: supervisor.output().count("worker ready:") >= 3, 60, "the replacement ready"
        )
        after = children(supervisor.pid)
        assert len(after) == 2 and victim not in after and before - {victim} <= after

        # One scrape shows both processes, as one valid exposition.
        for name in ("product", "sdk"):
            page = httpx.get(f"http://127.0.0.1:{ports[name]}/metrics", timeout=10).text
            labels = {
                sample.labels.get("worker_process")
                for family in text_string_to_metric_families(page)
                for sample in family.samples
            }
            assert labels == {"0", "1"}, name
    finally:
        supervisor.stop(grace_seconds=90)
    assert supervisor.process is not None and supervisor.process.returncode == 0
    assert "stopping 2 worker process(es)" in supervisor.output()
    assert not [pid for pid in after if Path(f"/proc/{pid}").exists()], "children drained"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--processes", "0"], {}, "--processes='0' is not a number of worker processes"),
        (
            [],
            {"TTDR_WORKER_PROCESSES": "two"},
            "TTDR_WORKER_PROCESSES must be an integer from 1 to 256 in ASCII digits (got 'two')",
        ),
    ],
)
def test_a_wrong_process_count_is_one_line_and_starts_nothing(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), *args],
        env={**os.environ, **env, "TEMPORAL_ADDRESS": "127.0.0.1:1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


def test_pages_merge_by_family_with_a_process_label() -> None:
    page = (
        "# HELP calls_total LLM calls\n# TYPE calls_total counter\n"
        'calls_total{node="draft"} 3\n'
        "# HELP up_seconds Uptime\n# TYPE up_seconds gauge\nup_seconds 1.5\n"
    )
    merged = merge_pages([("0", page), ("1", page.replace(" 3\n", " 4\n"))])

    families = {f.name: f for f in text_string_to_metric_families(merged)}
    calls = {(s.labels["worker_process"], s.value) for s in families["calls"].samples}
    assert calls == {("0", 3.0), ("1", 4.0)}
    assert merged.count("# TYPE calls_total counter") == 1
    assert {s.labels["worker_process"] for s in families["up_seconds"].samples} == {"0", "1"}


def test_a_restarted_child_gets_private_metrics_ports_picked_at_its_start() -> None:
    """CI once saw a child fail on restart again and again with "Address already in use": its
    private SDK metrics port, picked once at the supervisor's start, had been taken meanwhile.
    Each (re)start now picks the child's ports, and the merged view reads them from `ports`."""
    ports = [0, 0, 0, 0]
    first = child_env({"X": "1"}, 1, ports)
    picked = ports[2:]
    assert first["TTDR_METRICS_PORT"] == str(picked[0]) and first["X"] == "1"
    again = child_env({"X": "1"}, 1, ports)
    assert ports[2:] != picked or again["TTDR_METRICS_PORT"] != first["TTDR_METRICS_PORT"]
    assert again["TTDR_SDK_METRICS_PORT"] == str(ports[3]) and ports[:2] == [0, 0]
    assert "TTDR_METRICS_PORT" not in child_env({"X": "1"}, 0, None)
