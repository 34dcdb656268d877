"""The worker's metrics, as an operator gets them: a real Prometheus server (Debian's package)
scrapes `python worker.py` (TTDR_METRICS_PORT) while it runs a research against the fake LLM,
and the test asks Prometheus over its HTTP API. The product's per-node counters must add up to
the run's own usage_by_node, the per-call histograms to its tokens, and the Temporal SDK's
runtime metrics must be there too.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.processes import Hold, WorkerProcess, worker_env
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY
from tests.support.paths import ROOT
from tests.support.runs import QUESTION, run_research
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchProgress, ResearchReport

INSTALL = ROOT / "scripts" / "install-prometheus"


def prometheus_binary() -> str:
    """Debian's prometheus, installed by scripts/install-prometheus (as CI does) when missing."""
    if shutil.which("prometheus") is None:
        result = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or shutil.which("prometheus") is None:
            pytest.skip(f"cannot install Debian's prometheus package: {result.stderr.strip()}")
    found = shutil.which("prometheus")
    assert found
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Prometheus:
    """A Prometheus server on loopback with its HTTP API."""

    def __init__(self, binary: str, workdir: Path, targets: dict[str, int]) -> None:
        self.port = free_port()
        config = workdir / "prometheus.yml"
        scrapes = "\n".join(
            f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']"
            for job, port in targets.items()
        )
        config.write_text(
            "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 2s\n"
            f"scrape_configs:\n{scrapes}\n"
        )
        self.log = workdir / "prometheus.log"
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as reply:
            return reply.read()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{self.log.read_text()}")
            try:
                self.get("/-/ready")
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"prometheus not ready:\n{self.log.read_text()}")

    def query(self, promql: str) -> list[dict[str, Any]]:
        reply = json.loads(self.get("/api/v1/query?" + urllib.parse.urlencode({"query": promql})))
        assert reply["status"] == "success", reply
        return reply["data"]["result"]

    def values(self, promql: str, label: str) -> dict[str, float]:
        return {r["metric"].get(label, ""): float(r["value"][1]) for r in self.query(promql)}

    def scalar(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def targets_up(self) -> dict[str, bool]:
        reply = json.loads(self.get("/api/v1/targets"))
        return {t["labels"]["job"]: t["health"] == "up" for t in reply["data"]["activeTargets"]}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def metrics_ports() -> dict[str, int]:
    return {"ttdr-worker": free_port(), "temporal-sdk": free_port()}


@pytest.fixture
def prometheus(tmp_path: Path, metrics_ports: dict[str, int]) -> Iterator[Prometheus]:
    server = Prometheus(prometheus_binary(), tmp_path, metrics_ports)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


async def eventually(check: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


def metrics_worker_env(
    temporal_env: WorkflowEnvironment,
    fake_server: FakeLLMServer,
    cache_dir: Path,
    queue: str,
    **metrics: str,
) -> dict[str, str]:
    return worker_env(
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=queue,
        llm_base_url=fake_server.base_url,
        api_key=FAKE_KEY,
        cache_dir=cache_dir,
        extra={"TTDR_METRICS_HOST": "127.0.0.1", "TTDR_RUN_METRICS_SECONDS": "1", **metrics},
    )


def scraped_by(ports: dict[str, int]) -> dict[str, str]:
    return {
        "TTDR_METRICS_PORT": str(ports["ttdr-worker"]),
        "TTDR_SDK_METRICS_PORT": str(ports["temporal-sdk"]),
    }


@pytest.mark.slow  # a worker process and a Prometheus server: 10-30 s on 2 cores
async def test_prometheus_scrapes_the_runs_usage_per_node_and_the_sdk_metrics(
    temporal_env: WorkflowEnvironment,
    fake_server: FakeLLMServer,
    script: Script,
    local_search: LocalSearch,  # the demo index is built before the worker starts
    cache_dir: Path,
    tmp_path: Path,
    metrics_ports: dict[str, int],
    prometheus: Prometheus,
) -> None:
    queue = f"ttdr-metrics-{uuid.uuid4().hex[:8]}"
    env = metrics_worker_env(
        temporal_env, fake_server, cache_dir, queue, **scraped_by(metrics_ports)
    )
    worker = await WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        assert f"127.0.0.1:{metrics_ports['ttdr-worker']}/metrics" in worker.output()
        # One LLM error: the judge's first request gets a 500, Temporal retries the activity.
        fake_server.inject_fault("JudgeAnswer", 500, times=1)
        report = await run_research(
            temporal_env.client,
            queue,
            max_iterations=2,
            retry={"initial_interval_seconds": 0.2},
        )
        usage = report.usage_by_node
        total = report.usage_total
        assert total.calls > 0

        # The counters reach Prometheus once it has scraped after the run's last activity.
        await eventually(
            lambda: prometheus.scalar("sum(ttdr_llm_calls_total)") == total.calls,
            f"ttdr_llm_calls_total to reach {total.calls}",
        )
        await eventually(lambda: all(prometheus.targets_up().values()), "both targets up")

        # Per node: the counter equals the run's usage_by_node, calls and tokens.
        calls = prometheus.values("sum by (ttdr_node) (ttdr_llm_calls_total)", "ttdr_node")
        assert calls == {node: float(u.calls) for node, u in usage.items() if u.calls}
        for kind in ("input", "output"):
            tokens = prometheus.values(
                f'sum by (ttdr_node) (ttdr_llm_tokens_total{{gen_ai_token_type="{kind}"}})',
                "ttdr_node",
            )
            expected = {n: float(getattr(u, f"{kind}_tokens")) for n, u in usage.items()}
            assert {n: v for n, v in tokens.items() if v} == {
                n: v for n, v in expected.items() if v
            }, kind
            # The per-request histogram (GenAI conventions) adds up to the same tokens.
            per_call = prometheus.scalar(
                f'sum(gen_ai_client_token_usage_sum{{gen_ai_token_type="{kind}"}})'
            )
            assert per_call == getattr(total, f"{kind}_tokens"), kind

        # Every request timed, the failed one with its error type; the retry and the error
        # counted on the node that had them.
        requests = prometheus.scalar("sum(gen_ai_client_operation_duration_seconds_count)")
        assert requests == total.calls + 1
        failed = prometheus.values(
            'sum by (error_type) (gen_ai_client_operation_duration_seconds_count{error_type!=""})',
            "error_type",
        )
        assert failed == {"LLMServerError": 1.0}
        assert prometheus.values(
            "sum by (ttdr_node) (ttdr_activity_retries_total)", "ttdr_node"
        ) == {"quality_assessor": 1.0}
        assert prometheus.values(
            "sum by (ttdr_node, error_type) (ttdr_activity_errors_total)", "error_type"
        ) == {"LLMServerError": 1.0}

        # Per run: the judge's scores, the iterations and the stop reason.
        judged = prometheus.scalar('sum(ttdr_judge_score_count{ttdr_node="quality_assessor"})')
        assert judged == len(report.quality_history)
        await eventually(
            lambda: prometheus.values("ttdr_runs_reported_total", "ttdr_stop_reason"),
            "ttdr_runs_reported_total",
        )
        assert prometheus.values("ttdr_runs_reported_total", "ttdr_stop_reason") == {
            report.stop_reason: 1.0
        }
        assert prometheus.scalar("sum(ttdr_run_iterations_sum)") == report.iterations

        # The worker process and the Temporal SDK's runtime metrics.
        assert (prometheus.scalar("sum(process_cpu_time_seconds_total)") or 0) > 0
        assert (prometheus.scalar("process_memory_usage_bytes") or 0) > 10_000_000
        for sdk_metric in (
            "temporal_activity_schedule_to_start_latency_seconds_count",
            "temporal_activity_execution_latency_seconds_count",
            "temporal_workflow_task_schedule_to_start_latency_seconds_count",
            "temporal_workflow_completed_total",
        ):
            assert (prometheus.scalar(f"sum({sdk_metric})") or 0) > 0, sdk_metric

        # No label carries the question or the key.
        for port in metrics_ports.values():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
                text = page.read().decode()
            assert QUESTION[:30] not in text and FAKE_KEY not in text
    finally:
        worker.stop()


@pytest.mark.slow  # a worker process and a Prometheus server: 10-30 s on 2 cores
async def test_the_run_gauges_follow_a_run_that_works_then_waits_at_a_breakpoint(
    temporal_env: WorkflowEnvironment,
    fake_server: FakeLLMServer,
    script: Script,
    local_search: LocalSearch,
    cache_dir: Path,
    tmp_path: Path,
    metrics_ports: dict[str, int],
    prometheus: Prometheus,
) -> None:
    """What the stalled-run and near-budget alerts watch: idle time while the run is busy (not
    while it is held), the share of its budget used, the runs in flight."""
    queue = f"ttdr-gauges-{uuid.uuid4().hex[:8]}"
    env = metrics_worker_env(
        temporal_env, fake_server, cache_dir, queue, **scraped_by(metrics_ports)
    )
    # A draft that takes as long as the test needs: no new history event meanwhile.
    draft = Hold(fake_server, "DraftAnswer", script.draft, abandon=False)
    worker = await WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        config = ResearchConfig.model_validate(
            {"evolution": "off", "max_iterations": 1, "max_llm_calls": 40}
        )
        handle = await temporal_env.client.start_workflow(
            WORKFLOW_NAME,
            ResearchRequest(question=QUESTION, config=config),
            id=f"gauges-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            result_type=ResearchReport,
        )
        await handle.execute_update("break_before", "gap_analyzer")
        run = f'run_id="{handle.result_run_id}"'
        await eventually(
            lambda: (prometheus.scalar(f"ttdr_run_idle_seconds{{{run}}}") or 0) >= 2,
            "the busy run's idle time to grow",
        )
        assert prometheus.scalar('sum(ttdr_runs_in_flight{ttdr_held="false"})') == 1
        draft.release()

        # Held at the breakpoint: in flight and held, no idle time (not stalled), its budget.
        await eventually(
            lambda: prometheus.scalar('sum(ttdr_runs_in_flight{ttdr_held="true"})') == 1,
            "the run to show as held",
        )
        progress = await handle.query("progress", result_type=ResearchProgress)
        assert progress.held_before == "gap_analyzer"
        await eventually(
            lambda: prometheus.scalar(f"ttdr_run_idle_seconds{{{run}}}") is None,
            "the held run's idle gauge to go",
        )
        used = prometheus.scalar(f"ttdr_run_budget_used{{{run}}}")
        assert used == pytest.approx(progress.usage.calls / config.max_llm_calls)

        await handle.execute_update("resume")
        await handle.result()
        await eventually(
            lambda: prometheus.scalar("sum(ttdr_runs_in_flight)") is None,
            "no run in flight once it is done",
        )
    finally:
        draft.release()
        worker.stop()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        # The worker's settings model judges these two at start (its one line).
        ({"TTDR_METRICS_PORT": "http"},
         "TTDR_METRICS_PORT must be an integer from 1 to 65535 in ASCII digits (got 'http')"),
        ({"TTDR_METRICS_PORT": "9464", "TTDR_SDK_METRICS_PORT": "9464"}, "must differ"),
        ({"TTDR_RUN_METRICS_SECONDS": "soon"},
         "TTDR_RUN_METRICS_SECONDS must be a number in ASCII digits, at least 0 (got 'soon')"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
          "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"}, "is not supported"),
    ],
)  # fmt: skip
async def test_a_bad_metrics_setting_stops_the_worker_with_one_line(
    temporal_env: WorkflowEnvironment,
    fake_server: FakeLLMServer,
    cache_dir: Path,
    setting: dict[str, str],
    message: str,
) -> None:
    env = metrics_worker_env(temporal_env, fake_server, cache_dir, "unused", **setting)
    result = subprocess.run(
        [sys.executable, str(ROOT / "worker.py")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


async def test_a_metrics_port_in_use_stops_the_worker_with_one_line(
    temporal_env: WorkflowEnvironment, fake_server: FakeLLMServer, cache_dir: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = metrics_worker_env(
            temporal_env, fake_server, cache_dir, "unused", TTDR_METRICS_PORT=str(port)
        )
        result = subprocess.run(
            [sys.executable, str(ROOT / "worker.py")],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
