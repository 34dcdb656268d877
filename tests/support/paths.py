"""Where the tests find the repository, wherever under tests/ a test module sits: ROOT is the
work tree's top (client.py, pyproject.toml, docs/), HISTORIES the committed workflow histories
(tests/histories/, re-recorded with `python -m tests.histories.record`)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = ROOT / "tests" / "histories"
