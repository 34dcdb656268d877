"""The inner loop (`pytest -m "not integration"`) runs no test that needs the dev server."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT


def _collected(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


TOP = "tests/cli/test_top.py"


def test_tests_that_need_the_server_are_left_out_of_the_inner_loop() -> None:
    """tests/cli/test_top.py has three tests that need the server (through `client` or
    `task_queue`) and one pure test: only the pure one is in the inner loop, and the whole suite
    keeps all four."""
    everything = _collected(TOP)
    inner = _collected(TOP, "-m", "not integration")
    assert len(everything) == 4
    assert inner == [f"{TOP}::test_stalled_and_budget_warnings_use_the_alert_thresholds"]
    integration = _collected(TOP, "-m", "integration")
    assert sorted(integration + inner) == sorted(everything)
