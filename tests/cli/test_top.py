"""`client.py top --once`: the live table of runs, as a user runs it, against two real runs on
a real worker (fake LLM) — one paused, one held near its budget, then completed."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

from temporalio.client import Client, WorkflowHandle

from common.temporal_connection import local_server_env
from inspection.runs import BUDGET_WARN_RATIO, STALL_SECONDS, RunRow, run_warnings
from testing.fake_llm import FakeLLMServer
from testing.processes import run_client
from testing.scripted_llm import Script
from tests.support.paths import ROOT
from tests.support.progress import wait_for
from workflows.config import ResearchConfig, minimum_llm_calls
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport


async def start(client: Client, task_queue: str, config: ResearchConfig) -> WorkflowHandle:
    request = ResearchRequest(question="How do Python decorators work?", config=config)
    return await client.start_workflow(
        WORKFLOW_NAME,
        request,
        id=f"top-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=ResearchReport,
    )


async def top_rows(client: Client, task_queue: str) -> tuple[str, dict[str, str]]:
    """One snapshot of this test's runs: (header line, {workflow id: its line})."""
    code, out, err = await run_client(
        client, task_queue, "top", "--once", "--query", f"TaskQueue = '{task_queue}'"
    )
    assert code == 0, err
    for line in out.splitlines():  # fits a 100-column terminal, nothing padded
        assert len(line) <= 100 and line == line.rstrip(), repr(line)
    lines = [f" {line.strip()} " for line in out.splitlines() if line.strip()]
    rows: dict[str, str] = {}
    for line in lines:  # a run's line, then its warnings on lines of their own
        if line.startswith(" top-"):
            rows[last := line.split()[0]] = line
        elif line.startswith(" ! "):
            rows[last] += line
    return lines[0] + lines[1], rows


async def test_top_shows_a_paused_run_and_a_run_near_its_budget_then_its_result(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    fake_server.set_delay("DraftAnswer", 1.0)  # control updates land while the draft is written
    paused = await start(client, task_queue, ResearchConfig.model_validate({"evolution": "off"}))
    tight = ResearchConfig.model_validate(
        {"evolution": "off", "max_iterations": 1, "json_repair_attempts": 0}
    )
    tight = tight.model_copy(update={"max_llm_calls": minimum_llm_calls(tight)})
    near_budget = await start(client, task_queue, tight)
    await near_budget.execute_update("break_before", "report_synthesizer")
    await paused.execute_update("pause")
    # Under load the draft may be done before the pause lands: the run is shown where it is.
    paused_at = await wait_for(paused, lambda p: p.held_before is not None)
    held = await wait_for(near_budget, lambda p: p.held_before == "report_synthesizer")
    used = held.usage.calls / tight.max_llm_calls
    assert used >= BUDGET_WARN_RATIO

    header, rows = await top_rows(client, task_queue)
    assert "2 in flight (2 held)" in header
    assert set(rows) == {paused.id, near_budget.id}
    paused_row = rows[paused.id]
    assert f" {paused_at.phase} " in paused_row
    assert f" paused before {paused_at.held_before} " in paused_row
    assert "budget" not in paused_row
    budget_row = rows[near_budget.id]
    assert "held before report_synthesizer" in budget_row
    assert f"budget {used:.0%} used" in budget_row
    assert f" 1/{tight.max_iterations} " in budget_row and " reporting " in budget_row
    assert f" {held.usage.calls} " in budget_row and f" {held.usage.total_tokens} " in budget_row
    assert f"{held.quality_history[-1]:.2f}" in budget_row

    # Released, the held run completes: it stays in the table, closed, with its final usage.
    await near_budget.execute_update("resume")
    report = await near_budget.result()
    header, rows = await top_rows(client, task_queue)
    assert "1 in flight (1 held), 1 recently closed" in header
    done = rows[near_budget.id]
    assert " completed " in done and "held" not in done and "budget" not in done
    assert f" {report.usage_total.calls} " in done
    assert f" {report.usage_total.total_tokens} " in done
    assert " paused before " in rows[paused.id]

    await paused.execute_update("resume")
    await paused.result()


async def test_a_bad_filter_is_one_clear_line(client: Client, task_queue: str) -> None:
    code, _, err = await run_client(client, task_queue, "top", "--once", "--query", "Nope = 1")
    assert code == 2
    assert err.startswith("error: Temporal rejected the listing:") and len(err.splitlines()) == 1


def test_stalled_and_budget_warnings_use_the_alert_thresholds() -> None:
    """The same thresholds as deploy/prometheus/alerts.yml (checked in test_alert_rules.py)."""
    row = RunRow(
        workflow_id="w",
        run_id="r",
        status="running",
        started_at=datetime.now(UTC),
        elapsed_seconds=2000,
        idle_seconds=STALL_SECONDS + 60,
        budget_used=BUDGET_WARN_RATIO,
    )
    assert run_warnings(row) == ["no progress for 16 min", "budget 80% used"]
    row.idle_seconds, row.budget_used = STALL_SECONDS - 1, BUDGET_WARN_RATIO - 0.01
    assert run_warnings(row) == []


def test_in_a_terminal_top_redraws_in_place_until_ctrl_c(client: Client, task_queue: str) -> None:
    """Without --once, in a (pseudo-)terminal: the table is redrawn over itself, not appended,
    and Ctrl-C leaves quietly with exit code 0."""
    env = {
        **local_server_env(client.service_client.config.target_host),
        "TERM": "xterm-256color",
        "COLUMNS": "200",
        "LINES": "40",
    }
    query = f"TaskQueue = '{task_queue}'"
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "client.py", "top", "--interval", "0.3", "--query", query],
        stdin=secondary, stdout=secondary, stderr=secondary, env=env, cwd=ROOT,
    )  # fmt: skip
    os.close(secondary)
    output = b""
    try:
        deadline = time.monotonic() + 30
        while output.count(b"ttdr top") < 3 and time.monotonic() < deadline:
            if select.select([primary], [], [], 0.5)[0]:
                output += os.read(primary, 65536)
        assert output.count(b"ttdr top") >= 3, output.decode(errors="replace")
        assert b"no research runs match" in output
        assert b"\x1b[1A" in output and b"\x1b[2K" in output, "redrawn in place (cursor up, erase)"
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
