"""The inner loop (`pytest -m "not integration"`) runs no test that needs the dev server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def test_tests_that_need_the_server_are_left_out_of_the_inner_loop() -> None:
    """test_top.py has three tests that need the server (through `client` or `task_queue`) and
    one pure test: only the pure one is in the inner loop, and the whole suite keeps all four."""
    everything = _collected("tests/test_top.py")
    inner = _collected("tests/test_top.py", "-m", "not integration")
    assert len(everything) == 4
    assert inner == ["tests/test_top.py::test_stalled_and_budget_warnings_use_the_alert_thresholds"]
    integration = _collected("tests/test_top.py", "-m", "integration")
    assert sorted(integration + inner) == sorted(everything)
