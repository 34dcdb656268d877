"""`python -m eval.replayed`: an eval's recorded runs scored again without an LLM. The runs are
made for real (dev server, worker, the fake LLM), their histories saved from the server, then
replayed with the current code: the report it writes is the run's, and a history the current
loop would not make fails with a clear error instead of a score."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory

from eval.replayed import main, replayed_report
from eval.run import main_async, parser
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from tests.eval.test_eval_run import eval_against

IDS = "py-with-statement"


async def test_saved_runs_are_rewritten_and_scored_without_a_server(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    script: Script,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = eval_against(client, task_queue, fake_server, monkeypatch, tmp_path)
    out_dir = tmp_path / "eval"
    argv = ["--evolution", "off", "--base-config", str(base), "--ids", IDS]
    assert await main_async(parser().parse_args([*argv, "--out-dir", str(out_dir)])) == 0
    recorded = json.loads((out_dir / "evolution-off.jsonl").read_text())
    saved = tmp_path / "runs"

    runs_file = out_dir / "evolution-off.runs.jsonl"
    await _main(["save", "--runs", str(runs_file), "--to", str(saved)])
    # Saved once; a run of an earlier server (a resumed eval) is named, not a failure.
    gone = {"id": "py-finally-clause", "status": "completed", "workflow_id": "gone-1"}
    runs_file.write_text(runs_file.read_text() + json.dumps(gone) + "\n")
    capsys.readouterr()
    await _main(["save", "--runs", str(runs_file), "--to", str(saved)])
    assert "saved 0 " in (said := capsys.readouterr().out) and "py-finally-clause" in said
    rewritten = tmp_path / "rewritten.jsonl"
    # No server from here on: the score comes from the saved histories alone.
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    await _main(["score", "--histories", str(saved), "--out", str(rewritten)])

    printed = capsys.readouterr().out
    assert "config **runs**" in printed and "| all | 1 | 1.00 |" in printed
    article = json.loads(rewritten.read_text())
    # The same code writes the same report (the batch's article retitles it, nothing else).
    assert article["id"] == "py-with-statement"
    assert article["article"].split("\n", 1)[1] == recorded["article"].split("\n", 1)[1]

    # A history the current loop would not make: its first activity is another node.
    record = json.loads(gzip.decompress((saved / "py-with-statement.json.gz").read_bytes()))
    for event in record["history"]["events"]:
        scheduled = event.get("activityTaskScheduledEventAttributes")
        if scheduled:
            scheduled["activityType"]["name"] = "quality_assessor"
            break
    history = WorkflowHistory.from_json("changed", record["history"])
    with pytest.raises(ValueError, match="does not replay"):
        await replayed_report(history)


async def _main(argv: list[str]) -> None:
    """eval.replayed's command beside this test's event loop (its main runs asyncio.run)."""
    assert await asyncio.to_thread(main, argv) == 0
